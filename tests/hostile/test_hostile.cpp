// The hostile-server suite: stompede's engine against a server that misbehaves on purpose
// (hostile_server.hpp). One run plays every case at once, each on its own group of users: each
// affected session must end with its expected categorised error, supervisors restart and give
// up exactly as configured, the well-behaved groups finish clean, the process stays up, and the
// heap returns to its baseline. Counts and bytes only; nothing here asserts a time.

#include "tests/hostile/hostile_server.hpp"

#include "actors/engine.hpp"
#include "actors/login.hpp"
#include "config/loader.hpp"
#include "metrics/counters.hpp"
#include "protocol/http_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <malloc.h>
#include <map>
#include <string>
#include <unistd.h>

#if defined(__SANITIZE_ADDRESS__)
#  define STOMPEDE_ASAN 1
#elif defined(__has_feature)
#  if __has_feature(address_sanitizer)
#    define STOMPEDE_ASAN 1
#  endif
#endif
#ifdef STOMPEDE_ASAN
// From the sanitizer runtime (sanitizer/allocator_interface.h, which GCC does not ship).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

namespace {

using namespace stompede;
using hostile::misbehaviour;
namespace fs = std::filesystem;
using json = nlohmann::json;

/// Bytes the program holds on its heap right now (ASan's own count under ASan, where freed
/// memory sits in a quarantine that RSS would include).
std::size_t live_heap() {
#ifdef STOMPEDE_ASAN
  return __sanitizer_get_current_allocated_bytes();
#else
  return mallinfo2().uordblks;
#endif
}

/// Resident set size from /proc/self/statm, in bytes.
std::size_t rss() {
  std::ifstream in("/proc/self/statm");
  std::size_t pages = 0, resident = 0;
  in >> pages >> resident;
  return resident * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
}

std::string scratch(const std::string& name) {
  auto d =
      fs::temp_directory_path() / ("stompede-hostile-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  return d.string();
}

config::scenario scenario_for(const hostile::hostile_server& srv, std::size_t users) {
  const std::string base = "127.0.0.1:" + std::to_string(srv.port());
  const std::string text = "[target]\nurl = \"ws://" + base + "/ws-stomp\"\nhttp_url = \"http://" +
                           base + R"("
heartbeat = "0,100ms"
heartbeat_grace = 1.5
handshake_timeout = "500ms"
connect_timeout = "2s"
max_frame = "64KiB"
[auth]
mode = "login"
password = "hostile-password"
[rooms]
members_per_room = 1000
[output]
prometheus = ""
html = false
[[stage]]
name = "hostile"
users = )" + std::to_string(users) +
                           R"(
ramp = "500ms"
duration = "4s"
[behaviour]
interval = "200ms"
active_weight = 1.0
moderate_weight = 0.0
passive_weight = 0.0
[reconnect]
enabled = true
max_attempts = 2
initial = "50ms"
max = "100ms"
)";
  auto r = config::load_scenario_text(text, "hostile.toml", {}, {});
  for (auto& p : r.problems)
    FAIL(p.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

engine_options quiet(const std::string& dir) {
  engine_options o;
  o.out_dir = dir;
  o.quiet = true;
  o.handle_signals = false;
  return o;
}

json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return json::parse(in);
}

} // namespace

TEST_CASE("every hostile case ends its sessions with the expected error, the rest run clean",
          "[hostile]") {
  // The case each group of users meets, and the error each of its sessions must end with.
  const std::vector<std::pair<misbehaviour, const char*>> cases = {
      {misbehaviour::refuse_upgrade, "upgrade_rejected"},
      {misbehaviour::silent, "handshake_timeout"},
      {misbehaviour::error_on_connect, "stomp_error_frame"},
      {misbehaviour::error_frame, "stomp_error_frame"},
      {misbehaviour::malformed, "protocol_error"},
      {misbehaviour::oversized, "frame_too_large"},
      {misbehaviour::endless, "frame_too_large"},
      {misbehaviour::huge_ws_frame, "frame_too_large"},
      {misbehaviour::stall_mid_frame, "heartbeat_timeout"},
      {misbehaviour::stop_heartbeats, "heartbeat_timeout"},
      {misbehaviour::close_mid_frame, "connection_reset"},
      {misbehaviour::reset, "connection_reset"},
      {misbehaviour::raw_garbage, "protocol_error"},
      {misbehaviour::binary_garbage, "protocol_error"},
      {misbehaviour::foreign_message, "protocol_error"},
      {misbehaviour::split_every_byte, nullptr},
      {misbehaviour::flood, nullptr},
      {misbehaviour::none, nullptr},
  };
  constexpr std::size_t per_case = 2;
  constexpr std::uint64_t attempts = 3; // the first session and max_attempts = 2 restarts
  std::vector<misbehaviour> plan;
  std::map<std::string, std::uint64_t> expected;
  std::size_t failing = 0;
  for (auto& [m, error] : cases) {
    plan.push_back(m);
    if (error) {
      expected[error] += per_case * attempts;
      ++failing;
    }
  }
  const std::size_t users = per_case * cases.size();

  const std::size_t heap_before = live_heap();
  const std::size_t rss_before = rss();
  hostile::hostile_server srv(plan, per_case);
  auto dir = scratch("cases");
  const int code = run_load_test(scenario_for(srv, users), quiet(dir));
  const auto upgrades = srv.upgrades();
  const auto flooded = srv.flooded();
  srv.stop();
  CHECK(code == exit_completed);

  const json summary = read_json(dir + "/summary.json");
  const json c = summary["counters"];
  // The servers' ERROR messages carried escape sequences: none survives into the reports (and
  // so none into stderr or the summary table, which print the same text).
  const auto said = summary["run"]["server_error"].get<std::string>();
  INFO("server_error: " << said);
  CHECK(said.find('\x1b') == std::string::npos);
  CHECK(said.find('\x07') == std::string::npos);
  CHECK(said.find("\xc2\x9b") == std::string::npos);
  CHECK(said.find('?') != std::string::npos);
  // The refused upgrades are reported apart from the ERROR frames, whichever came last.
  CHECK(summary["run"]["upgrade_refusal"].get<std::string>().rfind(
            "WebSocket upgrade answered HTTP 403", 0) == 0);
  for (auto [m, error] : cases) {
    INFO("case " << hostile::to_string(m));
    // Every session of a failing case reached the server (upgrade) once per attempt.
    CHECK(upgrades.count(m) == 1);
    if (error && upgrades.count(m))
      CHECK(upgrades.at(m) == per_case * attempts);
  }
  for (const auto& [label, n] : c["errors"].items()) {
    INFO("error type " << label);
    const std::uint64_t want = expected.count(label) ? expected[label] : 0;
    CHECK(n.get<std::uint64_t>() == want);
  }
  CHECK(c["errors_total"].get<std::uint64_t>() == failing * per_case * attempts);
  // Supervisors as configured: two restarts per failing user, then a give-up.
  CHECK(c["reconnect_attempts"].get<std::uint64_t>() == failing * per_case * 2);
  CHECK(c["give_ups"].get<std::uint64_t>() == failing * per_case);
  // The well-behaved groups (none, split at every byte, flood) got their round trips, and the
  // flood arrived whole.
  CHECK(c["round_trips"].get<std::uint64_t>() > 0);
  CHECK(c["lost"].get<std::uint64_t>() == 0);
  CHECK(flooded == per_case * hostile::hostile_server::flood_frames);
  CHECK(c["messages_received"].get<std::uint64_t>() >= flooded);
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() == 3 * per_case);
  fs::remove_all(dir);

  // Memory returns to its baseline: the live heap within 16 MB of where it was before the run
  // (sessions, flood and endless frames moved hundreds of MB through it), RSS loosely.
  const std::size_t heap_after = live_heap();
  const std::size_t rss_after = rss();
  INFO("live heap " << heap_before << " -> " << heap_after << " bytes, RSS " << rss_before << " -> "
                    << rss_after << " bytes");
  CHECK(heap_after < heap_before + 16 * 1024 * 1024);
#ifndef STOMPEDE_ASAN
  CHECK(rss_after < rss_before + 256 * 1024 * 1024);
#endif
}

TEST_CASE("connects still under way when the run ends are counted as abandoned, not as errors",
          "[hostile]") {
  // Half the users meet a well-behaved server; the other half one that upgrades and then never
  // answers CONNECT, with the STOMP connect deadline (30 s) far past the stage's end, so those
  // sessions are still connecting when the run stops them.
  constexpr std::size_t per_case = 3;
  hostile::hostile_server srv({misbehaviour::none, misbehaviour::silent}, per_case);
  auto sc = scenario_for(srv, 2 * per_case);
  sc.target.handshake_timeout = std::chrono::seconds{30};
  sc.stages.at(0).duration = std::chrono::milliseconds{1500};
  auto dir = scratch("abandoned");
  CHECK(run_load_test(sc, quiet(dir)) == exit_completed);
  srv.stop();
  const json c = read_json(dir + "/summary.json")["counters"];
  CHECK(c["connect_attempts"].get<std::uint64_t>() == 2 * per_case);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == per_case);
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() == per_case);
  CHECK(c["connects_abandoned"].get<std::uint64_t>() == per_case);
  CHECK(c["errors_total"].get<std::uint64_t>() == 0);
  std::ifstream csv(dir + "/load_test_result.csv");
  std::string text((std::istreambuf_iterator<char>(csv)), std::istreambuf_iterator<char>());
  CHECK(text.find("connects_abandoned," + std::to_string(per_case) + ",") != std::string::npos);
  fs::remove_all(dir);
}

TEST_CASE("a login answered with 401 or 500 fails the run with one line, the process stays up",
          "[hostile]") {
  for (auto answer : {hostile::login_answer::unauthorized, hostile::login_answer::server_error}) {
    hostile::hostile_server srv({}, 1, answer);
    auto dir = scratch("login");
    CHECK(run_load_test(scenario_for(srv, 4), quiet(dir)) == exit_failed);
    srv.stop();
    fs::remove_all(dir);
  }
}

TEST_CASE("a login answer with an absurd token expiry is read without undefined behaviour",
          "[hostile]") {
  // exp = 1e300 (or -1e300) fits no integer: it reads as no expiry, without a float-to-integer
  // overflow (the sanitizer build stops at one).
  const std::string payload = R"({"sub":"1","exp":1e300})";
  std::string b64;
  static const char* const alphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::uint32_t acc = 0;
  int bits = 0;
  for (unsigned char ch : payload) {
    acc = (acc << 8) | ch;
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      b64 += alphabet[(acc >> bits) & 63];
    }
  }
  if (bits > 0)
    b64 += alphabet[(acc << (6 - bits)) & 63];
  const auto exp = jwt_expiry("eyJhbGciOiJIUzI1NiJ9." + b64 + ".sig");
  CHECK(!exp);
  CHECK(!jwt_expiry(R"(eyJhbGciOiJIUzI1NiJ9.eyJleHAiOi0xZTMwMH0.sig)"));
}
