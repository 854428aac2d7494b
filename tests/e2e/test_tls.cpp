// wss:// and https:// end to end: the engine against the embedded server serving TLS with a
// throwaway PKI made at test time. A valid chain round-trips every message; an unknown CA, a
// wrong host name and an expired certificate each end the run with one line naming OpenSSL's
// reason; verify = false runs and warns; a server that requires a client certificate accepts
// ours and refuses a client without one.
#include "actors/engine.hpp"

#include "config/loader.hpp"
#include "server/server.hpp"
#include "test_pki.hpp"
#include "tests/e2e/e2e_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fcntl.h>
#include <unistd.h>

namespace {

using namespace stompede::e2e;

using namespace stompede;
namespace fs = std::filesystem;
using json = nlohmann::json;
using test_support::pki;

/// Sends this process's stderr to a file until finish() (the engine reports there).
class stderr_capture {
public:
  explicit stderr_capture(std::string path) : path_(std::move(path)) {
    std::fflush(stderr);
    saved_ = ::dup(2);
    const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(fd, 2);
    ::close(fd);
  }
  ~stderr_capture() {
    finish();
  }
  std::string finish() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
    return read_file(path_);
  }

private:
  std::string path_;
  int saved_ = -1;
};

/// The embedded server with `cert`/`key`; chat mode unless `broker`.
server::server_config tls_server(const std::string& cert, const std::string& key,
                                 bool broker = false) {
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 1000;
  cfg.room_size = 10;
  cfg.tls_cert_file = cert;
  cfg.tls_key_file = key;
  if (broker)
    cfg.mode = server::server_mode::broker;
  return cfg;
}

/// A scenario against `srv`: REST login in chat mode, plain topics in broker mode.
config::scenario make_scenario(server::server& srv, const std::string& tls,
                               const std::string& stages) {
  const bool broker = srv.config().mode == server::server_mode::broker;
  std::string text =
      "[target]\nurl = \"" + srv.ws_url() + "\"\nhttp_url = \"" + srv.http_url() + "\"\n" +
      (broker ? "[auth]\nmode = \"none\"\n[destinations]\n"
                "subscribe = \"/topic/room.{room}\"\n"
                "send = \"/topic/room.{room}\"\n"
              : "[auth]\nmode = \"login\"\npassword = \"password123!\"\n") +
      "[rooms]\nmembers_per_room = 10\n[output]\nprometheus = \"\"\n[tls]\n" + tls + "\n" + stages;
  auto r = config::load_scenario_text(text, "tls.toml", {}, {});
  for (auto& p : r.problems)
    FAIL(p.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

const char* short_run = R"(
[[stage]]
users = 20
ramp = "500ms"
duration = "2s"
[behaviour]
interval = "200ms"
)";

/// Users that all fail: the engine gives up on the target after the first few.
const char* doomed_run = R"(
[[stage]]
users = 5
ramp = "200ms"
duration = "30s"
)";

std::string ca_line(const std::string& ca) {
  return "ca_file = \"" + ca + "\"";
}

/// Runs a scenario that must end with exit_failed and returns what the engine printed.
std::string failing_run(server::server& srv, const std::string& tls, const std::string& name) {
  auto sc = make_scenario(srv, tls, doomed_run);
  auto dir = temp_dir(name);
  stderr_capture err(dir + ".stderr");
  const int code = run_load_test(sc, quiet_options(dir));
  auto text = err.finish();
  CHECK(code == exit_failed);
  if (srv.config().mode == server::server_mode::broker) {
    // Sessions failed: counted as tls_error, the reason in the report.
    auto summary = read_json(dir + "/summary.json");
    CHECK(summary["counters"]["errors"]["tls_error"].get<std::uint64_t>() >= 1);
    CHECK(summary["counters"]["stomp_connected"].get<std::uint64_t>() == 0);
    CHECK(!summary["run"]["tls_failure"].get<std::string>().empty());
    CHECK(text.find(summary["run"]["tls_failure"].get<std::string>()) != std::string::npos);
  }
  fs::remove_all(dir);
  fs::remove(dir + ".stderr");
  return text;
}

/// How many lines of `text` contain `what`.
int lines_with(const std::string& text, const std::string& what) {
  int n = 0;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    n += line.find(what) != std::string::npos;
  return n;
}

} // namespace

TEST_CASE("a wss + https run against the embedded server round-trips every message", "[e2e][tls]") {
  const auto& p = pki();
  server::server srv{tls_server(p.server_pem, p.server_key)};
  REQUIRE(!srv.start());
  REQUIRE(srv.ws_url().rfind("wss://127.0.0.1:", 0) == 0);
  REQUIRE(srv.http_url().rfind("https://127.0.0.1:", 0) == 0);
  auto sc = make_scenario(srv, ca_line(p.ca_pem), short_run);
  auto dir = temp_dir("valid");
  REQUIRE(run_load_test(sc, quiet_options(dir)) == exit_completed);
  auto stats = srv.stats();
  srv.stop();
  auto summary = read_json(dir + "/summary.json");
  auto& c = summary["counters"];
  auto sent = c["messages_sent"].get<std::uint64_t>();
  auto rtt = c["round_trips"].get<std::uint64_t>();
  auto unresolved = c["unresolved"].get<std::uint64_t>();
  CHECK(sent > 20);
  CHECK(c["lost"].get<std::uint64_t>() == 0);
  CHECK(c["errors_total"].get<std::uint64_t>() == 0);
  CHECK(rtt + unresolved == sent);
  // A stop waits for messages in flight: every one came back.
  CHECK(rtt == sent);
  CHECK(stats.messages == sent);
  CHECK(stats.logins == 20);
  CHECK(stats.tls_handshake_failures == 0);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 20);
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() == 20);
  CHECK(summary["run"]["tls_verify"].get<bool>());
  CHECK(summary["run"]["tls_failure"].get<std::string>().empty());
  CHECK(summary["warnings"].empty());
  fs::remove_all(dir);
}

TEST_CASE("an unknown CA fails the run with the verification reason", "[e2e][tls]") {
  const auto& p = pki();
  const std::string reason = "unable to get local issuer certificate";
  SECTION("REST login over https") {
    server::server srv{tls_server(p.rogue_server_pem, p.rogue_server_key)};
    REQUIRE(!srv.start());
    auto text = failing_run(srv, ca_line(p.ca_pem), "rogue-login");
    CHECK(lines_with(text, reason) == 1);
    CHECK(lines_with(text, "login failed at https://127.0.0.1:") == 1);
  }
  SECTION("WebSocket sessions over wss") {
    server::server srv{tls_server(p.rogue_server_pem, p.rogue_server_key, true)};
    REQUIRE(!srv.start());
    auto text = failing_run(srv, ca_line(p.ca_pem), "rogue-ws");
    CHECK(lines_with(text, "nothing can connect to wss://127.0.0.1:") == 1);
    CHECK(lines_with(text, "tls_error: " + reason) == 1);
  }
}

TEST_CASE("a certificate for another host name fails the run with the reason", "[e2e][tls]") {
  const auto& p = pki();
  // The URL says 127.0.0.1; the name checked (and sent as SNI) is localhost; the certificate
  // only names other.example.
  const std::string tls = ca_line(p.ca_pem) + "\nserver_name = \"localhost\"";
  SECTION("REST login over https") {
    server::server srv{tls_server(p.wrong_host_pem, p.wrong_host_key)};
    REQUIRE(!srv.start());
    auto text = failing_run(srv, tls, "host-login");
    CHECK(lines_with(text, "hostname mismatch") == 1);
  }
  SECTION("WebSocket sessions over wss") {
    server::server srv{tls_server(p.wrong_host_pem, p.wrong_host_key, true)};
    REQUIRE(!srv.start());
    auto text = failing_run(srv, tls, "host-ws");
    CHECK(lines_with(text, "tls_error: hostname mismatch") == 1);
  }
  SECTION("an address the certificate does not name") {
    server::server srv{tls_server(p.wrong_host_pem, p.wrong_host_key, true)};
    REQUIRE(!srv.start());
    auto text = failing_run(srv, ca_line(p.ca_pem), "ip-ws");
    CHECK(lines_with(text, "tls_error: IP address mismatch") == 1);
  }
}

TEST_CASE("an expired certificate fails the run with the reason", "[e2e][tls]") {
  const auto& p = pki();
  const std::string reason = "certificate has expired";
  SECTION("REST login over https") {
    server::server srv{tls_server(p.expired_pem, p.expired_key)};
    REQUIRE(!srv.start());
    auto text = failing_run(srv, ca_line(p.ca_pem), "expired-login");
    CHECK(lines_with(text, reason) == 1);
  }
  SECTION("WebSocket sessions over wss") {
    server::server srv{tls_server(p.expired_pem, p.expired_key, true)};
    REQUIRE(!srv.start());
    auto text = failing_run(srv, ca_line(p.ca_pem), "expired-ws");
    CHECK(lines_with(text, "tls_error: " + reason) == 1);
  }
}

TEST_CASE("verify = false runs against an untrusted certificate and warns loudly", "[e2e][tls]") {
  const auto& p = pki();
  server::server srv{tls_server(p.rogue_server_pem, p.rogue_server_key)};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, "verify = false", short_run);
  auto dir = temp_dir("insecure");
  stderr_capture err(dir + ".stderr");
  const int code = run_load_test(sc, quiet_options(dir));
  auto text = err.finish();
  srv.stop();
  REQUIRE(code == exit_completed);
  CHECK(lines_with(text, "WARNING: TLS certificate verification was OFF") == 1);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["counters"]["errors_total"].get<std::uint64_t>() == 0);
  CHECK(summary["counters"]["round_trips"].get<std::uint64_t>() > 0);
  CHECK_FALSE(summary["run"]["tls_verify"].get<bool>());
  REQUIRE(summary["warnings"].size() == 1);
  CHECK(summary["warnings"][0].get<std::string>().find("verification was OFF") !=
        std::string::npos);
  fs::remove_all(dir);
  fs::remove(dir + ".stderr");
}

TEST_CASE("a server that requires client certificates takes ours and refuses none", "[e2e][tls]") {
  const auto& p = pki();
  auto cfg = tls_server(p.server_pem, p.server_key, true);
  cfg.tls_client_ca_file = p.ca_pem;
  server::server srv{cfg};
  REQUIRE(!srv.start());
  SECTION("with the client certificate") {
    auto sc = make_scenario(srv,
                            ca_line(p.ca_pem) + "\ncert_file = \"" + p.client_pem +
                                "\"\nkey_file = \"" + p.client_key + "\"",
                            short_run);
    auto dir = temp_dir("mtls");
    REQUIRE(run_load_test(sc, quiet_options(dir)) == exit_completed);
    auto c = read_json(dir + "/summary.json")["counters"];
    CHECK(c["errors_total"].get<std::uint64_t>() == 0);
    CHECK(c["stomp_connected"].get<std::uint64_t>() == 20);
    CHECK(c["round_trips"].get<std::uint64_t>() > 0);
    CHECK(srv.stats().tls_handshake_failures == 0);
    fs::remove_all(dir);
  }
  SECTION("without one") {
    auto text = failing_run(srv, ca_line(p.ca_pem), "no-client-cert");
    CHECK(lines_with(text, "tls_error: ") == 1);
    CHECK(lines_with(text, "certificate required") == 1);
    CHECK(srv.stats().tls_handshake_failures >= 1);
  }
  srv.stop();
}

TEST_CASE("the server refuses unusable TLS files with one line naming the file", "[e2e][tls]") {
  const auto& p = pki();
  auto cfg = tls_server("/nonexistent/server.pem", p.server_key);
  server::server missing{cfg};
  CHECK(missing.start());
  CHECK(missing.start_problem() ==
        "cannot read TLS certificate '/nonexistent/server.pem': No such file or directory");
  cfg = tls_server(p.server_pem, p.client_key); // a key of another certificate
  server::server mismatch{cfg};
  CHECK(mismatch.start());
  INFO(mismatch.start_problem());
  CHECK(mismatch.start_problem().find(p.client_key) != std::string::npos);
  cfg = tls_server(p.server_pem, "");
  server::server half{cfg};
  CHECK(half.start());
  CHECK(half.start_problem().find("go together") != std::string::npos);
}
