#include "protocol/ws_client.hpp"

#include "loopback_server.hpp"
#include "test_certs.hpp"

#include <boost/asio/ssl/context.hpp>

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using stompede::net::transport_errc;
using test_support::behaviour;
using test_support::loopback_server;
namespace net = stompede::net;
namespace ssl = boost::asio::ssl;

namespace {

struct tls_recorder : net::ws_handler {
  explicit tls_recorder(boost::asio::io_context& ioc) : ioc(ioc) {}
  void on_open(std::chrono::nanoseconds) override {
    opened = true;
    if (client)
      client->send("secure hello");
  }
  void on_message(std::string_view data) override {
    messages.emplace_back(data);
    if (client)
      client->close(true);
  }
  void on_tls_failure(std::string_view reason) override {
    tls_reason = reason;
  }
  void on_closed(std::error_code ec) override {
    ++closed_count;
    closed_ec = ec;
    client = nullptr; // break the cycle client -> handler -> client
    ioc.stop();
  }
  boost::asio::io_context& ioc;
  std::shared_ptr<net::ws_client> client;
  bool opened = false;
  std::vector<std::string> messages;
  int closed_count = 0;
  std::error_code closed_ec;
  std::string tls_reason;
};

std::unique_ptr<ssl::context> server_context() {
  const auto& c = test_support::certs();
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  ctx->use_certificate_chain_file(c.server_pem);
  ctx->use_private_key_file(c.server_key, ssl::context::pem);
  return ctx;
}

/// Options for wss://127.0.0.1:<port>/ws with `tls` settings.
net::ws_options wss_options(std::uint16_t port, const net::tls_options& tls) {
  net::ws_options o;
  auto u = net::parse_url("wss://127.0.0.1:" + std::to_string(port) + "/ws");
  REQUIRE(u);
  o.target = *u;
  o.tls = tls;
  o.connect_timeout = 3s;
  o.handshake_timeout = 3s;
  return o;
}

/// Runs one client with `o` on `ioc` until it closes (or 10 s pass); returns what it saw.
std::shared_ptr<tls_recorder> run_client(boost::asio::io_context& ioc, const net::ws_options& o) {
  auto rec = std::make_shared<tls_recorder>(ioc);
  rec->client = net::make_ws_client(ioc, o, rec);
  rec->client->start();
  ioc.run_for(10s);
  rec->client = nullptr;
  return rec;
}

/// Connects to a TLS echo server with `tls` settings and returns what the client saw.
std::shared_ptr<tls_recorder> run_tls(const net::tls_options& tls) {
  boost::asio::io_context ioc;
  auto sctx = server_context();
  loopback_server server(ioc, behaviour::echo, 0, sctx.get());
  return run_client(ioc, wss_options(server.port(), tls));
}

} // namespace

TEST_CASE("wss with the test CA verifies and echoes", "[ws_client][tls]") {
  net::tls_options tls;
  tls.ca_file = test_support::certs().ca_pem;
  auto rec = run_tls(tls);
  CHECK(rec->opened);
  REQUIRE(rec->messages.size() == 1);
  CHECK(rec->messages[0] == "secure hello");
  CHECK(rec->closed_count == 1);
  CHECK_FALSE(rec->closed_ec);
}

TEST_CASE("wss verifies the certificate against the SNI name localhost", "[ws_client][tls]") {
  net::tls_options tls;
  tls.ca_file = test_support::certs().ca_pem;
  tls.server_name = "localhost";
  auto rec = run_tls(tls);
  CHECK(rec->opened);
  CHECK_FALSE(rec->closed_ec);
}

TEST_CASE("wss without the CA fails with tls_error", "[ws_client][tls]") {
  net::tls_options tls; // system store: does not know the throwaway CA
  auto rec = run_tls(tls);
  CHECK_FALSE(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::tls_error);
  CHECK(rec->tls_reason == "unable to get local issuer certificate");
}

TEST_CASE("wss with a wrong host name fails with tls_error", "[ws_client][tls]") {
  net::tls_options tls;
  tls.ca_file = test_support::certs().ca_pem;
  tls.server_name = "wrong.example";
  auto rec = run_tls(tls);
  CHECK_FALSE(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::tls_error);
  CHECK(rec->tls_reason == "hostname mismatch");
}

TEST_CASE("wss checks an address URL against the certificate's IP addresses", "[ws_client][tls]") {
  net::tls_options tls;
  tls.ca_file = test_support::certs().ca_pem;
  tls.server_name = "127.0.0.2"; // the certificate names 127.0.0.1 and localhost
  auto rec = run_tls(tls);
  CHECK_FALSE(rec->opened);
  CHECK(rec->closed_ec == transport_errc::tls_error);
  CHECK(rec->tls_reason == "IP address mismatch");
}

TEST_CASE("wss with verification off connects without the CA", "[ws_client][tls]") {
  net::tls_options tls;
  tls.verify = false;
  auto rec = run_tls(tls);
  CHECK(rec->opened);
  CHECK_FALSE(rec->closed_ec);
  CHECK(rec->tls_reason.empty());
}

TEST_CASE("an unreadable CA file fails with tls_error from start", "[ws_client][tls]") {
  net::tls_options tls;
  tls.ca_file = "/nonexistent/ca.pem";
  auto rec = run_tls(tls);
  CHECK_FALSE(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::tls_error);
}

TEST_CASE("wss reports handshake_timeout when the TLS handshake is never answered",
          "[ws_client][tls]") {
  boost::asio::io_context ioc;
  // Accepts TCP and then says nothing: no ServerHello ever comes.
  test_support::tcp::acceptor acceptor(
      ioc, test_support::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  test_support::tcp::socket held(ioc);
  acceptor.async_accept(held, [](boost::system::error_code) {});
  net::tls_options tls;
  tls.ca_file = test_support::certs().ca_pem;
  auto o = wss_options(acceptor.local_endpoint().port(), tls);
  o.handshake_timeout = 200ms;
  auto rec = run_client(ioc, o);
  CHECK_FALSE(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::handshake_timeout);
}

TEST_CASE("one TLS context is shared by equal settings", "[tls]") {
  net::tls_options tls;
  tls.ca_file = test_support::certs().ca_pem;
  std::error_code ec;
  auto a = net::shared_tls_context(tls, ec);
  REQUIRE(a);
  tls.server_name = "other"; // per connection, not part of the context
  auto b = net::shared_tls_context(tls, ec);
  CHECK(a == b);
  tls.verify = false;
  auto c = net::shared_tls_context(tls, ec);
  REQUIRE(c);
  CHECK(c != a);
}
