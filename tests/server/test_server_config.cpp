#include "server/server.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

using namespace stompede::server;

namespace {
std::string write_temp(const std::string& text) {
  char name[] = "/tmp/stompede_server_cfg_XXXXXX";
  const int fd = mkstemp(name);
  REQUIRE(fd >= 0);
  std::ofstream(name) << text;
  return name;
}
} // namespace

TEST_CASE("server.toml loads every kind of setting", "[server][config]") {
  const auto path = write_temp(R"(listen = "127.0.0.1:0"
mode = "broker"
users = 500
room_size = 50
first_room_member = 1001
max_frame_bytes = "64KiB"
max_queue_bytes = 2048
slow_consumer_timeout = "5s"
heartbeat = "5000,0"
io_threads = 2
[server]
admin_token = "adm"
)");
  auto r = load_server_config(path);
  std::remove(path.c_str());
  REQUIRE(std::holds_alternative<server_config>(r));
  const auto& c = std::get<server_config>(r);
  CHECK(c.listen == "127.0.0.1:0");
  CHECK(c.mode == server_mode::broker);
  CHECK(c.users == 500);
  CHECK(c.room_size == 50);
  CHECK(c.first_room_member == 1001);
  CHECK(c.max_frame_bytes == 64 * 1024);
  CHECK(c.max_queue_bytes == 2048);
  CHECK(c.slow_consumer_timeout == std::chrono::seconds(5));
  CHECK(c.heartbeat_send_ms == 5000);
  CHECK(c.heartbeat_recv_ms == 0);
  CHECK(c.io_threads == 2);
  CHECK(c.admin_token == "adm");
}

TEST_CASE("server.toml errors name file, line and column", "[server][config]") {
  SECTION("unknown key") {
    const auto path = write_temp("listen = \"127.0.0.1:0\"\nbogus = 1\n");
    auto r = load_server_config(path);
    std::remove(path.c_str());
    REQUIRE(std::holds_alternative<std::string>(r));
    CHECK_THAT(std::get<std::string>(r), Catch::Contains(path + ":2:"));
    CHECK_THAT(std::get<std::string>(r), Catch::Contains("bogus"));
  }
  SECTION("wrong type") {
    const auto path = write_temp("users = \"many\"\n");
    auto r = load_server_config(path);
    std::remove(path.c_str());
    REQUIRE(std::holds_alternative<std::string>(r));
    CHECK_THAT(std::get<std::string>(r), Catch::Contains(":1:"));
    CHECK_THAT(std::get<std::string>(r), Catch::Contains("users"));
  }
  SECTION("syntax error") {
    const auto path = write_temp("listen = \n");
    auto r = load_server_config(path);
    std::remove(path.c_str());
    REQUIRE(std::holds_alternative<std::string>(r));
    CHECK_THAT(std::get<std::string>(r), Catch::StartsWith(path + ":1:"));
  }
  SECTION("duration without unit") {
    const auto path = write_temp("slow_consumer_timeout = 20\n");
    auto r = load_server_config(path);
    std::remove(path.c_str());
    REQUIRE(std::holds_alternative<std::string>(r));
    CHECK_THAT(std::get<std::string>(r), Catch::Contains("duration"));
  }
}

TEST_CASE("server.toml takes the TLS files", "[server][config][tls]") {
  const auto path = write_temp(R"(tls_cert_file = "s.pem"
tls_key_file = "s.key"
tls_client_ca_file = "ca.pem"
)");
  auto r = load_server_config(path);
  std::remove(path.c_str());
  REQUIRE(std::holds_alternative<server_config>(r));
  const auto& c = std::get<server_config>(r);
  CHECK(c.tls_cert_file == "s.pem");
  CHECK(c.tls_key_file == "s.key");
  CHECK(c.tls_client_ca_file == "ca.pem");
}
