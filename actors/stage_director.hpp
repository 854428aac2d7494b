#pragma once

// The stage director owns the scenario clock. It walks an explicit phase machine
// (idle -> ramp/steady per stage -> drain -> done) over a `population_plan`, splits the target
// population evenly over its supervisors, announces every phase change to the metrics actor, and
// ends the run: shutdown to every supervisor, wait for their done, `done_atom` to the listener,
// quit. A `stop_atom` from outside (SIGINT) drains early the same way.
//
// Timers: one self-message per step, carrying a sequence number so a superseded timer is
// ignored; every `tick` while the population changes (or while waiting for users to connect),
// and a single timer to the next stage boundary while it holds.
//
// Open-model stages (`arrival_rate` > 0): the stage's arrival schedule is computed when it
// begins; every tick the arrivals due by then are dealt round robin over the supervisors (whose
// share of the stage's `users` caps the sessions alive at once) as one message per supervisor.
// The closed-model target is 0 meanwhile.
//
// Messages out:
//   director -> supervisor  (target_atom, uint32_t)  only when a shard's target changes
//   director -> supervisor  (arrive_atom, count, min_ms, max_ms, cap)  open stages, per tick
//   director -> supervisor  (stage_atom, uint32_t)   once per stage change
//   director -> supervisor  (get_atom, stats_atom)   while waiting for users to connect
//   director -> injector    (stop_atom)              at the end, first: every fault rolled back
//   director -> supervisor  (shutdown_atom)          at the end; replies (done_atom, stats)
//   director -> metrics     (phase_atom, uint32_t stage, std::string name, run_phase phase)
//   director -> metrics     (stats_atom, supervisor_stats)  the supervisors' final counts
//   director -> listener    (done_atom)              the run is over
//
// Live control (from the console or the HTTP endpoint, through the engine):
//   (target_atom, uint32_t n)  hold n users until the current stage ends (capped at the plan's
//                              peak, for which the supervisors and identities were sized)
//   (skip_atom)                end the current stage now: the plan clock jumps to the next
//                              stage's start (after the last stage: drain and end)

#include "actors/atoms.hpp"
#include "actors/fault_injector.hpp"
#include "actors/population_plan.hpp"
#include "actors/supervisor.hpp"

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

// The phase travels only between local actors (director -> metrics).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stompede::run_phase)

namespace stompede {

/// The typed interface of the stage director.
using stage_director_actor = caf::typed_actor<
    // self: the step timer; `uint64_t` is the timer's sequence number.
    caf::reacts_to<tick_atom, uint64_t>,
    // app (SIGINT) or anyone: drain now and end the run.
    caf::reacts_to<stop_atom>,
    // live control: hold this many users until the current stage ends.
    caf::reacts_to<target_atom, uint32_t>,
    // live control: end the current stage now.
    caf::reacts_to<skip_atom>>;

/// Settings of the stage director.
struct stage_director_config {
  /// The stages (closed and open model), in order.
  std::vector<stage> stages;
  /// Step of the timer while the population changes.
  std::chrono::milliseconds tick{100};
  /// Most users one supervisor holds (targets are split evenly, then capped).
  uint32_t users_per_shard = 1000;
  /// Users the supervisors have in all, supervisor i users i * users_per_shard, ... (split_target);
  /// 0 when the supervisors' users are not such ranges (worker slices: an even split fits them).
  uint32_t users = 0;
  /// Longest wait for users to connect at the end of the ramp of a stage with
  /// `wait_for_connected`: steady state then starts with the population up, or after this with
  /// whoever is up (told to metrics and the listener as a control line).
  std::chrono::milliseconds wait_timeout{30000};
  /// Longest wait for one supervisor's stats reply while waiting for users.
  std::chrono::milliseconds stats_timeout{1000};
  /// Longest wait for the supervisors' done after shutdown.
  std::chrono::milliseconds shutdown_timeout{30000};
  /// The experiment's fault injector (invalid: none). At the end of the run (or a stop) it is
  /// asked to roll every fault back before the users are shut down.
  fault_injector_actor injector;
  /// Longest wait for the injector's rollbacks.
  std::chrono::milliseconds injector_timeout{5000};
};

/// Returns every problem of `config` as one sentence each; empty when valid.
std::vector<std::string> validate(const stage_director_config& config);

/// State of the stage director.
struct stage_director_state {
  static inline const char* name = "stage_director";

  stage_director_config config;
  population_plan plan{{}};
  std::vector<supervisor_actor> supervisors;
  caf::actor metrics;
  caf::actor listener;
  /// Phase and stage last announced.
  run_phase phase = run_phase::idle;
  size_t stage = 0;
  bool announced = false;
  /// Wall of the plan clock: plan time = now - start - paused.
  caf::actor_clock::time_point start;
  caf::actor_clock::duration_type paused{0};
  /// Waiting for users to connect at the end of stage `waiting_stage`'s ramp.
  bool waiting = false;
  caf::actor_clock::time_point wait_started;
  std::chrono::milliseconds frozen_at{0};
  /// Stages whose ramp end has been confirmed (all connected or timed out), as count.
  size_t confirmed = 0;
  /// Times a wait for users ended by timeout rather than by all users connecting.
  uint32_t wait_timeouts = 0;
  /// Users connected at the last poll of the current wait, and the target polled for.
  uint64_t wait_connected = 0;
  uint64_t wait_wanted = 0;
  /// Per-shard target last sent; `sent` false until the first send.
  std::vector<uint32_t> targets;
  bool sent = false;
  /// Sequence number of the current timer; older ticks are ignored.
  uint64_t timer = 0;
  /// Shutting the supervisors down (end of plan or stop); no more steps. Apart from `phase`,
  /// because the plan's own last ramp to zero is announced as drain too.
  bool draining = false;
  /// Supervisors that have not answered shutdown yet.
  size_t pending_done = 0;
  /// Sum of the supervisors' final stats.
  supervisor_stats totals;
  /// Live control: a population held instead of the plan's until stage `override_stage` ends.
  bool overridden = false;
  uint32_t override_target = 0;
  size_t override_stage = 0;
  /// Open model: the current open stage's arrival times (relative to its start), the next one
  /// to send, and which stage they belong to.
  std::vector<std::chrono::milliseconds> arrivals;
  size_t next_arrival = 0;
  size_t arrivals_stage = static_cast<size_t>(-1);
  /// Round-robin position over the supervisors for the next arrival.
  size_t next_shard = 0;
  /// Arrivals sent to supervisors (scheduled and due) so far.
  uint64_t arrivals_sent = 0;
};

/// The stage director behaviour. Starts the plan clock at once. `metrics` and `listener` may be
/// invalid handles (nothing is sent then).
stage_director_actor::behavior_type
stage_director(stage_director_actor::stateful_pointer<stage_director_state> self,
               stage_director_config config, std::vector<supervisor_actor> supervisors,
               caf::actor metrics, caf::actor listener);

} // namespace stompede
