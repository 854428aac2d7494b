#pragma once

// The worker side of a multi-process run: `stompede agent` (and every worker `stompede run
// --workers N` starts) publishes one agent actor with CAF's middleman, waits for one controller,
// runs the slice of users it is given until the controller ends the run (or goes away), and
// exits. See docs/workers.md.

#include <cstdint>
#include <string>

namespace stompede::cluster {

/// Users of a run with `peak` users that worker `index` of `count` runs: the global indices
/// index, index + count, index + 2 count, ... below `peak`. The stage director's even split
/// (`split_target`, first shards take the remainder) gives worker `index` exactly its share of
/// any total, so the users running at any moment are the same as in one process.
std::uint32_t slice_size(std::uint32_t peak, std::uint32_t index, std::uint32_t count);

/// Global user index of a worker's local user `local`.
inline std::uint32_t global_index(std::uint32_t local, std::uint32_t index, std::uint32_t count) {
  return local * count + index;
}

struct agent_options {
  /// host:port to listen on; port 0 picks a free one. The host must be an address.
  std::string listen = "127.0.0.1:0";
  /// Print nothing but errors (the listening line is always printed: a controller that
  /// started this process reads the port from it).
  bool quiet = false;
};

/// Runs an agent until its run is over (or SIGINT/SIGTERM); returns the process exit code.
/// Prints "stompede agent: listening on HOST:PORT" on stdout once it accepts a controller.
int run_agent(const agent_options& opts);

} // namespace stompede::cluster
