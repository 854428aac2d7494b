#pragma once

// The supervisor: one per shard of users. It keeps `target` user actors alive, restarts the ones
// that fail (DOWN with an error) after a capped, jittered exponential backoff while keeping their
// identity, stops the newest first when the target goes down, and counts every attempt, success,
// give-up and time to recover. Users are made by an injected factory, so tests supply fakes.
//
// Message protocol (see `supervisor_actor` for the typed interface):
//   director -> supervisor   (target_atom, uint32_t n)        run n users (capped at capacity)
//   director -> supervisor   (arrive_atom, count, min_ms, max_ms, cap)
//                             open model: start `count` sessions in free slots (at most `cap`
//                             alive), each stopped gracefully after its length; an arrival
//                             that finds no free slot is counted as dropped
//   director -> supervisor   (stage_atom, uint32_t stage)     forwarded to every live user
//   director -> supervisor   (shutdown_atom) -> (done_atom, supervisor_stats)
//                             stop every user, never restart again; reply once all are gone,
//                             then quit
//   anyone   -> supervisor   (get_atom, stats_atom) -> supervisor_stats
//   user     -> supervisor   (connected_atom)                 the sender's session is up
//   supervisor -> user       (stop_atom)                      DISCONNECT and exit normally
//   injector -> supervisor   (fault_atom, user_fault_order) -> uint32_t
//                             apply a user-side fault to the cohort's connected users (or roll
//                             it back on the users it was applied to); replies how many
//   supervisor -> user       (fault_atom, uint8_t user_fault, bool on)
//   supervisor -> user       (stage_atom, uint32_t stage)     a new stage began
//   supervisor -> self       respawn / healthy / deadline / expire timers (virtual time in
//                             tests)

#include "actors/atoms.hpp"
#include "actors/backoff.hpp"
#include "actors/session_settings.hpp" // user_identity
#include "actors/user_fault.hpp"

#include <caf/actor.hpp>
#include <caf/actor_addr.hpp>
#include <caf/actor_clock.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
#include <deque>
#include <map>
#include <random>
#include <string>
#include <vector>

// Orders travel only between local actors (injector -> supervisor).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stompede::user_fault_order)

namespace stompede {

namespace config {
struct scenario;
} // namespace config

/// Renders `x` for logs with the token redacted.
std::string to_string(const user_identity& x);

/// Makes the identity of the user with a global index.
using identity_fn = std::function<user_identity(uint32_t index)>;

/// Spawns one user actor for `id` from the supervisor `self` (the user reports `connected_atom`
/// to `caf::actor_cast<supervisor_actor>(self)`). Returns an invalid handle on failure, which
/// counts as a failed attempt.
using user_factory = std::function<caf::actor(caf::local_actor* self, const user_identity& id)>;

/// Counters of one supervisor (or, merged with `+=`, of all of them).
struct supervisor_stats {
  /// Users the supervisor was told to run (after the capacity cap).
  uint32_t target = 0;
  /// User actors alive, including those asked to stop that have not exited yet.
  uint32_t running = 0;
  /// Users that reported `connected_atom` and have not gone down since.
  uint32_t connected = 0;
  /// Users that failed and are waiting for, or running, their restart (the seed's
  /// active_reconnections).
  uint32_t reconnecting = 0;
  /// User actors spawned, first starts and restarts.
  uint64_t spawned = 0;
  /// Restart attempts: spawns of a slot after its user failed.
  uint64_t attempts = 0;
  /// Restart attempts that reached connected again.
  uint64_t successes = 0;
  /// Every `connected_atom` received.
  uint64_t connects = 0;
  /// DOWN messages with an error reason (not counting users killed after a stop timed out).
  uint64_t failures = 0;
  /// Slots given up after `max_attempts` consecutive failed restarts.
  uint64_t give_ups = 0;
  /// Users that exited normally (graceful stop or on their own).
  uint64_t stopped = 0;
  /// Users killed because they did not exit within the stop timeout.
  uint64_t killed = 0;
  /// Time-to-recover samples (first failure -> connected again): count, sum, maximum.
  uint64_t recover_count = 0;
  int64_t recover_ns_sum = 0;
  int64_t recover_ns_max = 0;
  /// Open model: arrivals received, started in a slot, dropped for want of a free slot.
  uint64_t arrivals = 0;
  uint64_t arrivals_started = 0;
  uint64_t arrivals_dropped = 0;
  /// Open model: sessions that ended normally (their length was over, or they ended
  /// themselves); not those stopped by the run's end or a change of stage model.
  uint64_t sessions_completed = 0;

  /// Adds `other`'s counters (and gauges) to this one.
  supervisor_stats& operator+=(const supervisor_stats& other);
};

/// CAF 0.17 inspection, so the stats can travel in messages.
template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, supervisor_stats& x) {
  return f(caf::meta::type_name("supervisor_stats"), x.target, x.running, x.connected,
           x.reconnecting, x.spawned, x.attempts, x.successes, x.connects, x.failures, x.give_ups,
           x.stopped, x.killed, x.recover_count, x.recover_ns_sum, x.recover_ns_max, x.arrivals,
           x.arrivals_started, x.arrivals_dropped, x.sessions_completed);
}

/// The typed interface of a supervisor; one comment per handler says who sends it.
using supervisor_actor = caf::typed_actor<
    // director: run this many users.
    caf::reacts_to<target_atom, uint32_t>,
    // director: stop everything, no restarts; replies with the final stats once all users are gone.
    caf::replies_to<shutdown_atom>::with<done_atom, supervisor_stats>,
    // anyone: current counters.
    caf::replies_to<get_atom, stats_atom>::with<supervisor_stats>,
    // metrics: times to recover (ms) since the last ask, drained.
    caf::replies_to<get_atom, reconnect_atom>::with<std::vector<int64_t>>,
    // user: its session is established.
    caf::reacts_to<connected_atom>,
    // fault injector: apply or roll back a user-side fault on a cohort; replies the users hit.
    caf::replies_to<fault_atom, user_fault_order>::with<uint32_t>,
    // self: (re)spawn slot `uint32_t` if generation `uint64_t` is still current.
    caf::reacts_to<respawn_atom, uint32_t, uint64_t>,
    // self: slot has been connected for the healthy period; reset its attempts.
    caf::reacts_to<healthy_atom, uint32_t, uint64_t>,
    // self: slot asked to stop has not exited in time; kill it.
    caf::reacts_to<deadline_atom, uint32_t, uint64_t>,
    // director: open-model arrivals (count, min_ms, max_ms, cap).
    caf::reacts_to<arrive_atom, uint32_t, uint32_t, uint32_t, uint32_t>,
    // self: the open-model session of arrival `uint64_t` in slot `uint32_t` has lived its length.
    caf::reacts_to<expire_atom, uint32_t, uint64_t>,
    // director: a new stage began; told to every live user.
    caf::reacts_to<stage_atom, uint32_t>>;

/// Settings of one supervisor.
struct supervisor_config {
  /// Global index of this shard's slot 0; identities are made for `first_index + slot`.
  uint32_t first_index = 0;
  /// Most users this supervisor runs; larger targets are capped.
  uint32_t capacity = 1000;
  /// Restart policy.
  backoff_policy backoff;
  /// Gap between spawns when the target grows by several users at once (seed: 10 ms).
  std::chrono::milliseconds spawn_spacing{10};
  /// How long a user asked to stop may take to exit before it is killed.
  std::chrono::milliseconds stop_timeout{5000};
  /// Seed of the jitter generator (give each shard its own).
  uint64_t seed = 0;
};

/// Returns every problem of `config` as one sentence each; empty when valid.
std::vector<std::string> validate(const supervisor_config& config);

/// The settings of the supervisor whose slot 0 is user `first_index`, from the scenario's
/// `[reconnect]`, `[run] users_per_shard` and first stage's spawn gap (reconnect off: a failed
/// user is given up at once, as the seed does). One builder for the engine and the workers.
supervisor_config make_supervisor_config(const config::scenario& sc, uint32_t first_index,
                                         uint64_t seed);

/// Lifecycle of one slot.
enum class slot_state : uint8_t {
  /// Waiting for its (re)spawn timer.
  pending,
  /// A user actor is alive.
  running,
  /// The user was asked to stop; waiting for its DOWN.
  stopping,
  /// The user exited normally on its own; not restarted.
  exited,
  /// Too many failed restarts; not restarted.
  given_up,
};

/// One user slot of a supervisor.
struct user_slot {
  user_identity id;
  caf::actor handle;
  slot_state state = slot_state::pending;
  /// Consecutive failed attempts (reset after a healthy period).
  uint32_t attempts = 0;
  /// Incremented at every spawn, stop and restart so stale timers are ignored.
  uint64_t generation = 0;
  bool connected = false;
  /// Failed since it last connected; `down_at` is the first failure.
  bool recovering = false;
  caf::actor_clock::time_point down_at;
  /// Open model: the slot holds arrival `arrival` (0 = a closed-model user); `expired` once
  /// its length is over and it was asked to stop for that reason.
  uint64_t arrival = 0;
  bool expired = false;
};

/// State of a supervisor actor.
struct supervisor_state {
  static inline const char* name = "supervisor";

  supervisor_config config;
  user_factory make_user;
  identity_fn make_identity;
  /// Slots by shard-local index; slots `[0, target)` are wanted.
  std::map<uint32_t, user_slot> slots;
  /// Live user actors to their slot.
  std::map<caf::actor_addr, uint32_t> by_addr;
  uint32_t target = 0;
  /// Open model: the last arrival id handed out.
  uint64_t arrival_seq = 0;
  /// Open model: an arrival that found every slot under its cap taken, some of them by users
  /// still leaving (a ramp-down, a closed stage ending), waits for one of those to be gone
  /// instead of being dropped; at most one waiting arrival per leaving user.
  struct waiting_arrival {
    uint32_t lifetime_ms;
    uint32_t cap;
  };
  std::deque<waiting_arrival> waiting_arrivals;
  /// The stage last announced by the director (told to users).
  uint32_t stage = 0;
  bool shutting_down = false;
  std::vector<caf::typed_response_promise<done_atom, supervisor_stats>> done_promises;
  std::mt19937_64 rng;
  supervisor_stats stats;
  /// Times to recover (ms) since the last (get_atom, reconnect_atom); bounded so that nobody
  /// asking never grows it without end.
  std::vector<int64_t> recover_samples_ms;
  static constexpr std::size_t max_recover_samples = 100000;
  /// Lasting user-side faults in force: fault occurrence -> slots it was applied to.
  std::map<uint32_t, std::vector<uint32_t>> fault_slots;
};

/// The supervisor behaviour. `make_identity` maps global indices to identities; `make_user`
/// spawns a user. Both are called only from inside the actor.
supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self, supervisor_config config,
           user_factory make_user, identity_fn make_identity);

} // namespace stompede
