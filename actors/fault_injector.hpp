#pragma once

// The fault injector: executes an experiment's `[[fault]]` schedule on the run's clock and
// always rolls every fault back -- at the end of its duration, when the director drains the run
// (end of plan, stop, SIGINT, abort), and, as a last resort, when the actor itself goes down.
// It lives under the stage director: the director asks it to stop before shutting the users
// down.
//
// Messages:
//   self     -> injector  (start_atom, uint32_t entry, uint32_t occurrence)  timer
//   self     -> injector  (end_atom, uint32_t id)                            timer
//   director -> injector  (stop_atom) -> done_atom   roll back every active fault, start none
//   injector -> supervisor (fault_atom, user_fault_order) -> uint32_t users hit
//   self     -> injector  (tally_atom, uint32_t id)                          timer
//   injector -> metrics   (fault_atom, metrics::fault_record, bool ended)    journal events
//   injector -> metrics   (fault_atom, uint32_t id, int64_t hit)              a late hit count
// Server faults are calls on a `server_fault_port` (in-process or the admin endpoint).

#include "actors/atoms.hpp"
#include "actors/proxy_faults.hpp"
#include "actors/server_faults.hpp"
#include "actors/supervisor.hpp"
#include "actors/user_fault.hpp"
#include "metrics/experiment.hpp"

#include <caf/actor.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/replies_to.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_actor.hpp>
#include <caf/typed_event_based_actor.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stompede::metrics::fault_record)

namespace stompede {

/// One `[[fault]]` entry, resolved for execution.
struct fault_spec {
  std::string name;
  /// "user.drop", "server.pause", ...
  std::string kind;
  /// The cohort in words, for the journal.
  std::string target;
  std::chrono::milliseconds at{0};
  std::chrono::milliseconds every{0};
  /// Occurrences with `every` (0 = until the run ends).
  std::uint32_t times = 0;
  /// 0 = an instant.
  std::chrono::milliseconds duration{0};
  /// User side: the order's template (kind, cohort); fault_id and `on` are set per occurrence.
  std::optional<user_fault_order> user;
  /// Server side: the calls that apply it and those that roll it back (none for instants).
  std::vector<server_fault_call> apply;
  std::vector<server_fault_call> rollback;
  /// The server's counter of what it hit (sessions closed, broadcasts dropped, ...; none =
  /// unknown): the difference of the tally across the fault.
  std::int64_t server_fault_tally::*hit_counter = nullptr;
  /// Proxy side: a toxic spec ("latency:downstream:latency=100ms") applied to `toxicity` of the
  /// connections, or refusing new connections.
  std::string toxic;
  double toxicity = 1.0;
  bool proxy_refuse = false;
  /// Proxy side with a cohort: the users (fraction 1) whose connections go through the lanes
  /// this fault acts on; none = every lane.
  std::optional<user_fault_order> proxy_cohort;
};

/// Settings of the fault injector.
struct fault_injector_config {
  std::vector<fault_spec> faults;
  /// Longest wait for a supervisor's answer to a user-side fault.
  std::chrono::milliseconds reply_timeout{5000};
};

/// The typed interface of the fault injector.
using fault_injector_actor = caf::typed_actor<
    // self: start occurrence `uint32_t` (1-based) of entry `uint32_t`.
    caf::reacts_to<start_atom, uint32_t, uint32_t>,
    // self: end (roll back) active fault `uint32_t`.
    caf::reacts_to<end_atom, uint32_t>,
    // self: read the server's tally for instant server fault `uint32_t`.
    caf::reacts_to<tally_atom, uint32_t>,
    // director: roll back everything now and start nothing more.
    caf::replies_to<stop_atom>::with<done_atom>>;

/// One fault occurrence in force.
struct active_fault {
  std::uint32_t id = 0;
  std::uint32_t entry = 0;
  /// Users or sessions hit (-1 until known).
  std::int64_t hit = -1;
  /// The proxy's toxic (when it added one).
  std::uint64_t toxic_id = 0;
  bool has_toxic = false;
  /// The server's tally when it started (server faults with a hit counter).
  std::optional<server_fault_tally> before;
};

struct fault_injector_state {
  static inline const char* name = "fault_injector";
  fault_injector_config config;
  std::vector<supervisor_actor> supervisors;
  caf::actor metrics;
  server_fault_port server;
  proxy_fault_port proxy;
  std::vector<active_fault> active;
  /// Instant server faults whose hits are read a moment after they ended.
  std::vector<active_fault> settling;
  /// How long an instant server fault's effects take to land before its hits are read.
  std::chrono::milliseconds settle{500};
  std::uint32_t next_id = 0;
  bool stopped = false;

  fault_injector_state() = default;
  fault_injector_state(const fault_injector_state&) = delete;
  fault_injector_state& operator=(const fault_injector_state&) = delete;
  /// The last resort: an actor that goes down with faults in force (killed, not stopped)
  /// rolls them back here.
  ~fault_injector_state();
};

/// The fault injector behaviour. Schedules every entry at once on the actor's clock (virtual
/// time in tests). `metrics` may be invalid; `server` may be empty (server faults then fail,
/// recorded in the journal).
fault_injector_actor::behavior_type
fault_injector(fault_injector_actor::stateful_pointer<fault_injector_state> self,
               fault_injector_config config, std::vector<supervisor_actor> supervisors,
               caf::actor metrics, server_fault_port server, proxy_fault_port proxy = {});

} // namespace stompede
