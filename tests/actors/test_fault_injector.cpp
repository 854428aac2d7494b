// The fault injector's schedule on virtual time: faults start at their times, repeat, end after
// their duration, and every fault in force is rolled back on stop and when the actor dies.
#include "actors/fault_injector.hpp"

#include "actor_fixture.hpp"

#include <caf/event_based_actor.hpp>

#include <catch2/catch.hpp>

#include <memory>
#include <string>
#include <tuple>
#include <vector>

using namespace stompede;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

struct seen {
  /// (time, fault id, kind, on) per order a supervisor got.
  std::vector<std::tuple<milliseconds, uint32_t, user_fault, bool>> orders;
  /// (time, what, on) per server call.
  std::vector<std::tuple<milliseconds, server_fault_call::op, bool>> calls;
  /// (time, record, ended) per journal event.
  std::vector<std::tuple<milliseconds, metrics::fault_record, bool>> events;
  /// (time, fault id, hit) per late hit count.
  std::vector<std::tuple<milliseconds, uint32_t, int64_t>> hits;
  /// The fake server's tally: a pause counts 5 sessions paused, a close 4 sessions closed.
  server_fault_tally tally;
};

milliseconds since(caf::actor_clock::time_point now, caf::actor_clock::time_point t0) {
  return std::chrono::duration_cast<milliseconds>(now - t0);
}

supervisor_actor::behavior_type fake_supervisor(supervisor_actor::pointer self,
                                                std::shared_ptr<seen> log,
                                                caf::actor_clock::time_point t0) {
  return {
      [](target_atom, uint32_t) {},
      [=](shutdown_atom) -> caf::result<done_atom, supervisor_stats> {
        return {done_atom::value, supervisor_stats{}};
      },
      [](get_atom, stats_atom) { return supervisor_stats{}; },
      [](get_atom, reconnect_atom) { return std::vector<int64_t>{}; },
      [](connected_atom) {},
      [=](fault_atom, const user_fault_order& o) -> uint32_t {
        log->orders.emplace_back(since(self->clock().now(), t0), o.fault_id, o.kind, o.on);
        return o.on ? 3u : 0u;
      },
      [](respawn_atom, uint32_t, uint64_t) {},
      [](healthy_atom, uint32_t, uint64_t) {},
      [](deadline_atom, uint32_t, uint64_t) {},
      [](arrive_atom, uint32_t, uint32_t, uint32_t, uint32_t) {},
      [](expire_atom, uint32_t, uint64_t) {},
      [](stage_atom, uint32_t) {},
  };
}

caf::behavior fake_metrics(caf::event_based_actor* self, std::shared_ptr<seen> log,
                           caf::actor_clock::time_point t0) {
  return {
      [=](fault_atom, const metrics::fault_record& r, bool ended) {
        log->events.emplace_back(since(self->clock().now(), t0), r, ended);
      },
      [=](fault_atom, uint32_t id, int64_t hit) {
        log->hits.emplace_back(since(self->clock().now(), t0), id, hit);
      },
  };
}

fault_spec user_spec(std::string name, user_fault kind, milliseconds at, milliseconds duration) {
  fault_spec s;
  s.name = std::move(name);
  s.kind = "user";
  s.at = at;
  s.duration = duration;
  user_fault_order o;
  o.kind = kind;
  s.user = o;
  return s;
}

fault_spec server_spec(std::string name, server_fault_call::op op, milliseconds at,
                       milliseconds duration, bool lasting) {
  fault_spec s;
  s.name = std::move(name);
  s.kind = "server";
  s.at = at;
  s.duration = duration;
  server_fault_call c;
  c.what = op;
  c.on = true;
  s.apply.push_back(c);
  s.hit_counter = hit_counter(c);
  if (lasting) {
    c.on = false;
    s.rollback.push_back(c);
  }
  return s;
}

struct injector_fixture : test::actor_fixture {
  std::shared_ptr<seen> log = std::make_shared<seen>();
  std::vector<supervisor_actor> sups;
  caf::actor metrics;

  injector_fixture() {
    for (int i = 0; i < 2; ++i)
      sups.push_back(sys.spawn(fake_supervisor, log, t0));
    metrics = sys.spawn(fake_metrics, log, t0);
  }

  server_fault_port port() {
    auto l = log;
    auto* s = &sched;
    auto start = t0;
    server_fault_port p;
    p.apply = [l, s, start](const server_fault_call& c) {
      l->calls.emplace_back(since(s->clock().now(), start), c.what, c.on);
      if (c.what == server_fault_call::op::pause_reading && c.on)
        l->tally.paused_sessions += 5;
      if (c.what == server_fault_call::op::close_sessions)
        l->tally.closed_sessions += 4;
      return std::string{};
    };
    p.tally = [l](server_fault_tally& t) {
      t = l->tally;
      return std::string{};
    };
    return p;
  }

  std::size_t events_named(const std::string& name, bool ended) const {
    std::size_t n = 0;
    for (auto& [at, r, e] : log->events)
      n += r.name == name && e == ended ? 1 : 0;
    return n;
  }
};

} // namespace

TEST_CASE_METHOD(injector_fixture, "faults start, repeat and end on the schedule",
                 "[actors][faults]") {
  fault_injector_config cfg;
  auto slow = user_spec("slow", user_fault::stop_reading, 10s, 5s);
  slow.every = 20s;
  slow.times = 2;
  cfg.faults.push_back(slow);
  cfg.faults.push_back(server_spec("pause", server_fault_call::op::pause_reading, 12s, 3s, true));
  cfg.faults.push_back(server_spec("close", server_fault_call::op::close_sessions, 30s, 0s, false));
  auto inj = sys.spawn(fault_injector, cfg, sups, metrics, port(), proxy_fault_port{});
  run();

  advance_to(9999ms);
  CHECK(log->orders.empty());
  CHECK(log->calls.empty());

  advance_to(10s);
  // Both supervisors told at 10 s; the journal hears of it with the users hit (3 + 3).
  REQUIRE(log->orders.size() == 2);
  CHECK(std::get<0>(log->orders[0]) == 10s);
  CHECK(std::get<2>(log->orders[0]) == user_fault::stop_reading);
  CHECK(std::get<3>(log->orders[0]));
  REQUIRE(events_named("slow", false) == 1);
  CHECK(std::get<1>(log->events[0]).hit == 6);

  advance_to(12s);
  REQUIRE(log->calls.size() == 1);
  CHECK(std::get<0>(log->calls[0]) == 12s);
  CHECK(std::get<1>(log->calls[0]) == server_fault_call::op::pause_reading);
  CHECK(std::get<2>(log->calls[0]));

  advance_to(15s);
  // Both ended at 15 s: the server resumed reading, the users were told to read again.
  REQUIRE(log->calls.size() == 2);
  CHECK(std::get<0>(log->calls[1]) == 15s);
  CHECK_FALSE(std::get<2>(log->calls[1]));
  REQUIRE(log->orders.size() == 4);
  CHECK(std::get<0>(log->orders[3]) == 15s);
  CHECK_FALSE(std::get<3>(log->orders[3]));
  CHECK(events_named("slow", true) == 1);
  CHECK(events_named("pause", true) == 1);
  // A lasting server fault's hits: the server's tally across it.
  CHECK(std::get<1>(log->events.back()).name == "pause");
  CHECK(std::get<1>(log->events.back()).hit == 5);

  advance_to(30s);
  // The second occurrence of "slow", and the instant "close": applied, no rollback call.
  REQUIRE(log->orders.size() == 6);
  CHECK(std::get<0>(log->orders[4]) == 30s);
  REQUIRE(log->calls.size() == 3);
  CHECK(std::get<1>(log->calls[2]) == server_fault_call::op::close_sessions);
  CHECK(events_named("close", false) == 1);
  CHECK(events_named("close", true) == 1);
  // An instant one's hits are read once its effects have landed, half a second later.
  CHECK(log->hits.empty());
  advance_to(30500ms);
  REQUIRE(log->hits.size() == 1);
  CHECK(std::get<0>(log->hits[0]) == 30500ms);
  CHECK(std::get<2>(log->hits[0]) == 4);

  advance_to(35s);
  CHECK(log->orders.size() == 8);
  // times = 2: no third occurrence.
  advance_to(120s);
  CHECK(log->orders.size() == 8);
  CHECK(log->calls.size() == 3);
  // Ids are per occurrence, in order of start.
  CHECK(std::get<1>(log->orders[0]) == 0);
  CHECK(std::get<1>(log->orders[4]) == 3);
  self->send_exit(inj, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(injector_fixture, "a stop rolls back every fault in force and starts no more",
                 "[actors][faults]") {
  fault_injector_config cfg;
  auto forever = user_spec("heartbeats", user_fault::stop_heartbeats, 5s, 10s);
  forever.every = 20s; // times = 0: until the run ends
  cfg.faults.push_back(forever);
  cfg.faults.push_back(
      server_spec("refuse", server_fault_call::op::refuse_connections, 6s, 60s, true));
  auto inj = sys.spawn(fault_injector, cfg, sups, metrics, port(), proxy_fault_port{});
  run();
  advance_to(8s);
  REQUIRE(log->orders.size() == 2);
  REQUIRE(log->calls.size() == 1);

  bool done = false;
  self->send(inj, stop_atom::value);
  run();
  self->receive([&](done_atom) { done = true; }, caf::after(std::chrono::seconds(0)) >> [] {});
  CHECK(done);
  REQUIRE(log->calls.size() == 2);
  CHECK(std::get<0>(log->calls[1]) == 8s);
  CHECK(std::get<1>(log->calls[1]) == server_fault_call::op::refuse_connections);
  CHECK_FALSE(std::get<2>(log->calls[1]));
  REQUIRE(log->orders.size() == 4);
  CHECK_FALSE(std::get<3>(log->orders[2]));
  CHECK_FALSE(std::get<3>(log->orders[3]));
  for (auto& [at, r, ended] : log->events)
    if (ended)
      CHECK(r.ended_by == "stop");
  CHECK(events_named("heartbeats", true) == 1);
  CHECK(events_named("refuse", true) == 1);
  // Nothing more starts: the repetition at 25 s and the end timers find nothing to do.
  advance_to(100s);
  CHECK(log->orders.size() == 4);
  CHECK(log->calls.size() == 2);
  self->send_exit(inj, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(injector_fixture, "an injector that dies with a fault in force rolls it back",
                 "[actors][faults]") {
  fault_injector_config cfg;
  cfg.faults.push_back(server_spec("pause", server_fault_call::op::pause_reading, 1s, 60s, true));
  auto inj = sys.spawn(fault_injector, cfg, sups, metrics, port(), proxy_fault_port{});
  run();
  advance_to(2s);
  REQUIRE(log->calls.size() == 1);
  self->send_exit(inj, caf::exit_reason::kill);
  run();
  REQUIRE(log->calls.size() == 2);
  CHECK(std::get<1>(log->calls[1]) == server_fault_call::op::pause_reading);
  CHECK_FALSE(std::get<2>(log->calls[1]));
  CHECK(events_named("pause", true) == 1);
}

TEST_CASE_METHOD(injector_fixture, "a server fault that cannot be applied is journaled as failed",
                 "[actors][faults]") {
  fault_injector_config cfg;
  cfg.faults.push_back(server_spec("pause", server_fault_call::op::pause_reading, 1s, 10s, true));
  auto inj = sys.spawn(fault_injector, cfg, sups, metrics, server_fault_port{}, proxy_fault_port{});
  run();
  advance_to(2s);
  REQUIRE(events_named("pause", false) == 1);
  CHECK_THAT(std::get<1>(log->events[0]).error, Catch::Contains("no server fault interface"));
  CHECK(events_named("pause", true) == 1);
  self->send_exit(inj, caf::exit_reason::user_shutdown);
  run();
}

TEST_CASE_METHOD(injector_fixture,
                 "a proxy fault adds its toxic at the start and removes it at the end",
                 "[actors][faults]") {
  fault_injector_config cfg;
  fault_spec slow;
  slow.name = "slow";
  slow.kind = "net.latency";
  slow.at = 2s;
  slow.duration = 3s;
  slow.toxic = "latency:downstream:latency=100ms";
  slow.toxicity = 0.5;
  cfg.faults.push_back(slow);
  fault_spec refuse;
  refuse.name = "refuse";
  refuse.kind = "net.refuse";
  refuse.at = 10s;
  refuse.duration = 1s;
  refuse.proxy_refuse = true;
  cfg.faults.push_back(refuse);
  // (time, what) per proxy call: "add <spec> <toxicity>", "remove <id>", "refuse on|off".
  auto calls = std::make_shared<std::vector<std::pair<milliseconds, std::string>>>();
  auto* s = &sched;
  auto start = t0;
  auto now = [s, start] { return since(s->clock().now(), start); };
  proxy_fault_port pp;
  pp.add = [calls, now](std::uint32_t, const std::string& spec, double toxicity,
                        std::uint64_t& id) {
    calls->emplace_back(now(), "add " + spec + " " + std::to_string(toxicity));
    id = 7;
    return std::string{};
  };
  pp.remove = [calls, now](std::uint64_t id, std::int64_t& affected) {
    calls->emplace_back(now(), "remove " + std::to_string(id));
    affected = 4;
    return std::string{};
  };
  pp.refuse = [calls, now](std::uint32_t, bool on) {
    calls->emplace_back(now(), std::string{"refuse "} + (on ? "on" : "off"));
    return std::string{};
  };
  auto inj = sys.spawn(fault_injector, cfg, sups, metrics, server_fault_port{}, pp);
  run();
  advance_to(20s);
  REQUIRE(calls->size() == 4);
  CHECK((*calls)[0].first == 2s);
  CHECK_THAT((*calls)[0].second, Catch::StartsWith("add latency:downstream:latency=100ms 0.5"));
  CHECK((*calls)[1] == std::make_pair(milliseconds{5s}, std::string{"remove 7"}));
  CHECK((*calls)[2] == std::make_pair(milliseconds{10s}, std::string{"refuse on"}));
  CHECK((*calls)[3] == std::make_pair(milliseconds{11s}, std::string{"refuse off"}));
  // The journal's hit is what the proxy says the toxic applied to; nothing failed.
  bool seen_end = false;
  for (auto& [at, r, ended] : log->events) {
    CHECK(r.error.empty());
    if (ended && r.name == "slow") {
      seen_end = true;
      CHECK(r.hit == 4);
    }
  }
  CHECK(seen_end);
  CHECK(log->orders.empty());
  self->send_exit(inj, caf::exit_reason::user_shutdown);
  run();
}
