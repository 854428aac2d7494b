#include "config/loader.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

using namespace std::chrono_literals;
using namespace stompede::config;

namespace {

std::string all(const load_result& r) {
  std::string out;
  for (const auto& d : r.problems)
    out += d.to_string() + "\n";
  return out;
}

} // namespace

TEST_CASE("the seed's defaults and stages with only a password", "[config][seed]") {
  auto r = load_from_env({{"PASSWORD", "pw"}}, {}, "");
  INFO(all(r));
  REQUIRE(r.ok());
  const auto& s = *r.value;
  CHECK(s.target.url == "ws://127.0.0.1:8080/ws-stomp");
  CHECK(s.target.http_url == "http://127.0.0.1:8080");
  CHECK(s.auth.mode == auth_mode::login);
  CHECK(s.auth.email == "user%05d@test.com");
  CHECK(s.auth.start_id == 1);
  CHECK(s.rooms.mode == rooms_mode::per_users);
  CHECK(s.rooms.members_per_room == 100);
  CHECK_FALSE(s.reconnect.enabled);
  CHECK(s.reconnect.max_attempts == 5);
  CHECK(s.reconnect.initial == 1s);
  CHECK(s.reconnect.max == 30s);
  CHECK(s.behaviour.interval == 1s);
  REQUIRE(s.stages.size() == 4);
  CHECK(s.stages[0].users == 1000);
  CHECK(s.stages[0].duration == 60s);
  CHECK(s.stages[0].name == "warm-up");
  CHECK(s.stages[1].users == 3000);
  CHECK(s.stages[2].users == 5000);
  CHECK(s.stages[3].users == 10000);
  CHECK(s.stages[3].duration == 600s);
}

TEST_CASE("every seed variable maps to its key", "[config][seed]") {
  env_map env{{"SERVER_URL", "127.0.0.1:9090"},
              {"TOKEN", "jwt"},
              {"ROOM_ID", "42"},
              {"ENABLE_RECONNECT", "true"},
              {"MAX_RECONNECT_ATTEMPTS", "9"},
              {"INITIAL_BACKOFF_MS", "250"},
              {"MAX_BACKOFF_MS", "60000"},
              {"MESSAGE_INTERVAL_MS", "500"},
              {"START_MEMBER_ID", "1001"},
              {"MAX_USERS", "2000"},
              {"MAX_MEMBERS_PER_ROOM", "25"}};
  auto r = load_from_env(env, {}, "");
  INFO(all(r));
  REQUIRE(r.ok());
  const auto& s = *r.value;
  CHECK(s.target.url == "ws://127.0.0.1:9090/ws-stomp");
  CHECK(s.target.http_url == "http://127.0.0.1:9090");
  CHECK(s.auth.mode == auth_mode::token);
  CHECK(s.auth.token.reveal() == "jwt");
  CHECK(s.rooms.mode == rooms_mode::existing);
  CHECK(s.rooms.room_id == 42);
  CHECK(s.rooms.members_per_room == 25);
  CHECK(s.reconnect.enabled);
  CHECK(s.reconnect.max_attempts == 9);
  CHECK(s.reconnect.initial == 250ms);
  CHECK(s.reconnect.max == 60s);
  CHECK(s.behaviour.interval == 500ms);
  CHECK(s.auth.start_id == 1001);
  CHECK(s.stages[0].users == 1000);
  CHECK(s.stages[1].users == 2000);
  CHECK(s.stages[3].users == 2000);
}

TEST_CASE("CREATE_NEW_ROOM with MEMBER_IDS, EMAIL and PASSWORD", "[config][seed]") {
  auto r = load_from_env({{"CREATE_NEW_ROOM", "true"},
                          {"MEMBER_IDS", "2,3,4"},
                          {"EMAIL", "test@test.com"},
                          {"PASSWORD", "pw"}},
                         {}, "");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.value->rooms.mode == rooms_mode::create);
  CHECK(r.value->rooms.member_ids == std::vector<std::int64_t>{2, 3, 4});
  CHECK(r.value->auth.email == "test@test.com");
}

TEST_CASE("bad seed variables name the variable", "[config][seed]") {
  auto r = load_from_env({{"PASSWORD", "pw"},
                          {"MAX_RECONNECT_ATTEMPTS", "many"},
                          {"MAX_USERS", "-1"},
                          {"SERVER_URL", "chat.example.com:80"}},
                         {}, "");
  REQUIRE_FALSE(r.ok());
  std::string text = all(r);
  INFO(text);
  CHECK_THAT(text, Catch::Contains("env MAX_RECONNECT_ATTEMPTS: reconnect.max_attempts: expected "
                                   "a non-negative integer, got a string"));
  CHECK_THAT(text, Catch::Contains("env MAX_USERS"));
}

TEST_CASE("seed variables: negative numbers, sizes, schemes and paths", "[config][seed]") {
  auto text = all(load_from_env({{"PASSWORD", "pw"}, {"MAX_RECONNECT_ATTEMPTS", "-1"}}, {}, ""));
  CHECK_THAT(text, Catch::Contains("reconnect.max_attempts"));
  CHECK_THAT(text, !Catch::Contains("got a string"));
  text = all(load_from_env({{"PASSWORD", "pw"}, {"MAX_USERS", "99999999999"}}, {}, ""));
  CHECK_THAT(text, Catch::Contains("env MAX_USERS: too large"));
  auto zero = load_from_env({{"PASSWORD", "pw"}, {"MAX_USERS", "0"}}, {}, "");
  REQUIRE(zero.problems.size() == 1);
  CHECK_THAT(all(zero), Catch::Contains("env MAX_USERS: expected at least 1 user"));
  text = all(load_from_env({{"PASSWORD", "pw"}, {"SERVER_URL", "ftp://127.0.0.1:1"}}, {}, ""));
  CHECK_THAT(text, Catch::Contains("env SERVER_URL: expected host:port or a ws://"));
  auto r = load_from_env({{"PASSWORD", "pw"}, {"SERVER_URL", "127.0.0.1:1/chat"}}, {}, "");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.value->target.url == "ws://127.0.0.1:1/chat");
  CHECK(r.value->target.http_url == "http://127.0.0.1:1");
}

TEST_CASE("a .env file feeds the seed variables and the real environment wins", "[config][seed]") {
  {
    std::ofstream f{"test_config_seed.env"};
    f << "PASSWORD=from-file\nMESSAGE_INTERVAL_MS=2000\nSERVER_URL=127.0.0.1:7000\n";
  }
  auto r = load_from_env({{"SERVER_URL", "127.0.0.1:7001"}}, {}, "test_config_seed.env");
  std::remove("test_config_seed.env");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.value->auth.password.reveal() == "from-file");
  CHECK(r.value->behaviour.interval == 2s);
  CHECK(r.value->target.url == "ws://127.0.0.1:7001/ws-stomp");
}

TEST_CASE("overrides apply on top of the seed variables", "[config][seed]") {
  auto r = load_from_env({{"PASSWORD", "pw"}}, {"stage[0].users=5"}, "");
  REQUIRE(r.ok());
  CHECK(r.value->stages[0].users == 5);
}

TEST_CASE("no credentials at all says which variables to set", "[config][seed]") {
  auto r = load_from_env({}, {}, "");
  REQUIRE_FALSE(r.ok());
  REQUIRE(r.problems.size() == 1);
  CHECK(r.problems[0].to_string() ==
        "env: auth.password: required when auth.mode = \"login\" (set PASSWORD, or TOKEN)");
}

TEST_CASE("a .env file with a byte order mark and quoted, commented values feeds the seed",
          "[config][seed]") {
  {
    std::ofstream f{"test_config_seed_quoted.env", std::ios::binary};
    f << "\xEF\xBB\xBFPASSWORD=\"pw\" # the test accounts'\nMESSAGE_INTERVAL_MS='1500' # ms\n";
  }
  auto r = load_from_env({}, {}, "test_config_seed_quoted.env");
  std::remove("test_config_seed_quoted.env");
  INFO(all(r));
  REQUIRE(r.ok());
  CHECK(r.value->auth.password.reveal() == "pw");
  CHECK(r.value->behaviour.interval == 1500ms);
}
