#pragma once

#include <string>
#include <string_view>
#include <system_error>

#include "metrics/report_figures.hpp"

namespace stompede::metrics {

/// The text of `load_test_result.csv`: header `Metric,Value,Unit`, then the seed's rows
/// (total_workers, test_duration_seconds, websocket_connect_avg, message_latency_avg,
/// message_latency_p95, success_rate, connection_retries_total) followed by stompede's own rows
/// and one `errors_<type>` row per error type. Fields are quoted when they need it (RFC 4180).
std::string csv_report_text(const load_snapshot& total, const run_info& run);

/// Writes csv_report_text() to `path`; metrics_errc::open_failed / write_failed on failure.
std::error_code write_csv_report(const std::string& path, const load_snapshot& total,
                                 const run_info& run);

/// One CSV field, quoted and with doubled quotes when it holds a comma, quote, CR or LF.
std::string csv_field(std::string_view value);

} // namespace stompede::metrics
