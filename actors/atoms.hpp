#pragma once

// Every atom of the control plane in one place. CAF 0.17 atoms are compile-time constants of at
// most 10 characters; CAF's own predefined atoms (caf::get_atom, caf::tick_atom, ...) are reused
// where their meaning fits rather than redefined.

#include <caf/atom.hpp>
#include <caf/type_id.hpp>

namespace stompede {

using caf::get_atom;
using caf::tick_atom;

/// user -> supervisor: the session is established (STOMP CONNECTED and subscriptions done).
using connected_atom = caf::atom_constant<caf::atom("connected")>;

/// supervisor -> user, director -> self: stop gracefully (user: STOMP DISCONNECT, exit normally).
using stop_atom = caf::atom_constant<caf::atom("stop")>;

/// director -> supervisor: stop every user, never restart again, reply `done_atom` when empty.
using shutdown_atom = caf::atom_constant<caf::atom("shutdown")>;

/// supervisor -> director (reply to shutdown), director -> listener: the run is over.
using done_atom = caf::atom_constant<caf::atom("done")>;

/// director -> supervisor: run this many users (`target_atom, uint32_t`).
using target_atom = caf::atom_constant<caf::atom("target")>;

/// with `get_atom`: ask a supervisor for its `supervisor_stats`.
using stats_atom = caf::atom_constant<caf::atom("stats")>;

/// supervisor -> self: (re)spawn the user in a slot once its delay has passed.
using respawn_atom = caf::atom_constant<caf::atom("respawn")>;

/// supervisor -> self: a user has been connected for the healthy period; reset its attempts.
using healthy_atom = caf::atom_constant<caf::atom("healthy")>;

/// supervisor -> self: a user asked to stop did not exit in time; kill it.
using deadline_atom = caf::atom_constant<caf::atom("deadline")>;

/// with `get_atom`: ask a supervisor for the times to recover since the last ask.
using reconnect_atom = caf::atom_constant<caf::atom("reconnect")>;

/// director -> metrics: `phase_atom, uint32_t stage, std::string name, run_phase phase`.
using phase_atom = caf::atom_constant<caf::atom("phase")>;

/// control -> director: end the current stage now (the next one starts, or the run drains).
using skip_atom = caf::atom_constant<caf::atom("skip")>;

/// director -> supervisor: `arrive_atom, uint32_t count, uint32_t min_ms, uint32_t max_ms,
/// uint32_t cap`: start `count` open-model sessions, each living a length drawn from
/// [min_ms, max_ms], while at most `cap` sessions of this supervisor are alive.
using arrive_atom = caf::atom_constant<caf::atom("arrive")>;

/// supervisor -> self: `expire_atom, uint32_t slot, uint64_t arrival`: an open-model session's
/// length is over (ignored when the slot holds another arrival by now).
using expire_atom = caf::atom_constant<caf::atom("expire")>;

/// director -> supervisor -> user: `stage_atom, uint32_t stage`: a new stage began (sent once
/// per stage change, never per tick).
using stage_atom = caf::atom_constant<caf::atom("stage")>;

/// control -> metrics: `control_atom, std::string what`, logged in the time series.
using control_atom = caf::atom_constant<caf::atom("control")>;

/// Fault injection: injector -> supervisor `(fault_atom, user_fault_order)` -> hit count;
/// supervisor -> user `(fault_atom, uint8_t user_fault, bool on)`; injector -> metrics
/// `(fault_atom, fault_event)`.
using fault_atom = caf::atom_constant<caf::atom("fault")>;

/// injector -> self: start (`uint32_t` entry) or end (`uint32_t` occurrence) a fault.
using start_atom = caf::atom_constant<caf::atom("start")>;
/// fault injector: count what an instant server fault hit, once its effects have landed.
using tally_atom = caf::atom_constant<caf::atom("tally")>;
using end_atom = caf::atom_constant<caf::atom("end")>;

/// with `get_atom`: ask a worker process for its `worker_delta` (controller -> worker).
using delta_atom = caf::atom_constant<caf::atom("delta")>;

/// controller -> agent: run this slice of the users (`assign_atom, worker_plan`); the reply is
/// (ready_atom, caf::actor slice) once its users are logged in, or an error.
using assign_atom = caf::atom_constant<caf::atom("assign")>;

/// engine -> metrics: `lost_atom, uint32_t k`: worker k is gone; stop asking it for deltas.
using lost_atom = caf::atom_constant<caf::atom("lost")>;

/// agent -> controller: a slice is ready.
using ready_atom = caf::atom_constant<caf::atom("ready")>;

} // namespace stompede
