#include "metrics/timeseries.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace stompede::metrics;

namespace {

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string line;
  while (std::getline(in, line))
    lines.push_back(line);
  return lines;
}

} // namespace

TEST_CASE("timeseries: a row per interval with rates and that second's quantiles") {
  load_snapshot interval;
  interval.elapsed_s = 12.0;
  interval.interval_s = 2.0;
  interval.gauges.stage_name = "ramp, 1";
  interval.gauges.phase_name = "ramp";
  interval.gauges.target_users = 500;
  interval.gauges.connected_users = 480;
  interval.counters.messages_sent = 100;
  interval.counters.messages_received = 1000;
  interval.counters.add_error(error_type::idle_timeout, 4);
  interval.counters.reconnect_attempts = 6;
  interval.counters.lost = 2;
  for (int i = 1; i <= 100; ++i)
    interval.histograms.round_trip_intended_us.record(i * 1000);
  auto row = make_timeseries_row(interval);
  CHECK(row.sent_per_s == 50.0);
  CHECK(row.received_per_s == 500.0);
  CHECK(row.errors_per_s == 2.0);
  CHECK(row.reconnects_per_s == 3.0);
  CHECK(row.lost == 2);
  CHECK(row.rtt_p50_ms == Approx(50.0).epsilon(0.01));
  CHECK(row.rtt_p95_ms == Approx(95.0).epsilon(0.01));
  CHECK(row.rtt_p99_ms == Approx(99.0).epsilon(0.01));
  CHECK(row.connected == 480);
}

TEST_CASE("timeseries: every row is on disk as soon as it is written") {
  auto path = std::string{"test_metrics_timeseries.csv"};
  timeseries_writer w;
  CHECK(w.write(timeseries_row{}) != std::error_code{});
  REQUIRE(!w.open(path));
  REQUIRE(w.is_open());
  // Read while the writer is still open: the header and each row must already be there.
  CHECK(read_lines(path) == std::vector<std::string>{timeseries_writer::header()});
  timeseries_row r;
  r.elapsed_s = 1.0;
  r.stage = "warm \"up\"";
  r.phase = "ramp";
  r.target_users = 10;
  r.connected = 9;
  r.sent_per_s = 5.5;
  r.rtt_p99_ms = 12.25;
  r.lost = 3;
  r.fanout_p95_ms = 2.5;
  r.reconnecting = 4;
  r.errors[static_cast<std::size_t>(error_type::connect_refused)] = 2;
  r.errors[static_cast<std::size_t>(error_type::closed_by_peer)] = 1;
  r.events = "target=50; pause";
  r.faults = "drop-30%+pause";
  REQUIRE(!w.write(r));
  r.elapsed_s = 2.0;
  REQUIRE(!w.write(r));
  auto lines = read_lines(path);
  REQUIRE(lines.size() == 3);
  CHECK(lines[1] == "1.000,\"warm \"\"up\"\"\",ramp,10,9,5.50,0.00,0.000,0.000,12.250,0.00,0.00,3,"
                    "0.000,2.500,0.000,4,connect_refused=2 closed_by_peer=1,target=50; pause,"
                    "0,0,0,,drop-30%+pause");
  CHECK(lines[2].rfind("2.000,", 0) == 0);
  // Same number of columns as the header.
  auto commas = [](const std::string& s) { return std::count(s.begin(), s.end(), ','); };
  CHECK(commas(lines[0]) == 23);
  CHECK(commas(lines[2]) == 23);
  // The writer keeps every row for the end-of-run report.
  REQUIRE(w.rows().size() == 3); // the one written before open() too
  CHECK(w.rows()[1].events == "target=50; pause");
  CHECK(!w.close());
  std::remove(path.c_str());
}

TEST_CASE("timeseries: opening an unwritable path is an error") {
  timeseries_writer w;
  CHECK(w.open("/nonexistent-dir/timeseries.csv"));
  CHECK(!w.is_open());
}

TEST_CASE("timeseries: labels and names cannot break the behaviours column's separators") {
  timeseries_row r;
  behaviour_point p;
  p.label = "team a; users=99";
  p.users = 10;
  p.counters.emplace_back("x=1; y", 7);
  p.counters.emplace_back("100%", 1);
  p.p95_ms.emplace_back("a b", 2.5);
  r.behaviours.push_back(p);
  behaviour_point q;
  q.label = "plain";
  q.users = 1;
  r.behaviours.push_back(q);
  CHECK(behaviours_text(r) ==
        "team%20a%3B%20users%3D99 users=10 sent/s=0.0 received/s=0.0 x%3D1%3B%20y=7 100%25=1 "
        "a%20b_p95_ms=2.50; plain users=1 sent/s=0.0 received/s=0.0");
  CHECK(behaviour_token("seed_mix") == "seed_mix");
  CHECK(behaviour_token("tab\there") == "tab%09here");
}
