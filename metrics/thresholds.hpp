#pragma once

// Pass/fail criteria of a run (the scenario's [thresholds]): k6-style expressions such as
// `p95(rtt) < 200ms`, `rate(errors) < 0.1%` or `lost == 0`, parsed before the run (an unknown
// metric is an error then, never a silent pass) and evaluated on the run's totals.

#include "metrics/snapshot.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace stompede::metrics {

/// A comparison operator of a threshold.
enum class threshold_op { lt, le, gt, ge, eq, ne };

/// One parsed threshold expression: `function(metric) op limit`, or `metric op limit`.
struct threshold {
  /// The expression as written.
  std::string text;
  /// "" (the plain count), "rate", "per_s", "avg", "min", "max", "count" or "p" (a percentile).
  std::string function;
  /// Percentile in (0, 100] when function == "p".
  double percentile = 0.0;
  /// The metric as named ("rtt", "errors", "errors.connect_refused", ...).
  std::string metric;
  threshold_op op = threshold_op::lt;
  /// The limit in the metric's unit: milliseconds for latencies, a fraction (0..1) for rates,
  /// events per second for per_s, a count otherwise.
  double limit = 0.0;
};

/// Where a threshold expression went wrong: a 0-based offset into the text, and why.
struct threshold_parse_error {
  std::size_t offset = 0;
  std::string message;
};

/// Parses one expression. Never throws.
std::variant<threshold, threshold_parse_error> parse_threshold(std::string_view text);

/// The outcome of one threshold.
struct threshold_result {
  threshold check;
  /// The measured value, in the limit's unit; meaningless when !has_value.
  double value = 0.0;
  /// False when the run gave nothing to measure (no samples, nothing due): such a threshold
  /// fails.
  bool has_value = false;
  bool pass = false;
};

/// Evaluates `t` on a run's totals; `duration_s` is the run's length (for per_s).
threshold_result evaluate(const threshold& t, const load_snapshot& total, double duration_s);

/// Evaluates every threshold.
std::vector<threshold_result> evaluate_all(const std::vector<threshold>& ts,
                                           const load_snapshot& total, double duration_s);

/// True when every result passed (and true for none).
bool all_passed(const std::vector<threshold_result>& results) noexcept;

/// The measured value as the report shows it ("183.20 ms", "0.05%", "0", "no data").
std::string format_threshold_value(const threshold_result& r);

/// A fixed-width pass/fail table for stdout ("" for no thresholds).
std::string format_threshold_table(const std::vector<threshold_result>& results);

/// True for metrics that are a level of the moment rather than a count or a distribution
/// ("connected": connected users / wanted users, compared as a fraction or percentage). On a
/// snapshot they read its gauges.
bool is_level_metric(std::string_view metric) noexcept;

/// The metric names a threshold may use (for messages and docs).
std::vector<std::string> threshold_metric_names();

} // namespace stompede::metrics
