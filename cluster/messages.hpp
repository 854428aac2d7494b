#pragma once

// What a controller and its workers say to each other over CAF's own distribution (libcaf_io's
// middleman). A worker process is an agent: it publishes one actor; the controller connects to it
// with remote_actor, hands it a `worker_plan`, and from then on talks to the worker's slice actor
// as the stage director talks to a supervisor and as the metrics actor talks to an IO thread.
//
//   controller -> agent   (assign_atom, worker_plan)
//   agent -> controller   (ready_atom, uint32_t index, caf::actor slice)   users logged in
//                         (ready_atom, uint32_t index, std::string why)    could not start
//   director -> slice     (target_atom, uint32_t), (get_atom, stats_atom), (shutdown_atom)
//   metrics -> slice      (get_atom, delta_atom) -> worker_delta
//   controller -> agent   (stop_atom) -> (done_atom): the run is over, the agent process ends

#include "actors/atoms.hpp"

#include <caf/fwd.hpp>
#include <caf/meta/type_name.hpp>

#include <cstdint>
#include <string>

namespace stompede::cluster {

/// One worker's share of a run.
struct worker_plan {
  /// The effective scenario as TOML, secrets included (the link carries them: docs/workers.md).
  std::string scenario_toml;
  /// This worker's index and the number of workers: it runs users index, index + count, ...
  std::uint32_t index = 0;
  std::uint32_t count = 1;
  /// Source address for every connection of this worker; empty: the scenario's own
  /// `[target] source_addresses` (or none).
  std::string source_address;
  /// WebSocket URL this worker connects to instead of the scenario's `[target] url`; empty: the
  /// scenario's (spreading workers over several servers, docs/workers.md).
  std::string target_url;
  /// This run's number, drawn by its controller: a stop carries it, so an agent ends its slice
  /// only for its own controller (a stop may arrive without a sender over the link).
  std::uint64_t run_id = 0;
};

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, worker_plan& x) {
  return f(caf::meta::type_name("stompede::worker_plan"), x.scenario_toml, x.index, x.count,
           x.source_address, x.target_url, x.run_id);
}

/// Announces every type that crosses the link and loads the middleman.
void configure_link(caf::actor_system_config& cfg);

} // namespace stompede::cluster
