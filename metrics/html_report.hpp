#pragma once

// report.html: one self-contained file that a browser opens offline (no network at view time).
// The figures and the time series travel as JSON inside the page; a small inline script draws
// every chart as SVG. Tables (summary, thresholds, errors, stages) and the scenario as run are
// plain HTML, readable even with scripts off.

#include "metrics/summary_json.hpp"
#include "metrics/thresholds.hpp"
#include "metrics/timeseries.hpp"

#include <string>
#include <system_error>
#include <utility>
#include <vector>

namespace stompede::metrics {

/// A shaded span of the run on every chart (a stage, a fault, a pause).
struct report_window {
  /// "stage", "fault", "pause", ...: picks the shading.
  std::string kind;
  std::string label;
  double start_s = 0.0;
  double end_s = 0.0;
};

/// One series measured beside the load (the server under test): CPU, RSS, scraped metrics.
struct report_series {
  std::string name;
  std::string unit;
  /// (seconds since the start, value).
  std::vector<std::pair<double, double>> points;
};

/// Everything the report shows.
struct html_report_input {
  load_snapshot total;
  run_info run;
  std::vector<stage_report> stages;
  std::vector<threshold_result> thresholds;
  std::vector<timeseries_row> rows;
  /// The scenario as run, secrets already redacted (config::to_toml).
  std::string scenario_toml;
  /// Windows besides the stages (which come from `stages`).
  std::vector<report_window> windows;
  std::vector<report_series> server;
  /// Free text under the title ("interrupted by SIGINT", "aborted: threshold failed", ...).
  std::string note;
};

/// The page.
std::string html_report_text(const html_report_input& in);

/// Writes html_report_text() to `path`.
std::error_code write_html_report(const std::string& path, const html_report_input& in);

/// `text` with &, <, >, " and ' escaped for HTML.
std::string html_escape(const std::string& text);

} // namespace stompede::metrics
