// Security negatives that need no other process: listeners default to loopback, and forged,
// expired or malformed JWTs are refused over the wire by the embedded server (ERROR, the
// close, a counted auth failure) as well as by the verifier (tests/server/test_jwt.cpp). TLS
// negatives are in tests/e2e/test_tls.cpp, the admin token in
// tests/server/test_server_integration.cpp, secrets and live listeners in run_canary_test.sh.

#include "config/loader.hpp"
#include "server/jwt.hpp"
#include "server/server.hpp"
#include "tests/server/test_client.hpp"

#include <catch2/catch.hpp>

#include <chrono>
#include <string>

using namespace stompede;
using namespace stompede::server::test;

TEST_CASE("every listener defaults to loopback", "[security]") {
  CHECK(server::server_config{}.listen.rfind("127.0.0.1:", 0) == 0);
  auto r = config::load_scenario_text(
      "[target]\nembedded = true\n[auth]\nmode = \"login\"\npassword = \"pw\"\n[[stage]]\nusers = 1\n"
      "duration = \"1s\"\n",
      "defaults.toml", {}, {});
  REQUIRE(r.ok());
  CHECK(r.value->output.prometheus.rfind("127.0.0.1:", 0) == 0);
  CHECK(r.value->control.listen.empty());
}

TEST_CASE("forged, expired and malformed tokens are refused at CONNECT and counted",
          "[security][jwt]") {
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 100;
  cfg.jwt_secret = "security-test-key-0123456789abcdef";
  server::server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const server::jwt_codec ours(cfg.jwt_secret);
  const server::jwt_codec theirs("another-key-0123456789abcdef012345");
  const auto good = ours.issue(5, server::token_kind::access, std::chrono::minutes(5));
  const auto payload = good.substr(good.find('.') + 1, good.rfind('.') - good.find('.') - 1);
  const std::vector<std::pair<std::string, std::string>> forged = {
      {"another key", theirs.issue(5, server::token_kind::access, std::chrono::minutes(5))},
      {"alg none", server::base64url_encode(R"({"alg":"none","typ":"JWT"})") + "." + payload + "."},
      {"expired", ours.issue(5, server::token_kind::access, std::chrono::seconds(60),
                             std::chrono::system_clock::now() - std::chrono::hours(1))},
      {"refresh token as access",
       ours.issue(5, server::token_kind::refresh, std::chrono::minutes(5))},
      {"malformed", "not-a-token"},
      {"signature cut off", good.substr(0, good.rfind('.') + 1)},
  };
  std::uint64_t refused = 0;
  for (const auto& [what, token] : forged) {
    INFO(what);
    stomp_test_client c(srv.port());
    stomp::frame conn(stomp::command::connect);
    conn.add("accept-version", "1.2").add("Authorization", "Bearer " + token);
    c.send(conn);
    stomp::frame f;
    REQUIRE(c.expect(stomp::command::error, f));
    CHECK(f.get("message").has_value());
    stomp::frame after;
    CHECK(c.next(after, std::chrono::seconds(5)) == wait_result::closed);
    ++refused;
  }
  CHECK(srv.stats().auth_failures == refused);
  CHECK(srv.stats().sessions_total == 0);
  // The genuine token still works on the same server.
  stomp_test_client ok(srv.port());
  CHECK(ok.connect(good));
  srv.stop();
}
