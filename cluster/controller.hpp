#pragma once

// The controller side of a multi-process run: `stompede run --workers N` starts N worker
// processes of this same program (`stompede agent` on an ephemeral loopback port each),
// `--agents host:port,...` connects to agents started elsewhere; both hand every worker its
// slice of the users over CAF's middleman and then act as the engine's `remote_load`: the
// engine keeps the scenario clock, the metrics and the one set of reports. docs/workers.md.

#include "actors/engine.hpp"
#include "config/scenario.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <sys/types.h>
#include <vector>

namespace stompede::cluster {

struct controller_options {
  /// Worker processes to start on this machine.
  std::uint32_t workers = 0;
  /// Agents already listening (`host:port`), after the local workers in slice order.
  std::vector<std::string> agents;
  /// The program local workers run (`PROGRAM agent --listen 127.0.0.1:0 --quiet`); empty:
  /// this very executable (/proc/self/exe).
  std::string program;
  /// WebSocket URLs of several servers: worker k connects to targets[k % size] instead of the
  /// scenario's `[target] url` (empty: everyone to the scenario's).
  std::vector<std::string> targets;
  /// Longest wait for every worker to have its users logged in.
  std::chrono::seconds ready_timeout{300};
};

/// The controller of one run as the engine's remote_load.
class controller : public remote_load {
public:
  /// Process ids of the local workers, in slice order (empty before `start`).
  virtual std::vector<pid_t> worker_pids() const = 0;
};

/// A controller for `sc`; nullptr with a one-line `why` when the scenario cannot be split
/// (no workers, `[rooms] mode = "create"`, a malformed agent address).
std::shared_ptr<controller> make_controller(const config::scenario& sc,
                                            const controller_options& opts, std::string& why);

/// Splits "a,b,c" into a list (empty items skipped).
std::vector<std::string> split_list(const std::string& list);

} // namespace stompede::cluster
