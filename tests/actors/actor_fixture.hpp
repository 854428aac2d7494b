#pragma once

// A CAF actor system on the deterministic test coordinator, for Catch2 tests: one thread,
// virtual time that only moves when the test says so, every message run explicitly.

#include <caf/actor_system.hpp>
#include <caf/actor_system_config.hpp>
#include <caf/after.hpp>
#include <caf/atom.hpp>
#include <caf/scheduler/test_coordinator.hpp>
#include <caf/scoped_actor.hpp>

#include <algorithm>
#include <chrono>

namespace stompede::test {

/// Configuration selecting the test coordinator and a quiet logger.
struct test_config : caf::actor_system_config {
  test_config() {
    set("scheduler.policy", caf::atom("testing"));
    set("logger.file-verbosity", caf::atom("quiet"));
    set("logger.console-verbosity", caf::atom("quiet"));
  }
};

/// An actor system with virtual time and a hidden scoped actor to talk to actors under test.
struct actor_fixture {
  test_config cfg;
  caf::actor_system sys;
  caf::scheduler::test_coordinator& sched;
  caf::scoped_actor self;
  /// Virtual time at construction; tests state times relative to it.
  caf::actor_clock::time_point t0;

  actor_fixture()
      : sys(cfg), sched(dynamic_cast<caf::scheduler::test_coordinator&>(sys.scheduler())),
        self(sys, true) {
    sched.clock().current_time += std::chrono::hours(1);
    t0 = sched.clock().current_time;
  }

  ~actor_fixture() {
    sched.run();
    // Actors with pending timers never finish on virtual time; do not wait for them.
    sys.await_actors_before_shutdown(false);
  }

  /// Runs every message that is ready, without moving time.
  void run() {
    sched.run();
  }

  /// Moves virtual time forward by `d`, firing each timer at its own due time and running all
  /// messages after each one, so actors see the same times they would see in real time.
  void advance(caf::timespan d) {
    auto until = sched.clock().current_time + d;
    sched.run();
    for (;;) {
      auto& pending = sched.clock().schedule();
      if (pending.empty() || pending.begin()->first > until)
        break;
      sched.clock().trigger_timeout();
      sched.run();
    }
    sched.clock().current_time = std::max(sched.clock().current_time, until);
  }

  /// Moves virtual time to `t0 + at` (no-op if already past).
  void advance_to(caf::timespan at) {
    auto target = t0 + at;
    if (target > sched.clock().current_time)
      advance(target - sched.clock().current_time);
  }

  /// Virtual time since construction, in milliseconds.
  std::chrono::milliseconds elapsed() const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(sched.clock().current_time - t0);
  }
};

} // namespace stompede::test
