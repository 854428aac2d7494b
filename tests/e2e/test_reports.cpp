// End-to-end runs about what people look at afterwards: thresholds and their exit code, the
// HTML report. Assertions are about counts, files and verdicts, never about time.
#include "actors/engine.hpp"

#include "config/loader.hpp"
#include "server/server.hpp"
#include "tests/e2e/e2e_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <chrono>
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

} // namespace

TEST_CASE("a failed threshold gives exit 99, its verdict in summary.json and report.html",
          "[e2e][thresholds]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "only"
users = 10
ramp = "1s"
duration = "2s"
[behaviour]
interval = "200ms"
[thresholds]
checks = ["sent > 0", "count(rtt) > 0", "sent == 0"]
[server_metrics]
pid = )" + std::to_string(getpid()) +
                                   "\nprometheus_url = \"" + srv.http_url() +
                                   "/metrics\"\nnames = [\"stompede_server_sessions\", "
                                   "\"stompede_server_messages_total\"]\n");
  auto dir = temp_dir("thresholds");
  CHECK(run_load_test(sc, quiet_options(dir)) == exit_thresholds_failed);
  srv.stop();
  std::ifstream in(dir + "/summary.json");
  auto doc = json::parse(in);
  REQUIRE(doc["thresholds"].size() == 3);
  CHECK(doc["thresholds"][0]["expression"] == "sent > 0");
  CHECK(doc["thresholds"][0]["pass"] == true);
  CHECK(doc["thresholds"][1]["pass"] == true);
  CHECK(doc["thresholds"][2]["pass"] == false);
  CHECK(doc["thresholds"][2]["value"].get<double>() ==
        doc["counters"]["messages_sent"].get<double>());
  CHECK(doc["thresholds_passed"] == false);
  auto page = read_file(dir + "/report.html");
  CHECK(page.find("<code>sent == 0</code>") != std::string::npos);
  CHECK(page.find("FAILED") != std::string::npos);
  CHECK(page.find("password123!") == std::string::npos);
  // The server under test beside the load: this process's CPU and RSS, two scraped series.
  for (auto series :
       {"server CPU", "server RSS", "stompede_server_sessions", "stompede_server_messages_total"})
    CHECK(page.find(series) != std::string::npos);
  auto server_csv = read_file(dir + "/server_metrics.csv");
  CHECK(server_csv.rfind("elapsed_s,series,value\n", 0) == 0);
  CHECK(server_csv.find(",stompede_server_sessions,") != std::string::npos);
  CHECK(server_csv.find(",server RSS,") != std::string::npos);
  // The time series carries the new columns and a row per second of the run.
  auto ts = read_file(dir + "/timeseries.csv");
  CHECK(ts.find("fanout_p99_ms,reconnecting,errors_by_type,events") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("abort_on_fail stops the run at the first failed threshold", "[e2e][thresholds]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  // Planned for ten minutes: only the abort can end it within the test's timeout.
  auto sc = make_scenario(srv, R"(
[[stage]]
users = 10
ramp = "1s"
duration = "10m"
[behaviour]
interval = "200ms"
[thresholds]
checks = ["sent < 1"]
abort_on_fail = true
abort_grace = "0s"
)");
  auto dir = temp_dir("abort");
  CHECK(run_load_test(sc, quiet_options(dir)) == exit_thresholds_failed);
  srv.stop();
  std::ifstream in(dir + "/summary.json");
  auto doc = json::parse(in);
  CHECK(doc["thresholds_passed"] == false);
  CHECK(doc["counters"]["messages_sent"].get<std::uint64_t>() > 0);
  CHECK(read_file(dir + "/report.html").find("aborted: threshold") != std::string::npos);
  fs::remove_all(dir);
}

namespace {

/// Waits (bounded: 10 s) until the server has exactly `n` STOMP sessions.
bool wait_sessions(server::server& srv, std::uint64_t n) {
  for (int i = 0; i < 200; ++i) {
    if (srv.stats().sessions == n)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

} // namespace

TEST_CASE("live control over HTTP changes the population, pauses, ends stages, and is logged",
          "[e2e][control]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto port = unused_port();
  // Ten minutes per stage: only the control requests can end this run within the timeout.
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "first"
users = 10
ramp = "500ms"
duration = "10m"
[[stage]]
name = "second"
users = 4
ramp = "500ms"
duration = "10m"
[behaviour]
interval = "200ms"
[control]
listen = "127.0.0.1:)" + std::to_string(port) +
                                   "\"\n");
  auto dir = temp_dir("control");
  std::vector<std::string> answers;
  bool six = false, four = false;
  std::thread operator_thread([&] {
    wait_sessions(srv, 10);
    answers.push_back(http_post(port, "/target?users=6"));
    six = wait_sessions(srv, 6);
    answers.push_back(http_post(port, "/pause"));
    answers.push_back(http_post(port, "/resume"));
    answers.push_back(http_post(port, "/end-stage"));
    four = wait_sessions(srv, 4);
    answers.push_back(http_post(port, "/end-stage")); // the last stage: the run drains
  });
  auto code = run_load_test(sc, quiet_options(dir));
  operator_thread.join();
  srv.stop();
  CHECK(code == exit_completed);
  REQUIRE(answers.size() == 5);
  for (auto& a : answers)
    CHECK(a.rfind("HTTP/1.1 200 OK", 0) == 0);
  CHECK(answers[0].find("ok: target=6") != std::string::npos);
  CHECK(six);
  CHECK(four);
  auto ts = read_file(dir + "/timeseries.csv");
  for (auto ev : {"target=6", "pause", "resume", "end-stage"})
    CHECK(ts.find(ev) != std::string::npos);
  std::ifstream in(dir + "/summary.json");
  auto doc = json::parse(in);
  REQUIRE(doc["stages"].size() == 2);
  CHECK(doc["stages"][1]["name"] == "second");
  fs::remove_all(dir);
}

TEST_CASE("results folders: a timestamp folder is the run's own, a reused folder loses stale "
          "reports only",
          "[e2e][reports]") {
  auto base = fs::temp_directory_path() / ("stompede-dirs-" + std::to_string(::getpid()));
  fs::remove_all(base);
  std::string why;
  // Two runs in the same second: two folders (or, across a second's edge, two timestamps).
  auto first = make_results_dir((base / "{timestamp}").string(), why);
  auto second = make_results_dir((base / "{timestamp}").string(), why);
  REQUIRE(!first.empty());
  REQUIRE(!second.empty());
  CHECK(first != second);
  CHECK(fs::is_directory(first));
  CHECK(fs::is_directory(second));
  // A folder named as is: an earlier run's reports go, other files stay.
  auto reused = base / "reused";
  fs::create_directories(reused);
  for (auto name : {"summary.json", "experiment.json", "report.html", "notes.txt"})
    std::ofstream(reused / name) << "old";
  CHECK(make_results_dir(reused.string(), why) == reused.string());
  CHECK(!fs::exists(reused / "summary.json"));
  CHECK(!fs::exists(reused / "experiment.json"));
  CHECK(!fs::exists(reused / "report.html"));
  CHECK(fs::exists(reused / "notes.txt"));
  // A folder that cannot be made: a reason, no folder.
  std::ofstream(base / "file") << "x";
  CHECK(make_results_dir((base / "file" / "sub").string(), why).empty());
  CHECK(!why.empty());
  fs::remove_all(base);
}
