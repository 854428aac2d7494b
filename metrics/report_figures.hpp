#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metrics/snapshot.hpp"

namespace stompede::metrics {

/// Facts about a run that the reports need besides its snapshot.
struct run_info {
  /// Users (the seed's "workers") the run aimed for at its peak.
  std::uint64_t total_users = 0;
  /// Wall duration of the run in seconds.
  double duration_s = 0.0;
  /// Scenario name (no secrets, no URLs with tokens).
  std::string scenario;
  /// "open" (latency from intended send times) or "closed" (think-time loop, labelled as such).
  std::string latency_mode = "open";
  /// TLS certificate verification was on ([tls] verify). Off is stamped into every report.
  bool tls_verify = true;
  /// The reason of the latest TLS failure of the run ("certificate has expired", ...); empty
  /// when there was none.
  std::string tls_failure;
  /// The `message` of the latest STOMP ERROR frame a server sent (first line, at most 256
  /// bytes); empty when there was none.
  std::string server_error;
  /// The latest refused WebSocket upgrade ("WebSocket upgrade answered HTTP 401
  /// Unauthorized"); empty when there was none.
  std::string upgrade_refusal;
  /// Load processes (workers) the run was spread over; 0 for a single-process run.
  std::uint32_t workers = 0;
  /// Workers lost during the run, one line each (which, when, why).
  std::vector<std::string> lost_workers;
  /// Whether `[reconnect] enabled` was on: without it a failed session is not restarted, and
  /// the reports say so instead of calling it a reconnect given up.
  bool reconnect = true;
  /// How the run ended: "completed", "interrupted by SIGINT" / "SIGTERM", "aborted: threshold
  /// ... failed", "stopped early: ...".
  std::string ended = "completed";
};

/// The warning every report and the run output carry when certificate verification is off.
inline constexpr const char* tls_verify_off_warning =
    "TLS certificate verification was OFF ([tls] verify = false): the server's identity was not "
    "checked, these results do not show a secure setup";

/// The derived figures every report shows, computed once so CSV, JSON and the table agree.
/// Latencies in milliseconds.
struct report_figures {
  std::uint64_t total_users = 0;
  double duration_s = 0.0;
  std::uint64_t messages_sent = 0;
  std::uint64_t messages_received = 0;
  std::uint64_t round_trips = 0;
  std::uint64_t lost = 0;
  std::uint64_t late_sends = 0;
  std::uint64_t errors_total = 0;
  std::uint64_t connection_retries = 0;
  std::uint64_t reconnect_successes = 0;
  std::uint64_t give_ups = 0;
  /// Completed round trips / (completed + lost), in percent; 0 when no round trip was due.
  double success_rate_pct = 0.0;
  double sent_per_s = 0.0;
  double received_per_s = 0.0;
  double ws_connect_avg_ms = 0.0;
  double ws_connect_p95_ms = 0.0;
  double stomp_connect_avg_ms = 0.0;
  double stomp_connect_p95_ms = 0.0;
  /// Round trip from intended send time (corrected).
  double latency_avg_ms = 0.0;
  double latency_p50_ms = 0.0;
  double latency_p95_ms = 0.0;
  double latency_p99_ms = 0.0;
  double latency_max_ms = 0.0;
  /// Round trip from actual send time (uncorrected), for comparison.
  double latency_actual_p99_ms = 0.0;
  double fanout_avg_ms = 0.0;
  double fanout_p50_ms = 0.0;
  double fanout_p95_ms = 0.0;
  double fanout_p99_ms = 0.0;
  /// Fan-out samples below zero (clock skew).
  std::uint64_t fanout_negative = 0;
  double send_lateness_p99_ms = 0.0;
  double connection_duration_avg_s = 0.0;
  double reconnect_time_avg_ms = 0.0;
  double reconnect_time_p95_ms = 0.0;
};

/// Computes the figures of a final (total) snapshot.
report_figures compute_figures(const load_snapshot& total, const run_info& run);

/// Microseconds to milliseconds.
inline double us_to_ms(double us) noexcept {
  return us / 1000.0;
}

/// `v` with `decimals` digits after the point (printf's rounding): every report prints its
/// figures through this one function, so a value reads the same in each of them.
std::string fixed(double v, int decimals);

} // namespace stompede::metrics
