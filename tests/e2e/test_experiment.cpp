// Experiments end to end against the embedded server: a recovered server fault holds (exit 0), a
// hypothesis that fails gives exit 98 and names the phase (in the same run, the broadcasts the
// server dropped are exactly the messages accounted as lost), a stop in the middle of a fault rolls
// it back and leaves a complete journal, user-side faults are counted as injected. Assertions
// are about counts, files and verdicts, never about how long something took.
#include "actors/engine.hpp"
#include "app/embedded_faults.hpp"
#include "server/server.hpp"
#include "tests/e2e/e2e_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <set>
#include <thread>

namespace {

using namespace stompede;
using namespace stompede::e2e;
namespace fs = std::filesystem;
using json = nlohmann::json;

std::uint64_t error_count(const json& summary, const char* type) {
  auto& e = summary["counters"]["errors"];
  return e.contains(type) ? e[type].get<std::uint64_t>() : 0;
}

const json& fault_named(const json& journal, const std::string& name) {
  for (auto& f : journal["faults"])
    if (f["name"] == name)
      return f;
  FAIL("no fault named " << name);
  return journal;
}

} // namespace

TEST_CASE("an experiment whose server fault is recovered from holds: exit 0", "[e2e][experiment]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 20
ramp = "500ms"
duration = "6s"
[behaviour]
interval = "200ms"
[reconnect]
enabled = true
max_attempts = 10
initial = "100ms"
max = "500ms"
[experiment]
hypothesis = ["connected >= 90%", "rate(round_trips) >= 90%"]
baseline = "1s"
recovery_deadline = "2s"
# The server is in this process (engine_options::server_faults); the token is not used.
admin_token = "in-process"
[[fault]]
name = "cut"
kind = "server.close_sessions"
at = "2500ms"
fraction = 0.3
abortive = true
duration = "1s"
)");
  sc.output.round_trip_timeout = std::chrono::seconds(3);
  auto dir = temp_dir("experiment-held");
  auto opts = quiet_options(dir);
  opts.server_faults = embedded_fault_port(srv);
  auto code = run_load_test(sc, opts);
  auto stats = srv.stats();
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  CHECK(code == exit_completed);
  CHECK(journal["held"] == true);
  CHECK(journal["status"] == "completed");
  auto& cut = fault_named(journal, "cut");
  CHECK(cut["kind"] == "server.close_sessions");
  CHECK(cut["rolled_back"] == true);
  CHECK(cut["end_s"].get<double>() >= cut["start_s"].get<double>());
  // The server closed sessions; each was reconnected by its supervisor.
  auto closed = stats.fault_closed_sessions;
  CHECK(closed >= 1);
  // The journal's hit is the server's own count of the sessions it closed.
  CHECK(cut["hit"].get<std::uint64_t>() == closed);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["counters"]["reconnect_attempts"].get<std::uint64_t>() == closed);
  CHECK(summary["counters"]["reconnect_successes"].get<std::uint64_t>() == closed);
  CHECK(summary["histograms"]["reconnect_time_ms"]["count"].get<std::uint64_t>() == closed);
  // One recovery, within the deadline; baseline, during and after phases, enforced ones held.
  REQUIRE(journal["recoveries"].size() == 1);
  CHECK(journal["recoveries"][0]["recovered"] == true);
  auto recovery = journal["recoveries"][0]["recovery_s"].get<double>();
  CHECK(recovery >= 0.0);
  CHECK(recovery <= 2.0 + 1.0);
  std::set<std::string> kinds;
  for (auto& p : journal["phases"]) {
    kinds.insert(p["kind"].get<std::string>());
    if (p["enforced"] == true)
      CHECK(p["held"] == true);
  }
  CHECK(kinds.count("baseline") == 1);
  CHECK(kinds.count("during") == 1);
  CHECK(kinds.count("after") == 1);
  // The fault's window is in the time series, with the reconnects it caused.
  auto ts = read_file(dir + "/timeseries.csv");
  CHECK(ts.find(",faults\n") != std::string::npos);
  CHECK(ts.find(",cut\n") != std::string::npos);
  CHECK(ts.find("fault cut on") != std::string::npos);
  CHECK(read_file(dir + "/report.html").find("\"kind\":\"fault\"") != std::string::npos);
  fs::remove_all(dir);
}

// A stalled server: each turn of its IO thread's queue is held 150 ms, so every broadcast's
// flush waits behind one whole stall. Nothing is lost, the journal counts the turns held, and
// the round trips of the fault's window carry the stall.
TEST_CASE("a server stall: counted turns, round trips that carry it, nothing lost",
          "[e2e][experiment]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 10
ramp = "300ms"
duration = "4s"
[behaviour]
interval = "200ms"
[experiment]
hypothesis = ["lost == 0"]
baseline = "1s"
recovery_deadline = "2s"
admin_token = "in-process"
[[fault]]
name = "stall"
kind = "server.stall"
at = "1500ms"
duration = "1s"
delay = "150ms"
)");
  sc.output.round_trip_timeout = std::chrono::seconds(3);
  auto dir = temp_dir("experiment-stall");
  auto opts = quiet_options(dir);
  opts.server_faults = embedded_fault_port(srv);
  auto code = run_load_test(sc, opts);
  const auto tally = srv.faults().tally();
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  CHECK(code == exit_completed);
  auto& stall = fault_named(journal, "stall");
  CHECK(stall["kind"] == "server.stall");
  CHECK(stall["rolled_back"] == true);
  CHECK_THAT(stall["target"].get<std::string>(), Catch::Contains("held 150ms"));
  // About one second of 150 ms turns; the journal's hit is the server's own count, read at
  // the rollback (a turn held then is counted after it).
  const auto hit = stall["hit"].get<std::uint64_t>();
  CHECK(hit >= 3);
  CHECK(hit <= tally.stalled_turns);
  CHECK(hit + 1 >= tally.stalled_turns);
  auto id = stall["id"].get<std::int64_t>();
  bool seen = false;
  for (auto& p : journal["phases"])
    if (p["kind"] == "during" && p["fault"] == id) {
      seen = true;
      CHECK(p["metrics"]["rtt_p99_ms"].get<double>() >= 150.0);
    }
  CHECK(seen);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["accounting"]["lost"].get<std::uint64_t>() == 0);
  CHECK(summary["counters"]["errors_total"].get<std::uint64_t>() == 0);
  fs::remove_all(dir);
}

TEST_CASE("a hypothesis that does not hold gives exit 98, dropped broadcasts are lost messages",
          "[e2e][experiment]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  // The server drops 20% of its broadcasts from 2.2 s to 2.8 s (the hypothesis holds again
  // after); every user's actor crashes at 4.2 s with reconnecting off: nobody comes back.
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 10
ramp = "500ms"
duration = "5s"
[behaviour]
interval = "100ms"
[reconnect]
enabled = false
[experiment]
hypothesis = ["connected >= 90%"]
baseline = "1s"
recovery_deadline = "1s"
# The server is in this process (engine_options::server_faults); the token is not used.
admin_token = "in-process"
[[fault]]
name = "drops"
kind = "server.drop_broadcasts"
at = "2200ms"
duration = "600ms"
fraction = 0.2
[[fault]]
name = "crash all"
kind = "user.crash"
at = "4200ms"
)");
  // The accounting's grace period: a dropped message is a loss once a later message of its
  // sender arrived, and its sender's session did not fail within this.
  sc.output.round_trip_timeout = std::chrono::seconds(1);
  auto dir = temp_dir("experiment-failed");
  auto opts = quiet_options(dir);
  opts.server_faults = embedded_fault_port(srv);
  auto code = run_load_test(sc, opts);
  std::uint64_t dropped = 0;
  for (auto& [room, n] : srv.faults().dropped_broadcasts())
    dropped += n;
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  CHECK(code == exit_hypothesis_failed);
  CHECK(journal["held"] == false);
  CHECK(journal["status"] == "deviated");
  auto& crash = fault_named(journal, "crash all");
  CHECK(crash["hit"].get<std::int64_t>() == 10);
  REQUIRE(journal["recoveries"].size() == 2);
  CHECK(journal["recoveries"][0]["recovered"] == true);
  CHECK(journal["recoveries"][1]["recovered"] == false);
  bool named = false;
  for (auto& why : journal["reasons"])
    named = named || why.get<std::string>().find("crash all") != std::string::npos;
  CHECK(named);
  // The drops' after phase held; after the crash no phase held again.
  bool drops_after_held = false;
  bool crash_held = false;
  for (auto& p : journal["phases"]) {
    drops_after_held =
        drops_after_held || (p["kind"] == "after" && p["fault"] == 0 && p["held"] == true);
    crash_held = crash_held || (p["fault"] == 1 && p["held"] == true);
  }
  CHECK(drops_after_held);
  CHECK_FALSE(crash_held);
  // Each crash counted as injected, and given up (no reconnects).
  auto summary = read_json(dir + "/summary.json");
  CHECK(error_count(summary, "injected") == 10);
  CHECK(summary["counters"]["give_ups"].get<std::uint64_t>() == 10);
  // The broadcasts the server dropped are exactly the messages lost, and the numbers add up.
  auto& a = journal.at("accounting");
  auto u64 = [](const json& j, const char* k) { return j.at(k).get<std::uint64_t>(); };
  auto sent = u64(a, "sent");
  REQUIRE(dropped > 0);
  CHECK(u64(a, "lost") == dropped);
  CHECK(fault_named(journal, "drops")["hit"].get<std::uint64_t>() == dropped);
  CHECK(u64(a, "pending") == 0);
  CHECK(a.at("balanced").get<bool>());
  CHECK(u64(a, "delivered_all") + u64(a, "delivered_some") + u64(a, "lost") + u64(a, "duplicated") +
            u64(a, "out_of_order") + u64(a, "missed_reconnecting") + u64(a, "in_flight") ==
        sent);
  CHECK(u64(a, "server_seq_gaps") >= dropped);
  fs::remove_all(dir);
}

TEST_CASE("a stop in the middle of a fault rolls it back and leaves a complete journal",
          "[e2e][experiment]") {
  // A separately run server as far as the experiment knows: its admin endpoint and token.
  auto cfg = server_settings();
  cfg.admin_token = "adm1n-t0ken-canary";
  server::server srv{cfg};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "long"
users = 10
ramp = "500ms"
duration = "60s"
[behaviour]
interval = "200ms"
[experiment]
hypothesis = ["connected >= 90%"]
baseline = "1s"
admin_token = "adm1n-t0ken-canary"
[[fault]]
name = "pause"
kind = "server.pause"
at = "2400ms"
duration = "50s"
)");
  auto dir = temp_dir("experiment-stop");
  std::thread stopper([&] {
    // Bounded: 10 s for the pause to begin, then stop in the middle of it.
    for (int i = 0; i < 200 && !srv.faults().reading_paused(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    request_stop(2);
  });
  auto code = run_load_test(sc, quiet_options(dir));
  stopper.join();
  bool paused_after = srv.faults().reading_paused();
  srv.stop();
  CHECK(code == exit_interrupted_sigint);
  CHECK_FALSE(paused_after);
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  CHECK(journal["status"] == "interrupted");
  auto& pause = fault_named(journal, "pause");
  CHECK(pause["ended_by"] == "stop");
  CHECK(pause["rolled_back"] == true);
  CHECK_FALSE(pause.contains("error"));
  CHECK(pause["end_s"].is_number());
  REQUIRE(journal["phases"].size() >= 1);
  CHECK(journal["phases"][0]["kind"] == "baseline");
  // The users drained normally once the server read again.
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["counters"]["disconnects_graceful"].get<std::uint64_t>() == 10);
  // The admin token is a secret: in no report.
  for (auto* f : {"experiment.json", "scenario.toml", "summary.json", "timeseries.csv"})
    CHECK(read_file(dir + "/" + f).find("adm1n-t0ken-canary") == std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("user-side faults are counted as injected and reconnected", "[e2e][experiment]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 20
ramp = "500ms"
duration = "6s"
[behaviour]
interval = "200ms"
[reconnect]
enabled = true
max_attempts = 10
initial = "100ms"
max = "500ms"
[experiment]
hypothesis = ["connected >= 80%"]
baseline = "1s"
recovery_deadline = "3s"
[[fault]]
name = "drop"
kind = "user.drop"
at = "2200ms"
fraction = 0.5
[[fault]]
name = "malformed"
kind = "user.malformed_frame"
at = "3400ms"
fraction = 0.3
rooms = [1]
[[fault]]
name = "expire"
kind = "user.token_expiry"
at = "4600ms"
fraction = 0.2
)");
  auto dir = temp_dir("experiment-users");
  auto code = run_load_test(sc, quiet_options(dir));
  auto stats = srv.stats();
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  auto summary = read_json(dir + "/summary.json");
  INFO(summary["counters"].dump(2));
  CHECK(code == exit_completed);
  auto dropped = fault_named(journal, "drop")["hit"].get<std::uint64_t>();
  auto malformed = fault_named(journal, "malformed")["hit"].get<std::uint64_t>();
  auto expired = fault_named(journal, "expire")["hit"].get<std::uint64_t>();
  CHECK(dropped >= 1);
  CHECK(dropped <= 20);
  CHECK(malformed >= 1);
  CHECK(malformed <= 10); // room 1 only
  CHECK(expired >= 1);
  // Drops and expiries end sessions as injected; the malformed frames earn the server's ERROR.
  CHECK(error_count(summary, "injected") == dropped + expired);
  CHECK(error_count(summary, "stomp_error_frame") == malformed);
  CHECK(stats.protocol_errors >= malformed);
  auto& c = summary["counters"];
  CHECK(c["reconnect_attempts"].get<std::uint64_t>() == dropped + malformed + expired);
  CHECK(c["reconnect_successes"].get<std::uint64_t>() == dropped + malformed + expired);
  CHECK(c["give_ups"].get<std::uint64_t>() == 0);
  // Expired tokens meant logging in again: one REST login per user at the start, plus those.
  CHECK(stats.logins == 20 + expired);
  fs::remove_all(dir);
}

// Server faults on cohorts, each counted in the journal as the server's own tally says:
// sessions of room 2's members cut (exactly 10), an ERROR to the users of one behaviour
// (exactly its users), new sessions of room 1's members refused while its users reconnect,
// room 2's broadcasts delayed (its round trips grow by the delay), and a restart of the whole
// server that every user comes back from.
TEST_CASE("server faults on a cohort hit only it, and the journal counts what they hit",
          "[e2e][experiment]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 20
ramp = "500ms"
duration = "9800ms"
[[behaviour]]
name = "seed_mix"
label = "talk"
interval = "200ms"
[[behaviour]]
name = "listener"
label = "quiet"
[reconnect]
enabled = true
max_attempts = 30
initial = "100ms"
max = "300ms"
[experiment]
hypothesis = ["connected >= 50%"]
baseline = "1s"
recovery_deadline = "3s"
admin_token = "in-process"
[[fault]]
name = "cut room 2"
kind = "server.close_sessions"
at = "2200ms"
rooms = [2]
abortive = true
[[fault]]
name = "error quiet"
kind = "server.error"
at = "3200ms"
behaviour = "quiet"
message = "GO_AWAY"
[[fault]]
name = "refuse room 1"
kind = "server.refuse_connections"
at = "4400ms"
duration = "1200ms"
rooms = [1]
[[fault]]
name = "close room 1"
kind = "user.close"
at = "4600ms"
rooms = [1]
[[fault]]
name = "slow room 2"
kind = "server.delay_broadcasts"
at = "6200ms"
duration = "1000ms"
delay = "400ms"
rooms = [2]
[[fault]]
name = "restart"
kind = "server.restart"
at = "7600ms"
duration = "500ms"
)");
  sc.output.round_trip_timeout = std::chrono::seconds(3);
  auto dir = temp_dir("experiment-server-cohorts");
  auto opts = quiet_options(dir);
  opts.server_faults = embedded_fault_port(srv);
  auto code = run_load_test(sc, opts);
  auto stats = srv.stats();
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  auto summary = read_json(dir + "/summary.json");
  INFO(summary["counters"].dump(2));
  // Every fault was recovered from, each within the deadline, though the next one had begun.
  CHECK(code == exit_completed);
  for (auto& r : journal["recoveries"])
    CHECK(r["recovered"] == true);
  auto hit = [&](const char* name) { return fault_named(journal, name)["hit"].get<std::int64_t>(); };
  // Room 2's ten sessions, and nobody else's.
  CHECK(hit("cut room 2") == 10);
  CHECK_THAT(fault_named(journal, "cut room 2")["target"].get<std::string>(),
             Catch::Contains("in room 2"));
  // The users running "quiet" (half of them), each ending with the server's ERROR.
  auto quiet = hit("error quiet");
  CHECK(quiet == 10);
  CHECK(error_count(summary, "stomp_error_frame") == static_cast<std::uint64_t>(quiet));
  // Room 1's users, closed by the user fault, were refused at least once each while the
  // refusal lasted, and came back after it.
  CHECK(hit("close room 1") == 10);
  CHECK(hit("refuse room 1") >= 10);
  // Room 2's broadcasts were held back: counted, and their round trips grew by the delay.
  CHECK(hit("slow room 2") >= 1);
  auto slow_id = fault_named(journal, "slow room 2")["id"].get<std::int64_t>();
  for (auto& p : journal["phases"])
    if (p["kind"] == "during" && p["fault"] == slow_id)
      CHECK(p["metrics"]["rtt_p99_ms"].get<double>() >= 400.0);
  // The restart cut every session; everyone reconnected, nobody was given up.
  CHECK(hit("restart") >= 19);
  auto& c = summary["counters"];
  CHECK(c["give_ups"].get<std::uint64_t>() == 0);
  // Every session a fault ended came back: room 2's, the quiet users', room 1's, the restart's.
  CHECK(c["reconnect_successes"].get<std::uint64_t>() >=
        static_cast<std::uint64_t>(10 + quiet + 10 + hit("restart")));
  CHECK(stats.fault_closed_sessions == static_cast<std::uint64_t>(10 + hit("restart")));
  fs::remove_all(dir);
}

// The lasting user faults: room 1's users stop reading for 1.5 s (slow consumers: their own
// messages come back only when they read again, so the window's p99 round trip passes the
// stall), then the users running "quiet" (listeners: heart-beats are all they send) stop
// heart-beating, and the server, which wants one every 300 ms, closes exactly those sessions;
// their supervisors bring them back.
TEST_CASE("user faults that last: a slow consumer's round trips, heart-beats the server misses",
          "[e2e][experiment]") {
  auto cfg = server_settings();
  cfg.heartbeat_send_ms = 300;
  cfg.heartbeat_recv_ms = 300;
  server::server srv{cfg};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 20
ramp = "500ms"
duration = "7200ms"
[[behaviour]]
name = "seed_mix"
label = "talk"
interval = "200ms"
[[behaviour]]
name = "listener"
label = "quiet"
[reconnect]
enabled = true
max_attempts = 20
initial = "100ms"
max = "300ms"
[experiment]
hypothesis = ["connected >= 50%"]
baseline = "1s"
recovery_deadline = "3s"
[[fault]]
name = "deaf room 1"
kind = "user.stop_reading"
at = "2200ms"
duration = "1500ms"
rooms = [1]
[[fault]]
name = "mute quiet"
kind = "user.stop_heartbeats"
at = "4300ms"
duration = "1300ms"
behaviour = "quiet"
)");
  sc.target.heartbeat_send = std::chrono::milliseconds(300);
  sc.target.heartbeat_recv = std::chrono::milliseconds(300);
  sc.output.round_trip_timeout = std::chrono::seconds(3);
  auto dir = temp_dir("experiment-lasting-user-faults");
  auto code = run_load_test(sc, quiet_options(dir));
  auto stats = srv.stats();
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  auto summary = read_json(dir + "/summary.json");
  INFO(summary["counters"].dump(2));
  CHECK(code == exit_completed);
  auto& deaf = fault_named(journal, "deaf room 1");
  auto& mute = fault_named(journal, "mute quiet");
  CHECK(deaf["hit"].get<std::int64_t>() == 10);
  CHECK(deaf["rolled_back"] == true);
  double base_p99 = -1.0;
  double deaf_p99 = -1.0;
  for (auto& p : journal["phases"]) {
    if (p["kind"] == "baseline")
      base_p99 = p["metrics"]["rtt_p99_ms"].get<double>();
    if (p["kind"] == "during" && p["fault"] == deaf["id"])
      deaf_p99 = std::max(deaf_p99, p["metrics"]["rtt_p99_ms"].get<double>());
  }
  CHECK(base_p99 >= 0.0);
  CHECK(deaf_p99 - base_p99 >= 800.0);
  // Slow, not failed: nobody's session ended while room 1 was not reading.
  CHECK(summary["counters"]["errors"]["heartbeat_timeout"].get<std::uint64_t>() == 0);
  // Every quiet user stopped heart-beating; the server timed exactly those out.
  auto muted = mute["hit"].get<std::uint64_t>();
  CHECK(muted == 10);
  CHECK(stats.heartbeat_timeouts == muted);
  CHECK(summary["counters"]["reconnect_successes"].get<std::uint64_t>() >= muted);
  CHECK(summary["counters"]["give_ups"].get<std::uint64_t>() == 0);
  fs::remove_all(dir);
}
