#pragma once

// A small final snapshot shared by the report tests.

#include "metrics/report_figures.hpp"

namespace stompede::metrics::test {

/// 4 round trips (10, 20, 30, 40 ms), 1 lost, errors of two types, fan-out and connect samples.
inline load_snapshot sample_total() {
  load_snapshot s;
  s.elapsed_s = 60.0;
  s.interval_s = 60.0;
  auto& c = s.counters;
  c.messages_sent = 5;
  c.messages_received = 50;
  c.own_received = 4;
  c.lost = 1;
  c.late_sends = 2;
  c.reconnect_attempts = 3;
  c.reconnect_successes = 2;
  c.give_ups = 1;
  c.add_error(error_type::connect_refused, 2);
  c.add_error(error_type::stomp_error_frame, 1);
  for (int ms : {10, 20, 30, 40})
    s.histograms.round_trip_intended_us.record(ms * 1000);
  s.histograms.fanout_us.record(5000);
  s.histograms.ws_connect_us.record(3000);
  s.histograms.ws_connect_us.record(5000);
  s.histograms.stomp_connect_us.record(1000);
  return s;
}

inline run_info sample_run() {
  run_info r;
  r.total_users = 10;
  r.duration_s = 60.0;
  r.scenario = "unit, \"quoted\"";
  return r;
}

} // namespace stompede::metrics::test
