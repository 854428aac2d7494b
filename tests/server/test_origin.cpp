#include "server/connection.hpp"

#include "server/server.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <unistd.h>

using stompede::server::detail::origin_allowed;

TEST_CASE("browsers may open the WebSocket only from allowed origins", "[server][origin]") {
  const std::vector<std::string> none;
  // Same origin as the Host the request was sent to.
  CHECK(origin_allowed("http://127.0.0.1:8080", "127.0.0.1:8080", none));
  CHECK(origin_allowed("https://chat.example:8443", "chat.example:8443", none, true));
  // Anything else is refused unless listed.
  CHECK_FALSE(origin_allowed("http://evil.example", "127.0.0.1:8080", none));
  CHECK_FALSE(origin_allowed("http://127.0.0.1:8081", "127.0.0.1:8080", none));
  CHECK_FALSE(origin_allowed("http://127.0.0.1:8080.evil", "127.0.0.1:8080", none));
  CHECK_FALSE(origin_allowed("null", "127.0.0.1:8080", none));
  CHECK_FALSE(origin_allowed("http://127.0.0.1:8080", "", none));
  const std::vector<std::string> listed{"http://app.example"};
  CHECK(origin_allowed("http://app.example", "127.0.0.1:8080", listed));
  CHECK_FALSE(origin_allowed("http://app.example.evil", "127.0.0.1:8080", listed));
  CHECK(origin_allowed("http://anything", "127.0.0.1:8080", {"*"}));
}

TEST_CASE("allowed_origins is read from server.toml", "[server][origin]") {
  auto path = "/tmp/stompede-origin-" + std::to_string(getpid()) + ".toml";
  {
    std::ofstream out(path);
    out << "allowed_origins = [\"http://app.example\", \"*\"]\n";
  }
  auto loaded = stompede::server::load_server_config(path);
  REQUIRE(std::holds_alternative<stompede::server::server_config>(loaded));
  auto& cfg = std::get<stompede::server::server_config>(loaded);
  CHECK(cfg.allowed_origins == std::vector<std::string>{"http://app.example", "*"});
  {
    std::ofstream out(path);
    out << "allowed_origins = \"http://app.example\"\n";
  }
  loaded = stompede::server::load_server_config(path);
  REQUIRE(std::holds_alternative<std::string>(loaded));
  CHECK(std::get<std::string>(loaded).find("allowed_origins") != std::string::npos);
  std::remove(path.c_str());
}

TEST_CASE("same origin holds only for a Host that DNS rebinding cannot produce",
          "[server][origin]") {
  const std::vector<std::string> none;
  // Addresses and localhost name this server, whatever DNS says.
  CHECK(origin_allowed("http://localhost:8080", "localhost:8080", none));
  CHECK(origin_allowed("http://LocalHost:8080", "LocalHost:8080", none));
  CHECK(origin_allowed("http://[::1]:8080", "[::1]:8080", none));
  CHECK(origin_allowed("http://10.0.0.5:8080", "10.0.0.5:8080", none));
  CHECK(origin_allowed("http://127.0.0.1", "127.0.0.1", none));
  // A DNS name over plain HTTP may be an attacker's name re-pointed at this server.
  CHECK_FALSE(origin_allowed("http://attacker.example:8080", "attacker.example:8080", none));
  CHECK_FALSE(origin_allowed("http://attacker.example:8080", "attacker.example:8080", none, true));
  CHECK_FALSE(origin_allowed("https://attacker.example:8080", "attacker.example:8080", none));
  CHECK_FALSE(origin_allowed("http://localhost.attacker.example", "localhost.attacker.example",
                             none));
  // Over TLS with an https origin the browser checked the certificate for the name.
  CHECK(origin_allowed("https://chat.example:8443", "chat.example:8443", none, true));
  // Listed origins stay allowed on any Host.
  CHECK(origin_allowed("http://app.example", "app.example", {"http://app.example"}));
}
