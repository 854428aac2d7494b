// Behaviours end to end: the built-ins and the steps engine against the embedded server (chat
// protocol and broker mode), their figures in summary.json, the CSV and /metrics. Assertions
// are about counts, never about time.
#include "actors/behaviours/registry.hpp"
#include "actors/engine.hpp"

#include "config/loader.hpp"
#include "server/server.hpp"
#include "tests/e2e/e2e_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <stdexcept>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace stompede::e2e;

using namespace stompede;
namespace fs = std::filesystem;
using json = nlohmann::json;

config::scenario load(const std::string& text) {
  auto r = config::load_scenario_text(text, "behaviours.toml", {}, {});
  for (auto& p : r.problems)
    FAIL(p.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

/// The summary.json entry of behaviour `label`.
json behaviour_of(const json& summary, const std::string& label) {
  for (auto& b : summary["behaviours"])
    if (b["label"] == label)
      return b;
  FAIL("no behaviour " << label << " in summary.json");
  return {};
}

std::uint64_t counter(const json& b, const std::string& name) {
  return b["counters"].contains(name) ? b["counters"][name].get<std::uint64_t>() : 0;
}

std::uint64_t samples(const json& b, const std::string& name) {
  auto key = name + "_ms";
  return b["latencies"].contains(key) ? b["latencies"][key]["count"].get<std::uint64_t>() : 0;
}

/// Counts every hook; odd users end their own session after a while, everyone says goodbye.
class probe final : public behaviour {
public:
  void on_connected(behaviour_context& ctx) override {
    ctx.count("connected");
    ctx.every(std::chrono::milliseconds{100}, std::chrono::milliseconds{0});
    if (ctx.behaviour_index() % 2 == 1 && ctx.params().get_bool("leave"))
      leave_ = ctx.after(std::chrono::milliseconds{300});
  }
  void on_timer(behaviour_context& ctx, const timer_event& e) override {
    if (e.id == leave_) {
      ctx.count("leaving");
      ctx.end_session();
      return;
    }
    ctx.count("timer");
    ctx.send_chat(e.due);
  }
  void on_before_disconnect(behaviour_context& ctx) override {
    ctx.count("before_disconnect");
    ctx.say("bye");
  }
  void on_error(behaviour_context& ctx, std::error_code) override {
    ctx.count("error");
  }

private:
  timer_id leave_ = 0;
};

void register_probe() {
  register_behaviour({"probe",
                      "counts its hooks",
                      {{"leave", param_type::boolean, "false", "odd users end their session"}},
                      [](behaviour_context&) { return std::make_unique<probe>(); }});
}

/// Throws from the hook its `in` parameter names ("factory" throws from the factory, "null"
/// makes the factory return nothing); `user` names the one user that throws (-1: all).
class thrower final : public behaviour {
public:
  explicit thrower(std::string in, bool me) : in_(std::move(in)), me_(me) {}
  void on_connected(behaviour_context& ctx) override {
    ctx.count("connected");
    ctx.every(std::chrono::milliseconds{100}, std::chrono::milliseconds{50});
    hit("on_connected");
  }
  void on_timer(behaviour_context& ctx, const timer_event& e) override {
    ctx.count("timer");
    ctx.send_chat(e.due);
    hit("on_timer");
  }
  void on_before_disconnect(behaviour_context&) override {
    hit("on_before_disconnect");
  }

private:
  void hit(const char* hook) {
    if (me_ && in_ == hook)
      throw std::runtime_error(std::string("boom in ") + hook);
  }
  std::string in_;
  bool me_;
};

void register_thrower() {
  register_behaviour(
      {"thrower",
       "throws from one hook",
       {{"in", param_type::string, "on_timer", "the hook that throws"},
        {"user", param_type::integer, "1000000", "the ordinal of the one user that throws; "
                                                 "1000000: all"}},
       [](behaviour_context& ctx) -> std::unique_ptr<behaviour> {
         const auto in = ctx.params().get_string("in");
         const auto who = ctx.params().get_int("user");
         const bool me = who == 1000000 || who == static_cast<std::int64_t>(ctx.behaviour_index());
         if (me && in == "factory")
           throw std::logic_error("the factory is broken");
         if (me && in == "null")
           return nullptr;
         return std::make_unique<thrower>(in, me);
       }});
}

std::string chat_scenario(server::server& srv, const std::string& rest) {
  return "[target]\nurl = \"" + srv.ws_url() + "\"\nhttp_url = \"" + srv.http_url() +
         "\"\n[auth]\nmode = \"login\"\npassword = \"password123!\"\n"
         "[rooms]\nmembers_per_room = 10\n[output]\nprometheus = \"\"\n" +
         rest;
}

} // namespace

TEST_CASE("hooks: before_disconnect on every graceful end, end_session is final, on_error on "
          "a failure",
          "[e2e][behaviours]") {
  register_probe();
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 100;
  cfg.room_size = 10;
  {
    server::server srv{cfg};
    REQUIRE(!srv.start());
    auto sc = load(chat_scenario(srv, "[[stage]]\nusers = 10\nramp = \"200ms\"\nduration = "
                                      "\"1500ms\"\n[[behaviour]]\nname = \"probe\"\n"
                                      "leave = true\n"));
    auto dir = temp_dir("behaviours-hooks");
    REQUIRE(run_load_test(sc, quiet_options(dir)) == exit_completed);
    auto stats = srv.stats();
    srv.stop();
    auto summary = read_json(dir + "/summary.json");
    auto p = behaviour_of(summary, "probe");
    CHECK(counter(p, "connected") == 10);
    CHECK(p["sessions"] == 10); // users who ended their session were not restarted
    CHECK(counter(p, "leaving") == 5);
    CHECK(counter(p, "before_disconnect") == 10);
    CHECK(counter(p, "error") == 0);
    CHECK(summary["counters"]["errors_total"] == 0);
    CHECK(summary["counters"]["disconnects_graceful"] == 10);
    // Every goodbye went out before its DISCONNECT and reached the server.
    CHECK(stats.messages == p["messages_sent"].get<std::uint64_t>());
    CHECK(stats.messages == summary["counters"]["messages_sent"].get<std::uint64_t>() + 10);
    fs::remove_all(dir);
  }
  {
    server::server srv{cfg};
    REQUIRE(!srv.start());
    auto sc = load(chat_scenario(srv, "[[stage]]\nusers = 4\nramp = \"200ms\"\nduration = "
                                      "\"2s\"\n[[behaviour]]\nname = \"probe\"\n"));
    auto dir = temp_dir("behaviours-error");
    std::thread fault([&] {
      for (int i = 0; i < 100 && srv.stats().sessions < 4; ++i)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      srv.faults().close_sessions(1.0, true);
    });
    auto code = run_load_test(sc, quiet_options(dir));
    fault.join();
    srv.stop();
    CHECK(code == exit_completed);
    auto summary = read_json(dir + "/summary.json");
    auto p = behaviour_of(summary, "probe");
    // Reconnect is off: each user failed once, was told so, and was given up.
    CHECK(counter(p, "error") == 4);
    CHECK(counter(p, "before_disconnect") == 0);
    CHECK(summary["counters"]["errors_total"] == 4);
    fs::remove_all(dir);
  }
}

TEST_CASE("a behaviour that throws ends its own session with a counted behaviour_error; the "
          "run goes on and writes its reports",
          "[e2e][behaviours]") {
  register_thrower();
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 100;
  cfg.room_size = 10;
  struct run_case {
    const char* in;
    const char* user; // "1000000": every user throws
    std::uint64_t errors;
  };
  for (auto rc : {run_case{"on_timer", "1000000", 4}, run_case{"on_connected", "1", 1},
                  run_case{"factory", "1000000", 4}, run_case{"null", "2", 1},
                  run_case{"on_before_disconnect", "1000000", 4}}) {
    INFO("throws in " << rc.in << ", user " << rc.user);
    server::server srv{cfg};
    REQUIRE(!srv.start());
    auto sc = load(chat_scenario(srv, std::string("[[stage]]\nusers = 4\nramp = \"100ms\"\n"
                                                  "duration = \"1200ms\"\n[[behaviour]]\n"
                                                  "name = \"thrower\"\nin = \"") +
                                          rc.in + "\"\nuser = " + rc.user + "\n"));
    auto dir = temp_dir("behaviours-throw");
    CHECK(run_load_test(sc, quiet_options(dir)) == exit_completed);
    srv.stop();
    auto summary = read_json(dir + "/summary.json");
    CHECK(summary["counters"]["errors"]["behaviour_error"] == rc.errors);
    CHECK(summary["counters"]["errors_total"] == rc.errors);
    CHECK(fs::exists(dir + "/load_test_result.csv"));
    auto t = behaviour_of(summary, "thrower");
    if (std::string(rc.in) == "on_timer") {
      // Each user's first timer threw: nothing was sent, and no session lived on.
      CHECK(counter(t, "timer") == 4);
      CHECK(summary["counters"]["messages_sent"] == 4);
    }
    if (std::string(rc.in) == "on_connected" || std::string(rc.in) == "null") {
      // The other three users went on sending.
      CHECK(counter(t, "timer") > 3);
    }
    fs::remove_all(dir);
  }
}

TEST_CASE("built-ins on the chat protocol: seed_mix, listener, burst, replier and steps",
          "[e2e][behaviours]") {
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 100;
  cfg.room_size = 20;
  server::server srv{cfg};
  REQUIRE(!srv.start());
  auto port = unused_port();
  auto sc = load("[target]\nurl = \"" + srv.ws_url() + "\"\nhttp_url = \"" + srv.http_url() +
                 "\"\n[auth]\nmode = \"login\"\npassword = \"password123!\"\n"
                 "[rooms]\nmembers_per_room = 20\n"
                 "[output]\nprometheus = \"127.0.0.1:" +
                 std::to_string(port) + R"("
[[stage]]
users = 36
ramp = "500ms"
duration = "3s"

[[behaviour]]
name = "seed_mix"
weight = 2
interval = "300ms"

[[behaviour]]
name = "listener"

[[behaviour]]
name = "burst"
every = "1s"
size = 3

[[behaviour]]
name = "replier"
reply = "noted"

[[behaviour]]
label = "asker"
steps = [
  { repeat = "forever", steps = [
      { chat = true },
      { wait = "answer", body = "*re{R*", timeout = "2s" },
      { sleep = "300ms", jitter = "100ms" },
  ] },
]
)");
  auto dir = temp_dir("behaviours-chat");
  std::string metrics;
  std::thread scrape([&] {
    // Bounded: at most 6 s of polling for the burst behaviour's series with a count.
    for (int i = 0; i < 60; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      metrics = http_get(port, "/metrics");
      if (metrics.find(
              "stomp_load_test_behaviour_events_total{behaviour=\"burst\",name=\"bursts\"}") !=
          std::string::npos)
        break;
    }
  });
  auto code = run_load_test(sc, quiet_options(dir));
  scrape.join();
  auto stats = srv.stats();
  srv.stop();
  REQUIRE(code == exit_completed);
  auto summary = read_json(dir + "/summary.json");
  auto& c = summary["counters"];
  CHECK(c["errors_total"].get<std::uint64_t>() == 0);
  // The measured chat messages keep the seed's accounting, whoever sent them.
  CHECK(c["round_trips"].get<std::uint64_t>() + c["unresolved"].get<std::uint64_t>() +
            c["lost"].get<std::uint64_t>() ==
        c["messages_sent"].get<std::uint64_t>());
  REQUIRE(summary["behaviours"].size() == 5);
  std::uint64_t sessions = 0, sent = 0;
  for (auto& b : summary["behaviours"]) {
    CHECK(b["sessions"].get<std::uint64_t>() > 0);
    sessions += b["sessions"].get<std::uint64_t>();
    sent += b["messages_sent"].get<std::uint64_t>();
  }
  CHECK(sessions == 36);
  // Everything any behaviour sent reached the server (replies are chat messages too).
  CHECK(stats.messages == sent);
  auto seed = behaviour_of(summary, "seed_mix");
  CHECK(seed["sessions"] == 12);
  CHECK(seed["messages_sent"].get<std::uint64_t>() > 0);
  auto listener = behaviour_of(summary, "listener");
  CHECK(listener["messages_sent"] == 0);
  CHECK(listener["messages_received"].get<std::uint64_t>() > 0);
  auto burst = behaviour_of(summary, "burst");
  CHECK(burst["messages_sent"].get<std::uint64_t>() == 3 * counter(burst, "bursts"));
  CHECK(counter(burst, "bursts") > 0);
  auto replier = behaviour_of(summary, "replier");
  CHECK(counter(replier, "replies") > 0);
  CHECK(samples(replier, "reply") > 0);
  CHECK(samples(replier, "reply") <= counter(replier, "replies"));
  auto asker = behaviour_of(summary, "asker");
  CHECK(counter(asker, "answer_matched") > 0);
  CHECK(samples(asker, "answer") == counter(asker, "answer_matched"));
  // Per-behaviour rows in the CSV, labels on /metrics.
  std::ifstream in(dir + "/load_test_result.csv");
  std::stringstream csv;
  csv << in.rdbuf();
  CHECK(csv.str().find("behaviour.replier.reply_p95,") != std::string::npos);
  CHECK(csv.str().find("behaviour.listener.messages_sent,0,") != std::string::npos);
  CHECK(metrics.find("stomp_load_test_behaviour_messages_sent_total{behaviour=\"seed_mix\"}") !=
        std::string::npos);
  CHECK(metrics.find("stomp_load_test_behaviour_users{behaviour=\"listener\"}") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("built-ins on plain topics: room_hopper, private_pairs, and steps that subscribe, "
          "ACK and reconnect",
          "[e2e][behaviours]") {
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.mode = server::server_mode::broker;
  server::server srv{cfg};
  REQUIRE(!srv.start());
  auto sc = load("[target]\nurl = \"" + srv.ws_url() + R"("
[auth]
mode = "none"
[rooms]
members_per_room = 10
[destinations]
subscribe = "/topic/room.{room}"
send = "/topic/room.{room}"
[output]
prometheus = ""
[[stage]]
users = 16
ramp = "300ms"
duration = "3s"

[[behaviour]]
name = "room_hopper"
every = "400ms"
rooms = 3
messages = 2

[[behaviour]]
name = "private_pairs"
every = "300ms"

[[behaviour]]
label = "flow"
steps = [
  { subscribe = "/topic/flow.{user}", ack_mode = "client" },
  { repeat = 3, steps = [
      { send = "hello {user} #{seq}", to = "/topic/flow.{user}", receipt = true },
      { wait = "hello", destination = "/topic/flow.*", body = "hello*", timeout = "2s" },
      { ack = true },
  ] },
  { unsubscribe = "/topic/flow.{user}" },
  { sleep = "300ms" },
  { chance = 0.0, steps = [ { chat = true } ], otherwise = [ { reconnect = true } ] },
]
)");
  auto dir = temp_dir("behaviours-broker");
  auto code = run_load_test(sc, quiet_options(dir));
  srv.stop();
  REQUIRE(code == exit_completed);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["counters"]["errors_total"].get<std::uint64_t>() == 0);
  auto hopper = behaviour_of(summary, "room_hopper");
  CHECK(counter(hopper, "joins") > 0);
  CHECK(counter(hopper, "leaves") > 0);
  CHECK(samples(hopper, "echo") > 0);
  CHECK(samples(hopper, "echo") <= hopper["messages_sent"].get<std::uint64_t>());
  auto pairs = behaviour_of(summary, "private_pairs");
  CHECK(counter(pairs, "pings") > 0);
  CHECK(counter(pairs, "pongs") > 0);
  CHECK(samples(pairs, "pair_round_trip") > 0);
  CHECK(samples(pairs, "pair_round_trip") <= counter(pairs, "pings"));
  auto flow = behaviour_of(summary, "flow");
  // Each of the 5 flow users ran its three exchanges at least once, then reconnected (a new
  // session that starts the steps again), without a single error.
  CHECK(counter(flow, "hello_matched") >= 15);
  CHECK(counter(flow, "hello_timeout") == 0);
  CHECK(samples(flow, "receipt") > 0);
  CHECK(counter(flow, "reconnects") >= 5);
  CHECK(flow["sessions"].get<std::uint64_t>() > 5);
  fs::remove_all(dir);
}

TEST_CASE("chat protocol: room_hopper and private_pairs join rooms over REST, a repeat ends with "
          "its stage, per-behaviour figures in every report",
          "[e2e][behaviours]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = load(chat_scenario(srv, R"(
[[stage]]
name = "one"
users = 14
ramp = "300ms"
duration = "1500ms"
[[stage]]
name = "two"
users = 14
ramp = "0s"
duration = "1500ms"

[[behaviour]]
name = "room_hopper"
weight = 4
every = "300ms"
rooms = 5
messages = 2

[[behaviour]]
name = "private_pairs"
weight = 6
every = "300ms"

[[behaviour]]
label = "staged"
weight = 4
steps = [
  { repeat = "stage", steps = [ { chat = true }, { sleep = "200ms" } ] },
  { chat = true },
]
)"));
  auto dir = temp_dir("behaviours-chat-rooms");
  auto code = run_load_test(sc, quiet_options(dir));
  srv.stop();
  REQUIRE(code == exit_completed);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["counters"]["errors_total"].get<std::uint64_t>() == 0);
  auto hopper = behaviour_of(summary, "room_hopper");
  CHECK(counter(hopper, "joins") > 0);
  CHECK(counter(hopper, "join_failures") == 0);
  CHECK(counter(hopper, "room_rest_failed") == 0);
  CHECK(samples(hopper, "room_rest") > 0);
  CHECK(samples(hopper, "echo") > 0);
  auto pairs = behaviour_of(summary, "private_pairs");
  CHECK(counter(pairs, "rooms_opened") == 6);
  CHECK(counter(pairs, "pings") > 0);
  CHECK(counter(pairs, "pongs") > 0);
  CHECK(samples(pairs, "pair_round_trip") > 0);
  auto staged = behaviour_of(summary, "staged");
  // Each of the 4 users heard the first stage end once and left its loop.
  CHECK(counter(staged, "stage_ends") == 4);
  // Per-behaviour figures per stage, per second, and in the page.
  REQUIRE(summary["stages"].size() == 2);
  CHECK(summary["stages"][1]["behaviours"].size() == 3);
  auto ts = read_file(dir + "/timeseries.csv");
  CHECK(ts.find("room_hopper users=") != std::string::npos);
  CHECK(ts.find("private_pairs users=") != std::string::npos);
  auto page = read_file(dir + "/report.html");
  CHECK(page.find("id=\"behaviours-table\"") != std::string::npos);
  CHECK(page.find("Users by behaviour") != std::string::npos);
  fs::remove_all(dir);
}
