#include "actors/supervisor.hpp"

#include "actor_fixture.hpp"

#include <caf/actor_cast.hpp>
#include <caf/event_based_actor.hpp>
#include <caf/sec.hpp>
#include <caf/stateful_actor.hpp>

#include <catch2/catch.hpp>

#include <map>
#include <memory>

using namespace stompede;
using namespace std::chrono_literals;
using std::chrono::milliseconds;

namespace {

// Commands for the fake user.
using fail_atom = caf::atom_constant<caf::atom("fail")>;
using up_atom = caf::atom_constant<caf::atom("up")>;
using quit_atom = caf::atom_constant<caf::atom("quit")>;

// What the fake users do and what the tests saw of them.
struct world {
  bool connect_on_start = true;
  bool ignore_stop = false;
  bool factory_fails = false;
  std::vector<user_identity> spawned;    // identities in spawn order
  std::map<uint32_t, caf::actor> latest; // newest actor per identity index
  std::vector<uint32_t> stop_requests;   // identity indices that received stop_atom
  std::vector<uint32_t> stages;          // stage_atom messages the users received
};

struct fake_user_state {
  static inline const char* name = "fake_user";
};

caf::behavior fake_user(caf::stateful_actor<fake_user_state>* self, supervisor_actor parent,
                        std::shared_ptr<world> w, uint32_t index) {
  if (w->connect_on_start)
    self->send(parent, connected_atom::value);
  return {
      [=](fail_atom) { self->quit(caf::make_error(caf::sec::runtime_error)); },
      [=](up_atom) { self->send(parent, connected_atom::value); },
      [=](quit_atom) { self->quit(); },
      [=](stage_atom, uint32_t stage) { w->stages.push_back(stage); },
      [=](stop_atom) {
        w->stop_requests.push_back(index);
        if (!w->ignore_stop)
          self->quit();
      },
  };
}

user_identity make_identity(uint32_t index) {
  user_identity id;
  id.index = index;
  id.member_id = 1000 + index;
  id.room = index / 10;
  id.token = "canary-secret-" + std::to_string(index);
  return id;
}

struct supervisor_fixture : test::actor_fixture {
  std::shared_ptr<world> w = std::make_shared<world>();
  supervisor_config config;
  supervisor_actor sup;

  supervisor_fixture() {
    config.backoff.initial = milliseconds{1000};
    config.backoff.max = milliseconds{8000};
    config.backoff.jitter = 0.0; // exact delays; jitter has its own test
    config.backoff.max_attempts = 3;
    config.backoff.healthy_reset = milliseconds{5000};
    config.spawn_spacing = milliseconds{10};
    config.stop_timeout = milliseconds{2000};
    config.seed = 1;
  }

  ~supervisor_fixture() {
    // Actors still running when a test ends keep each other alive (supervisor <-> users,
    // world -> users): end them, so that the sanitizer build sees no leak.
    for (auto& [index, user] : w->latest)
      self->send_exit(user, caf::exit_reason::user_shutdown);
    if (sup)
      self->send_exit(sup, caf::exit_reason::user_shutdown);
    run();
    w->latest.clear();
  }

  void start() {
    auto w_ = w;
    user_factory factory = [w_](caf::local_actor* self, const user_identity& id) -> caf::actor {
      if (w_->factory_fails)
        return {};
      auto parent = caf::actor_cast<supervisor_actor>(self);
      auto user = self->spawn(fake_user, parent, w_, id.index);
      w_->spawned.push_back(id);
      w_->latest[id.index] = user;
      return user;
    };
    sup = sys.spawn(supervisor, config, factory, make_identity);
    run();
  }

  void set_target(uint32_t n) {
    self->send(sup, target_atom::value, n);
    run();
  }

  void fail(uint32_t index) {
    REQUIRE(w->latest.count(index) == 1);
    self->send(w->latest[index], fail_atom::value);
    run();
  }

  void arrive(uint32_t count, uint32_t min_ms, uint32_t max_ms, uint32_t cap) {
    self->send(sup, arrive_atom::value, count, min_ms, max_ms, cap);
    run();
  }

  supervisor_stats stats() {
    self->send(sup, get_atom::value, stats_atom::value);
    run();
    supervisor_stats result;
    bool got = false;
    self->receive(
        [&](const supervisor_stats& s) {
          result = s;
          got = true;
        },
        caf::after(std::chrono::seconds(0)) >> [] {});
    REQUIRE(got);
    return result;
  }
};

} // namespace

TEST_CASE_METHOD(supervisor_fixture, "supervisor spawns users spaced apart", "[supervisor]") {
  start();
  set_target(3);
  CHECK(w->spawned.size() == 1);
  advance(9ms);
  CHECK(w->spawned.size() == 1);
  advance(1ms);
  CHECK(w->spawned.size() == 2);
  advance(10ms);
  REQUIRE(w->spawned.size() == 3);
  CHECK(w->spawned[0].index == 0);
  CHECK(w->spawned[2].index == 2);
  CHECK(w->spawned[2].member_id == 1002);
  auto s = stats();
  CHECK(s.target == 3);
  CHECK(s.running == 3);
  CHECK(s.connected == 3);
  CHECK(s.connects == 3);
  CHECK(s.spawned == 3);
  CHECK(s.attempts == 0);
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor restarts a failed user after the backoff",
                 "[supervisor]") {
  start();
  set_target(1);
  fail(0);
  auto s = stats();
  CHECK(s.failures == 1);
  CHECK(s.running == 0);
  CHECK(s.reconnecting == 1); // waiting for its restart
  advance(999ms);
  CHECK(w->spawned.size() == 1); // not before the delay
  advance(1ms);
  REQUIRE(w->spawned.size() == 2);
  // Same identity, new actor.
  CHECK(w->spawned[1].index == 0);
  CHECK(w->spawned[1].token == w->spawned[0].token);
  s = stats();
  CHECK(s.attempts == 1);
  CHECK(s.successes == 1);
  CHECK(s.running == 1);
  CHECK(s.connected == 1);
  CHECK(s.reconnecting == 0);
  // Time to recover: failure to connected again, on virtual time.
  CHECK(s.recover_count == 1);
  CHECK(s.recover_ns_sum == std::chrono::nanoseconds{1000ms}.count());
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor backoff grows per attempt and resets when healthy",
                 "[supervisor]") {
  start();
  set_target(1);
  fail(0);
  advance(1000ms); // attempt 1 after 1 s, connects at once
  REQUIRE(w->spawned.size() == 2);
  fail(0); // before the healthy period: the next delay doubles
  advance(1999ms);
  CHECK(w->spawned.size() == 2);
  advance(1ms);
  REQUIRE(w->spawned.size() == 3);
  fail(0);
  advance(3999ms);
  CHECK(w->spawned.size() == 3);
  advance(1ms);
  REQUIRE(w->spawned.size() == 4);
  CHECK(stats().attempts == 3);
  // Connected for the healthy period: the attempt count goes back to zero.
  advance(5000ms);
  fail(0);
  advance(999ms);
  CHECK(w->spawned.size() == 4);
  advance(1ms);
  CHECK(w->spawned.size() == 5);
  auto s = stats();
  CHECK(s.attempts == 4);
  CHECK(s.give_ups == 0);
  CHECK(s.failures == 4);
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor delay is capped", "[supervisor]") {
  config.backoff.max = milliseconds{1500};
  config.backoff.max_attempts = 10;
  w->connect_on_start = false; // restarted users never connect: no healthy reset
  start();
  set_target(1);
  for (int i = 0; i < 5; ++i) {
    auto before = w->spawned.size();
    fail(0);
    advance(1499ms);
    CHECK(w->spawned.size() == before + (i == 0 ? 1 : 0)); // first delay 1000 < cap
    advance(1ms);
    CHECK(w->spawned.size() == before + 1);
  }
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor gives up after max attempts", "[supervisor]") {
  w->connect_on_start = false;
  start();
  set_target(2);
  advance(10ms);
  REQUIRE(w->spawned.size() == 2);
  fail(1);
  advance(1000ms);
  fail(1);
  advance(2000ms);
  fail(1);
  advance(4000ms);
  REQUIRE(w->spawned.size() == 5);
  fail(1); // fourth failure: three restarts were allowed
  advance(60s);
  CHECK(w->spawned.size() == 5);
  auto s = stats();
  CHECK(s.give_ups == 1);
  CHECK(s.attempts == 3);
  CHECK(s.failures == 4);
  CHECK(s.running == 1);
  CHECK(s.successes == 0);
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor jitter keeps the restart inside its window",
                 "[supervisor]") {
  config.backoff.jitter = 0.5;
  config.seed = 99;
  start();
  set_target(1);
  fail(0);
  advance(499ms);
  CHECK(w->spawned.size() == 1);
  advance(1001ms);
  CHECK(w->spawned.size() == 2);
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor counts a failing factory as a failed attempt",
                 "[supervisor]") {
  w->factory_fails = true;
  config.backoff.max_attempts = 2;
  start();
  set_target(1);
  advance(10s);
  auto s = stats();
  CHECK(s.spawned == 0);
  CHECK(s.failures == 3);
  CHECK(s.give_ups == 1);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "supervisor stops the newest users first and never restarts "
                 "them",
                 "[supervisor]") {
  start();
  set_target(4);
  advance(30ms);
  REQUIRE(w->spawned.size() == 4);
  set_target(2);
  CHECK(w->stop_requests == std::vector<uint32_t>{3, 2});
  advance(60s);
  CHECK(w->spawned.size() == 4);
  auto s = stats();
  CHECK(s.target == 2);
  CHECK(s.running == 2);
  CHECK(s.stopped == 2);
  CHECK(s.failures == 0);
  // Up again: the freed slots are filled with their own identities.
  set_target(3);
  REQUIRE(w->spawned.size() == 5);
  CHECK(w->spawned[4].index == 2);
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor does not restart a user that exits normally",
                 "[supervisor]") {
  start();
  set_target(1);
  self->send(w->latest[0], quit_atom::value);
  run();
  advance(60s);
  CHECK(w->spawned.size() == 1);
  auto s = stats();
  CHECK(s.stopped == 1);
  CHECK(s.running == 0);
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor kills a user that ignores stop", "[supervisor]") {
  w->ignore_stop = true;
  start();
  set_target(1);
  set_target(0);
  CHECK(stats().running == 1);
  advance(1999ms);
  CHECK(stats().running == 1);
  advance(1ms);
  auto s = stats();
  CHECK(s.running == 0);
  CHECK(s.killed == 1);
  CHECK(s.failures == 0);
  advance(60s);
  CHECK(w->spawned.size() == 1);
}

TEST_CASE_METHOD(supervisor_fixture, "supervisor shutdown stops all and cancels restarts",
                 "[supervisor]") {
  start();
  set_target(3);
  advance(20ms);
  REQUIRE(w->spawned.size() == 3);
  fail(1); // restart pending in 1 s
  self->send(sup, shutdown_atom::value);
  run();
  bool done = false;
  supervisor_stats final_stats;
  self->receive(
      [&](done_atom, const supervisor_stats& s) {
        done = true;
        final_stats = s;
      },
      caf::after(std::chrono::seconds(0)) >> [] {});
  CHECK(done);
  CHECK(final_stats.running == 0);
  CHECK(final_stats.stopped == 2);
  CHECK(final_stats.failures == 1);
  advance(60s);
  CHECK(w->spawned.size() == 3); // no restart after shutdown, ever
}

TEST_CASE_METHOD(supervisor_fixture,
                 "open model: arrivals take free slots, leave after their length, drop when full",
                 "[supervisor][open]") {
  config.capacity = 10;
  start();
  arrive(2, 1000, 1000, 3);
  REQUIRE(w->spawned.size() == 2);
  CHECK(w->spawned[0].index == 0);
  CHECK(w->spawned[1].index == 1);
  auto s = stats();
  CHECK(s.arrivals == 2);
  CHECK(s.arrivals_started == 2);
  CHECK(s.target == 2); // the open sessions alive are the population the plan wants
  CHECK(s.connected == 2);
  advance(500ms);
  arrive(2, 1000, 1000, 3); // one free slot under the cap of 3: one starts, one is dropped
  REQUIRE(w->spawned.size() == 3);
  CHECK(w->spawned[2].index == 2);
  s = stats();
  CHECK(s.arrivals == 4);
  CHECK(s.arrivals_started == 3);
  CHECK(s.arrivals_dropped == 1);
  advance(499ms);
  CHECK(w->stop_requests.empty());
  advance(1ms); // the first two have lived their second: they leave gracefully
  CHECK(w->stop_requests == std::vector<uint32_t>{0, 1});
  s = stats();
  CHECK(s.sessions_completed == 2);
  CHECK(s.running == 1);
  CHECK(s.failures == 0);
  // Their slots are free again: the lowest is reused by the next arrival.
  arrive(1, 1000, 1000, 3);
  REQUIRE(w->spawned.size() == 4);
  CHECK(w->spawned[3].index == 0);
  advance(500ms);
  CHECK(stats().sessions_completed == 3);
  advance(10s);
  s = stats();
  CHECK(s.sessions_completed == 4);
  CHECK(s.running == 0);
  CHECK(s.target == 0);
  CHECK(w->spawned.size() == 4); // departed users are never restarted
}

TEST_CASE_METHOD(supervisor_fixture, "open model: a late expiry of a reused slot is ignored",
                 "[supervisor][open]") {
  start();
  arrive(1, 1000, 1000, 1);
  REQUIRE(w->spawned.size() == 1);
  advance(200ms);
  self->send(w->latest[0], quit_atom::value); // the session ends itself: complete, slot free
  run();
  auto s = stats();
  CHECK(s.sessions_completed == 1);
  CHECK(s.running == 0);
  advance(100ms);
  arrive(1, 1000, 1000, 1); // reuses slot 0 at 300 ms; lives until 1300 ms
  REQUIRE(w->spawned.size() == 2);
  CHECK(w->spawned[1].index == 0);
  advance_to(1000ms); // the first arrival's timer fires for the slot: ignored
  CHECK(w->stop_requests.empty());
  CHECK(stats().running == 1);
  advance(300ms);
  CHECK(w->stop_requests == std::vector<uint32_t>{0});
  s = stats();
  CHECK(s.sessions_completed == 2);
  CHECK(s.running == 0);
}

TEST_CASE_METHOD(supervisor_fixture,
                 "open model: a failed session is restarted within its length, then leaves",
                 "[supervisor][open]") {
  start();
  arrive(1, 5000, 5000, 1);
  fail(0);
  advance(1000ms); // the backoff's first delay
  REQUIRE(w->spawned.size() == 2);
  CHECK(w->spawned[1].index == 0);
  auto s = stats();
  CHECK(s.failures == 1);
  CHECK(s.successes == 1);
  advance(4000ms);
  CHECK(w->stop_requests == std::vector<uint32_t>{0});
  CHECK(stats().sessions_completed == 1);
  // A session whose length ends while it waits for a restart just frees its slot.
  arrive(1, 500, 500, 1);
  fail(0);
  advance(500ms);
  s = stats();
  CHECK(s.running == 0);
  CHECK(s.target == 0);
  CHECK(s.sessions_completed == 1);
  advance(10s);
  CHECK(w->spawned.size() == 3); // its restart never came
}

TEST_CASE_METHOD(supervisor_fixture,
                 "open model: random lengths stay within bounds, a closed target cuts sessions",
                 "[supervisor][open]") {
  start();
  arrive(20, 1000, 2000, 20);
  REQUIRE(w->spawned.size() == 20);
  advance(999ms);
  CHECK(w->stop_requests.empty());
  advance(501ms); // halfway through [1 s, 2 s]: some have left, not all
  CHECK(!w->stop_requests.empty());
  CHECK(w->stop_requests.size() < 20);
  advance(500ms);
  CHECK(w->stop_requests.size() == 20);
  CHECK(stats().sessions_completed == 20);
  // Open sessions alive when a closed population is wanted are stopped, not completed, and
  // their slots go to the closed model.
  arrive(2, 60000, 60000, 20);
  w->stop_requests.clear();
  set_target(1);
  CHECK(w->stop_requests.size() == 2);
  auto s = stats();
  CHECK(s.sessions_completed == 20);
  CHECK(s.target == 1);
  CHECK(s.running == 1);
  CHECK(w->spawned.back().index == 0);
  // Stage changes reach the live users.
  self->send(sup, stage_atom::value, uint32_t{3});
  run();
  CHECK(w->stages == std::vector<uint32_t>{3});
}

TEST_CASE_METHOD(supervisor_fixture,
                 "open model: arrivals wait for users still leaving instead of being dropped",
                 "[supervisor][open]") {
  // A closed warm-up of 3 ends; its users take their time to leave (they ignore the stop until
  // the supervisor kills them after its 2 s stop timeout), and the open stage's first arrivals
  // come while every slot under their cap is still taken by a leaving user.
  w->ignore_stop = true;
  start();
  set_target(3);
  advance(20ms);
  REQUIRE(w->spawned.size() == 3);
  set_target(0);
  CHECK(stats().running == 3); // all three leaving
  arrive(5, 1000, 1000, 3);    // three wait for the leaving users, two are dropped
  auto s = stats();
  CHECK(s.arrivals == 5);
  CHECK(s.arrivals_started == 0);
  CHECK(s.arrivals_dropped == 2);
  CHECK(w->spawned.size() == 3);
  advance(2s); // the leaving users are gone: the waiting arrivals take their slots
  s = stats();
  CHECK(s.killed == 3);
  CHECK(s.arrivals_started == 3);
  CHECK(s.arrivals_dropped == 2);
  REQUIRE(w->spawned.size() == 6);
  CHECK(w->spawned[3].index < 3);
  CHECK(w->spawned[4].index < 3);
  CHECK(w->spawned[5].index < 3);
  CHECK(s.target == 3); // the open sessions alive

  // Arrivals still waiting when a closed population is wanted again are dropped.
  w->ignore_stop = false;
  advance(1s); // the open sessions' length: they leave (and now quit at once)
  CHECK(stats().sessions_completed == 3);
  w->ignore_stop = true;
  set_target(2);
  advance(20ms);
  set_target(0); // two leaving again
  arrive(2, 1000, 1000, 2);
  CHECK(stats().arrivals_dropped == 2); // both wait
  set_target(1); // the closed model again: the waiting arrivals are dropped
  s = stats();
  CHECK(s.arrivals_dropped == 4);
  CHECK(s.arrivals_started == 3);
}

TEST_CASE("supervisor config validation and redacted identities", "[supervisor]") {
  supervisor_config config;
  CHECK(validate(config).empty());
  config.capacity = 0;
  config.stop_timeout = milliseconds{0};
  config.backoff.jitter = 2.0;
  CHECK(validate(config).size() == 3);
  auto id = make_identity(7);
  auto text = to_string(id);
  CHECK(text.find("canary") == std::string::npos);
  CHECK(text.find("member_id=1007") != std::string::npos);
}
