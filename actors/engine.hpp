#pragma once

// Running a load test: turns a validated scenario into IO threads, user logins, the actor tree
// (stage director -> supervisors -> users, metrics) and, whatever way the run ends, reports.

#include "actors/server_faults.hpp"
#include "config/scenario.hpp"

#include <caf/fwd.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace stompede {

/// Users that run in other processes (workers), driven from this one (cluster/controller.hpp).
/// The engine keeps the scenario clock, the metrics and the reports; each slice handle stands for
/// one worker: it takes the supervisor messages of the stage director ((target_atom, n),
/// (get_atom, stats_atom), (shutdown_atom)) for that worker's share of the users and answers
/// (get_atom, delta_atom) with a `worker_delta`.
class remote_load {
public:
  virtual ~remote_load() = default;
  /// Before the actor system starts: load what the link needs, announce the message types.
  virtual void configure(caf::actor_system_config& cfg) = 0;
  /// Once the actor system runs: hands every worker its slice and waits until each is ready
  /// (its users logged in). One handle per slice, in slice order; empty with `why` on failure.
  virtual std::vector<caf::actor> start(caf::actor_system& sys, std::string& why) = 0;
  /// Workers lost since the last call: the slice index and one line saying which, when, why;
  /// `none_left` when no worker is left.
  virtual std::vector<std::pair<std::uint32_t, std::string>> poll_lost(bool& none_left) = 0;
  /// Declares worker `k` lost although its process or link is still there (it stopped
  /// answering: stopped, hung, overloaded); one line saying which, when, why, or "" when it was
  /// lost already. Its slice answers nothing more, and the link no longer waits for it.
  virtual std::string declare_lost(std::uint32_t k, const std::string& why) {
    (void)k;
    (void)why;
    return {};
  }
  /// The run is over and its figures are collected: end the workers.
  virtual void finish() = 0;
  /// Workers of the run.
  virtual std::uint32_t worker_count() const = 0;
  /// Servers the workers are spread over (worker k connects to server k mod count): a message
  /// reaches only the members on its sender's server.
  virtual std::uint32_t server_count() const {
    return 1;
  }
};

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
  /// When set, the users run in worker processes (docs/workers.md), not in this one.
  std::shared_ptr<remote_load> remote;
  /// What the users connect to, as messages name it (credentials in it already hidden); empty =
  /// the scenario's target.url, redacted (set when `--targets` spreads the workers over other
  /// URLs).
  std::string target_label;
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

/// Makes the results folder from `pattern` (`[output] dir` or `--out`). With `{timestamp}` the
/// folder is the run's own: a name already taken (two runs in the same second) gets `-2`, `-3`,
/// ... appended to the timestamp. A folder named as is may be reused: the reports of an earlier
/// run in it are removed first, so that none of them passes for this run's; other files stay.
/// Empty on failure, with `why`.
std::string make_results_dir(const std::string& pattern, std::string& why);

/// Runs the scenario to its end (or until SIGINT/SIGTERM) and writes the reports. The target
/// URLs must already be final (the CLI starts an embedded server first). Returns an exit code.
int run_load_test(const config::scenario& sc, const engine_options& opts);

/// Asks a running `run_load_test` of this process to drain and stop, as SIGINT does.
void request_stop(int signal_number = 2);

} // namespace stompede
