#include "metrics/csv_report.hpp"

#include <cstdio>
#include <fstream>

#include "metrics/metrics_error.hpp"

namespace stompede::metrics {

namespace {

// Fixed-point with a bounded number of decimals; never locale-dependent, never exponents.
std::string number(double v, int decimals = 2) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

std::string number(std::uint64_t v) {
  return std::to_string(v);
}

class csv_builder {
public:
  void row(std::string_view metric, const std::string& value, std::string_view unit) {
    text_ += csv_field(metric);
    text_ += ',';
    text_ += csv_field(value);
    text_ += ',';
    text_ += csv_field(unit);
    text_ += '\n';
  }
  std::string take() {
    return std::move(text_);
  }

private:
  std::string text_ = "Metric,Value,Unit\n";
};

} // namespace

std::string csv_field(std::string_view value) {
  if (value.find_first_of(",\"\r\n") == std::string_view::npos)
    return std::string{value};
  std::string out = "\"";
  for (char c : value) {
    if (c == '"')
      out += '"';
    out += c;
  }
  out += '"';
  return out;
}

std::string csv_report_text(const load_snapshot& total, const run_info& run) {
  auto f = compute_figures(total, run);
  csv_builder b;
  // The seed's rows first, in the seed's order and units.
  b.row("total_workers", number(f.total_users), "");
  b.row("test_duration_seconds", number(f.duration_s, 1), "");
  b.row("websocket_connect_avg", number(f.ws_connect_avg_ms), "ms");
  b.row("message_latency_avg", number(f.latency_avg_ms), "ms");
  b.row("message_latency_p95", number(f.latency_p95_ms), "ms");
  b.row("success_rate", number(f.success_rate_pct), "%");
  b.row("connection_retries_total", number(f.connection_retries), "");
  // stompede's rows.
  b.row("messages_sent_total", number(f.messages_sent), "");
  b.row("messages_received_total", number(f.messages_received), "");
  b.row("round_trips_total", number(f.round_trips), "");
  b.row("errors_total", number(f.errors_total), "");
  b.row("message_latency_p50", number(f.latency_p50_ms), "ms");
  b.row("message_latency_p99", number(f.latency_p99_ms), "ms");
  b.row("message_latency_max", number(f.latency_max_ms), "ms");
  b.row("message_latency_uncorrected_p99", number(f.latency_actual_p99_ms), "ms");
  b.row("fanout_latency_avg", number(f.fanout_avg_ms), "ms");
  b.row("fanout_latency_p50", number(f.fanout_p50_ms), "ms");
  b.row("fanout_latency_p95", number(f.fanout_p95_ms), "ms");
  b.row("fanout_latency_p99", number(f.fanout_p99_ms), "ms");
  b.row("fanout_negative_samples", number(f.fanout_negative), "");
  b.row("websocket_connect_p95", number(f.ws_connect_p95_ms), "ms");
  b.row("stomp_connect_avg", number(f.stomp_connect_avg_ms), "ms");
  b.row("stomp_connect_p95", number(f.stomp_connect_p95_ms), "ms");
  b.row("lost_messages", number(f.lost), "");
  b.row("unresolved_messages", number(total.counters.unresolved), "");
  b.row("connects_abandoned", number(total.counters.connects_abandoned), "");
  b.row("late_sends", number(f.late_sends), "");
  b.row("send_lateness_p99", number(f.send_lateness_p99_ms), "ms");
  b.row("reconnect_successes", number(f.reconnect_successes), "");
  b.row("reconnect_give_ups", number(f.give_ups), "");
  b.row("reconnect_time_avg", number(f.reconnect_time_avg_ms), "ms");
  b.row("connection_duration_avg", number(f.connection_duration_avg_s), "s");
  b.row("messages_sent_rate", number(f.sent_per_s), "msg/s");
  b.row("messages_received_rate", number(f.received_per_s), "msg/s");
  for (std::size_t i = 0; i < error_type_count; ++i) {
    auto e = static_cast<error_type>(i);
    b.row("errors_" + std::string{to_label(e)}, number(total.counters.error_count(e)), "");
  }
  // Open-model stages: how the arrivals fared.
  if (total.counters.arrivals > 0) {
    b.row("arrivals_scheduled", number(total.counters.arrivals), "");
    b.row("arrivals_started", number(total.counters.arrivals_started), "");
    b.row("arrivals_dropped", number(total.counters.arrivals_dropped), "");
    b.row("sessions_completed", number(total.counters.sessions_completed), "");
  }
  // One block per behaviour: behaviour.<label>.<what>.
  for (const auto& bf : total.behaviours) {
    const std::string p = "behaviour." + bf.label + ".";
    b.row(p + "sessions", number(bf.sessions), "");
    b.row(p + "messages_sent", number(bf.messages_sent), "");
    b.row(p + "messages_received", number(bf.messages_received), "");
    for (const auto& [name, n] : bf.counters)
      b.row(p + name, number(n), "");
    for (const auto& [name, h] : bf.latencies) {
      b.row(p + name + "_count", number(h.count()), "");
      if (h.negative() > 0)
        b.row(p + name + "_negative", number(h.negative()), "");
      if (h.empty())
        continue;
      b.row(p + name + "_avg", number(h.mean() / 1000.0), "ms");
      b.row(p + name + "_p50", number(static_cast<double>(h.quantile(0.50)) / 1000.0), "ms");
      b.row(p + name + "_p95", number(static_cast<double>(h.quantile(0.95)) / 1000.0), "ms");
      b.row(p + name + "_p99", number(static_cast<double>(h.quantile(0.99)) / 1000.0), "ms");
    }
  }
  // Message accounting (docs/accounting.md), after everything else.
  const auto& a = total.accounting;
  b.row("accounting_sent", number(a.sent), "");
  b.row("accounting_delivered_all", number(a.delivered_all), "");
  b.row("accounting_delivered_some", number(a.delivered_some), "");
  b.row("accounting_lost", number(a.lost), "");
  b.row("accounting_duplicated", number(a.duplicated), "");
  b.row("accounting_out_of_order", number(a.out_of_order), "");
  b.row("accounting_missed_reconnecting", number(a.missed_reconnecting), "");
  b.row("accounting_in_flight", number(a.in_flight), "");
  b.row("accounting_pending", number(total.accounting_pending), "");
  b.row("accounting_pairs_lost", number(a.pairs_lost), "");
  b.row("accounting_pairs_missed_reconnecting", number(a.pairs_missed_reconnecting), "");
  b.row("accounting_server_seq_gaps", number(a.server_seq_gaps), "");
  b.row("accounting_server_seq_checked", number(a.server_seq_checked), "");
  return b.take();
}

std::error_code write_csv_report(const std::string& path, const load_snapshot& total,
                                 const run_info& run) {
  auto text = csv_report_text(total, run);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    return metrics_errc::open_failed;
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  if (!out)
    return metrics_errc::write_failed;
  return {};
}

} // namespace stompede::metrics
