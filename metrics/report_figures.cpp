#include "metrics/report_figures.hpp"

#include <cstdio>

namespace stompede::metrics {

namespace {

double q_ms(const histogram& h, double q) {
  return us_to_ms(static_cast<double>(h.quantile(q)));
}

double rate(std::uint64_t n, double seconds) {
  return seconds > 0.0 ? static_cast<double>(n) / seconds : 0.0;
}

} // namespace

report_figures compute_figures(const load_snapshot& total, const run_info& run) {
  const auto& c = total.counters;
  const auto& h = total.histograms;
  report_figures f;
  f.total_users = run.total_users;
  f.duration_s = run.duration_s;
  f.messages_sent = c.messages_sent;
  f.messages_received = c.messages_received;
  f.round_trips = c.own_received;
  f.lost = c.lost;
  f.late_sends = c.late_sends;
  f.errors_total = c.errors_total();
  f.connection_retries = c.reconnect_attempts;
  f.reconnect_successes = c.reconnect_successes;
  f.give_ups = c.give_ups;
  auto due = c.own_received + c.lost;
  f.success_rate_pct =
      due == 0 ? 0.0 : 100.0 * static_cast<double>(c.own_received) / static_cast<double>(due);
  f.sent_per_s = rate(c.messages_sent, run.duration_s);
  f.received_per_s = rate(c.messages_received, run.duration_s);
  f.ws_connect_avg_ms = us_to_ms(h.ws_connect_us.mean());
  f.ws_connect_p95_ms = q_ms(h.ws_connect_us, 0.95);
  f.stomp_connect_avg_ms = us_to_ms(h.stomp_connect_us.mean());
  f.stomp_connect_p95_ms = q_ms(h.stomp_connect_us, 0.95);
  const auto& rtt = h.round_trip_intended_us;
  f.latency_avg_ms = us_to_ms(rtt.mean());
  f.latency_p50_ms = q_ms(rtt, 0.50);
  f.latency_p95_ms = q_ms(rtt, 0.95);
  f.latency_p99_ms = q_ms(rtt, 0.99);
  f.latency_max_ms = us_to_ms(static_cast<double>(rtt.max()));
  f.latency_actual_p99_ms = q_ms(h.round_trip_actual_us, 0.99);
  f.fanout_avg_ms = us_to_ms(h.fanout_us.mean());
  f.fanout_p50_ms = q_ms(h.fanout_us, 0.50);
  f.fanout_p95_ms = q_ms(h.fanout_us, 0.95);
  f.fanout_p99_ms = q_ms(h.fanout_us, 0.99);
  f.fanout_negative = h.fanout_us.negative();
  f.send_lateness_p99_ms = q_ms(h.send_lateness_us, 0.99);
  f.connection_duration_avg_s = h.connection_duration_ms.mean() / 1000.0;
  f.reconnect_time_avg_ms = h.reconnect_time_ms.mean();
  f.reconnect_time_p95_ms = static_cast<double>(h.reconnect_time_ms.quantile(0.95));
  return f;
}

std::string fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

} // namespace stompede::metrics
