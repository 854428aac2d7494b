// stompede against a real RabbitMQ Web-STOMP broker on loopback (scenarios/rabbitmq.toml). The
// broker is a throwaway one started and stopped by CTest fixtures (scripts/rabbitmq-start and
// scripts/rabbitmq-stop, see CMakeLists.txt); these cases only run when it started.
#include "actors/engine.hpp"

#include "config/loader.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>

#include <unistd.h>

namespace {

using namespace stompede;
namespace fs = std::filesystem;
using json = nlohmann::json;

/// scenarios/rabbitmq.toml with `overrides`, exactly as `stompede run --set` would load it.
config::scenario rabbitmq_scenario(const std::vector<std::string>& overrides) {
  auto r = config::load_scenario(STOMPEDE_SCENARIOS_DIR "/rabbitmq.toml", overrides, {});
  for (auto& p : r.problems)
    FAIL(p.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

std::string temp_dir(const std::string& name) {
  auto d =
      fs::temp_directory_path() / ("stompede-rabbitmq-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  return d.string();
}

json run(const config::scenario& sc, const std::string& name) {
  auto dir = temp_dir(name);
  engine_options o;
  o.out_dir = dir;
  o.quiet = true;
  o.handle_signals = false;
  const int code = run_load_test(sc, o);
  std::ifstream in(dir + "/summary.json");
  REQUIRE(in.good());
  auto summary = json::parse(in);
  fs::remove_all(dir);
  CHECK(code == exit_completed);
  return summary;
}

std::uint64_t count(const json& counters, const char* name) {
  return counters[name].get<std::uint64_t>();
}

} // namespace

TEST_CASE("100 users chat through RabbitMQ Web-STOMP for 20 s and every message comes back",
          "[rabbitmq]") {
  auto sc = rabbitmq_scenario(
      {"stage[0].users=100", "stage[0].ramp=\"2s\"", "stage[0].duration=\"20s\""});
  auto summary = run(sc, "roundtrip");
  auto& c = summary["counters"];
  INFO(summary["counters"].dump());
  const auto sent = count(c, "messages_sent");
  // The seed's mix over 20 s: roughly 100 x (0.1/1s + 0.3/3s + 0.6/10s) x 20 s = 520 sends.
  CHECK(sent > 200);
  CHECK(count(c, "errors_total") == 0);
  CHECK(count(c, "lost") == 0);
  CHECK(count(c, "round_trips") + count(c, "unresolved") == sent);
  CHECK(count(c, "unresolved") == 0);
  CHECK(count(c, "round_trips") == sent);
  CHECK(count(c, "stomp_connected") == 100);
  CHECK(count(c, "disconnects_graceful") == 100);
  // Rooms of 20 on /topic/room.N: everyone hears everyone in the room, themselves included.
  CHECK(count(c, "messages_received") >= sent);
}

TEST_CASE("heart-beats keep silent RabbitMQ sessions open past 60 s", "[rabbitmq]") {
  // RabbitMQ closes a Web-STOMP connection that has been idle for about 60 s unless STOMP
  // heart-beats were negotiated ("10s,10s" in the preset): listeners that never send are only
  // still connected after 65 s of silence if heart-beats flow both ways.
  auto sc =
      rabbitmq_scenario({"behaviour.kind=\"listener\"", "stage[0].users=20", "stage[0].ramp=\"1s\"",
                         "stage[0].duration=\"65s\"", "stage[0].wait_for=\"all_subscribed\"",
                         // Topics of their own: the other case may chat meanwhile.
                         "destinations.subscribe=\"/topic/silent.{room}\"",
                         "destinations.send=\"/topic/silent.{room}\""});
  REQUIRE(sc.target.heartbeat_send.count() > 0);
  REQUIRE(sc.target.heartbeat_recv.count() > 0);
  auto summary = run(sc, "heartbeat");
  auto& c = summary["counters"];
  INFO(summary["counters"].dump());
  CHECK(count(c, "messages_sent") == 0);
  CHECK(count(c, "messages_received") == 0);
  CHECK(count(c, "errors_total") == 0);
  CHECK(count(c, "stomp_connected") == 20);
  CHECK(count(c, "connects_ok") == 20);
  // Still connected at the end: each user closed its own session with DISCONNECT.
  CHECK(count(c, "disconnects_graceful") == 20);
  // No session was ever lost and redone.
  CHECK(count(c, "reconnect_attempts") == 0);
  // The shortest session outlived RabbitMQ's 60 s idle limit (the stage held 65 s).
  CHECK(summary["histograms"]["connection_duration_s"]["min"].get<double>() >= 60.0);
}
