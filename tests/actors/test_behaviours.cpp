// Behaviours without a network: the registry's checks, the assignment of users to entries, and
// the built-ins and the steps engine driven through a recording context.
#include "actors/behaviours/builtins.hpp"
#include "actors/behaviours/registry.hpp"
#include "actors/user_plan.hpp"
#include "config/diagnostic.hpp"
#include "config/loader.hpp"

#include <catch2/catch.hpp>

#include <map>

using namespace std::chrono_literals;
using namespace stompede;

namespace {

const std::string head = R"([target]
url = "ws://127.0.0.1:8080/ws-stomp"
[auth]
mode = "none"
[[stage]]
users = 10
duration = "10s"
)";

config::scenario load(const std::string& text) {
  auto r = config::load_scenario_text(head + text, "b.toml", {}, {});
  for (auto& p : r.problems)
    FAIL(p.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

std::string problems(const config::scenario& sc) {
  std::string out;
  for (auto& d : check_behaviours(sc))
    out += d.to_string() + "\n";
  return out;
}

/// A message as a behaviour sees it.
struct test_message final : message_view {
  std::string dest, sub, text;
  std::map<std::string, std::string> headers;
  bool room = false;
  std::string_view destination() const override {
    return dest;
  }
  std::string_view subscription() const override {
    return sub;
  }
  std::string_view body() const override {
    return text;
  }
  std::optional<std::string_view> header(std::string_view name) const override {
    auto it = headers.find(std::string{name});
    if (it == headers.end())
      return std::nullopt;
    return std::string_view{it->second};
  }
  bool from_room() const override {
    return room;
  }
};

/// Records everything a behaviour does; time moves only when the test says so.
struct recording_context final : behaviour_context {
  std::uint32_t index = 0, ordinal = 0;
  std::string label_ = "test";
  behaviour_params params_;
  std::string room_dest = "/publish/1", topic = "/topic/chat/room/1";
  clock::time_point t = clock::time_point{} + 1h;
  std::uint64_t rng = 1;

  std::vector<clock::time_point> chats;
  std::vector<std::string> said, sent, subscribed, unsubscribed, acks, nacks;
  std::map<std::string, std::uint64_t> counts;
  std::map<std::string, std::vector<std::int64_t>> samples;
  struct timer {
    timer_id id;
    clock::time_point due;
    std::chrono::milliseconds period;
  };
  std::vector<timer> timers;
  timer_id next_timer = 0;
  bool room_messages = false, ended = false, restarted = false;
  bool rest = false;
  std::vector<std::int64_t> joined, privates;
  std::vector<std::string> said_in;
  std::map<std::uint32_t, std::int64_t> members;
  std::uint32_t next_request = 0;

  std::uint32_t user_index() const override {
    return index;
  }
  std::int64_t member_id() const override {
    return index + 1;
  }
  std::int64_t room() const override {
    return 1;
  }
  std::uint32_t behaviour_index() const override {
    return ordinal;
  }
  const std::string& label() const override {
    return label_;
  }
  const behaviour_params& params() const override {
    return params_;
  }
  const std::string& room_destination() const override {
    return room_dest;
  }
  const std::string& room_topic() const override {
    return topic;
  }
  std::uint64_t random() override {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    return rng >> 1;
  }
  clock::time_point now() const override {
    return t;
  }
  void send_chat(clock::time_point due) override {
    chats.push_back(due);
  }
  void say(std::string_view text) override {
    said.emplace_back(text);
  }
  void send(std::string_view d, std::string_view body, std::string_view, bool) override {
    sent.push_back(std::string{d} + " " + std::string{body});
  }
  std::string subscribe(std::string_view d, std::string_view) override {
    subscribed.emplace_back(d);
    return "sub-" + std::to_string(subscribed.size());
  }
  void unsubscribe(std::string_view id) override {
    unsubscribed.emplace_back(id);
  }
  void ack(const message_view& m) override {
    acks.emplace_back(m.header("ack").value_or("?"));
  }
  void nack(const message_view& m) override {
    nacks.emplace_back(m.header("ack").value_or("?"));
  }
  void deliver_room_messages(bool on) override {
    room_messages = on;
  }
  timer_id after(std::chrono::milliseconds d) override {
    timers.push_back({++next_timer, t + d, 0ms});
    return next_timer;
  }
  timer_id every(std::chrono::milliseconds p, std::chrono::milliseconds first) override {
    timers.push_back({++next_timer, t + first, p});
    return next_timer;
  }
  void cancel(timer_id id) override {
    timers.erase(std::remove_if(timers.begin(), timers.end(), [&](auto& x) { return x.id == id; }),
                 timers.end());
  }
  void count(std::string_view name, std::uint64_t n) override {
    counts[std::string{name}] += n;
  }
  void record_latency(std::string_view name, std::chrono::microseconds v) override {
    samples[std::string{name}].push_back(v.count());
  }
  bool rooms_over_rest() const override {
    return rest;
  }
  std::uint32_t join_room(std::int64_t r) override {
    joined.push_back(r);
    return ++next_request;
  }
  std::uint32_t open_private_room(std::int64_t m) override {
    privates.push_back(m);
    return ++next_request;
  }
  void say_in(std::int64_t r, std::string_view text) override {
    said_in.push_back(std::to_string(r) + " " + std::string{text});
  }
  std::optional<std::int64_t> member_of(std::uint32_t k) const override {
    auto it = members.find(k);
    if (it == members.end())
      return std::nullopt;
    return it->second;
  }
  void end_session() override {
    ended = true;
  }
  void restart_session() override {
    restarted = true;
  }

  /// Moves time to the earliest timer and fires it (as the session would); false when none.
  bool fire_next(behaviour& b) {
    if (timers.empty())
      return false;
    auto it = std::min_element(timers.begin(), timers.end(),
                               [](auto& a, auto& c) { return a.due < c.due; });
    timer_event ev{it->id, it->due};
    t = std::max(t, it->due);
    if (it->period.count() > 0)
      it->due += it->period;
    else
      timers.erase(it);
    b.on_timer(*this, ev);
    return true;
  }
};

/// A context whose parameters are those of entry `i` of `sc`.
std::unique_ptr<behaviour> make(const config::scenario& sc, std::size_t i, recording_context& ctx) {
  auto slots = make_behaviour_slots(sc);
  REQUIRE(i < slots.size());
  ctx.params_ = slots[i].params;
  ctx.label_ = slots[i].label;
  auto b = slots[i].make(ctx);
  REQUIRE(b != nullptr);
  return b;
}

} // namespace

TEST_CASE("registry: the built-ins are there", "[behaviours]") {
  auto names = behaviour_names();
  for (auto n :
       {"seed_mix", "listener", "burst", "room_hopper", "private_pairs", "replier", "steps"})
    CHECK(std::find(names.begin(), names.end(), n) != names.end());
}

TEST_CASE("registry: an unknown name lists the known ones, bad parameters name their key",
          "[behaviours]") {
  auto sc = load("[[behaviour]]\nname = \"bursty\"\n[[behaviour]]\nname = \"burst\"\n"
                 "sise = 3\nevery = 5\n[[behaviour]]\nname = \"replier\"\nprobability = \"x\"\n");
  auto text = problems(sc);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("b.toml:9:8: behaviour[0].name: unknown behaviour \"bursty\"; "
                                   "did you mean \"burst\"? known: burst listener"));
  CHECK_THAT(text, Catch::Contains("b.toml:12:8: behaviour[1].sise: behaviour \"burst\" has no "
                                   "parameter \"sise\"; did you mean \"size\"?"));
  CHECK_THAT(text, Catch::Contains("b.toml:13:9: behaviour[1].every: expected a duration"));
  CHECK_THAT(text, Catch::Contains("b.toml:16:15: behaviour[2].probability: expected a number"));
  CHECK(problems(load("[[behaviour]]\nname = \"burst\"\nsize = 3\nevery = \"1s\"\n")).empty());
}

TEST_CASE("registry: a behaviour registered by a program is checked and built like a built-in",
          "[behaviours]") {
  struct quiet final : behaviour {};
  register_behaviour({"quiet_test",
                      "does nothing",
                      {{"level", param_type::integer, "required", "how quiet"}},
                      [](behaviour_context&) { return std::make_unique<quiet>(); }});
  auto missing = problems(load("[[behaviour]]\nname = \"quiet_test\"\n"));
  CHECK_THAT(missing, Catch::Contains("behaviour[0].level: behaviour \"quiet_test\" needs level"));
  auto sc = load("[[behaviour]]\nname = \"quiet_test\"\nlevel = 3\n");
  CHECK(problems(sc).empty());
  auto slots = make_behaviour_slots(sc);
  REQUIRE(slots.size() == 1);
  CHECK(slots[0].params.get_int("level") == 3);
}

TEST_CASE("assignment: users are spread over the entries by weight", "[behaviours]") {
  auto which = assign_behaviours({2, 1, 1}, 400);
  std::array<int, 3> n{};
  for (auto w : which)
    n[w]++;
  CHECK(n == std::array<int, 3>{200, 100, 100});
  // Every prefix holds the shares to within one user.
  std::array<int, 3> prefix{};
  for (std::size_t i = 0; i < 40; ++i)
    prefix[which[i]]++;
  CHECK(prefix == std::array<int, 3>{20, 10, 10});
  CHECK(assign_behaviours({}, 5) == std::vector<std::uint16_t>(5, 0));
  // One entry (or none): every user's ordinal is its index, so the seed's mix is unchanged.
  auto sc = load("");
  auto ids = make_identities(sc, 50);
  for (auto& id : ids) {
    CHECK(id.behaviour == 0);
    CHECK(id.behaviour_index == id.index);
  }
}

TEST_CASE("seed_mix: the default [behaviour] keeps the seed's classes and schedule",
          "[behaviours]") {
  auto sc = load("[behaviour]\ninterval = \"2s\"\n");
  auto slots = make_behaviour_slots(sc);
  REQUIRE(slots.size() == 1);
  CHECK(slots[0].label == "seed_mix");
  for (std::uint32_t i : {0u, 1u, 2u, 7u, 50u}) {
    recording_context ctx;
    ctx.index = ctx.ordinal = i;
    auto b = make(sc, 0, ctx);
    b->on_connected(ctx);
    REQUIRE(ctx.timers.size() == 1);
    CHECK(ctx.timers[0].period == send_interval(i, sc.behaviour));
    // Drift-free: each send is due one period after the previous one.
    ctx.fire_next(*b);
    ctx.fire_next(*b);
    REQUIRE(ctx.chats.size() == 2);
    CHECK(ctx.chats[1] - ctx.chats[0] == send_interval(i, sc.behaviour));
  }
  auto listen = load("[behaviour]\nkind = \"listener\"\n");
  CHECK(make_behaviour_slots(listen)[0].label == "listener");
}

TEST_CASE("burst: size measured messages every period", "[behaviours]") {
  auto sc = load("[[behaviour]]\nname = \"burst\"\nsize = 4\nevery = \"3s\"\n");
  recording_context ctx;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  REQUIRE(ctx.timers.size() == 1);
  CHECK(ctx.timers[0].period == 3s);
  ctx.fire_next(*b);
  ctx.fire_next(*b);
  CHECK(ctx.chats.size() == 8);
  CHECK(ctx.counts["bursts"] == 2);
}

TEST_CASE("room_hopper: leaves one topic for another and times its echo", "[behaviours]") {
  auto sc = load("[[behaviour]]\nname = \"room_hopper\"\nrooms = 3\ntopic = \"/topic/r.{n}\"\n");
  recording_context ctx;
  ctx.index = 5;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  ctx.fire_next(*b);
  REQUIRE(ctx.subscribed.size() == 1);
  CHECK(ctx.unsubscribed.empty());
  REQUIRE(ctx.sent.size() == 1);
  auto first = ctx.subscribed[0];
  CHECK_THAT(ctx.sent[0], Catch::StartsWith(first + " [H5-1]"));
  ctx.fire_next(*b);
  REQUIRE(ctx.subscribed.size() == 2);
  CHECK(ctx.subscribed[1] != first);
  CHECK(ctx.unsubscribed == std::vector<std::string>{"sub-1"});
  CHECK(ctx.counts["joins"] == 2);
  CHECK(ctx.counts["leaves"] == 1);
  test_message m;
  m.text = "[H5-2] hop";
  ctx.t += 3ms;
  b->on_message(ctx, m);
  REQUIRE(ctx.samples["echo"].size() == 1);
  CHECK(ctx.samples["echo"][0] == 3000);
  m.text = "[H6-2] someone else's";
  b->on_message(ctx, m);
  CHECK(ctx.samples["echo"].size() == 1);
}

TEST_CASE("private_pairs: the first of a pair pings, the second answers", "[behaviours]") {
  auto sc = load("[[behaviour]]\nname = \"private_pairs\"\n");
  recording_context first, second;
  first.ordinal = 6;
  second.ordinal = 7;
  auto a = make(sc, 0, first);
  auto b = make(sc, 0, second);
  a->on_connected(first);
  b->on_connected(second);
  CHECK(first.subscribed == std::vector<std::string>{"/topic/pair.3"});
  CHECK(second.subscribed == first.subscribed);
  CHECK(second.timers.empty());
  first.fire_next(*a);
  REQUIRE(first.sent.size() == 1);
  test_message ping;
  ping.text = first.sent[0].substr(first.sent[0].find(' ') + 1);
  b->on_message(second, ping);
  REQUIRE(second.sent.size() == 1);
  test_message pong;
  pong.text = second.sent[0].substr(second.sent[0].find(' ') + 1);
  a->on_message(first, pong);
  CHECK(first.samples["pair_round_trip"].size() == 1);
  CHECK(second.counts["pongs"] == 1);
}

TEST_CASE("replier: answers matching questions once and times its own answers", "[behaviours]") {
  auto sc = load("[[behaviour]]\nname = \"replier\"\npattern = \"*question*\"\nreply = \"yes\"\n");
  recording_context ctx;
  ctx.index = 2;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  CHECK(ctx.room_messages);
  test_message q;
  q.room = true;
  q.text = "{\"content\":\"[W9-N4-T1000] a question\"}";
  b->on_message(ctx, q);
  REQUIRE(ctx.said.size() == 1);
  CHECK(ctx.said[0] == "re{R2}:{W9-N4-T1000} yes");
  test_message other;
  other.text = "[W9-N5-T1000] no match here";
  b->on_message(ctx, other);
  test_message own;
  own.text = "[W2-N1-T1000] my own question";
  b->on_message(ctx, own);
  CHECK(ctx.said.size() == 1);
  test_message answer;
  answer.text = "{\"content\":\"re{R2}:{W9-N4-T1000} yes\"}";
  b->on_message(ctx, answer);
  CHECK(ctx.samples["reply"].size() == 1);
  CHECK(ctx.said.size() == 1); // answers are never answered
  CHECK(ctx.counts["matched"] == 1);
}

TEST_CASE("steps: send, wait (matched and timed out), ack, repeat, chance, reconnect",
          "[behaviours][steps]") {
  auto sc = load(R"(
[[behaviour]]
steps = [
  { subscribe = "/topic/q.{room}", ack_mode = "client" },
  { repeat = 2, steps = [
      { send = "ping {user} {seq}", to = "/topic/q.{room}" },
      { wait = "pong", destination = "/topic/q.*", body = "pong*", timeout = "1s" },
      { ack = true },
  ] },
  { chance = 1.0, steps = [ { sleep = "100ms" } ], otherwise = [ { chat = true } ] },
  { unsubscribe = "/topic/q.{room}" },
  { reconnect = true },
  { chat = true },
]
)");
  recording_context ctx;
  ctx.index = 4;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  CHECK(ctx.subscribed == std::vector<std::string>{"/topic/q.1"});
  CHECK(ctx.sent == std::vector<std::string>{"/topic/q.1 ping 4 1"});
  CHECK(ctx.room_messages); // waiting: messages are delivered
  test_message m;
  m.dest = "/topic/q.1";
  m.text = "pong 1";
  m.headers["ack"] = "a-1";
  ctx.t += 20ms;
  b->on_message(ctx, m);
  CHECK(ctx.samples["pong"] == std::vector<std::int64_t>{20000});
  CHECK(ctx.acks == std::vector<std::string>{"a-1"});
  REQUIRE(ctx.sent.size() == 2);
  CHECK(ctx.sent[1] == "/topic/q.1 ping 4 2");
  // No answer this time: the wait times out, nothing is acknowledged.
  ctx.fire_next(*b);
  CHECK(ctx.counts["pong_timeout"] == 1);
  CHECK(ctx.counts["pong_matched"] == 1);
  CHECK(ctx.acks.size() == 1);
  CHECK(ctx.room_messages); // steps that wait keep listening, so no reply is lost
  // chance 1.0: the sleep, then unsubscribe and reconnect; nothing runs after a reconnect.
  CHECK(ctx.unsubscribed.empty());
  ctx.fire_next(*b);
  CHECK(ctx.unsubscribed == std::vector<std::string>{"sub-1"});
  CHECK(ctx.restarted);
  CHECK(ctx.chats.empty());
  CHECK(ctx.timers.empty());
}

TEST_CASE("steps: a loop without a pause yields instead of spinning", "[behaviours][steps]") {
  auto sc =
      load("[[behaviour]]\nsteps = [ { repeat = \"forever\", steps = [ { chat = true } ] } ]\n");
  recording_context ctx;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  auto first = ctx.chats.size();
  CHECK(first > 0);
  CHECK(first < 1000);
  REQUIRE(ctx.timers.size() == 1); // continues on the next turn
  ctx.fire_next(*b);
  CHECK(ctx.chats.size() > first);
}

TEST_CASE("steps: a reply that comes before its wait step is kept (bounded, within the timeout)",
          "[behaviours][steps]") {
  auto sc = load(R"(
[[behaviour]]
steps = [
  { send = "question" },
  { sleep = "1s" },
  { repeat = 20, steps = [ { wait = "answer", body = "*ans*", timeout = "2s" } ] },
  { chat = true },
]
)");
  recording_context ctx;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  CHECK(ctx.room_messages);
  REQUIRE(ctx.timers.size() == 1); // the sleep
  // 20 answers arrive while the user still sleeps (and one that no wait would take): the
  // newest 16 are kept.
  test_message m;
  m.room = true;
  for (int i = 0; i < 20; ++i) {
    m.text = "ans " + std::to_string(i);
    b->on_message(ctx, m);
  }
  m.text = "unrelated";
  b->on_message(ctx, m);
  ctx.fire_next(*b); // the sleep ends: 16 waits are over at once, the 17th waits
  CHECK(ctx.counts["answer_matched"] == 16);
  CHECK(ctx.counts["answer_early"] == 16);
  CHECK(ctx.samples["answer"] == std::vector<std::int64_t>(16, 0));
  REQUIRE(ctx.timers.size() == 1);
  // One more answer is taken by the open wait, at once.
  ctx.t += 5ms;
  m.text = "ans live";
  b->on_message(ctx, m);
  CHECK(ctx.counts["answer_matched"] == 17);
  CHECK(ctx.samples["answer"].back() == 5000);
  // A kept answer older than the wait's timeout does not count: the 19th waits for real.
  ctx.fire_next(*b); // the 18th times out after 2 s
  CHECK(ctx.counts["answer_timeout"] == 1);
  m.text = "ans old";
  b->on_message(ctx, m); // kept while the 19th waits? no: the 19th is waiting and takes it
  CHECK(ctx.counts["answer_matched"] == 18);
  ctx.t += 3s;
  ctx.fire_next(*b); // the 20th: nothing kept, it times out
  CHECK(ctx.counts["answer_timeout"] == 2);
  CHECK(ctx.chats.size() == 1);
}

TEST_CASE("steps: a kept reply older than the wait's timeout is not taken", "[behaviours][steps]") {
  auto sc = load(R"(
[[behaviour]]
steps = [ { sleep = "3s" }, { wait = "answer", body = "ans*", timeout = "2s" }, { chat = true } ]
)");
  recording_context ctx;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  test_message m;
  m.room = true;
  m.text = "ans early";
  b->on_message(ctx, m); // at 0 s; the wait starts at 3 s and looks back 2 s
  ctx.fire_next(*b);
  CHECK(ctx.counts["answer_matched"] == 0);
  REQUIRE(ctx.timers.size() == 1);
  ctx.fire_next(*b);
  CHECK(ctx.counts["answer_timeout"] == 1);
  CHECK(ctx.chats.size() == 1);
}

TEST_CASE("steps: repeat = \"stage\" ends when the stage does, cutting its pause short",
          "[behaviours][steps]") {
  auto sc = load(R"(
[[behaviour]]
steps = [
  { repeat = "stage", steps = [ { chat = true }, { sleep = "1s" } ] },
  { send = "bye" },
  { repeat = "stage", steps = [ { chat = true }, { wait = "x", body = "never", timeout = "9s" } ] },
]
)");
  recording_context ctx;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  ctx.fire_next(*b);
  ctx.fire_next(*b);
  CHECK(ctx.chats.size() == 3);
  CHECK(ctx.sent.empty());
  b->on_stage_changed(ctx, 1); // mid-sleep: the loop ends now, the steps go on after it
  CHECK(ctx.sent == std::vector<std::string>{"/publish/1 bye"});
  CHECK(ctx.counts["stage_ends"] == 1);
  // The second loop began in the new stage: it runs until the next change, then the steps end.
  CHECK(ctx.chats.size() == 4);
  ctx.fire_next(*b); // the wait times out, the loop goes round
  CHECK(ctx.chats.size() == 5);
  b->on_stage_changed(ctx, 2);
  CHECK(ctx.counts["x_interrupted"] == 1);
  CHECK(ctx.counts["stage_ends"] == 2);
  CHECK(ctx.timers.empty());
  CHECK(ctx.chats.size() == 5);
}

TEST_CASE("room_hopper: on the chat protocol it joins rooms over REST and speaks there",
          "[behaviours]") {
  auto sc = load("[[behaviour]]\nname = \"room_hopper\"\nrooms = 4\nmessages = 2\n");
  recording_context ctx;
  ctx.rest = true;
  ctx.index = 5;
  auto b = make(sc, 0, ctx);
  b->on_connected(ctx);
  ctx.fire_next(*b);
  REQUIRE(ctx.joined.size() == 1);
  CHECK(ctx.joined[0] != 1);     // never its own room
  CHECK(ctx.subscribed.empty()); // the context subscribes once the room is joined
  room_joined ev;
  ev.request = 1;
  ev.room = ctx.joined[0];
  ev.subscription = "sub-7";
  b->on_room_joined(ctx, ev);
  REQUIRE(ctx.said_in.size() == 2);
  CHECK_THAT(ctx.said_in[0], Catch::StartsWith(std::to_string(ev.room) + " [H5-1]"));
  CHECK(ctx.counts["joins"] == 1);
  // The next hop leaves that room; an answer overtaken by a newer hop is undone.
  ctx.fire_next(*b);
  CHECK(ctx.unsubscribed == std::vector<std::string>{"sub-7"});
  ctx.fire_next(*b);
  room_joined stale;
  stale.request = 2;
  stale.room = ctx.joined[1];
  stale.subscription = "sub-8";
  b->on_room_joined(ctx, stale);
  CHECK(ctx.unsubscribed == std::vector<std::string>{"sub-7", "sub-8"});
  CHECK(ctx.said_in.size() == 2);
  room_joined failed;
  failed.request = 3;
  failed.error = std::make_error_code(std::errc::permission_denied);
  b->on_room_joined(ctx, failed);
  CHECK(ctx.counts["join_failures"] == 1);
}

TEST_CASE("private_pairs: on the chat protocol a pair shares a private room", "[behaviours]") {
  auto sc = load("[[behaviour]]\nname = \"private_pairs\"\n");
  recording_context first, second, odd;
  first.rest = second.rest = odd.rest = true;
  first.ordinal = 6;
  second.ordinal = 7;
  odd.ordinal = 8;
  first.members = second.members = odd.members = {{6, 1006}, {7, 1007}, {8, 1008}};
  auto a = make(sc, 0, first);
  auto b = make(sc, 0, second);
  auto c = make(sc, 0, odd);
  a->on_connected(first);
  b->on_connected(second);
  c->on_connected(odd);
  CHECK(first.privates == std::vector<std::int64_t>{1007});
  CHECK(second.privates == std::vector<std::int64_t>{1006});
  CHECK(odd.privates.empty());
  CHECK(odd.counts["unpaired"] == 1);
  room_joined ev;
  ev.request = 1;
  ev.room = 42;
  ev.subscription = "sub-1";
  a->on_room_joined(first, ev);
  b->on_room_joined(second, ev);
  CHECK(second.timers.empty());
  first.fire_next(*a);
  REQUIRE(first.said_in.size() == 1);
  CHECK_THAT(first.said_in[0], Catch::StartsWith("42 ping 1 "));
  // The room's broadcast wraps the text in the chat server's JSON.
  test_message ping;
  ping.text = "{\"roomId\":42,\"content\":\"" + first.said_in[0].substr(3) + "\"}";
  b->on_message(second, ping);
  REQUIRE(second.said_in.size() == 1);
  CHECK_THAT(second.said_in[0], Catch::StartsWith("42 pong 1 "));
  test_message pong;
  pong.text = "{\"roomId\":42,\"content\":\"" + second.said_in[0].substr(3) + "\"}";
  a->on_message(first, pong);
  CHECK(first.samples["pair_round_trip"].size() == 1);
  a->on_message(first, ping); // its own ping back: not an answer
  CHECK(first.said_in.size() == 1);
}

TEST_CASE("pattern_match: globs match whole texts, plain patterns are substrings", "[behaviours]") {
  CHECK(pattern_match("", "anything"));
  CHECK(pattern_match("lo w", "hello world"));
  CHECK_FALSE(pattern_match("xyz", "hello world"));
  CHECK(pattern_match("hello*", "hello world"));
  CHECK_FALSE(pattern_match("world*", "hello world"));
  CHECK(pattern_match("*o w*", "hello world"));
  CHECK(pattern_match("h?llo*d", "hello world"));
  CHECK(pattern_match("/topic/*.1", "/topic/room.1"));
  CHECK_FALSE(pattern_match("/topic/*.1", "/topic/room.2"));
}
