// End-to-end runs about what people look at afterwards: thresholds and their exit code, the
// HTML report. Assertions are about counts, files and verdicts, never about time.
#include "actors/engine.hpp"

#include "config/loader.hpp"
#include "server/server.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace {

using namespace stompede;
namespace fs = std::filesystem;
using json = nlohmann::json;

std::string out_dir(const std::string& name) {
  auto d = fs::temp_directory_path() / ("stompede-e2e-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  return d.string();
}

config::scenario scenario_for(server::server& srv, const std::string& extra) {
  std::string text = "[target]\nurl = \"" + srv.ws_url() + "\"\nhttp_url = \"" + srv.http_url() +
                     "\"\n[auth]\nmode = \"login\"\npassword = \"password123!\"\n"
                     "[rooms]\nmembers_per_room = 10\n"
                     "[output]\nprometheus = \"\"\n" +
                     extra;
  auto r = config::load_scenario_text(text, "e2e.toml", {}, {});
  for (auto& p : r.problems)
    FAIL(p.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

server::server_config small_server() {
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 1000;
  cfg.room_size = 10;
  return cfg;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

engine_options options(const std::string& dir) {
  engine_options o;
  o.out_dir = dir;
  o.quiet = true;
  o.handle_signals = false;
  o.embedded_server_in_process = true;
  return o;
}

} // namespace

TEST_CASE("a failed threshold gives exit 99, its verdict in summary.json and report.html",
          "[e2e][thresholds]") {
  server::server srv{small_server()};
  REQUIRE(!srv.start());
  auto sc = scenario_for(srv, R"(
[[stage]]
name = "only"
users = 10
ramp = "1s"
duration = "2s"
[behaviour]
interval = "200ms"
[thresholds]
checks = ["sent > 0", "count(rtt) > 0", "sent == 0"]
)");
  auto dir = out_dir("thresholds");
  CHECK(run_load_test(sc, options(dir)) == exit_thresholds_failed);
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
  auto page = slurp(dir + "/report.html");
  CHECK(page.find("<code>sent == 0</code>") != std::string::npos);
  CHECK(page.find("FAILED") != std::string::npos);
  CHECK(page.find("password123!") == std::string::npos);
  // The time series carries the new columns and a row per second of the run.
  auto ts = slurp(dir + "/timeseries.csv");
  CHECK(ts.find("fanout_p99_ms,reconnecting,errors_by_type,events") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("abort_on_fail stops the run at the first failed threshold", "[e2e][thresholds]") {
  server::server srv{small_server()};
  REQUIRE(!srv.start());
  // Planned for ten minutes: only the abort can end it within the test's timeout.
  auto sc = scenario_for(srv, R"(
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
  auto dir = out_dir("abort");
  CHECK(run_load_test(sc, options(dir)) == exit_thresholds_failed);
  srv.stop();
  std::ifstream in(dir + "/summary.json");
  auto doc = json::parse(in);
  CHECK(doc["thresholds_passed"] == false);
  CHECK(doc["counters"]["messages_sent"].get<std::uint64_t>() > 0);
  CHECK(slurp(dir + "/report.html").find("aborted: threshold") != std::string::npos);
  fs::remove_all(dir);
}
