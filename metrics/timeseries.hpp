#pragma once

#include <array>
#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "metrics/snapshot.hpp"

namespace stompede::metrics {

/// One behaviour's figures in one interval.
struct behaviour_point {
  std::string label;
  /// Its sessions subscribed at the end of the interval.
  std::int64_t users = 0;
  double sent_per_s = 0.0;
  double received_per_s = 0.0;
  /// The behaviour's own counters counted in the interval (those that moved).
  std::vector<std::pair<std::string, std::uint64_t>> counters;
  /// The behaviour's own latencies' p95 in the interval, ms (those with samples).
  std::vector<std::pair<std::string, double>> p95_ms;
};

/// One row of timeseries.csv: one interval (about a second) of the run.
struct timeseries_row {
  double elapsed_s = 0.0;
  std::string stage;
  std::string phase;
  std::int64_t target_users = 0;
  std::int64_t connected = 0;
  double sent_per_s = 0.0;
  double received_per_s = 0.0;
  /// Corrected round-trip quantiles of this interval, milliseconds (0 when no sample).
  double rtt_p50_ms = 0.0;
  double rtt_p95_ms = 0.0;
  double rtt_p99_ms = 0.0;
  double errors_per_s = 0.0;
  double reconnects_per_s = 0.0;
  /// Round trips declared lost in this interval.
  std::uint64_t lost = 0;
  /// Fan-out quantiles of this interval, milliseconds (0 when no sample).
  double fanout_p50_ms = 0.0;
  double fanout_p95_ms = 0.0;
  double fanout_p99_ms = 0.0;
  /// Users recovering from a failure at the end of the interval.
  std::int64_t reconnecting = 0;
  /// Errors of this interval by type (indexed by error_type).
  std::array<std::uint64_t, error_type_count> errors{};
  /// What changed the run in this interval (live control: "target=500", "pause", ...), joined
  /// with "; "; empty for most rows.
  std::string events;
  /// Open model, in this interval: arrivals made due, dropped, sessions completed.
  std::uint64_t arrivals = 0;
  std::uint64_t arrivals_dropped = 0;
  std::uint64_t sessions_completed = 0;
  /// Per behaviour (`[[behaviour]]` label).
  std::vector<behaviour_point> behaviours;
  /// Faults active at any time during the interval (experiment `[[fault]]` names joined with
  /// '+'); empty for most rows.
  std::string faults;
};

/// "connect_refused=3 closed_by_peer=1": a row's errors by type, types without errors left out.
std::string errors_by_type_text(const timeseries_row& r);

/// "seed_mix users=8 sent/s=3.0 received/s=40.0; bots users=2 ... replies=3 reply_p95_ms=4.1":
/// a row's per-behaviour figures.
std::string behaviours_text(const timeseries_row& r);

/// A label or name as the `behaviours` column writes it: '%', ';', '=', spaces and control
/// bytes percent-encoded (%3B ...), so that the column's own separators stay unambiguous.
std::string behaviour_token(std::string_view name);

/// Builds a row from an interval snapshot (rates divide by its interval_s; 1 s if unset).
timeseries_row make_timeseries_row(const load_snapshot& interval);

/// Writes timeseries.csv: a header, then one row per interval, each flushed to the OS as soon as
/// it is written so an interrupted run keeps every row it produced.
class timeseries_writer {
public:
  /// A writer that is not open; write() reports open_failed.
  timeseries_writer() = default;
  ~timeseries_writer();
  timeseries_writer(const timeseries_writer&) = delete;
  timeseries_writer& operator=(const timeseries_writer&) = delete;
  timeseries_writer(timeseries_writer&& other) noexcept;
  timeseries_writer& operator=(timeseries_writer&& other) noexcept;

  /// Creates (truncates) `path` and writes the header.
  std::error_code open(const std::string& path);

  /// True after a successful open().
  bool is_open() const noexcept {
    return file_ != nullptr;
  }

  /// Appends one row and flushes it; keeps a copy for the end-of-run report.
  std::error_code write(const timeseries_row& row);

  /// Every row written so far (also when the file could not be opened).
  const std::vector<timeseries_row>& rows() const noexcept {
    return rows_;
  }

  /// Closes the file (also done by the destructor).
  std::error_code close();

  /// The header line (without newline).
  static const char* header() noexcept;

private:
  std::FILE* file_ = nullptr;
  std::vector<timeseries_row> rows_;
};

} // namespace stompede::metrics
