#include "config/validate.hpp"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using namespace stompede::config;

namespace {

scenario runnable() {
  scenario s;
  s.source = "x.toml";
  s.auth.mode = auth_mode::none;
  stage st;
  st.name = "one";
  st.users = 10;
  st.duration = 10s;
  s.stages.push_back(st);
  return s;
}

bool has(const std::vector<diagnostic>& ds, const std::string& key) {
  for (const auto& d : ds)
    if (d.key == key)
      return true;
  return false;
}

} // namespace

TEST_CASE("a runnable scenario has no problems", "[config][validate]") {
  CHECK(validate(runnable()).empty());
}

TEST_CASE("at least one stage is required", "[config][validate]") {
  auto s = runnable();
  s.stages.clear();
  auto ds = validate(s);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].key == "stage");
  CHECK(ds[0].file == "x.toml");
}

TEST_CASE("URL schemes are checked", "[config][validate]") {
  auto s = runnable();
  s.target.url = "http://127.0.0.1:8080/ws";
  s.target.http_url = "ws://127.0.0.1:8080";
  auto ds = validate(s);
  CHECK(has(ds, "target.url"));
  CHECK(has(ds, "target.http_url"));
  s.target.url = "ws://127.0.0.1:99999/ws";
  CHECK(has(validate(s), "target.url"));
}

TEST_CASE("a public target needs the explicit flag", "[config][validate]") {
  auto s = runnable();
  s.target.url = "wss://chat.example.com/ws-stomp";
  s.target.http_url = "https://chat.example.com";
  CHECK(has(validate(s), "target.url"));
  s.target.i_own_this_target = true;
  CHECK(validate(s).empty());
  s.target.i_own_this_target = false;
  s.target.url = "ws://10.1.2.3/ws";
  s.target.http_url = "http://[::1]:8080";
  CHECK(validate(s).empty());
}

TEST_CASE("an embedded target needs no URLs", "[config][validate]") {
  auto s = runnable();
  s.target.embedded = true;
  s.auth.mode = auth_mode::login;
  s.auth.password = secret{"pw"};
  s.target.url.clear();
  CHECK(validate(s).empty());
}

TEST_CASE("semantic checks carry the key's position", "[config][validate]") {
  auto s = runnable();
  s.behaviour.interval = 0ms;
  s.positions["behaviour.interval"] = {"x.toml", 12, 3};
  auto ds = validate(s);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].to_string() ==
        "x.toml:12:3: behaviour.interval: expected a duration greater than zero, got 0s");
}

TEST_CASE("weights, auth, rooms, reconnect and output are checked", "[config][validate]") {
  auto s = runnable();
  s.behaviour.active_weight = s.behaviour.moderate_weight = s.behaviour.passive_weight = 0;
  s.auth.mode = auth_mode::login;
  s.auth.email = "user%05d-%d@x";
  s.rooms.mode = rooms_mode::existing;
  s.reconnect.enabled = true;
  s.reconnect.max = 1ms;
  s.output.prometheus = "0.0.0.0:2112";
  s.target.source_addresses = {"127.0.0.2", "not-an-ip"};
  s.stages[0].arrival_rate = 5;
  auto ds = validate(s);
  CHECK(has(ds, "behaviour.active_weight"));
  CHECK(has(ds, "auth.password"));
  CHECK(has(ds, "auth.email"));
  CHECK(has(ds, "rooms.room_id"));
  CHECK(has(ds, "reconnect.max"));
  CHECK(has(ds, "output.prometheus"));
  CHECK(has(ds, "target.source_addresses[1]"));
  CHECK(has(ds, "stage[0].session_length"));
  CHECK_FALSE(has(ds, "target.source_addresses[0]"));
}

TEST_CASE("an open stage's random session length is bounded", "[config][validate]") {
  auto s = runnable();
  s.stages[0].session_length_max = 5s; // without arrival_rate
  CHECK(has(validate(s), "stage[0].session_length_max"));
  s.stages[0].arrival_rate = 5;
  s.stages[0].session_length = 10s; // max below min
  CHECK(has(validate(s), "stage[0].session_length_max"));
  s.stages[0].session_length_max = 20s;
  CHECK_FALSE(has(validate(s), "stage[0].session_length_max"));
  s.stages[0].arrival_rate = 1e9; // 10^9 a second for the stage's duration
  CHECK(has(validate(s), "stage[0].arrival_rate"));
}

TEST_CASE("templates accept only known placeholders", "[config][validate]") {
  auto s = runnable();
  s.destinations.send = "/publish/{rooom}";
  auto ds = validate(s);
  REQUIRE(ds.size() == 1);
  CHECK(ds[0].key == "destinations.send");
  CHECK_THAT(ds[0].message, Catch::Contains("{rooom}"));
}

TEST_CASE("the embedded server's certificate and key go together, with embedded only",
          "[config][validate]") {
  auto s = runnable();
  s.target.embedded_cert_file = "/etc/hostname"; // any readable file
  s.target.embedded_key_file = "/etc/hostname";
  CHECK(has(validate(s), "target.embedded_cert_file"));
  s.target.embedded = true;
  s.auth.mode = auth_mode::login;
  s.auth.password = secret{"pw"};
  s.target.url.clear();
  CHECK(validate(s).empty());
  s.target.embedded_key_file.clear();
  CHECK(has(validate(s), "target.embedded_key_file"));
  s.target.embedded_key_file = "/nonexistent/server.key";
  CHECK(has(validate(s), "target.embedded_key_file"));
}

TEST_CASE("an IPv6 literal without a port takes the scheme's port", "[config][validate]") {
  auto s = runnable();
  s.target.url = "ws://[::1]/ws-stomp";
  s.target.http_url = "http://[::1]";
  CHECK(validate(s).empty());
  s.target.url = "ws://[::1]:/ws-stomp";
  CHECK(has(validate(s), "target.url"));
}

TEST_CASE("loopback host names are case-insensitive and may end with a dot", "[config][validate]") {
  auto s = runnable();
  for (const char* host : {"LOCALHOST", "localhost.", "LocalHost"}) {
    s.target.url = std::string{"ws://"} + host + ":8080/ws-stomp";
    INFO(host);
    CHECK(validate(s).empty());
  }
  s.target.url = "ws://localhost.example.com:8080/ws-stomp";
  CHECK(has(validate(s), "target.url"));
}

TEST_CASE("member ids stay in range", "[config][validate]") {
  auto s = runnable();
  s.auth.mode = auth_mode::login;
  s.auth.password = secret{"pw"};
  s.auth.start_id = (std::int64_t{1} << 53) - 5;
  CHECK(has(validate(s), "auth.start_id"));
  s.auth.start_id = -1;
  CHECK(has(validate(s), "auth.start_id"));
  s.auth.start_id = 2147483647; // past 32 bits is fine
  CHECK(validate(s).empty());
}

TEST_CASE("e-mails are formatted from 64-bit member ids", "[config][validate]") {
  CHECK(render_email("user%05d@test.com", 42) == "user00042@test.com");
  CHECK(render_email("user%d@test.com", 2147483648LL) == "user2147483648@test.com");
  CHECK(render_email("u%%%d", 7) == "u%7");
  CHECK(render_email("shared@test.com", 7) == "shared@test.com");
  auto s = runnable();
  s.auth.mode = auth_mode::login;
  s.auth.password = secret{"pw"};
  s.auth.email = "user%099999999d@test.com";
  CHECK(has(validate(s), "auth.email"));
}

TEST_CASE("the embedded server only knows user<id>@test.com", "[config][validate]") {
  auto s = runnable();
  s.target.embedded = true;
  s.auth.mode = auth_mode::login;
  s.auth.password = secret{"pw"};
  s.auth.email = "user%d@test.com";
  CHECK(validate(s).empty());
  for (const char* bad : {"u%d@x.com", "shared@test.com", "user%d@example.com"}) {
    s.auth.email = bad;
    INFO(bad);
    CHECK(has(validate(s), "auth.email"));
  }
  s.auth.email = "user%05d@test.com";
  s.auth.start_id = 0;
  CHECK(has(validate(s), "auth.start_id"));
}

TEST_CASE("the metrics address may be a bare port or port 0", "[config][validate]") {
  auto s = runnable();
  for (const char* ok : {"2112", "127.0.0.1:0", "localhost:2112", "[::1]:2112"}) {
    s.output.prometheus = ok;
    INFO(ok);
    CHECK(validate(s).empty());
  }
  s.output.prometheus = "127.0.0.1:99999";
  CHECK(has(validate(s), "output.prometheus"));
}

TEST_CASE("the metrics endpoint lingers at most 10 minutes", "[config][validate]") {
  auto s = runnable();
  s.output.prometheus_linger = 10min;
  CHECK(validate(s).empty());
  s.output.prometheus_linger = 11min;
  CHECK(has(validate(s), "output.prometheus_linger"));
}

TEST_CASE("a fault cohort must name rooms the users are in", "[config][validate]") {
  auto s = runnable(); // 10 users
  s.rooms.members_per_room = 5;
  s.experiment.enabled = true;
  fault_entry f;
  f.kind = fault_kind::server_close_sessions;
  f.at = 1s;
  f.rooms = {2};
  s.faults.push_back(f);
  CHECK(!has(validate(s), "fault[0].rooms[0]"));
  s.faults[0].rooms = {3};
  CHECK(has(validate(s), "fault[0].rooms[0]"));
  s.faults[0].rooms = {0};
  CHECK(has(validate(s), "fault[0].rooms[0]"));
}

TEST_CASE("the embedded server has one room for rooms.mode = existing: room 1",
          "[config][validate]") {
  auto s = runnable();
  s.target.embedded = true;
  s.target.url.clear();
  s.auth.mode = auth_mode::login;
  s.auth.password = secret{"pw"};
  s.rooms.mode = rooms_mode::existing;
  s.rooms.room_id = 1;
  CHECK_FALSE(has(validate(s), "rooms.room_id"));
  s.rooms.room_id = 2;
  CHECK(has(validate(s), "rooms.room_id"));
  s.target.embedded = false;
  s.target.url = "ws://127.0.0.1:8080/ws-stomp";
  s.target.http_url = "http://127.0.0.1:8080";
  CHECK_FALSE(has(validate(s), "rooms.room_id"));
}
