// End-to-end runs: stompede's engine loads the embedded server over loopback; every assertion
// is about counts and files, never about time.
#include "actors/engine.hpp"

#include "config/loader.hpp"
#include "server/server.hpp"
#include "tests/e2e/e2e_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <arpa/inet.h>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <netinet/in.h>
#include <sstream>
#include <sys/socket.h>
#include <thread>
#include <unistd.h>

namespace {

using namespace stompede::e2e;

using namespace stompede;
namespace fs = std::filesystem;
using json = nlohmann::json;

/// Waits (bounded: 5 s) until the server has `n` STOMP sessions.
void wait_for_sessions(server::server& srv, std::uint64_t n) {
  for (int i = 0; i < 100 && srv.stats().sessions < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

} // namespace

TEST_CASE("a run round-trips every message it sends and writes the seed's reports", "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "warm-up"
users = 20
ramp = "1s"
duration = "2s"
[[stage]]
name = "steady"
users = 30
ramp = "1s"
duration = "2s"
[behaviour]
interval = "200ms"
)");
  auto dir = temp_dir("roundtrip");
  REQUIRE(run_load_test(sc, quiet_options(dir)) == exit_completed);
  auto stats = srv.stats();
  srv.stop();
  auto summary = read_json(dir + "/summary.json");
  auto& c = summary["counters"];
  auto sent = c["messages_sent"].get<std::uint64_t>();
  auto rtt = c["round_trips"].get<std::uint64_t>();
  auto unresolved = c["unresolved"].get<std::uint64_t>();
  CHECK(sent > 50);
  CHECK(c["lost"].get<std::uint64_t>() == 0);
  CHECK(c["errors_total"].get<std::uint64_t>() == 0);
  // Every message is accounted for: back, or still on its way when its user was stopped.
  CHECK(rtt + unresolved == sent);
  CHECK(unresolved <= 30);
  // The server accepted exactly what we sent, and broadcast to rooms of 10.
  CHECK(stats.messages == sent);
  CHECK(c["messages_received"].get<std::uint64_t>() >= rtt);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 30);
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() == 30);
  // Message accounting of a clean run: after the drain, every message reached every member.
  auto& a = summary["accounting"];
  CHECK(a["sent"].get<std::uint64_t>() == sent);
  CHECK(a["delivered_all"].get<std::uint64_t>() == sent);
  CHECK(a["pending"].get<std::uint64_t>() == 0);
  CHECK(a["balanced"].get<bool>());
  for (auto key : {"delivered_some", "lost", "duplicated", "out_of_order", "missed_reconnecting",
                   "in_flight", "server_seq_gaps", "server_seq_regressions"})
    CHECK(a[key].get<std::uint64_t>() == 0);
  CHECK(a["server_seq_checked"].get<std::uint64_t>() > 0);
  // Rooms of 10: most messages had several members expecting them.
  CHECK(a["pairs"]["delivered"].get<std::uint64_t>() > 2 * sent);
  CHECK(a["pairs"]["lost"].get<std::uint64_t>() == 0);
  // The seed's CSV rows.
  auto csv = read_file(dir + "/load_test_result.csv");
  CHECK(csv.rfind("Metric,Value,Unit\n", 0) == 0);
  for (auto row : {"total_workers,30", "test_duration_seconds,", "websocket_connect_avg,",
                   "message_latency_avg,", "message_latency_p95,", "success_rate,100",
                   "connection_retries_total,0"})
    CHECK(csv.find(row) != std::string::npos);
  CHECK(fs::exists(dir + "/timeseries.csv"));
  CHECK(fs::exists(dir + "/scenario.toml"));
  CHECK(read_file(dir + "/scenario.toml").find("password123!") == std::string::npos);
  // The scenario as run names the folder it ran into.
  CHECK(read_file(dir + "/scenario.toml").find("dir = \"" + dir + "\"") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a run that asks for compression round-trips every message on Beast's stream",
          "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
users = 10
duration = "2s"
[behaviour]
interval = "200ms"
)");
  sc.target.compression = true;
  auto dir = temp_dir("compression");
  REQUIRE(run_load_test(sc, quiet_options(dir)) == exit_completed);
  srv.stop();
  auto c = read_json(dir + "/summary.json")["counters"];
  const auto sent = c["messages_sent"].get<std::uint64_t>();
  CHECK(sent > 20);
  CHECK(c["errors_total"].get<std::uint64_t>() == 0);
  CHECK(c["round_trips"].get<std::uint64_t>() + c["unresolved"].get<std::uint64_t>() == sent);
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() == 10);
  fs::remove_all(dir);
}

TEST_CASE("sessions closed by the server are restarted by their supervisors", "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 20
ramp = "500ms"
duration = "5s"
[behaviour]
interval = "200ms"
[reconnect]
enabled = true
initial = "200ms"
max = "1s"
)");
  auto dir = temp_dir("restart");
  std::thread fault([&] {
    // Once everyone is connected, abort every session on the server side.
    wait_for_sessions(srv, 20);
    srv.faults().close_sessions(1.0, true);
  });
  auto code = run_load_test(sc, quiet_options(dir));
  fault.join();
  auto stats = srv.stats();
  srv.stop();
  REQUIRE(code == exit_completed);
  auto summary = read_json(dir + "/summary.json");
  auto c = summary["counters"];
  auto closed = stats.fault_closed_sessions;
  REQUIRE(closed == 20);
  // Every closed session was counted as an error, retried and brought back.
  CHECK(c["errors_total"].get<std::uint64_t>() == closed);
  CHECK(c["reconnect_attempts"].get<std::uint64_t>() == closed);
  CHECK(c["reconnect_successes"].get<std::uint64_t>() == closed);
  CHECK(c["give_ups"].get<std::uint64_t>() == 0);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 40);
  CHECK(stats.sessions_total == 40);
  // One time-to-recover sample per recovery, reaching the reconnection-time histogram.
  CHECK(summary["histograms"]["reconnect_time_ms"]["count"].get<std::uint64_t>() == closed);
  // Messages members could not get while they reconnected are counted apart from losses, and
  // everything still adds up to the messages sent.
  auto& a = summary["accounting"];
  auto sent = a["sent"].get<std::uint64_t>();
  CHECK(sent == c["messages_sent"].get<std::uint64_t>());
  CHECK(a["missed_reconnecting"].get<std::uint64_t>() > 0);
  CHECK(a["pairs"]["missed_reconnecting"].get<std::uint64_t>() > 0);
  CHECK(a["lost"].get<std::uint64_t>() == 0);
  CHECK(a["delivered_some"].get<std::uint64_t>() == 0);
  CHECK(a["pending"].get<std::uint64_t>() == 0);
  CHECK(a["balanced"].get<bool>());
  CHECK(a["delivered_all"].get<std::uint64_t>() + a["missed_reconnecting"].get<std::uint64_t>() +
            a["in_flight"].get<std::uint64_t>() + a["duplicated"].get<std::uint64_t>() +
            a["out_of_order"].get<std::uint64_t>() ==
        sent);
  CHECK(a["delivered_all"].get<std::uint64_t>() > 0);
  fs::remove_all(dir);
}

TEST_CASE("a stop request drains the run and leaves complete reports", "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "long"
users = 10
ramp = "500ms"
duration = "60s"
[behaviour]
interval = "200ms"
)");
  auto dir = temp_dir("sigint");
  std::thread stopper([&] {
    wait_for_sessions(srv, 10);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    request_stop(2);
  });
  auto code = run_load_test(sc, quiet_options(dir));
  stopper.join();
  srv.stop();
  CHECK(code == exit_interrupted_sigint);
  auto c = read_json(dir + "/summary.json")["counters"];
  CHECK(c["messages_sent"].get<std::uint64_t>() > 0);
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() == 10);
  CHECK(read_file(dir + "/load_test_result.csv").find("total_workers,10") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("the Prometheus endpoint shows the seed's metric names during a run", "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto port = unused_port();
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 5
ramp = "200ms"
duration = "3s"
[behaviour]
interval = "200ms"
)");
  sc.output.prometheus = "127.0.0.1:" + std::to_string(port);
  auto dir = temp_dir("prom");
  std::string scraped;
  std::thread scraper([&] {
    for (int i = 0; i < 40; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(250));
      auto body = http_get(port, "/metrics");
      if (body.find("stomp_load_test_messages_sent_total ") != std::string::npos &&
          body.find("stomp_load_test_message_latency_ms_count") != std::string::npos) {
        scraped = body;
        if (i > 8)
          break;
      }
    }
  });
  auto code = run_load_test(sc, quiet_options(dir));
  scraper.join();
  srv.stop();
  REQUIRE(code == exit_completed);
  for (auto name :
       {"stomp_load_test_messages_sent_total", "stomp_load_test_messages_received_total",
        "stomp_load_test_errors_total", "stomp_load_test_connection_retries_total",
        "stomp_load_test_active_connections", "stomp_load_test_active_reconnections",
        "stomp_load_test_avg_connection_duration_seconds", "stomp_load_test_message_latency_ms",
        "stomp_load_test_websocket_connect_ms", "stomp_load_test_websocket_duration_seconds",
        "stomp_load_test_reconnection_time_ms"})
    CHECK(scraped.find(name) != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("with prometheus_linger the endpoint shows idle before the run and the final totals "
          "after it",
          "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto port = unused_port();
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 4
ramp = "200ms"
duration = "1500ms"
[behaviour]
interval = "200ms"
)");
  sc.output.prometheus = "127.0.0.1:" + std::to_string(port);
  sc.output.prometheus_linger = std::chrono::milliseconds{3000};
  auto dir = temp_dir("prom-linger");
  std::string first, last;
  std::thread scraper([&] {
    // Bounded: at most 10 s of polling; keeps the first scrape and the last one that answered.
    for (int i = 0; i < 200; ++i) {
      auto body = http_get(port, "/metrics");
      if (!body.empty()) {
        if (first.empty())
          first = body;
        last = body;
        if (body.find("stomp_load_test_phase{name=\"done\"} 1") != std::string::npos)
          break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  });
  auto code = run_load_test(sc, quiet_options(dir));
  scraper.join();
  srv.stop();
  REQUIRE(code == exit_completed);
  CHECK(first.find("stomp_load_test_phase{name=\"idle\"} 1") != std::string::npos);
  REQUIRE(last.find("stomp_load_test_phase{name=\"done\"} 1") != std::string::npos);
  // The endpoint's totals are the reports' totals.
  auto summary = read_json(dir + "/summary.json");
  const auto sent = summary["counters"]["messages_sent"].get<std::uint64_t>();
  CHECK(sent > 0);
  CHECK(last.find("stomp_load_test_messages_sent_total " + std::to_string(sent) + "\n") !=
        std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a message not back within the round-trip timeout is lost then, not at its sender's "
          "next send",
          "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  srv.faults().drop_broadcasts(1.0); // nothing comes back
  // Each user sends once, then stays quiet past the end of the run.
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 2
ramp = "100ms"
duration = "4s"
[[behaviour]]
steps = [ { chat = true }, { sleep = "30s" } ]
)");
  sc.output.round_trip_timeout = std::chrono::milliseconds{1000};
  auto dir = temp_dir("lost-on-time");
  REQUIRE(run_load_test(sc, quiet_options(dir)) == exit_completed);
  srv.stop();
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["counters"]["messages_sent"] == 2);
  CHECK(summary["counters"]["lost"] == 2);
  // Both were counted in the time series about a second after they were sent, in the steady
  // phase, long before the drain at the end.
  std::uint64_t lost_by_3s = 0;
  for (auto& row : read_timeseries(dir + "/timeseries.csv"))
    if (std::stod(row.at("elapsed_s")) <= 3.0)
      lost_by_3s += std::stoull(row.at("lost"));
  CHECK(lost_by_3s == 2);
  fs::remove_all(dir);
}

TEST_CASE("a target that refuses every login fails fast with one line", "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
users = 5
duration = "1s"
)");
  sc.auth.password = config::secret{"wrong-password"};
  auto dir = temp_dir("badlogin");
  CHECK(run_load_test(sc, quiet_options(dir)) == exit_failed);
  srv.stop();
  // Reports even so: the same files as a run, nothing measured, the reason in them.
  auto summary = read_json(dir + "/summary.json");
  const auto ended = summary["run"]["ended"].get<std::string>();
  CHECK(ended.rfind("stopped early: login failed", 0) == 0);
  CHECK(ended.find("wrong-password") == std::string::npos);
  CHECK(summary["counters"]["messages_sent"] == 0);
  CHECK(fs::exists(dir + "/load_test_result.csv"));
  CHECK(fs::exists(dir + "/timeseries.csv"));
  CHECK(read_file(dir + "/report.html").find("stopped early: login failed") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("stage figures end where the next stage starts, a ramp down reports its target",
          "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "up"
users = 30
ramp = "500ms"
duration = "2s"
[[stage]]
name = "down"
users = 10
ramp = "500ms"
duration = "2s"
[behaviour]
interval = "200ms"
)");
  auto dir = temp_dir("stages");
  CHECK(run_load_test(sc, quiet_options(dir)) == exit_completed);
  srv.stop();
  auto stages = read_json(dir + "/summary.json")["stages"];
  REQUIRE(stages.size() == 2);
  // The interval in progress when the stage changed was closed and counted for "up".
  CHECK(stages[0]["end_s"].get<double>() == stages[1]["start_s"].get<double>());
  CHECK(stages[0]["end_s"].get<double>() == Approx(2.5).margin(0.4));
  CHECK(stages[0]["target_users"] == 30);
  CHECK(stages[1]["target_users"] == 10);
  CHECK(stages[1]["end_s"].get<double>() - stages[1]["start_s"].get<double>() ==
        Approx(2.5).margin(0.6));
  // Each stage's figures name its own population, not the run's peak.
  CHECK(stages[0]["figures"]["total_workers"] == 30);
  CHECK(stages[1]["figures"]["total_workers"] == 10);
  fs::remove_all(dir);
}

TEST_CASE("a stage change on a whole second makes no row of a few milliseconds", "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  // The stages change at 2 s and 4 s, where the metrics' own intervals end too.
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "one"
users = 10
ramp = "500ms"
duration = "1500ms"
[[stage]]
name = "two"
users = 20
ramp = "500ms"
duration = "1500ms"
[[stage]]
name = "three"
users = 10
duration = "2s"
[behaviour]
interval = "200ms"
)");
  auto dir = temp_dir("whole-second-stages");
  CHECK(run_load_test(sc, quiet_options(dir)) == exit_completed);
  srv.stop();
  std::istringstream rows{read_file(dir + "/timeseries.csv")};
  std::string line;
  std::getline(rows, line); // header
  std::vector<double> ends;
  while (std::getline(rows, line))
    ends.push_back(std::stod(line.substr(0, line.find(','))));
  REQUIRE(ends.size() >= 5);
  // Every row but the last (the run's end falls where it falls) spans at least a quarter of
  // the one-second interval.
  for (std::size_t i = 1; i + 1 < ends.size(); ++i)
    CHECK(ends[i] - ends[i - 1] >= 0.2);
  auto stages = read_json(dir + "/summary.json")["stages"];
  REQUIRE(stages.size() == 3);
  CHECK(stages[1]["target_users"] == 20);
  fs::remove_all(dir);
}

TEST_CASE("a target that refuses every connection fails fast with one line", "[e2e]") {
  auto port = std::to_string(unused_port());
  std::string text = "[target]\nurl = \"ws://127.0.0.1:" + port +
                     "/ws-stomp\"\n[auth]\nmode = \"none\"\n[output]\nprometheus = \"\"\n"
                     "[[stage]]\nusers = 20\nramp = \"200ms\"\nduration = \"60s\"\n"
                     "[reconnect]\nenabled = true\ninitial = \"100ms\"\n";
  auto r = config::load_scenario_text(text, "refused.toml", {}, {});
  REQUIRE(r.ok());
  auto dir = temp_dir("refused");
  CHECK(run_load_test(*r.value, quiet_options(dir)) == exit_failed);
  auto c = read_json(dir + "/summary.json")["counters"];
  CHECK(c["errors"]["connect_refused"].get<std::uint64_t>() >= 10);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 0);
  fs::remove_all(dir);
}

TEST_CASE("a user restarted after its token expired logs in again", "[e2e]") {
  auto cfg = server_settings();
  cfg.access_token_ttl = std::chrono::seconds(4);
  server::server srv{cfg};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 5
ramp = "200ms"
duration = "8s"
[behaviour]
interval = "200ms"
[reconnect]
enabled = true
initial = "200ms"
max = "1s"
)");
  auto dir = temp_dir("relogin");
  std::thread fault([&] {
    wait_for_sessions(srv, 5);
    // Past the 4 s token lifetime: every restart needs a fresh token.
    std::this_thread::sleep_for(std::chrono::milliseconds(4500));
    srv.faults().close_sessions(1.0, true);
  });
  auto code = run_load_test(sc, quiet_options(dir));
  fault.join();
  auto stats = srv.stats();
  srv.stop();
  REQUIRE(code == exit_completed);
  auto c = read_json(dir + "/summary.json")["counters"];
  REQUIRE(stats.fault_closed_sessions == 5);
  // 5 logins before the run, 5 after the tokens expired; every restart connected again.
  CHECK(stats.logins == 10);
  CHECK(stats.auth_failures == 0);
  CHECK(c["reconnect_successes"].get<std::uint64_t>() == 5);
  CHECK(c["errors"]["stomp_error_frame"].get<std::uint64_t>() == 0);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 10);
  fs::remove_all(dir);
}

TEST_CASE("an open-model stage starts arrivals, ends sessions after their length and counts "
          "what it could not start",
          "[e2e][open]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  // 10 arrivals a second for 3 s, each staying 1 s: about 10 sessions would be alive at once,
  // but the stage allows 5, so some arrivals must be dropped rather than queued.
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "open"
users = 5
duration = "3s"
arrival_rate = 10
session_length = "1s"
[behaviour]
interval = "200ms"
)");
  auto dir = temp_dir("open");
  REQUIRE(run_load_test(sc, quiet_options(dir)) == exit_completed);
  auto stats = srv.stats();
  srv.stop();
  auto summary = read_json(dir + "/summary.json");
  auto& c = summary["counters"];
  auto arrivals = c["arrivals"].get<std::uint64_t>();
  auto started = c["arrivals_started"].get<std::uint64_t>();
  auto dropped = c["arrivals_dropped"].get<std::uint64_t>();
  auto completed = c["sessions_completed"].get<std::uint64_t>();
  CHECK(arrivals == 30); // k / 10 s for k = 0..29, all before 3 s
  CHECK(started + dropped == arrivals);
  CHECK(dropped > 0);
  CHECK(started >= 5);
  CHECK(completed > 0);
  CHECK(completed <= started);
  // No session failed or was restarted: at most one connection per started arrival (one that
  // started just before the end may not have connected yet), each ended by a DISCONNECT.
  CHECK(c["errors_total"].get<std::uint64_t>() == 0);
  CHECK(c["reconnect_attempts"].get<std::uint64_t>() == 0);
  CHECK(c["stomp_connected"].get<std::uint64_t>() <= started);
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() <=
        c["stomp_connected"].get<std::uint64_t>());
  CHECK(stats.sessions_total <= started);
  // Sent messages are all accounted for.
  CHECK(c["round_trips"].get<std::uint64_t>() + c["unresolved"].get<std::uint64_t>() ==
        c["messages_sent"].get<std::uint64_t>());
  CHECK(c["lost"].get<std::uint64_t>() == 0);
  // The per-stage figures and the other reports say the same.
  REQUIRE(summary["stages"].size() == 1);
  CHECK(summary["stages"][0]["counters"]["arrivals"].get<std::uint64_t>() == arrivals);
  auto csv = read_file(dir + "/load_test_result.csv");
  CHECK(csv.find("arrivals_scheduled,30") != std::string::npos);
  CHECK(csv.find("arrivals_dropped," + std::to_string(dropped)) != std::string::npos);
  auto ts = read_file(dir + "/timeseries.csv");
  CHECK(ts.find("arrivals,arrivals_dropped,sessions_completed,behaviours") != std::string::npos);
  CHECK(read_file(dir + "/report.html").find("Open model: arrivals") != std::string::npos);
  fs::remove_all(dir);
}
