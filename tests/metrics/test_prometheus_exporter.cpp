#include "metrics/prometheus_exporter.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>

#include "metrics/metrics_error.hpp"

using namespace stompede::metrics;

namespace {

// A minimal blocking HTTP/1.0 GET over loopback, bounded by 5 s socket timeouts.
std::string http_get(std::uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0)
    return {};
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string response;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    auto request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, request.data(), request.size(), 0) == static_cast<ssize_t>(request.size())) {
      char buf[4096];
      for (;;) {
        auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
          break;
        response.append(buf, static_cast<std::size_t>(n));
      }
    }
  }
  ::close(fd);
  return response;
}

// The value of the exposition line that starts with `series` followed by a space; NaN if absent.
double sample(const std::string& body, const std::string& series) {
  std::istringstream in(body);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0)
      return std::strtod(line.c_str() + series.size() + 1, nullptr);
  }
  return std::nan("");
}

bool has_line_starting(const std::string& body, const std::string& prefix) {
  return body.find("\n" + prefix) != std::string::npos;
}

} // namespace

TEST_CASE("prometheus: a bare port means loopback") {
  CHECK(normalize_listen_address("2112") == "127.0.0.1:2112");
  CHECK(normalize_listen_address("localhost:9000") == "127.0.0.1:9000");
  CHECK(normalize_listen_address("127.0.0.1:0") == "127.0.0.1:0");
  CHECK(prometheus_exporter_config{}.listen == "127.0.0.1:2112");
}

TEST_CASE("prometheus: serves the seed's names with the values pushed") {
  std::error_code ec;
  auto exporter = prometheus_exporter::start({"127.0.0.1:0", 1}, ec);
  REQUIRE(!ec);
  REQUIRE(exporter != nullptr);
  auto port = exporter->port();
  REQUIRE(port != 0);

  load_snapshot delta;
  delta.counters.messages_sent = 7;
  delta.counters.messages_received = 70;
  delta.counters.reconnect_attempts = 2;
  delta.counters.lost = 1;
  delta.counters.add_error(error_type::connect_refused, 3);
  delta.counters.add_error(error_type::heartbeat_timeout);
  delta.histograms.round_trip_intended_us.record(500);   // 0.5 ms -> le="0.5"
  delta.histograms.round_trip_intended_us.record(1500);  // 1.5 ms -> le="2.5"
  delta.histograms.round_trip_intended_us.record(40000); // 40 ms -> le="50"
  delta.histograms.ws_connect_us.record(2000);
  delta.histograms.connection_duration_ms.record(30000); // 30 s
  delta.histograms.fanout_us.record(-20);
  delta.accounting.lost = 2;
  delta.accounting.delivered_all = 5;
  delta.accounting.pairs_missed_reconnecting = 3;
  delta.accounting.late_deliveries = 1;
  delta.accounting.server_seq_gaps = 4;
  load_snapshot total = delta;
  total.gauges.active_connections = 42;
  total.gauges.active_reconnections = 3;
  total.gauges.target_users = 100;
  total.gauges.connected_users = 40;
  total.gauges.stage_index = 1;
  total.gauges.stage_name = "steady-100";
  total.gauges.phase_name = "steady";
  exporter->update(total, delta);
  // A second interval adds to the counters.
  load_snapshot delta2;
  delta2.counters.messages_sent = 3;
  delta2.histograms.round_trip_intended_us.record(100'000'000); // 100 s -> only +Inf
  delta2.gauges = total.gauges; // merge() takes the interval's levels as the latest
  delta2.accounting_pending = 6;
  merge(total, delta2);
  exporter->update(total, delta2);

  auto body = http_get(port, "/metrics");
  REQUIRE(body.find("200 OK") != std::string::npos);
  CHECK(sample(body, "stomp_load_test_messages_sent_total") == 10.0);
  CHECK(sample(body, "stomp_load_test_messages_received_total") == 70.0);
  CHECK(sample(body, "stomp_load_test_connection_retries_total") == 2.0);
  CHECK(sample(body, "stomp_load_test_messages_lost_total") == 1.0);
  CHECK(sample(body, "stomp_load_test_errors_total{type=\"connect_refused\"}") == 3.0);
  CHECK(sample(body, "stomp_load_test_errors_total{type=\"heartbeat_timeout\"}") == 1.0);
  CHECK(sample(body, "stomp_load_test_errors_total{type=\"tls_error\"}") == 0.0);
  CHECK(sample(body, "stomp_load_test_active_connections") == 42.0);
  CHECK(sample(body, "stomp_load_test_accounted_messages_total{outcome=\"lost\"}") == 2.0);
  CHECK(sample(body, "stomp_load_test_accounted_messages_total{outcome=\"delivered_all\"}") == 5.0);
  CHECK(sample(body, "stomp_load_test_accounted_messages_total{outcome=\"in_flight\"}") == 0.0);
  CHECK(sample(body, "stomp_load_test_accounted_pairs_total{outcome=\"missed_reconnecting\"}") ==
        3.0);
  CHECK(sample(body, "stomp_load_test_accounted_deliveries_total{kind=\"late\"}") == 1.0);
  CHECK(sample(body, "stomp_load_test_server_seq_gaps_total") == 4.0);
  CHECK(sample(body, "stomp_load_test_accounting_pending_messages") == 6.0);
  CHECK(sample(body, "stomp_load_test_active_reconnections") == 3.0);
  CHECK(sample(body, "stomp_load_test_target_users") == 100.0);
  CHECK(sample(body, "stomp_load_test_connected_users") == 40.0);
  CHECK(sample(body, "stomp_load_test_avg_connection_duration_seconds") == Approx(30.0));
  CHECK(sample(body, "stomp_load_test_stage{name=\"steady-100\"}") == 1.0);
  CHECK(sample(body, "stomp_load_test_phase{name=\"steady\"}") == 1.0);

  // Histogram buckets are cumulative in the exposition.
  const std::string lat = "stomp_load_test_message_latency_ms";
  CHECK(sample(body, lat + "_count") == 4.0);
  CHECK(sample(body, lat + "_sum") == Approx(0.5 + 1.5 + 40.0 + 100'000.0));
  CHECK(sample(body, lat + "_bucket{le=\"0.5\"}") == 1.0);
  CHECK(sample(body, lat + "_bucket{le=\"1\"}") == 1.0);
  CHECK(sample(body, lat + "_bucket{le=\"2.5\"}") == 2.0);
  CHECK(sample(body, lat + "_bucket{le=\"50\"}") == 3.0);
  CHECK(sample(body, lat + "_bucket{le=\"60000\"}") == 3.0);
  CHECK(sample(body, lat + "_bucket{le=\"+Inf\"}") == 4.0);
  CHECK(sample(body, "stomp_load_test_websocket_connect_ms_count") == 1.0);
  CHECK(sample(body, "stomp_load_test_websocket_connect_ms_bucket{le=\"2.5\"}") == 1.0);
  CHECK(sample(body, "stomp_load_test_websocket_duration_seconds_bucket{le=\"30\"}") == 1.0);
  CHECK(sample(body, "stomp_load_test_reconnection_time_ms_count") == 0.0);
  CHECK(sample(body, "stomp_load_test_fanout_latency_ms_count") == 0.0);
  CHECK(sample(body, "stomp_load_test_negative_latency_samples_total{histogram="
                     "\"stomp_load_test_fanout_latency_ms\"}") == 1.0);
  CHECK(has_line_starting(body, "# TYPE stomp_load_test_message_latency_ms histogram"));
  CHECK(has_line_starting(body, "# TYPE stomp_load_test_stomp_connect_ms histogram"));
  CHECK(has_line_starting(body, "# TYPE stomp_load_test_late_sends_total counter"));

  // A new stage replaces the old label instead of adding a series.
  total.gauges.stage_index = 2;
  total.gauges.stage_name = "drain";
  exporter->update(total, load_snapshot{});
  body = http_get(port, "/metrics");
  CHECK(sample(body, "stomp_load_test_stage{name=\"drain\"}") == 2.0);
  CHECK(body.find("name=\"steady-100\"") == std::string::npos);
  CHECK(sample(body, "stomp_load_test_messages_sent_total") == 10.0);
}

TEST_CASE("prometheus: a taken port is reported, not thrown") {
  std::error_code ec;
  auto first = prometheus_exporter::start({"127.0.0.1:0", 1}, ec);
  REQUIRE(first != nullptr);
  auto taken = "127.0.0.1:" + std::to_string(first->port());
  auto second = prometheus_exporter::start({taken, 1}, ec);
  CHECK(second == nullptr);
  CHECK(ec == metrics_errc::bind_failed);
}
