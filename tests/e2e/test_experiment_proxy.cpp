// An experiment with the fault proxy between users and server, one run for two faults:
// - a 100 ms latency toxic (both directions) raises the median round trip of its window by at
//   least 100 ms over the baseline's: the proxy holds each chunk that long, a protocol effect
//   that does not depend on how fast the machine is;
// - a partition of 60% of the open connections starves them of heart-beats: their sessions
//   fail, their supervisors reconnect them (new connections are not partitioned), and the
//   message accounting still adds up to the messages sent.
#include "actors/engine.hpp"
#include "server/server.hpp"
#include "tests/e2e/e2e_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>

namespace {

using namespace stompede;
using namespace stompede::e2e;
namespace fs = std::filesystem;
using json = nlohmann::json;

std::uint64_t u64(const json& j, const char* key) {
  return j.at(key).get<std::uint64_t>();
}

const json& phase_of(const json& journal, const std::string& kind, std::int64_t fault) {
  for (auto& p : journal["phases"])
    if (p["kind"] == kind && (fault < 0 || p["fault"] == fault))
      return p;
  FAIL("no " << kind << " phase for fault " << fault);
  return journal;
}

} // namespace

TEST_CASE("fault proxy: latency raises round trips, a partition makes users reconnect",
          "[e2e][experiment][proxy]") {
  auto cfg = server_settings();
  // The server heart-beats every 300 ms, so a partitioned client notices within a second.
  cfg.heartbeat_send_ms = 300;
  cfg.heartbeat_recv_ms = 300;
  server::server srv{cfg};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 10
ramp = "500ms"
duration = "8500ms"
[behaviour]
interval = "100ms"
[reconnect]
enabled = true
max_attempts = 20
initial = "100ms"
max = "300ms"
[experiment]
hypothesis = ["p50(rtt) < 100ms"]
baseline = "1s"
recovery_deadline = "2s"
[[fault]]
name = "slow net"
kind = "net.latency"
at = "2100ms"
duration = "1800ms"
toxic = "both:latency=100ms"
[[fault]]
name = "split"
kind = "net.partition"
at = "5100ms"
duration = "1500ms"
fraction = 0.6
toxic = "both:scope=existing"
)");
  sc.target.heartbeat_send = std::chrono::milliseconds(300);
  sc.target.heartbeat_recv = std::chrono::milliseconds(300);
  sc.target.heartbeat_grace = 2.0;
  sc.output.round_trip_timeout = std::chrono::seconds(1);
  auto dir = temp_dir("experiment-proxy");
  auto code = run_load_test(sc, quiet_options(dir));
  auto stats = srv.stats();
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  auto summary = read_json(dir + "/summary.json");
  INFO(summary["counters"].dump(2));
  REQUIRE(journal["faults"].size() == 2);
  auto& slow = journal["faults"][0];
  auto& split = journal["faults"][1];
  CHECK(slow["kind"] == "net.latency");
  CHECK(split["kind"] == "net.partition");
  CHECK(slow["rolled_back"] == true);
  CHECK(split["rolled_back"] == true);

  // Latency: every connection was slowed; the median round trip of the window is at least
  // 100 ms above the baseline's (the toxic adds 100 ms each way: about 200 ms).
  CHECK(u64(slow, "hit") == 10);
  auto base_p50 = phase_of(journal, "baseline", -1)["metrics"]["rtt_p50_ms"].get<double>();
  auto slow_p50 = phase_of(journal, "during", 0)["metrics"]["rtt_p50_ms"].get<double>();
  CHECK(slow_p50 - base_p50 >= 100.0);
  REQUIRE(journal["recoveries"].size() == 2);
  CHECK(journal["recoveries"][0]["recovered"] == true);

  // Partition: the chosen connections' sessions failed and were reconnected by their
  // supervisors, nobody was given up.
  auto cut = u64(split, "hit");
  CHECK(cut >= 1);
  CHECK(cut <= 10);
  auto& c = summary["counters"];
  CHECK(u64(c, "reconnect_attempts") >= cut);
  CHECK(u64(c, "reconnect_successes") >= cut);
  CHECK(u64(c, "give_ups") == 0);
  CHECK(journal["recoveries"][1]["recovered"] == true);

  // The accounting adds up across the faults, in the journal as in summary.json.
  auto& a = journal.at("accounting");
  auto sent = u64(a, "sent");
  CHECK(sent == u64(c, "messages_sent"));
  CHECK(sent >= stats.messages);
  CHECK(u64(a, "pending") == 0);
  CHECK(a.at("balanced").get<bool>());
  CHECK(u64(a, "delivered_all") + u64(a, "delivered_some") + u64(a, "lost") + u64(a, "duplicated") +
            u64(a, "out_of_order") + u64(a, "missed_reconnecting") + u64(a, "in_flight") ==
        sent);
  auto& pairs = a.at("pairs");
  CHECK(u64(pairs, "delivered") + u64(pairs, "lost") + u64(pairs, "missed_reconnecting") +
            u64(pairs, "left") + u64(pairs, "in_flight") ==
        u64(pairs, "expected"));
  CHECK(u64(pairs, "missed_reconnecting") >= 1);

  // Both toxics are gone: the hypothesis held before and after them.
  CHECK(journal["held"] == true);
  CHECK(code == exit_completed);
  fs::remove_all(dir);
}

// Proxy faults on a cohort: the users of room 2 and those of room 1 go through proxy lanes of
// their own, so a reset on room 2's cohort cuts exactly its 10 connections (and only those
// users reconnect), and a throttle of 2 MESSAGE frames a second on room 1's cohort holds back
// exactly its 10 connections' frames: their round trips grow by far more than the baseline's.
TEST_CASE("fault proxy: a cohort's faults reach only its users' connections",
          "[e2e][experiment][proxy]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 20
ramp = "500ms"
# Two whole intervals after the throttle's end, so its recovery is seen even when a slow
# build (TSan) starts the faults late.
duration = "7s"
[behaviour]
interval = "200ms"
[reconnect]
enabled = true
max_attempts = 20
initial = "100ms"
max = "300ms"
[experiment]
hypothesis = ["connected >= 50%"]
baseline = "1s"
recovery_deadline = "2s"
[[fault]]
name = "reset room 2"
kind = "net.reset_peer"
at = "2200ms"
duration = "500ms"
rooms = [2]
toxic = "downstream:scope=existing"
[[fault]]
name = "throttle room 1"
kind = "stomp.throttle"
at = "3500ms"
duration = "1500ms"
rooms = [1]
toxic = "downstream:rate=2"
)");
  sc.output.round_trip_timeout = std::chrono::seconds(3);
  auto dir = temp_dir("experiment-proxy-cohort");
  auto code = run_load_test(sc, quiet_options(dir));
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  auto summary = read_json(dir + "/summary.json");
  INFO(summary["counters"].dump(2));
  CHECK(code == exit_completed);
  REQUIRE(journal["faults"].size() == 2);
  auto& reset = journal["faults"][0];
  auto& throttle = journal["faults"][1];
  CHECK_THAT(reset["target"].get<std::string>(), Catch::Contains("in room 2"));
  // Exactly room 2's connections were reset, and only those users reconnected.
  CHECK(u64(reset, "hit") == 10);
  auto& c = summary["counters"];
  CHECK(u64(c, "reconnect_attempts") == 10);
  CHECK(u64(c, "reconnect_successes") == 10);
  CHECK(u64(c, "give_ups") == 0);
  // Exactly room 1's connections were throttled; their own messages came back late.
  CHECK(u64(throttle, "hit") == 10);
  auto base_p99 = phase_of(journal, "baseline", -1)["metrics"]["rtt_p99_ms"].get<double>();
  auto slow_p99 = phase_of(journal, "during", 1)["metrics"]["rtt_p99_ms"].get<double>();
  CHECK(slow_p99 - base_p99 >= 300.0);
  // Held-back frames are late, not lost: the accounting adds up with nothing lost.
  auto& a = journal.at("accounting");
  CHECK(u64(a, "lost") == 0);
  CHECK(a.at("balanced").get<bool>());
  fs::remove_all(dir);
}
