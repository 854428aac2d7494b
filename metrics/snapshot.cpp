#include "metrics/snapshot.hpp"

namespace stompede::metrics {

void load_histograms::merge(const load_histograms& other) noexcept {
  round_trip_intended_us.merge(other.round_trip_intended_us);
  round_trip_actual_us.merge(other.round_trip_actual_us);
  fanout_us.merge(other.fanout_us);
  send_lateness_us.merge(other.send_lateness_us);
  ws_connect_us.merge(other.ws_connect_us);
  stomp_connect_us.merge(other.stomp_connect_us);
  connection_duration_ms.merge(other.connection_duration_ms);
  reconnect_time_ms.merge(other.reconnect_time_ms);
}

void load_histograms::reset() noexcept {
  for_each([](const char*, histogram& h) { h.reset(); });
}

bool operator==(const load_histograms& a, const load_histograms& b) noexcept {
  return a.round_trip_intended_us == b.round_trip_intended_us &&
         a.round_trip_actual_us == b.round_trip_actual_us && a.fanout_us == b.fanout_us &&
         a.send_lateness_us == b.send_lateness_us && a.ws_connect_us == b.ws_connect_us &&
         a.stomp_connect_us == b.stomp_connect_us &&
         a.connection_duration_ms == b.connection_duration_ms &&
         a.reconnect_time_ms == b.reconnect_time_ms;
}

void load_snapshot::reset_events() noexcept {
  counters = load_counters{};
  histograms.reset();
  for (auto& b : behaviours)
    (void)b.take();
  accounting = {};
}

void accumulate(load_snapshot& interval, const shard_delta& delta) noexcept {
  interval.counters += delta.counters;
  interval.histograms.merge(delta.histograms);
  interval.gauges.active_connections += delta.active_connections;
  interval.gauges.active_reconnections += delta.active_reconnections;
  interval.gauges.connected_users += delta.connected_users;
}

void merge(load_snapshot& total, const load_snapshot& interval) {
  total.counters += interval.counters;
  total.histograms.merge(interval.histograms);
  total.gauges = interval.gauges;
  merge_interval(total.behaviours, interval.behaviours);
  total.accounting += interval.accounting;
  total.accounting_pending = interval.accounting_pending;
  total.elapsed_s = interval.elapsed_s;
  total.interval_s += interval.interval_s;
}

} // namespace stompede::metrics
