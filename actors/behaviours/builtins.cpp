#include "actors/behaviours/builtins.hpp"

#include "actors/user_plan.hpp"
#include "config/duration.hpp"
#include "config/scenario.hpp"

#include <charconv>
#include <random>
#include <unordered_map>

namespace stompede {

namespace {

using std::chrono::milliseconds;

std::int64_t wall_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

/// A random start within [0, period) so that users do not act in lockstep.
milliseconds random_phase(behaviour_context& ctx, milliseconds period) {
  if (period.count() <= 0)
    return milliseconds{0};
  return milliseconds{
      static_cast<std::int64_t>(ctx.random() % static_cast<std::uint64_t>(period.count()))};
}

/// Replaces every `{name}` in `text` with `value`.
std::string replace_all(std::string text, std::string_view name, std::string_view value) {
  std::string key = "{" + std::string{name} + "}";
  for (auto at = text.find(key); at != std::string::npos; at = text.find(key, at + value.size()))
    text.replace(at, key.size(), value);
  return text;
}

/// Reads the number after `prefix` in `s` (advancing past it); false when there is none.
bool read_number(std::string_view& s, std::string_view prefix, std::uint64_t& out) {
  if (s.substr(0, prefix.size()) != prefix)
    return false;
  s.remove_prefix(prefix.size());
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{})
    return false;
  s.remove_prefix(static_cast<std::size_t>(p - s.data()));
  return true;
}

// ---------------------------------------------------------------- seed_mix

/// The seed's users: 10% send every interval, 30% every 3 intervals, 60% every 10 (by the
/// user's ordinal in the entry, spread so that every 100 consecutive users hold the shares);
/// measured chat messages on a drift-free schedule with a random phase.
class seed_mix final : public behaviour {
public:
  explicit seed_mix(behaviour_context& ctx) {
    const auto& p = ctx.params();
    config::behaviour_config c;
    c.interval = p.get_duration("interval", c.interval);
    c.active_weight = p.get_double("active_weight", c.active_weight);
    c.moderate_weight = p.get_double("moderate_weight", c.moderate_weight);
    c.passive_weight = p.get_double("passive_weight", c.passive_weight);
    c.active_multiplier = p.get_double("active_multiplier", c.active_multiplier);
    c.moderate_multiplier = p.get_double("moderate_multiplier", c.moderate_multiplier);
    c.passive_multiplier = p.get_double("passive_multiplier", c.passive_multiplier);
    interval_ = send_interval(ctx.behaviour_index(), c);
  }

  void on_connected(behaviour_context& ctx) override {
    if (interval_.count() <= 0)
      return;
    // The seed's phase: a per-user generator, so that a run's send pattern is reproducible.
    std::uniform_int_distribution<std::int64_t> phase(0, interval_.count());
    std::minstd_rand rng(static_cast<std::uint32_t>(ctx.user_index() * 2654435761u + 1));
    ctx.every(interval_, milliseconds(phase(rng)));
  }

  void on_timer(behaviour_context& ctx, const timer_event& e) override {
    ctx.send_chat(e.due);
  }

private:
  milliseconds interval_{0};
};

// ---------------------------------------------------------------- listener

/// Subscribes to its room (as every session does) and never sends.
class listener final : public behaviour {};

// ---------------------------------------------------------------- burst

/// Sends `size` measured chat messages at once, every `every`.
class burst final : public behaviour {
public:
  void on_connected(behaviour_context& ctx) override {
    auto every = ctx.params().get_duration("every", milliseconds{10000});
    ctx.every(every, random_phase(ctx, every));
  }

  void on_timer(behaviour_context& ctx, const timer_event& e) override {
    auto size = ctx.params().get_int("size", 10);
    for (std::int64_t i = 0; i < size; ++i)
      ctx.send_chat(e.due);
    ctx.count("bursts");
  }
};

// ---------------------------------------------------------------- room_hopper

/// Every `every`, leaves the room it is in and joins another: with `topic` empty, one of the
/// run's rooms 1..`rooms` (joined with `join_room`: over REST on the chat protocol, then
/// subscribed; spoken to with `say_in`); with `topic` set, the plain topic with {n} = 1..rooms
/// (a broker). Then it sends `messages` messages there and times each until it comes back.
class room_hopper final : public behaviour {
public:
  void on_connected(behaviour_context& ctx) override {
    auto every = ctx.params().get_duration("every", milliseconds{5000});
    ctx.every(every, random_phase(ctx, every));
  }

  void on_timer(behaviour_context& ctx, const timer_event&) override {
    const auto& p = ctx.params();
    auto rooms = static_cast<std::uint64_t>(std::max<std::int64_t>(1, p.get_int("rooms", 5)));
    auto n = ctx.random() % rooms + 1;
    if (rooms > 1 && n == current_)
      n = n % rooms + 1;
    auto topic_template = p.get_string("topic");
    // Not the user's own room: it is subscribed to that one already.
    if (topic_template.empty() && rooms > 1 && static_cast<std::int64_t>(n) == ctx.room())
      n = n % rooms + 1;
    leave(ctx);
    current_ = n;
    if (topic_template.empty()) {
      // One of the run's rooms: joined (REST + SUBSCRIBE), messages follow in on_room_joined.
      pending_ = ctx.join_room(static_cast<std::int64_t>(n));
      return;
    }
    auto topic = replace_all(topic_template, "n", std::to_string(n));
    sub_ = ctx.subscribe(topic);
    ctx.count("joins");
    auto to = p.get_string("send_to");
    auto dest = to.empty() ? topic : replace_all(to, "n", std::to_string(n));
    auto messages = p.get_int("messages", 1);
    for (std::int64_t i = 0; i < messages; ++i)
      ctx.send(dest, mark(ctx, n));
  }

  void on_room_joined(behaviour_context& ctx, const room_joined& ev) override {
    if (ev.request != pending_) {
      // An older hop's answer, overtaken by a newer hop: leave that room again.
      if (!ev.subscription.empty())
        ctx.unsubscribe(ev.subscription);
      return;
    }
    pending_ = 0;
    if (ev.error) {
      ctx.count("join_failures");
      return;
    }
    sub_ = ev.subscription;
    ctx.count("joins");
    auto messages = ctx.params().get_int("messages", 1);
    for (std::int64_t i = 0; i < messages; ++i)
      ctx.say_in(ev.room, mark(ctx, current_));
  }

  void on_message(behaviour_context& ctx, const message_view& m) override {
    auto body = m.body();
    auto at = body.find("[H");
    if (at == std::string_view::npos)
      return;
    body.remove_prefix(at);
    std::uint64_t user = 0, seq = 0;
    if (!read_number(body, "[H", user) || user != ctx.user_index() || !read_number(body, "-", seq))
      return;
    auto it = sent_.find(seq);
    if (it == sent_.end())
      return;
    ctx.record_latency(
        "echo", std::chrono::duration_cast<std::chrono::microseconds>(ctx.now() - it->second));
    sent_.erase(it);
  }

private:
  void leave(behaviour_context& ctx) {
    if (sub_.empty())
      return;
    ctx.unsubscribe(sub_);
    sub_.clear();
    ctx.count("leaves");
  }

  /// A message's text: "[H<user>-<seq>] hop to <n>", remembered for its echo.
  std::string mark(behaviour_context& ctx, std::uint64_t n) {
    auto seq = ++seq_;
    sent_[seq] = ctx.now();
    return "[H" + std::to_string(ctx.user_index()) + "-" + std::to_string(seq) + "] hop to " +
           std::to_string(n);
  }

  std::string sub_;
  std::uint64_t current_ = 0;
  std::uint32_t pending_ = 0;
  std::uint64_t seq_ = 0;
  std::unordered_map<std::uint64_t, behaviour_context::clock::time_point> sent_;
};

// ---------------------------------------------------------------- private_pairs

/// Users of the entry pair up (ordinals 2k and 2k+1). On the chat protocol (rooms over REST)
/// they share a private room (`open_private_room` with the partner's member id); otherwise a
/// topic of their own (`topic` with {pair} = k). Every `every` the first of a pair sends a
/// ping; the second answers each ping with a pong; the first records the ping-pong time
/// ("pair_round_trip").
class private_pairs final : public behaviour {
public:
  void on_connected(behaviour_context& ctx) override {
    auto k = ctx.behaviour_index();
    if (ctx.rooms_over_rest()) {
      auto partner = ctx.member_of(k ^ 1u);
      if (!partner) {
        ctx.count("unpaired"); // the last of an odd number of users
        return;
      }
      ctx.open_private_room(*partner);
      return;
    }
    topic_ = replace_all(ctx.params().get_string("topic"), "pair", std::to_string(k / 2));
    ctx.subscribe(topic_);
    start(ctx);
  }

  void on_room_joined(behaviour_context& ctx, const room_joined& ev) override {
    if (ev.error) {
      ctx.count("join_failures");
      return;
    }
    room_ = ev.room;
    ctx.count("rooms_opened");
    start(ctx);
  }

  void on_timer(behaviour_context& ctx, const timer_event&) override {
    auto seq = ++seq_;
    speak(ctx, "ping " + std::to_string(seq) + " " + std::to_string(wall_us()));
    ctx.count("pings");
  }

  void on_message(behaviour_context& ctx, const message_view& m) override {
    std::string_view body = m.body();
    bool first = ctx.behaviour_index() % 2 == 0;
    // A chat room's broadcast wraps the text in JSON: look for it anywhere in the body.
    auto at = body.find(first ? "pong " : "ping ");
    if (at == std::string_view::npos)
      return;
    body.remove_prefix(at);
    std::uint64_t seq = 0, t = 0;
    if (!first && read_number(body, "ping ", seq) && read_number(body, " ", t)) {
      speak(ctx, "pong " + std::to_string(seq) + " " + std::to_string(t));
      ctx.count("pongs");
    } else if (first && read_number(body, "pong ", seq) && read_number(body, " ", t)) {
      ctx.record_latency("pair_round_trip",
                         std::chrono::microseconds{wall_us() - static_cast<std::int64_t>(t)});
    }
  }

private:
  void start(behaviour_context& ctx) {
    if (ctx.behaviour_index() % 2 != 0)
      return;
    auto every = ctx.params().get_duration("every", milliseconds{2000});
    ctx.every(every, random_phase(ctx, every));
  }

  void speak(behaviour_context& ctx, const std::string& text) {
    if (room_ != 0)
      ctx.say_in(room_, text);
    else
      ctx.send(topic_, text);
  }

  std::string topic_;
  std::int64_t room_ = 0;
  std::uint64_t seq_ = 0;
};

// ---------------------------------------------------------------- replier

/// Answers room messages that match `pattern` (from other users) with `reply` as a chat message,
/// with `probability`. The answer names the question's measurement key; when the replier sees its
/// own answer come back through the room it records "reply": from when the question was due to
/// be sent to when the answer arrived.
class replier final : public behaviour {
public:
  void on_connected(behaviour_context& ctx) override {
    ctx.deliver_room_messages(true);
    marker_ = "re{R" + std::to_string(ctx.user_index()) + "}";
  }

  void on_message(behaviour_context& ctx, const message_view& m) override {
    auto body = m.body();
    // Our own answer back: the latency from the question's send time.
    if (auto at = body.find(marker_); at != std::string_view::npos) {
      auto rest = body.substr(at + marker_.size());
      std::uint64_t user = 0, seq = 0, t = 0;
      if (read_number(rest, ":{W", user) && read_number(rest, "-N", seq) &&
          read_number(rest, "-T", t)) {
        ctx.record_latency("reply",
                           std::chrono::microseconds{wall_us() - static_cast<std::int64_t>(t)});
        ctx.count("answers_seen");
      }
      return;
    }
    if (body.find("re{R") != std::string_view::npos)
      return; // someone else's answer: never answer answers
    const auto& p = ctx.params();
    if (!pattern_match(p.get_string("pattern"), body))
      return;
    // Only other users' messages that carry a measurement key.
    auto k = body.find("[W");
    if (k == std::string_view::npos)
      return;
    auto key = body.substr(k + 2);
    std::uint64_t user = 0, seq = 0, t = 0;
    if (!read_number(key, "", user) || user == ctx.user_index() || !read_number(key, "-N", seq) ||
        !read_number(key, "-T", t))
      return;
    ctx.count("matched");
    if (ctx.random_unit() >= p.get_double("probability", 1.0))
      return;
    ctx.say(marker_ + ":{W" + std::to_string(user) + "-N" + std::to_string(seq) + "-T" +
            std::to_string(t) + "} " + p.get_string("reply"));
    ctx.count("replies");
  }

private:
  std::string marker_;
};

template<class B>
behaviour_factory simple() {
  return [](behaviour_context&) { return std::make_unique<B>(); };
}

config::behaviour_param number_param(const char* key, double v) {
  config::behaviour_param p;
  p.key = key;
  p.type = config::behaviour_param::kind::floating;
  p.number = v;
  p.text = std::to_string(v);
  return p;
}

} // namespace

bool pattern_match(std::string_view pattern, std::string_view text) {
  if (pattern.find_first_of("*?") == std::string_view::npos)
    return text.find(pattern) != std::string_view::npos;
  // Iterative glob with backtracking to the last '*'.
  std::size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*')
    ++p;
  return p == pattern.size();
}

std::vector<behaviour_info> builtin_behaviours() {
  std::vector<behaviour_info> out;
  out.push_back(
      {"seed_mix",
       "the seed's users: measured chat messages, 10% every interval, 30% every 3, 60% every 10",
       {{"interval", param_type::duration, "1s", "base send interval"},
        {"active_weight", param_type::number, "0.1",
         "share sending every interval x active_multiplier"},
        {"moderate_weight", param_type::number, "0.3",
         "share sending every interval x moderate_multiplier"},
        {"passive_weight", param_type::number, "0.6",
         "share sending every interval x passive_multiplier"},
        {"active_multiplier", param_type::number, "1", "interval multiplier of active users"},
        {"moderate_multiplier", param_type::number, "3", "interval multiplier of moderate users"},
        {"passive_multiplier", param_type::number, "10", "interval multiplier of passive users"}},
       [](behaviour_context& ctx) { return std::make_unique<seed_mix>(ctx); }});
  out.push_back({"listener", "subscribes to its room and never sends", {}, simple<listener>()});
  out.push_back({"burst",
                 "measured chat messages in bursts of `size`, every `every`",
                 {{"every", param_type::duration, "10s", "time between bursts"},
                  {"size", param_type::integer, "10", "messages per burst"}},
                 simple<burst>()});
  out.push_back(
      {"room_hopper",
       "joins and leaves rooms (or topics) over time and times its messages there",
       {{"topic", param_type::string, "",
         "plain topic template ({n} = 1..rooms, a broker); empty = the run's rooms 1..rooms"},
        {"send_to", param_type::string, "", "send destination template ({n}); empty = the topic"},
        {"rooms", param_type::integer, "5", "how many topics to hop between"},
        {"every", param_type::duration, "5s", "time between hops"},
        {"messages", param_type::integer, "1", "messages sent after each hop"}},
       simple<room_hopper>()});
  out.push_back({"private_pairs",
                 "pairs of users ping-pong on a topic of their own",
                 {{"topic", param_type::string, "/topic/pair.{pair}",
                   "the pair's topic without rooms over REST; {pair} = pair number"},
                  {"every", param_type::duration, "2s", "time between pings"}},
                 simple<private_pairs>()});
  out.push_back({"replier",
                 "answers room messages that match a pattern, timing the answer",
                 {{"pattern", param_type::string, "*", "body pattern (* and ?; else a substring)"},
                  {"reply", param_type::string, "ack", "text of the answer"},
                  {"probability", param_type::number, "1", "share of matching messages answered"}},
                 simple<replier>()});
  // Its factory comes from the entry's steps (make_behaviour_slots); listed for name checks.
  out.push_back({"steps", "the entry's declarative steps = [...] (docs/behaviours.md)", {}, {}});
  return out;
}

config::behaviour_entry seed_entry(const config::behaviour_config& b) {
  config::behaviour_entry e;
  if (b.kind == config::behaviour_kind::listener) {
    e.name = "listener";
    return e;
  }
  e.name = "seed_mix";
  config::behaviour_param interval;
  interval.key = "interval";
  interval.text = config::format_duration(b.interval);
  e.params.push_back(interval);
  e.params.push_back(number_param("active_weight", b.active_weight));
  e.params.push_back(number_param("moderate_weight", b.moderate_weight));
  e.params.push_back(number_param("passive_weight", b.passive_weight));
  e.params.push_back(number_param("active_multiplier", b.active_multiplier));
  e.params.push_back(number_param("moderate_multiplier", b.moderate_multiplier));
  e.params.push_back(number_param("passive_multiplier", b.passive_multiplier));
  return e;
}

} // namespace stompede
