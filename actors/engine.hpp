#pragma once

// Running a load test: turns a validated scenario into IO threads, user logins, the actor tree
// (stage director -> supervisors -> users, metrics) and, whatever way the run ends, reports.

#include "actors/server_faults.hpp"
#include "config/scenario.hpp"

#include <string>

namespace stompede {

struct engine_options {
  /// Results directory; empty = the scenario's [output] dir.
  std::string out_dir;
  /// No progress lines (summary and errors only).
  bool quiet = false;
  /// Let the engine install SIGINT/SIGTERM handling (off in tests that drive stop themselves).
  bool handle_signals = true;
  /// The target is a server in this very process: every user costs two file descriptors.
  bool embedded_server_in_process = false;
  /// The server's fault interface for an experiment's server.* faults (the embedded server in
  /// this process); empty = the admin endpoint of [experiment] admin_url (or [target] http_url)
  /// with [experiment] admin_token.
  server_fault_port server_faults;
};

/// Exit codes of `stompede run`.
enum run_exit : int {
  exit_completed = 0,
  /// The run could not start or nothing could connect (one line on stderr says why).
  exit_failed = 1,
  exit_bad_input = 2,
  /// An experiment's steady-state hypothesis did not hold (in the baseline, after a fault, or
  /// a fault did not recover in time); experiment.json says where. Takes precedence over 99.
  exit_hypothesis_failed = 98,
  /// The run completed (or was aborted by [thresholds] abort_on_fail) and a threshold failed.
  exit_thresholds_failed = 99,
  exit_interrupted_sigint = 130,
  exit_interrupted_sigterm = 143,
};

/// Runs the scenario to its end (or until SIGINT/SIGTERM) and writes the reports. The target
/// URLs must already be final (the CLI starts an embedded server first). Returns an exit code.
int run_load_test(const config::scenario& sc, const engine_options& opts);

/// Asks a running `run_load_test` of this process to drain and stop, as SIGINT does.
void request_stop(int signal_number = 2);

} // namespace stompede
