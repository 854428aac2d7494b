#include "metrics/snapshot.hpp"

#include <string>
#include <vector>

#include <catch2/catch.hpp>

using namespace stompede::metrics;

TEST_CASE("snapshot: accumulate sums shard deltas and levels, merge keeps latest gauges") {
  shard_delta s1;
  s1.counters.messages_sent = 3;
  s1.histograms.round_trip_intended_us.record(1000);
  s1.active_connections = 10;
  s1.connected_users = 9;
  shard_delta s2;
  s2.counters.messages_sent = 4;
  s2.histograms.round_trip_intended_us.record(3000);
  s2.active_connections = 5;
  s2.active_reconnections = 1;
  s2.connected_users = 4;

  load_snapshot interval;
  interval.elapsed_s = 1.0;
  interval.interval_s = 1.0;
  interval.gauges.target_users = 20;
  interval.gauges.stage_name = "ramp";
  accumulate(interval, s1);
  accumulate(interval, s2);
  CHECK(interval.counters.messages_sent == 7);
  CHECK(interval.histograms.round_trip_intended_us.count() == 2);
  CHECK(interval.gauges.active_connections == 15);
  CHECK(interval.gauges.active_reconnections == 1);
  CHECK(interval.gauges.connected_users == 13);
  CHECK(interval.gauges.target_users == 20);

  load_snapshot total;
  merge(total, interval);
  auto second = interval;
  second.elapsed_s = 2.0;
  second.gauges.active_connections = 11;
  merge(total, second);
  CHECK(total.counters.messages_sent == 14);
  CHECK(total.histograms.round_trip_intended_us.count() == 4);
  CHECK(total.histograms.round_trip_intended_us.max() == 3000);
  CHECK(total.gauges.active_connections == 11);
  CHECK(total.elapsed_s == 2.0);
  CHECK(total.interval_s == 2.0);

  total.reset_events();
  CHECK(total.counters == load_counters{});
  CHECK(total.histograms == load_histograms{});
  CHECK(total.gauges.active_connections == 11);
}

TEST_CASE("snapshot: for_each visits all eight histograms in order") {
  load_histograms h;
  std::vector<std::string> names;
  h.for_each([&](const char* name, histogram& x) {
    x.record(static_cast<std::int64_t>(names.size()));
    names.push_back(name);
  });
  REQUIRE(names.size() == 8);
  CHECK(names.front() == "round_trip_intended_us");
  CHECK(names.back() == "reconnect_time_ms");
  const load_histograms& ch = h;
  std::uint64_t total = 0;
  ch.for_each([&](const char*, const histogram& x) { total += x.count(); });
  CHECK(total == 8);
  CHECK(h.reconnect_time_ms.max() == 7);
}
