#pragma once

// The metrics actor: once a second it collects one delta from every IO thread (a task posted
// to the thread itself takes the thread's aggregate, so no lock is ever shared with the hot
// path), merges them with the supervisors' restart counts into one interval, and exports that
// interval: Prometheus, timeseries.csv, the live progress line, per-stage totals. It never sees
// an individual chat message.

#include "actors/io_aggregate.hpp"
#include "actors/population_plan.hpp"
#include "actors/wire.hpp"
#include "metrics/message_ledger.hpp"
#include "metrics/snapshot.hpp"
#include "metrics/summary_json.hpp"

#include <caf/actor.hpp>
#include <caf/actor_clock.hpp>
#include <caf/allowed_unsafe_message_type.hpp>
#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>
#include <caf/typed_response_promise.hpp>

#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

namespace stompede {

class io_pool;

namespace metrics {
class experiment_tracker;
class prometheus_exporter;
class timeseries_writer;
} // namespace metrics

struct metrics_config {
  /// Collection period.
  std::chrono::milliseconds interval{1000};
  /// Print a progress line per interval (to `progress_out`).
  bool progress = true;
  /// Rewrite one line in place (a terminal) rather than print a line per interval.
  bool progress_in_place = false;
  std::FILE* progress_out = stdout;
  /// An experiment's tracker (null: no experiment). The actor feeds it every interval and the
  /// faults' start and end, stamped on its clock; the engine reads it after the actor is gone.
  std::shared_ptr<metrics::experiment_tracker> experiment;
  /// Load processes (workers) whose figures join this run's: each answers (get_atom, delta_atom)
  /// with a `worker_delta` once per interval, like one more IO thread.
  std::vector<caf::actor> workers;
  /// Longest wait for one worker's delta; a worker that does not answer in time (or is gone)
  /// counts as an empty delta for that interval.
  std::chrono::milliseconds worker_timeout{5000};
  /// Servers the workers are spread over (`--targets`; worker k on server k mod count). With
  /// more than one, the accounting treats a room on each server as a room of its own.
  std::uint32_t worker_servers = 1;
  /// Message accounting's grace and settle times.
  metrics::ledger_config ledger;
  /// Per stage of the plan: an open-model stage (its reported target is the peak of concurrent
  /// sessions; a closed stage's is its target while it ramps and holds, as it ended). Empty:
  /// every stage reports its peak.
  std::vector<bool> open_stages;
};

/// What one worker process ships once per interval: its IO threads' deltas merged, its
/// supervisors' restart counts since the previous delta (in `io.counters`) and recovery times (in
/// `io.histograms.reconnect_time_ms`), and its levels.
struct worker_delta {
  io_delta io;
  /// Users the worker's supervisors were told to run.
  std::int64_t target_users = 0;
  /// Users of the worker waiting for or running a reconnect.
  std::int64_t reconnecting = 0;
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_delta& x) {
  return f(x.io, x.target_users, x.reconnecting);
}

struct metrics_state {
  static inline const char* name = "metrics";
  metrics_config config;
  io_pool* pool = nullptr;
  io_aggregate* aggregates = nullptr;
  std::vector<caf::actor> supervisors;
  std::shared_ptr<metrics::prometheus_exporter> exporter;
  std::shared_ptr<metrics::timeseries_writer> timeseries;
  std::chrono::steady_clock::time_point started;
  std::chrono::steady_clock::time_point last_emit;
  /// The same on the actor's clock (virtual in tests), for the timing of collections.
  caf::actor_clock::time_point last_emit_at;
  /// When the collection in progress began.
  caf::actor_clock::time_point collect_started_at;
  /// Deltas of the collection in progress.
  std::uint64_t tick = 0;
  std::size_t pending = 0;
  /// Supervisors yet to answer this collection: the interval waits for their levels (target,
  /// reconnecting) so that they describe the same second as the IO threads' counts.
  std::size_t sup_pending = 0;
  /// The director's phase as last applied.
  run_phase phase = run_phase::idle;
  /// Changes of stage announced while the interval in progress still belongs to the stage
  /// before: each is applied once the interval before it is emitted (one collection out of
  /// turn per change), so per-stage figures and rows are not shifted by up to one interval.
  struct stage_change {
    std::uint32_t stage = 0;
    std::string name;
    run_phase phase = run_phase::idle;
  };
  std::vector<stage_change> next_stages;
  metrics::load_snapshot interval;
  metrics::load_snapshot total;
  /// Latest cumulative restart counts per supervisor, and what was already counted.
  std::vector<metrics::load_counters> sup_now;
  metrics::load_counters sup_counted;
  /// The director has sent the supervisors' final counts: late answers are ignored.
  bool sup_final = false;
  /// Latest levels per supervisor.
  struct supervisor_levels {
    std::int64_t target = 0;
    std::int64_t reconnecting = 0;
  };
  std::vector<supervisor_levels> sup_levels;
  std::int64_t sup_reconnecting = 0;
  /// Levels the workers reported in the collection in progress.
  std::int64_t worker_target = 0;
  /// Each worker's target in its last delta: a lost worker's users stay wanted (and count as
  /// not connected), so losing a worker does not shrink the plan.
  std::vector<std::int64_t> worker_last_target;
  /// Per worker: declared lost (asked no more), and the last collection it answered.
  std::vector<bool> worker_gone;
  /// Collections in a row in which worker k's delta did not come (timed out, failed).
  std::vector<std::uint32_t> worker_missed;
  std::vector<std::uint64_t> answered;
  /// Per worker, per user: its latest session record (a session confirmed and not ended is
  /// open), to end the open ones in the ledger when the worker is lost.
  std::vector<std::unordered_map<std::uint32_t, metrics::session_record>> worker_sessions;
  std::int64_t worker_reconnecting = 0;
  std::vector<metrics::stage_report> stages;
  /// The reason of the latest TLS failure of the run (empty: none).
  std::string tls_failure;
  /// The message of the latest STOMP ERROR frame of the run (empty: none).
  std::string server_error;
  /// The latest refused WebSocket upgrade of the run (status and reason; empty: none).
  std::string upgrade_refusal;
  /// Live-control changes since the last row, for its `events` column.
  std::string events;
  /// Message accounting, fed by every delta.
  std::unique_ptr<metrics::message_ledger> ledger;
  /// Per IO thread, then per worker, the wall clock (µs) of its latest delta (a worker's: the
  /// oldest of its IO threads'); the ledger may classify up to the smallest. A lost worker's
  /// mark is the maximum (not waited for).
  std::vector<std::int64_t> ledger_marks;
  /// The first collection begun after `done_atom`: the final one.
  std::uint64_t final_tick = 0;
  /// Callers of `done_atom` waiting for the final collection.
  std::vector<caf::typed_response_promise<struct metrics_result>> finishing;
  bool done = false;
};

/// The reply to (get_atom): the run's totals and per-stage figures.
struct metrics_result {
  metrics::load_snapshot total;
  std::vector<metrics::stage_report> stages;
  /// The reason of the latest TLS failure ("certificate has expired", ...); empty: none.
  std::string tls_failure;
  /// The message of the latest STOMP ERROR frame a server sent; empty: none.
  std::string server_error;
  /// The latest refused WebSocket upgrade (status and reason); empty: none.
  std::string upgrade_refusal;
  /// Workers not declared lost whose deltas have not come for `silent_collections`
  /// collections in a row: alive but not answering.
  std::vector<std::uint32_t> silent_workers;
};

/// Collections in a row without a worker's delta after which it counts as silent.
inline constexpr std::uint32_t silent_collections = 3;

/// Handles: (tick_atom) internal; (stats_atom, supervisor_stats) the director's sum of the
/// supervisors' final counts; (io_delta, uint64 tick) from IO threads; (phase_atom,
/// uint32 stage, std::string name, run_phase) from the director; (control_atom, std::string)
/// a live-control change, logged in the next time-series row;
/// (fault_atom, metrics::fault_record, bool ended) a fault started or ended (the experiment's
/// journal and the time series' events and faults columns);
/// (lost_atom, uint32 k) worker k is gone, ask it no more;
/// (lost_atom, uint32 k) worker k is gone: ask it no more, stop waiting for it;
/// (done_atom) -> metrics_result: a final collection, then the totals; (get_atom) ->
/// metrics_result.
caf::behavior metrics_actor(caf::stateful_actor<metrics_state>* self, metrics_config cfg,
                            io_pool* pool, io_aggregate* aggregates,
                            std::vector<caf::actor> supervisors,
                            std::shared_ptr<metrics::prometheus_exporter> exporter,
                            std::shared_ptr<metrics::timeseries_writer> timeseries);

} // namespace stompede

// Travels between local actors only (io_delta and worker_delta have field lists: wire.hpp).
CAF_ALLOW_UNSAFE_MESSAGE_TYPE(stompede::metrics_result)
