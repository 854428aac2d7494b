#include "metrics/csv_report.hpp"

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "report_fixture.hpp"

using namespace stompede::metrics;

namespace {

// Parses RFC 4180 CSV (quoted fields, doubled quotes, no embedded newlines needed here).
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      char c = line[i];
      if (quoted) {
        if (c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
          field += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          field += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields.push_back(field);
        field.clear();
      } else {
        field += c;
      }
    }
    fields.push_back(field);
    rows.push_back(fields);
  }
  return rows;
}

} // namespace

TEST_CASE("csv: fields are quoted only when needed") {
  CHECK(csv_field("plain") == "plain");
  CHECK(csv_field("") == "");
  CHECK(csv_field("a,b") == "\"a,b\"");
  CHECK(csv_field("say \"hi\"") == "\"say \"\"hi\"\"\"");
  CHECK(csv_field("two\nlines") == "\"two\nlines\"");
}

TEST_CASE("csv: the seed's rows come first with numeric values and units") {
  auto text = csv_report_text(test::sample_total(), test::sample_run());
  auto rows = parse_csv(text);
  REQUIRE(rows.size() > 8);
  CHECK(rows[0] == std::vector<std::string>{"Metric", "Value", "Unit"});
  const std::vector<std::pair<std::string, std::string>> seed = {
      {"total_workers", ""},
      {"test_duration_seconds", ""},
      {"websocket_connect_avg", "ms"},
      {"message_latency_avg", "ms"},
      {"message_latency_p95", "ms"},
      {"success_rate", "%"},
      {"connection_retries_total", ""},
  };
  for (std::size_t i = 0; i < seed.size(); ++i) {
    REQUIRE(rows[i + 1].size() == 3);
    CHECK(rows[i + 1][0] == seed[i].first);
    CHECK(rows[i + 1][2] == seed[i].second);
  }
  std::map<std::string, double> values;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    REQUIRE(rows[i].size() == 3);
    std::size_t used = 0;
    INFO(rows[i][0] << " = '" << rows[i][1] << "'");
    double v = std::stod(rows[i][1], &used);
    CHECK(used == rows[i][1].size());
    values[rows[i][0]] = v;
  }
  CHECK(values["total_workers"] == 10);
  CHECK(values["test_duration_seconds"] == 60.0);
  CHECK(values["websocket_connect_avg"] == Approx(4.0));
  CHECK(values["message_latency_avg"] == Approx(25.0));
  CHECK(values["message_latency_p95"] == Approx(40.0).epsilon(0.01));
  CHECK(values["message_latency_p50"] == Approx(20.0).epsilon(0.01));
  CHECK(values["message_latency_max"] == 40.0);
  CHECK(values["success_rate"] == Approx(80.0));
  CHECK(values["connection_retries_total"] == 3);
  CHECK(values["messages_sent_total"] == 5);
  CHECK(values["messages_received_total"] == 50);
  CHECK(values["errors_total"] == 3);
  CHECK(values["errors_connect_refused"] == 2);
  CHECK(values["errors_stomp_error_frame"] == 1);
  CHECK(values["errors_tls_error"] == 0);
  CHECK(values["lost_messages"] == 1);
  CHECK(values["late_sends"] == 2);
  CHECK(values["reconnect_successes"] == 2);
  CHECK(values["reconnect_give_ups"] == 1);
  CHECK(values["fanout_latency_p99"] == Approx(5.0).epsilon(0.01));
  CHECK(values["stomp_connect_avg"] == Approx(1.0));
  CHECK(values.count("message_latency_p99") == 1);
  CHECK(values.count("fanout_latency_avg") == 1);
  // Message accounting closes the file.
  CHECK(values.count("accounting_lost") == 1);
  CHECK(values.count("accounting_server_seq_gaps") == 1);
  CHECK(rows.back()[0] == "accounting_server_seq_checked");
}

TEST_CASE("csv: written to a file, an unwritable path is an error") {
  auto path = std::string{"test_metrics_load_test_result.csv"};
  REQUIRE(!write_csv_report(path, test::sample_total(), test::sample_run()));
  std::ifstream in(path);
  std::string first;
  std::getline(in, first);
  CHECK(first == "Metric,Value,Unit");
  std::remove(path.c_str());
  auto ec = write_csv_report("/nonexistent-dir/x.csv", test::sample_total(), test::sample_run());
  CHECK(ec);
}

TEST_CASE("csv: a behaviour's negative latency samples have a row of their own") {
  auto total = test::sample_total();
  behaviour_figures b;
  b.label = "prober";
  histogram h;
  h.record(-5);
  h.record(-7);
  h.record(3000);
  b.latencies.emplace_back("neg", std::move(h));
  total.behaviours.push_back(std::move(b));
  auto text = csv_report_text(total, test::sample_run());
  CHECK(text.find("behaviour.prober.neg_count,1,") != std::string::npos);
  CHECK(text.find("behaviour.prober.neg_negative,2,") != std::string::npos);
}
