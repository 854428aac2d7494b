// An experiment with the fault proxy between users and server: a 100 ms latency toxic on the
// way down raises every round trip of the fault's window by at least 100 ms (the proxy holds
// each chunk that long), and is removed at the fault's end.
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

} // namespace

TEST_CASE("a latency toxic through the fault proxy raises round trips by its latency",
          "[e2e][experiment][proxy]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 10
ramp = "500ms"
duration = "7s"
[behaviour]
interval = "200ms"
[experiment]
hypothesis = ["p50(rtt) < 100ms"]
baseline = "1s"
recovery_deadline = "3s"
[[fault]]
name = "slow net"
kind = "net.latency"
at = "2s"
duration = "3s"
toxic = "downstream:latency=100ms"
)");
  auto dir = temp_dir("experiment-proxy");
  auto code = run_load_test(sc, quiet_options(dir));
  auto stats = srv.stats();
  srv.stop();
  auto journal = read_json(dir + "/experiment.json");
  INFO(journal.dump(2));
  // Users went through the proxy: every message made it, none was lost.
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["counters"]["lost"].get<std::uint64_t>() == 0);
  CHECK(stats.messages == summary["counters"]["messages_sent"].get<std::uint64_t>());
  const json* during = nullptr;
  for (auto& p : journal["phases"])
    if (p["kind"] == "during")
      during = &p;
  REQUIRE(during != nullptr);
  // Round trips completed inside the window waited for the toxic: the slowest ones at least
  // 100 ms (the phase's seconds may begin before the toxic was added).
  CHECK((*during)["metrics"]["rtt_p99_ms"].get<double>() >= 100.0);
  REQUIRE(journal["faults"].size() == 1);
  auto& f = journal["faults"][0];
  CHECK(f["kind"] == "net.latency");
  CHECK(f["rolled_back"] == true);
  CHECK(f["hit"].get<std::int64_t>() == 10); // every connection
  // The toxic was removed: the hypothesis held again afterwards.
  REQUIRE(journal["recoveries"].size() == 1);
  CHECK(journal["recoveries"][0]["recovered"] == true);
  CHECK(code == exit_completed);
  fs::remove_all(dir);
}
