// The experiment's verdict from a sequence of intervals and faults: phases, recovery times,
// "did not recover", the journal and the `connected` level.
#include "metrics/experiment.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <variant>

using namespace stompede::metrics;

namespace {

threshold parse(const char* text) {
  auto r = parse_threshold(text);
  REQUIRE(std::holds_alternative<threshold>(r));
  return std::get<threshold>(r);
}

/// One second ending at `t`: `connected` of 10 wanted users, one round trip of `rtt_ms`.
load_snapshot second(double t, std::int64_t connected, double rtt_ms,
                     const char* phase = "steady") {
  load_snapshot s;
  s.elapsed_s = t;
  s.interval_s = 1.0;
  s.gauges.target_users = 10;
  s.gauges.connected_users = connected;
  s.gauges.phase_name = phase;
  s.counters.messages_sent = 10;
  s.counters.own_received = 10;
  s.histograms.round_trip_intended_us.record(static_cast<std::int64_t>(rtt_ms * 1000));
  return s;
}

experiment_settings settings() {
  experiment_settings x;
  x.hypothesis = {parse("connected >= 90%"), parse("p99(rtt) < 100ms")};
  x.baseline_s = 3.0;
  x.first_fault_s = 5.0;
  x.recovery_deadline_s = 4.0;
  return x;
}

fault_record fault(std::uint32_t id, const char* name, double start) {
  fault_record f;
  f.id = id;
  f.name = name;
  f.kind = "server.close_sessions";
  f.start_s = start;
  f.target = "30% of the server's sessions";
  return f;
}

const experiment_phase* find(const experiment_result& r, const std::string& name) {
  for (auto& p : r.phases)
    if (p.name == name)
      return &p;
  return nullptr;
}

} // namespace

TEST_CASE("experiment: baseline, fault, recovery and after phases give a verdict",
          "[metrics][experiment]") {
  experiment_tracker t{settings()};
  t.on_interval(second(1, 3, 5, "ramp")); // before the baseline window: ignored
  for (int s = 2; s <= 5; ++s)
    t.on_interval(second(s, 10, 5));
  t.fault_started(fault(0, "cut", 5.5));
  t.on_interval(second(6, 7, 5));
  t.fault_ended(0, 7.2, "schedule");
  t.on_interval(second(7, 7, 5));   // the fault was still on during this second
  t.on_interval(second(8, 8, 5));   // ... and during this one, until 7.2
  t.on_interval(second(9, 8, 5));   // not yet recovered
  t.on_interval(second(10, 10, 5)); // recovered: 10 - 7.2
  t.on_interval(second(11, 10, 5));
  t.on_interval(second(12, 0, 5, "drain")); // the drain belongs to no phase
  auto r = t.finish(12.0);
  INFO(format_experiment_summary(r));
  CHECK(r.held);
  CHECK(r.status == "completed");
  auto* base = find(r, "baseline");
  REQUIRE(base != nullptr);
  CHECK(base->intervals == 3); // seconds ending at 3, 4 and 5 (midpoints >= 2)
  CHECK(base->held);
  auto* during = find(r, "during cut");
  REQUIRE(during != nullptr);
  CHECK(during->intervals == 3);
  CHECK_FALSE(during->held); // connected 70% while cut
  CHECK_FALSE(during->enforced);
  CHECK(during->min_connected == Approx(0.7));
  auto* rec = find(r, "recovering cut");
  REQUIRE(rec != nullptr);
  CHECK(rec->intervals == 1);
  auto* after = find(r, "after cut");
  REQUIRE(after != nullptr);
  CHECK(after->intervals == 2);
  CHECK(after->held);
  REQUIRE(r.recoveries.size() == 1);
  CHECK(r.recoveries[0].recovered);
  CHECK(r.recoveries[0].recovery_s == Approx(2.8));
  auto j = nlohmann::json::parse(experiment_json_text(r, R"({"sent": 40})"));
  CHECK(j["held"] == true);
  CHECK(j["faults"][0]["end_s"].get<double>() == Approx(7.2));
  CHECK(j["faults"][0]["rolled_back"] == true);
  CHECK(j["recoveries"][0]["recovery_s"].get<double>() == Approx(2.8));
  CHECK(j["phases"].size() == 4);
  CHECK(j["accounting"]["sent"] == 40);
}

TEST_CASE("experiment: a fault that does not recover in time fails the hypothesis",
          "[metrics][experiment]") {
  experiment_tracker t{settings()};
  for (int s = 2; s <= 5; ++s)
    t.on_interval(second(s, 10, 5));
  t.fault_started(fault(0, "cut", 5.2));
  t.fault_ended(0, 5.2, "instant");
  for (int s = 6; s <= 12; ++s)
    t.on_interval(second(s, 6, 5)); // stays at 60% connected
  auto r = t.finish(12.0);
  CHECK_FALSE(r.held);
  CHECK(r.status == "deviated");
  REQUIRE(r.recoveries.size() == 1);
  CHECK_FALSE(r.recoveries[0].recovered);
  CHECK_THAT(r.recoveries[0].note, Catch::Contains("did not recover within 4.0 s"));
  // After the deadline the seconds count as the after phase, which fails.
  auto* after = find(r, "after cut");
  REQUIRE(after != nullptr);
  CHECK_FALSE(after->held);
  bool named = false;
  for (auto& why : r.reasons)
    named = named || why.find("after cut") != std::string::npos;
  CHECK(named);
  auto j = nlohmann::json::parse(experiment_json_text(r, ""));
  CHECK(j["held"] == false);
  CHECK(j["recoveries"][0]["recovery_s"].is_null());
  CHECK_FALSE(j.contains("accounting"));
}

TEST_CASE("experiment: a failing baseline fails, and hold_during_faults enforces faults",
          "[metrics][experiment]") {
  auto x = settings();
  x.hold_during_faults = true;
  experiment_tracker t{x};
  for (int s = 2; s <= 5; ++s)
    t.on_interval(second(s, 10, 500)); // p99 500 ms: the baseline fails
  t.fault_started(fault(0, "cut", 5.5));
  t.on_interval(second(6, 10, 5));
  t.fault_ended(0, 6.5, "schedule");
  t.on_interval(second(7, 10, 5));
  auto r = t.finish(7.0);
  CHECK_FALSE(r.held);
  REQUIRE_FALSE(r.reasons.empty());
  CHECK_THAT(r.reasons[0], Catch::Contains("baseline: p99(rtt) < 100ms was"));
  auto* during = find(r, "during cut");
  REQUIRE(during != nullptr);
  CHECK(during->enforced);
  CHECK(during->held);
}

TEST_CASE("experiment: the time series learns the faults of each interval",
          "[metrics][experiment]") {
  experiment_tracker t{settings()};
  t.fault_started(fault(0, "a", 1.0));
  t.fault_started(fault(1, "b", 1.5));
  t.fault_ended(1, 1.7, "instant");
  CHECK(t.take_interval_names() == "a+b");
  CHECK(t.take_interval_names() == "a");
  t.fault_ended(0, 3.0, "schedule");
  CHECK(t.take_interval_names() == "a");
  CHECK(t.take_interval_names().empty());
}

TEST_CASE("thresholds: connected is a level read from the gauges", "[metrics][thresholds]") {
  auto c = parse("connected >= 95%");
  CHECK(c.limit == Approx(0.95));
  load_snapshot s;
  s.gauges.target_users = 20;
  s.gauges.connected_users = 19;
  auto r = evaluate(c, s, 1.0);
  CHECK(r.has_value);
  CHECK(r.pass);
  CHECK(format_threshold_value(r) == "95.000%");
  s.gauges.connected_users = 18;
  CHECK_FALSE(evaluate(c, s, 1.0).pass);
  s.gauges.target_users = 0;
  CHECK_FALSE(evaluate(c, s, 1.0).has_value);
  CHECK(std::holds_alternative<threshold_parse_error>(parse_threshold("p99(connected) < 5")));
}

TEST_CASE("experiment: a fault due on a whole second leaves the second before it in the baseline",
          "[metrics][experiment]") {
  // The fault due at 5 s reaches the tracker a moment before the second ending at 5 s does: that
  // second is still the baseline's. An instant fault's hit count may come after its end.
  experiment_tracker t{settings()};
  t.on_interval(second(3, 10, 5));
  t.on_interval(second(4, 10, 5));
  t.fault_started(fault(0, "cut", 5.003));
  t.on_interval(second(5, 10, 5));
  t.on_interval(second(6, 10, 5));
  t.fault_ended(0, 6.2, "schedule");
  t.fault_hit(0, 7);
  for (int s = 7; s <= 9; ++s)
    t.on_interval(second(s, 10, 5));
  auto r = t.finish(9.0);
  auto* base = find(r, "baseline");
  REQUIRE(base != nullptr);
  CHECK(base->intervals == 3);
  auto* during = find(r, "during cut");
  REQUIRE(during != nullptr);
  CHECK(during->intervals == 2);
  CHECK(r.held);
  REQUIRE(r.faults.size() == 1);
  CHECK(r.faults[0].hit == 7);
}

TEST_CASE("experiment: a fault recovers while the next one is on", "[metrics][experiment]") {
  experiment_tracker t{settings()};
  for (int s = 3; s <= 5; ++s)
    t.on_interval(second(s, 10, 5));
  t.fault_started(fault(0, "cut", 5.2));
  t.fault_ended(0, 5.2, "instant");
  t.on_interval(second(6, 5, 5)); // during cut: half the users gone
  t.fault_started(fault(1, "slow", 6.5));
  t.on_interval(second(7, 10, 5)); // during slow, and cut's users are back
  t.fault_ended(1, 8.5, "schedule");
  for (int s = 8; s <= 10; ++s)
    t.on_interval(second(s, 10, 5));
  auto r = t.finish(10.0);
  REQUIRE(r.recoveries.size() == 2);
  CHECK(r.recoveries[0].recovered);
  CHECK(r.recoveries[0].recovery_s == Approx(7.0 - 5.2));
  CHECK(r.recoveries[1].recovered);
  CHECK(r.held);
}
