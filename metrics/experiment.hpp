#pragma once

// The verdict of a fault-injection experiment: the steady-state hypothesis (threshold
// expressions) checked in a baseline phase, during each fault and after recovery, the time each
// fault took to recover from, and the journal (experiment.json). Fed with the run's one-second
// intervals and the faults' start and end as they happen; no CAF, no clocks of its own.

#include "metrics/snapshot.hpp"
#include "metrics/thresholds.hpp"

#include <cstdint>
#include <string>
#include <system_error>
#include <vector>

namespace stompede::metrics {

/// One occurrence of a fault as it happened.
struct fault_record {
  /// Occurrence number in the run, in order of start (0-based).
  std::uint32_t id = 0;
  /// The `[[fault]]` entry's name and kind ("user.drop", "server.close_sessions", ...).
  std::string name;
  std::string kind;
  /// Index of the `[[fault]]` entry and the occurrence of that entry (1-based).
  std::uint32_t entry = 0;
  std::uint32_t occurrence = 1;
  /// Seconds since the run started; end_s < 0 while the fault is active.
  double start_s = 0.0;
  double end_s = -1.0;
  /// The cohort in words ("30% of the server's sessions", "50% of users in rooms 1, 2").
  std::string target;
  /// Users or sessions hit when known, else -1.
  std::int64_t hit = -1;
  /// What ended it: "schedule" (its duration passed), "instant", "end of run", "stop".
  std::string ended_by;
  /// Why applying or rolling it back failed (empty when it did not).
  std::string error;
};

/// One phase of the experiment and the hypothesis checked on it.
struct experiment_phase {
  /// "baseline", "during <fault>", "recovering <fault>", "after <fault>".
  std::string name;
  /// "baseline", "during", "recovering" or "after".
  std::string kind;
  /// The fault occurrence it belongs to (-1 for the baseline).
  std::int64_t fault = -1;
  /// From the start of its first interval to the end of its last, seconds since the start.
  double start_s = 0.0;
  double end_s = 0.0;
  std::size_t intervals = 0;
  /// Counters and histograms summed over the phase (interval_s = its length); gauges of the
  /// interval with the lowest share of connected users (so `connected` is the phase's minimum).
  load_snapshot figures;
  /// Lowest connected / wanted users over the phase (-1 when nobody was wanted).
  double min_connected = -1.0;
  std::vector<threshold_result> checks;
  /// True when the phase counts for the verdict (baseline, after; during with
  /// hold_during_faults; never recovering).
  bool enforced = true;
  /// Every check passed.
  bool held = false;
};

/// How long a fault took to recover from.
struct fault_recovery {
  std::uint32_t fault = 0;
  std::string name;
  /// Fault end, seconds since the start.
  double fault_end_s = 0.0;
  bool recovered = false;
  /// From the fault's end to the end of the first interval after it in which the hypothesis
  /// held again (1 s resolution); meaningful when recovered.
  double recovery_s = 0.0;
  /// Why it did not recover ("did not recover within 30s", "the run ended 4.0 s after ...").
  std::string note;
};

/// Settings of an experiment.
struct experiment_settings {
  std::vector<threshold> hypothesis;
  /// Length of the baseline phase, which ends when the first fault starts.
  double baseline_s = 10.0;
  /// Start of the first fault on the schedule (seconds since the start).
  double first_fault_s = 0.0;
  double recovery_deadline_s = 30.0;
  bool hold_during_faults = false;
};

/// The outcome.
struct experiment_result {
  experiment_settings settings;
  std::vector<fault_record> faults;
  std::vector<experiment_phase> phases;
  std::vector<fault_recovery> recoveries;
  /// The hypothesis held: in the baseline, after every fault (each recovered in time), and
  /// during faults when hold_during_faults.
  bool held = false;
  /// Why it did not hold, one line each.
  std::vector<std::string> reasons;
  /// "completed", "deviated" (hypothesis did not hold) or "interrupted" (set by the caller).
  std::string status;
};

/// Follows a run and decides the verdict. Single-threaded: one owner feeds it.
class experiment_tracker {
public:
  explicit experiment_tracker(experiment_settings settings);

  /// A fault occurrence started (`r.end_s` < 0) or, for an instant, happened (`end_s` set).
  void fault_started(fault_record r);
  /// Sets what fault `id` hit, learnt after it ended (instant server faults).
  void fault_hit(std::uint32_t id, std::int64_t hit);
  /// A fault occurrence ended at `at_s`; `error` says why its rollback failed, if it did.
  void fault_ended(std::uint32_t id, double at_s, const std::string& ended_by,
                   const std::string& error = {}, std::int64_t hit = -1);
  /// One interval of the run (elapsed_s = its end, interval_s = its length). Intervals of the
  /// director's drain, done and idle phases belong to no phase.
  void on_interval(const load_snapshot& interval);

  /// Names of the faults active now, joined with '+' (for the time series), and of the faults
  /// that were active at any time since the last call (then forgotten).
  std::string active_names() const;
  std::string take_interval_names();

  /// Ends the experiment at `end_s` and returns the verdict.
  experiment_result finish(double end_s);

  const std::vector<fault_record>& faults() const noexcept {
    return faults_;
  }

private:
  fault_record* find(std::uint32_t id);
  experiment_phase& phase(const std::string& kind, std::int64_t fault);
  void add(experiment_phase& p, const load_snapshot& iv);
  bool holds(const load_snapshot& iv) const;
  /// Pending recoveries of faults that ended before `ended_before`: recovered when the interval
  /// ending at `t1` holds, not recovered once past the deadline without holding.
  void settle_pending(double ended_before, double t1, bool holds_now);

  experiment_settings settings_;
  std::vector<fault_record> faults_;
  std::vector<experiment_phase> phases_;
  std::vector<fault_recovery> recoveries_;
  /// Faults ended and not yet recovered from (indices into recoveries_).
  std::vector<std::size_t> pending_;
  std::string interval_names_;
  /// Last fault that ended (for the "after" phase), -1 before any.
  std::int64_t last_ended_ = -1;
};

/// The journal's text (pretty JSON, newline at the end). `accounting_json` is the "accounting"
/// object of summary.json as text, or empty.
std::string experiment_json_text(const experiment_result& r, const std::string& accounting_json);

/// Writes experiment_json_text() to `path`; the accounting figures are read from the
/// summary.json at `summary_path` when it has them.
std::error_code write_experiment_json(const std::string& path, const experiment_result& r,
                                      const std::string& summary_path);

/// The human-readable verdict for stdout.
std::string format_experiment_summary(const experiment_result& r);

} // namespace stompede::metrics
