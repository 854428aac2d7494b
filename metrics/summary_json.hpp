#pragma once

#include <string>
#include <system_error>
#include <vector>

#include "metrics/report_figures.hpp"
#include "metrics/thresholds.hpp"

namespace stompede::metrics {

/// Figures of one stage of the run (its own counters and histograms).
struct stage_report {
  /// 0-based stage index.
  int index = 0;
  /// Stage name from the scenario.
  std::string name;
  /// Start and end, seconds since the run started.
  double start_s = 0.0;
  double end_s = 0.0;
  /// Target users at the end of the stage.
  std::int64_t target_users = 0;
  /// Events and samples recorded during the stage only (interval_s = its length).
  load_snapshot snapshot;
};

/// The text of summary.json: run info, the same figures as the CSV, errors by type, one entry
/// per stage when `stages` is not empty, and the thresholds' outcome (`thresholds`: one entry
/// per expression, `thresholds_passed`: true when all passed or there were none).
/// Pretty-printed, ends with a newline.
std::string summary_json_text(const load_snapshot& total, const run_info& run,
                              const std::vector<stage_report>& stages = {},
                              const std::vector<threshold_result>& thresholds = {});

/// Writes summary_json_text() to `path`.
std::error_code write_summary_json(const std::string& path, const load_snapshot& total,
                                   const run_info& run,
                                   const std::vector<stage_report>& stages = {},
                                   const std::vector<threshold_result>& thresholds = {});

/// One line of the end-of-run summary: the stdout table and report.html show the same lines.
struct summary_row {
  std::string label;
  std::string value;
  /// A per-type breakdown under "errors" (report.html has its own table of them).
  bool error_detail = false;
};

/// The summary's lines, in order (everything above the stages).
std::vector<summary_row> summary_rows(const load_snapshot& total, const run_info& run);

/// A human-readable end-of-run table (fixed-width, for stdout).
std::string format_summary_table(const load_snapshot& total, const run_info& run,
                                 const std::vector<stage_report>& stages = {});

} // namespace stompede::metrics
