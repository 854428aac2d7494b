#include "metrics/summary_json.hpp"

#include <nlohmann/json.hpp>

#include <catch2/catch.hpp>

#include "report_fixture.hpp"

using namespace stompede::metrics;

TEST_CASE("summary.json: the CSV's facts plus counters, histograms and stages") {
  std::vector<stage_report> stages(2);
  stages[0].index = 0;
  stages[0].name = "ramp";
  stages[0].start_s = 0;
  stages[0].end_s = 10;
  stages[0].target_users = 10;
  stages[0].snapshot.counters.messages_sent = 20;
  stages[1].index = 1;
  stages[1].name = "steady";
  stages[1].start_s = 10;
  stages[1].end_s = 60;
  stages[1].snapshot = test::sample_total();
  auto total = test::sample_total();
  total.accounting.sent = 9;
  total.accounting.delivered_all = 6;
  total.accounting.lost = 1;
  total.accounting.pairs_lost = 4;
  total.accounting_pending = 2;
  auto text = summary_json_text(total, test::sample_run(), stages);
  auto doc = nlohmann::json::parse(text);
  const auto& a = doc["accounting"];
  CHECK(a["sent"] == 9);
  CHECK(a["delivered_all"] == 6);
  CHECK(a["lost"] == 1);
  CHECK(a["in_flight"] == 0);
  CHECK(a["pending"] == 2);
  CHECK(a["balanced"] == true); // 6 + 1 + 2 pending
  CHECK(a["pairs"]["lost"] == 4);
  CHECK(a["deliveries"]["late"] == 0);
  CHECK(doc["run"]["scenario"] == "unit, \"quoted\"");
  CHECK(doc["run"]["latency_mode"] == "open");
  const auto& f = doc["figures"];
  CHECK(f["total_workers"] == 10);
  CHECK(f["messages_sent_total"] == 5);
  CHECK(f["success_rate_pct"].get<double>() == Approx(80.0));
  CHECK(f["message_latency_avg_ms"].get<double>() == Approx(25.0));
  CHECK(f["connection_retries_total"] == 3);
  CHECK(doc["counters"]["errors"]["connect_refused"] == 2);
  CHECK(doc["counters"]["errors_total"] == 3);
  CHECK(doc["histograms"]["round_trip_ms"]["count"] == 4);
  CHECK(doc["histograms"]["round_trip_ms"]["max"].get<double>() == Approx(40.0));
  REQUIRE(doc["stages"].size() == 2);
  CHECK(doc["stages"][0]["name"] == "ramp");
  CHECK(doc["stages"][0]["figures"]["messages_sent_per_s"].get<double>() == Approx(2.0));
  CHECK(doc["stages"][1]["figures"]["lost_messages"] == 1);
}

TEST_CASE("summary table: names the headline figures") {
  std::vector<stage_report> stages(1);
  stages[0].name = "steady";
  stages[0].end_s = 60;
  stages[0].snapshot = test::sample_total();
  auto table = format_summary_table(test::sample_total(), test::sample_run(), stages);
  CHECK(table.find("round trip p95 / p99 / max") != std::string::npos);
  CHECK(table.find("80.00% ok") != std::string::npos);
  CHECK(table.find("connect_refused") != std::string::npos);
  CHECK(table.find("steady") != std::string::npos);
  // Error types that did not happen are not listed.
  CHECK(table.find("tls_error") == std::string::npos);
  CHECK(table.find("missed reconnecting / in flight") != std::string::npos);
}

TEST_CASE("reports stamp verify = false as a warning and keep the TLS failure reason") {
  auto run = test::sample_run();
  auto doc = nlohmann::json::parse(summary_json_text(test::sample_total(), run));
  CHECK(doc["run"]["tls_verify"] == true);
  CHECK(doc["run"]["tls_failure"] == "");
  CHECK(doc["warnings"].empty());
  auto table = format_summary_table(test::sample_total(), run);
  CHECK(table.find("WARNING") == std::string::npos);
  CHECK(table.find("last TLS failure") == std::string::npos);

  run.tls_verify = false;
  run.tls_failure = "certificate has expired";
  doc = nlohmann::json::parse(summary_json_text(test::sample_total(), run));
  CHECK(doc["run"]["tls_verify"] == false);
  CHECK(doc["run"]["tls_failure"] == "certificate has expired");
  REQUIRE(doc["warnings"].size() == 1);
  CHECK(doc["warnings"][0] == tls_verify_off_warning);
  table = format_summary_table(test::sample_total(), run);
  CHECK(table.find(std::string("WARNING: ") + tls_verify_off_warning) != std::string::npos);
  CHECK(table.find("certificate has expired") != std::string::npos);
}

TEST_CASE("reports name the end of the run, the server's ERROR, and reconnect off as such") {
  auto run = test::sample_run();
  auto doc = nlohmann::json::parse(summary_json_text(test::sample_total(), run));
  CHECK(doc["run"]["ended"] == "completed");
  CHECK(doc["run"]["server_error"] == "");
  auto table = format_summary_table(test::sample_total(), run);
  CHECK(table.find("reconnects tried / ok / given up") != std::string::npos);
  CHECK(table.find("last server ERROR") == std::string::npos);

  run.ended = "interrupted by SIGINT";
  run.server_error = "UNAUTHORIZED_ROOM_MEMBER";
  run.reconnect = false;
  doc = nlohmann::json::parse(summary_json_text(test::sample_total(), run));
  CHECK(doc["run"]["ended"] == "interrupted by SIGINT");
  CHECK(doc["run"]["server_error"] == "UNAUTHORIZED_ROOM_MEMBER");
  table = format_summary_table(test::sample_total(), run);
  CHECK(table.find("reconnects tried") == std::string::npos);
  CHECK(table.find("failed session(s) not restarted") != std::string::npos);
  CHECK(table.find("UNAUTHORIZED_ROOM_MEMBER") != std::string::npos);
  CHECK(table.find("last refused upgrade") == std::string::npos);

  run.upgrade_refusal = "WebSocket upgrade answered HTTP 401 Unauthorized";
  doc = nlohmann::json::parse(summary_json_text(test::sample_total(), run));
  CHECK(doc["run"]["upgrade_refusal"] == "WebSocket upgrade answered HTTP 401 Unauthorized");
  CHECK(doc["run"]["server_error"] == "UNAUTHORIZED_ROOM_MEMBER");
  table = format_summary_table(test::sample_total(), run);
  CHECK(table.find("last refused upgrade") != std::string::npos);
  CHECK(table.find("HTTP 401 Unauthorized") != std::string::npos);
}
