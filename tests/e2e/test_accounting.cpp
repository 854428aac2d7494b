// Message accounting end to end: the embedded server drops a share of its broadcasts for a
// while, and the accounting finds exactly those messages, with every count adding up. (A clean
// run and sessions closed by the server are checked in test_run.cpp, on the runs there.)
#include "actors/engine.hpp"

#include "server/server.hpp"
#include "tests/e2e/e2e_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

namespace {

using namespace stompede;
using namespace stompede::e2e;

std::uint64_t u64(const nlohmann::json& j, const char* key) {
  return j.at(key).get<std::uint64_t>();
}

} // namespace

TEST_CASE("broadcasts the server drops are the messages accounted as lost", "[e2e]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 30
ramp = "500ms"
duration = "4s"
[behaviour]
interval = "100ms"
)");
  auto dir = temp_dir("accounting-drop");
  std::thread fault([&] {
    // Bounded waits: 30 sessions (at most 5 s), then drops for a second in the middle of the
    // run, then none, so that every sender sends again after its last dropped message.
    for (int i = 0; i < 100 && srv.stats().sessions < 30; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    srv.faults().drop_broadcasts(0.2);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    srv.faults().drop_broadcasts(0.0);
  });
  auto code = run_load_test(sc, quiet_options(dir));
  fault.join();
  std::uint64_t dropped = 0;
  for (auto& [room, n] : srv.faults().dropped_broadcasts())
    dropped += n;
  srv.stop();
  REQUIRE(code == exit_completed);
  auto summary = read_json(dir + "/summary.json");
  auto& a = summary.at("accounting");
  auto sent = u64(a, "sent");
  CHECK(sent == u64(summary.at("counters"), "messages_sent"));
  REQUIRE(dropped > 0);
  // The numbers add up: every message sent is in exactly one class, none pending.
  CHECK(u64(a, "pending") == 0);
  CHECK(a.at("balanced").get<bool>());
  CHECK(u64(a, "delivered_all") + u64(a, "delivered_some") + u64(a, "lost") + u64(a, "duplicated") +
            u64(a, "out_of_order") + u64(a, "missed_reconnecting") + u64(a, "in_flight") ==
        sent);
  // A dropped broadcast reaches nobody: lost (a later message of its sender came through).
  CHECK(u64(a, "lost") == dropped);
  CHECK(u64(a, "in_flight") == 0);
  CHECK(u64(a, "delivered_some") == 0);
  CHECK(u64(a, "delivered_all") == sent - dropped);
  CHECK(u64(a, "duplicated") == 0);
  CHECK(u64(a, "out_of_order") == 0);
  CHECK(u64(a, "missed_reconnecting") == 0);
  // Subscribers saw the server's per-room seq skip the dropped ones.
  CHECK(u64(a, "server_seq_checked") > 0);
  CHECK(u64(a, "server_seq_gaps") >= u64(a.at("pairs"), "lost"));
  CHECK(u64(a.at("pairs"), "lost") >= dropped);
  // The CSV carries the same numbers after the seed's rows.
  auto csv = read_file(dir + "/load_test_result.csv");
  CHECK(csv.rfind("Metric,Value,Unit\ntotal_workers,", 0) == 0);
  CHECK(csv.find("\naccounting_lost," + std::to_string(dropped) + ",\n") != std::string::npos);
  std::filesystem::remove_all(dir);
}
