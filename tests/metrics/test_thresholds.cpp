#include "metrics/thresholds.hpp"

#include <catch2/catch.hpp>

#include "report_fixture.hpp"

using namespace stompede::metrics;

namespace {

threshold parsed(const std::string& text) {
  auto r = parse_threshold(text);
  if (auto* e = std::get_if<threshold_parse_error>(&r))
    FAIL(text << ": " << e->message);
  return std::get<threshold>(r);
}

threshold_parse_error rejected(const std::string& text) {
  auto r = parse_threshold(text);
  REQUIRE(std::holds_alternative<threshold_parse_error>(r));
  return std::get<threshold_parse_error>(r);
}

} // namespace

TEST_CASE("thresholds: k6-style expressions with units") {
  auto p95 = parsed("p95(rtt) < 200ms");
  CHECK(p95.function == "p");
  CHECK(p95.percentile == 95.0);
  CHECK(p95.metric == "rtt");
  CHECK(p95.op == threshold_op::lt);
  CHECK(p95.limit == 200.0);
  CHECK(parsed("p99(fanout)<=1.5s").limit == 1500.0);
  CHECK(parsed("p999(rtt) < 250").percentile == Approx(99.9));
  CHECK(parsed("max(ws_connect) < 500us").limit == Approx(0.5));
  auto rate = parsed("rate(errors) < 0.1%");
  CHECK(rate.function == "rate");
  CHECK(rate.limit == Approx(0.001));
  auto lost = parsed("lost == 0");
  CHECK(lost.function.empty());
  CHECK(lost.op == threshold_op::eq);
  CHECK(parsed("errors.connect_refused != 3").metric == "errors.connect_refused");
  CHECK(parsed("per_s(sent) >= 100/s").limit == 100.0);
  CHECK(parsed("count(rtt) > 10").function == "count");
}

TEST_CASE("thresholds: a metric that does not exist is an error pointing at it") {
  auto e = rejected("p95(latency) < 200ms");
  CHECK(e.offset == 4);
  CHECK(e.message.find("unknown metric \"latency\"") != std::string::npos);
  CHECK(rejected("errors.nope > 1").message.find("unknown error type") != std::string::npos);
  CHECK(rejected("median(rtt) < 1").offset == 0);
  CHECK(rejected("rtt < 200ms").message.find("latency") != std::string::npos);
  CHECK(rejected("p95(lost) < 2").message.find("count") != std::string::npos);
  CHECK(rejected("rate(sent) < 2%").message.find("rate()") != std::string::npos);
  auto op = rejected("lost = 0");
  CHECK(op.offset == 5);
  CHECK(rejected("lost == 0ms").offset == 9);
  CHECK(rejected("rate(lost) < 5s").message.find("percentage") != std::string::npos);
  CHECK(rejected("p95(rtt) < 2 parsecs").offset == 13);
  CHECK(rejected("").offset == 0);
}

TEST_CASE("thresholds: evaluated on a run's totals") {
  auto total = test::sample_total(); // rtt 10..40 ms, 4 round trips, 1 lost, 3 errors
  auto v = [&](const std::string& text) { return evaluate(parsed(text), total, 60.0); };
  CHECK(v("p50(rtt) < 25ms").pass);
  CHECK(v("p50(rtt) < 25ms").value == Approx(20.0).epsilon(0.01));
  CHECK_FALSE(v("max(rtt) < 40ms").pass);
  CHECK(v("max(rtt) <= 40ms").pass);
  CHECK(v("lost == 1").pass);
  CHECK_FALSE(v("lost == 0").pass);
  CHECK(v("rate(lost) == 20%").pass);
  CHECK(v("rate(round_trips) > 79%").pass);
  CHECK(v("per_s(sent) < 0.1").value == Approx(5.0 / 60.0));
  CHECK(v("errors.connect_refused == 2").pass);
  CHECK(v("errors == 3").pass);
  // Nothing measured: a failure, not a silent pass.
  auto none = v("p95(reconnect_time) < 1s");
  CHECK_FALSE(none.has_value);
  CHECK_FALSE(none.pass);
  CHECK(format_threshold_value(none) == "no data");
  auto results = evaluate_all({parsed("lost == 1"), parsed("errors < 1")}, total, 60.0);
  CHECK_FALSE(all_passed(results));
  auto table = format_threshold_table(results);
  CHECK(table.find("PASS  lost == 1") != std::string::npos);
  CHECK(table.find("FAIL  errors < 1") != std::string::npos);
  CHECK(table.find("1 of 2 thresholds passed") != std::string::npos);
  CHECK(all_passed({}));
}

TEST_CASE("thresholds: a rate or a level above 100% is refused at its limit") {
  auto e = rejected("connected >= 150%");
  CHECK(e.offset == 13);
  CHECK(e.message == "\"connected\" is a fraction from 0 to 1 (0% to 100%), got 150%");
  CHECK(rejected("rate(lost) < 1.01").message.find("\"rate(lost)\" is a fraction") !=
        std::string::npos);
  CHECK(parsed("connected >= 100%").limit == 1.0);
  CHECK(parsed("rate(round_trips) >= 1").limit == 1.0);
  CHECK(parsed("connected >= 0%").limit == 0.0);
  // Counts and per-second rates are not fractions.
  CHECK(parsed("lost < 150").limit == 150.0);
  CHECK(parsed("per_s(sent) > 1500").limit == 1500.0);
}
