#include "actors/stage_director.hpp"

#include "actor_fixture.hpp"

#include <caf/event_based_actor.hpp>
#include <caf/stateful_actor.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <memory>
#include <tuple>

using namespace stompede;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

// What a fake supervisor saw, with virtual times relative to the fixture's t0.
struct sup_log {
  std::vector<std::pair<milliseconds, uint32_t>> targets;
  uint32_t last_target = 0;
  bool all_connected = true; // report every user connected when asked
  int stats_requests = 0;
  int shutdowns = 0;
  struct arrival {
    milliseconds at;
    uint32_t count, min_ms, max_ms, cap;
  };
  std::vector<arrival> arrivals;
  std::vector<uint32_t> stages; // stage_atom messages, in order
};

supervisor_actor::behavior_type fake_supervisor(supervisor_actor::pointer self,
                                                std::shared_ptr<sup_log> log,
                                                caf::actor_clock::time_point t0) {
  return {
      [=](target_atom, uint32_t n) {
        auto at = std::chrono::duration_cast<milliseconds>(self->clock().now() - t0);
        log->targets.emplace_back(at, n);
        log->last_target = n;
      },
      [=](shutdown_atom) -> caf::result<done_atom, supervisor_stats> {
        ++log->shutdowns;
        self->quit();
        supervisor_stats s;
        s.stopped = log->last_target;
        return {done_atom::value, s};
      },
      [=](get_atom, stats_atom) -> supervisor_stats {
        ++log->stats_requests;
        supervisor_stats s;
        s.target = log->last_target;
        s.connected = log->all_connected ? log->last_target : 0;
        return s;
      },
      [](get_atom, reconnect_atom) { return std::vector<int64_t>{}; },
      [](connected_atom) {},
      [](fault_atom, const user_fault_order&) -> uint32_t { return 0; },
      [](respawn_atom, uint32_t, uint64_t) {},
      [](healthy_atom, uint32_t, uint64_t) {},
      [](deadline_atom, uint32_t, uint64_t) {},
      [=](arrive_atom, uint32_t count, uint32_t min_ms, uint32_t max_ms, uint32_t cap) {
        auto at = std::chrono::duration_cast<milliseconds>(self->clock().now() - t0);
        log->arrivals.push_back({at, count, min_ms, max_ms, cap});
      },
      [](expire_atom, uint32_t, uint64_t) {},
      [=](stage_atom, uint32_t stage) { log->stages.push_back(stage); },
  };
}

struct observations {
  std::vector<std::tuple<milliseconds, uint32_t, std::string, run_phase>> phases;
  std::vector<milliseconds> done;
  // Control lines (a wait that timed out) as metrics and the listener got them.
  std::vector<std::string> metrics_notes;
  std::vector<std::string> listener_notes;
};

caf::behavior fake_metrics(caf::event_based_actor* self, std::shared_ptr<observations> obs,
                           caf::actor_clock::time_point t0) {
  return {
      [=](phase_atom, uint32_t stage, const std::string& name, run_phase phase) {
        auto at = std::chrono::duration_cast<milliseconds>(self->clock().now() - t0);
        obs->phases.emplace_back(at, stage, name, phase);
      },
      [=](control_atom, const std::string& line) { obs->metrics_notes.push_back(line); },
  };
}

caf::behavior fake_listener(caf::event_based_actor* self, std::shared_ptr<observations> obs,
                            caf::actor_clock::time_point t0) {
  return {
      [=](done_atom) {
        obs->done.push_back(std::chrono::duration_cast<milliseconds>(self->clock().now() - t0));
      },
      [=](control_atom, const std::string& line) { obs->listener_notes.push_back(line); },
  };
}

std::vector<stage> three_stages() {
  return {
      {"warm", 10, milliseconds{1000}, milliseconds{1000}},
      {"peak", 30, milliseconds{2000}, milliseconds{1000}},
      {"cool", 0, milliseconds{0}, milliseconds{1000}},
  };
}

struct director_fixture : test::actor_fixture {
  stage_director_config config;
  std::vector<std::shared_ptr<sup_log>> logs;
  std::shared_ptr<observations> obs = std::make_shared<observations>();
  stage_director_actor director;

  director_fixture() {
    config.stages = three_stages();
    config.tick = milliseconds{100};
  }

  void start(size_t shards) {
    std::vector<supervisor_actor> sups;
    for (size_t i = 0; i < shards; ++i) {
      logs.push_back(std::make_shared<sup_log>());
      sups.push_back(sys.spawn(fake_supervisor, logs.back(), t0));
    }
    auto metrics = sys.spawn(fake_metrics, obs, t0);
    auto listener = sys.spawn(fake_listener, obs, t0);
    director = sys.spawn(stage_director, config, sups, metrics, listener);
    run();
  }

  // The target changes the plan implies at each tick, starting at `offset` in virtual time.
  static std::vector<std::pair<milliseconds, uint32_t>>
  expected_changes(const population_plan& plan, milliseconds offset = milliseconds{0}) {
    std::vector<std::pair<milliseconds, uint32_t>> result;
    for (auto t = milliseconds{0}; t <= plan.total(); t += milliseconds{100}) {
      auto n = plan.target(t);
      if (result.empty() || result.back().second != n)
        result.emplace_back(t + offset, n);
    }
    return result;
  }
};

} // namespace

TEST_CASE_METHOD(director_fixture, "director drives a supervisor through a 3-stage plan",
                 "[director]") {
  start(1);
  advance(10s);
  population_plan plan{three_stages()};
  auto expected = expected_changes(plan);
  // Sanity of the expectation itself: the ramp steps and both holds are in it.
  REQUIRE(expected.front() == std::make_pair(milliseconds{0}, uint32_t{0}));
  REQUIRE(expected.back() == std::make_pair(milliseconds{6000}, uint32_t{0}));
  CHECK(logs[0]->targets == expected);
  CHECK(logs[0]->shutdowns == 1);
  CHECK(logs[0]->stats_requests == 0);
  REQUIRE(obs->done.size() == 1);
  CHECK(obs->done[0] == milliseconds{6000});
  using entry = std::tuple<milliseconds, uint32_t, std::string, run_phase>;
  std::vector<entry> phases{
      {0ms, 0, "warm", run_phase::ramp},     {1000ms, 0, "warm", run_phase::steady},
      {2000ms, 1, "peak", run_phase::ramp},  {3000ms, 1, "peak", run_phase::steady},
      {5000ms, 2, "cool", run_phase::drain}, {6000ms, 2, "cool", run_phase::done},
  };
  CHECK(obs->phases == phases);
}

TEST_CASE_METHOD(director_fixture, "director splits the population over shards with a cap",
                 "[director]") {
  config.users_per_shard = 12;
  start(3);
  advance(3000ms);
  // Peak of 30 over 3 shards: 10 each, under the cap of 12.
  for (auto& log : logs) {
    REQUIRE_FALSE(log->targets.empty());
    CHECK(log->targets.back().second == 10);
  }
  advance(10s);
  uint32_t sum = 0;
  for (auto& log : logs)
    sum += log->targets.back().second;
  CHECK(sum == 0);
  for (auto& log : logs)
    CHECK(log->shutdowns == 1);
  CHECK(obs->done.size() == 1);
}

TEST_CASE_METHOD(director_fixture, "director stop drains early", "[director]") {
  start(2);
  advance(1500ms);
  self->send(director, stop_atom::value);
  run();
  for (auto& log : logs) {
    CHECK(log->shutdowns == 1);
    CHECK(log->last_target == 5); // 10 users over 2 shards, holding
  }
  REQUIRE(obs->done.size() == 1);
  CHECK(obs->done[0] == milliseconds{1500});
  auto count = logs[0]->targets.size();
  advance(10s);
  CHECK(logs[0]->targets.size() == count); // nothing after the stop
  REQUIRE(obs->phases.size() >= 2);
  auto& drain = obs->phases[obs->phases.size() - 2];
  CHECK(std::get<3>(drain) == run_phase::drain);
  CHECK(std::get<1>(drain) == 0);
  CHECK(std::get<3>(obs->phases.back()) == run_phase::done);
}

TEST_CASE_METHOD(director_fixture, "director holds the plan clock until users are connected",
                 "[director]") {
  for (auto& s : config.stages)
    s.wait_for_connected = true;
  config.wait_timeout = milliseconds{30000};
  start(1);
  logs[0]->all_connected = false;
  advance_to(1500ms);
  CHECK(logs[0]->last_target == 10);
  CHECK(logs[0]->stats_requests > 0);
  logs[0]->all_connected = true; // the poll at 1600 ms sees everyone up
  advance_to(20s);
  population_plan plan{three_stages()};
  // Stage 1 starts 600 ms late: the hold began at 1600 instead of 1000.
  auto expected = expected_changes(plan);
  for (auto& change : expected)
    if (change.first > milliseconds{1000})
      change.first += milliseconds{600};
  CHECK(logs[0]->targets == expected);
  CHECK(obs->done.size() == 1);
}

TEST_CASE_METHOD(director_fixture, "director stops waiting for users after the timeout",
                 "[director]") {
  for (auto& s : config.stages)
    s.wait_for_connected = true;
  config.wait_timeout = milliseconds{2000};
  start(1);
  logs[0]->all_connected = false;
  advance_to(30s);
  auto expected = expected_changes(population_plan{three_stages()});
  // Each of the two ramps that end with users waits the full 2 s.
  for (auto& change : expected) {
    if (change.first > milliseconds{1000})
      change.first += milliseconds{2000};
    if (change.first > milliseconds{5000})
      change.first += milliseconds{2000};
  }
  CHECK(logs[0]->targets == expected);
  CHECK(obs->done.size() == 1);
  // Each timeout is told, with the stage and how many were up.
  REQUIRE(obs->listener_notes.size() == 2);
  CHECK(obs->metrics_notes == obs->listener_notes);
  CHECK(obs->listener_notes[0] ==
        "stage \"warm\": 0 of 10 users connected after waiting 2s for all of them; its clock "
        "starts anyway");
  CHECK(obs->listener_notes[1].rfind("stage \"peak\": 0 of 30 users", 0) == 0);
}

TEST_CASE_METHOD(director_fixture, "only a stage that waits for its users holds the clock",
                 "[director]") {
  config.stages[1].wait_for_connected = true; // "peak" only
  config.wait_timeout = milliseconds{2000};
  start(1);
  logs[0]->all_connected = false;
  advance_to(30s);
  auto expected = expected_changes(population_plan{three_stages()});
  // "warm" ends its ramp at 1 s without waiting; "peak" waits 2 s at the end of its ramp (3 s).
  for (auto& change : expected)
    if (change.first > milliseconds{3000})
      change.first += milliseconds{2000};
  CHECK(logs[0]->targets == expected);
  CHECK(obs->listener_notes.size() == 1);
  CHECK(obs->done.size() == 1);
}

TEST_CASE("director config validation", "[director]") {
  stage_director_config config;
  config.stages = three_stages();
  CHECK(validate(config).empty());
  config.tick = milliseconds{0};
  config.users_per_shard = 0;
  CHECK(validate(config).size() == 2);
}

TEST_CASE_METHOD(director_fixture, "a target set while running holds until the stage ends",
                 "[director][control]") {
  start(1);
  advance_to(1500ms); // holding 10 in "warm"
  self->send(director, target_atom::value, uint32_t{4});
  run();
  CHECK(logs[0]->last_target == 4);
  CHECK(logs[0]->targets.back().first == 1500ms);
  advance_to(1900ms);
  CHECK(logs[0]->last_target == 4); // still held
  advance_to(2500ms);               // "peak" ramps from the plan's 10 towards 30
  CHECK(logs[0]->last_target > 10);
  // Above the plan's peak it is capped: the run was sized for 30.
  self->send(director, target_atom::value, uint32_t{500});
  run();
  CHECK(logs[0]->last_target == 30);
}

TEST_CASE_METHOD(director_fixture, "ending the current stage starts the next one now",
                 "[director][control]") {
  start(1);
  advance_to(1200ms); // "warm" would hold until 2000 ms
  self->send(director, skip_atom::value);
  run();
  REQUIRE(obs->phases.size() >= 3);
  CHECK(obs->phases.back() ==
        std::make_tuple(milliseconds{1200}, uint32_t{1}, std::string{"peak"}, run_phase::ramp));
  // The rest of the plan keeps its lengths: peak ramps 1 s, holds 2 s, then cool ramps 1 s.
  advance_to(30s);
  REQUIRE(obs->done.size() == 1);
  CHECK(obs->done[0] == milliseconds{5200});
  // Ending the last stage drains the run.
  director_fixture second;
  second.start(1);
  second.advance_to(5500ms);
  second.self->send(second.director, skip_atom::value);
  second.run();
  REQUIRE(second.obs->done.size() == 1);
  CHECK(second.obs->done[0] == milliseconds{5500});
}

TEST_CASE_METHOD(director_fixture, "director runs an open-model stage between closed ones",
                 "[director][open]") {
  stage open{"open", 8, milliseconds{2000}, milliseconds{1000}};
  open.arrival_rate = 10.0;
  open.session_length = milliseconds{500};
  open.session_length_max = milliseconds{1500};
  config.stages = {{"warm", 10, milliseconds{1000}, milliseconds{1000}},
                   open,
                   {"after", 4, milliseconds{1000}, milliseconds{0}}};
  start(2);
  advance(10s);
  // The closed population goes to 0 when the open stage starts, and the next closed stage
  // starts from there.
  for (auto& log : logs) {
    CHECK(std::find(log->targets.begin(), log->targets.end(),
                    std::make_pair(milliseconds{2000}, uint32_t{0})) != log->targets.end());
    CHECK(std::find(log->targets.begin(), log->targets.end(),
                    std::make_pair(milliseconds{4000}, uint32_t{2})) != log->targets.end());
  }
  // 10 arrivals a second for 2 s (the stage's ramp does not apply), dealt round robin, each
  // supervisor capped at its half of the stage's 8 concurrent sessions.
  uint32_t total = 0;
  for (auto& log : logs) {
    uint32_t mine = 0;
    for (auto& a : log->arrivals) {
      CHECK(a.at >= milliseconds{2000});
      CHECK(a.at < milliseconds{4000});
      CHECK(a.min_ms == 500);
      CHECK(a.max_ms == 1500);
      CHECK(a.cap == 4);
      mine += a.count;
    }
    CHECK(mine == 10);
    total += mine;
  }
  CHECK(total == 20);
  // No arrival goes out before it is due: by 2.5 s, the arrivals of 2.0 .. 2.5 s at most.
  uint32_t early = 0;
  for (auto& log : logs)
    for (auto& a : log->arrivals)
      if (a.at <= milliseconds{2500})
        early += a.count;
  CHECK(early == 6);
  // Each stage change is told to every supervisor once.
  for (auto& log : logs)
    CHECK(log->stages == std::vector<uint32_t>{0, 1, 2});
  using entry = std::tuple<milliseconds, uint32_t, std::string, run_phase>;
  CHECK(std::find(obs->phases.begin(), obs->phases.end(),
                  entry{2000ms, 1, "open", run_phase::steady}) != obs->phases.end());
  REQUIRE(obs->done.size() == 1);
  CHECK(obs->done[0] == milliseconds{5000});
}

TEST_CASE("an open stage has no closed population", "[plan][open]") {
  stage open{"open", 50, milliseconds{2000}, milliseconds{1000}};
  open.arrival_rate = 5.0;
  open.session_length = milliseconds{1000};
  population_plan plan{{{"a", 10, milliseconds{1000}, milliseconds{0}}, open}};
  CHECK(plan.total() == milliseconds{3000}); // no ramp for the open stage
  CHECK(plan.target(milliseconds{500}) == 10);
  CHECK(plan.target(milliseconds{1500}) == 0);
  CHECK(plan.at(milliseconds{5000}).target == 0);
  CHECK(plan.peak() == 10);
  CHECK(validate(std::vector<stage>{open}).empty());
  open.session_length = milliseconds{0};
  CHECK(!validate(std::vector<stage>{open}).empty());
}

namespace {

/// A fault injector that records when it was asked to stop, and how many supervisor shutdowns
/// had happened by then.
fault_injector_actor::behavior_type fake_injector(fault_injector_actor::pointer self,
                                                  std::shared_ptr<std::vector<int>> shutdowns_seen,
                                                  std::shared_ptr<sup_log> sup) {
  return {
      [](start_atom, uint32_t, uint32_t) {},
      [](end_atom, uint32_t) {},
      [](tally_atom, uint32_t) {},
      [=](stop_atom) -> done_atom {
        shutdowns_seen->push_back(sup->shutdowns);
        self->quit();
        return done_atom::value;
      },
  };
}

} // namespace

TEST_CASE_METHOD(director_fixture,
                 "at the end the director has the faults rolled back before it shuts users down",
                 "[director][faults]") {
  auto seen = std::make_shared<std::vector<int>>();
  logs.push_back(std::make_shared<sup_log>());
  config.injector = sys.spawn(fake_injector, seen, logs.back());
  std::vector<supervisor_actor> sups{sys.spawn(fake_supervisor, logs.back(), t0)};
  director = sys.spawn(stage_director, config, sups, sys.spawn(fake_metrics, obs, t0),
                       sys.spawn(fake_listener, obs, t0));
  run();
  advance(2500ms);
  self->send(director, stop_atom::value);
  run();
  // Asked once, before any supervisor shutdown; then the supervisors were shut down.
  REQUIRE(seen->size() == 1);
  CHECK((*seen)[0] == 0);
  CHECK(logs.back()->shutdowns == 1);
  REQUIRE(obs->done.size() == 1);
}
