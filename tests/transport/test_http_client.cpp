#include "protocol/http_client.hpp"

#include "test_certs.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <catch2/catch.hpp>

#include <optional>

using namespace std::chrono_literals;
using stompede::net::transport_errc;
namespace net = stompede::net;
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

namespace {

/// Answers each request with 200 and "METHOD TARGET BODY" (plus the Authorization it saw),
/// or 404 for /missing, or never answers /slow.
template<class Stream>
struct http_server_session : std::enable_shared_from_this<http_server_session<Stream>> {
  explicit http_server_session(Stream s) : stream(std::move(s)) {}
  void start() {
    http::async_read(stream, buffer, request,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       if (!ec)
                         self->answer();
                     });
  }
  void answer() {
    if (request.target() == "/slow") {
      // Keep the connection open and say nothing: a pending read keeps the session alive.
      request = {};
      return start();
    }
    response.version(11);
    response.result(request.target() == "/missing" ? http::status::not_found : http::status::ok);
    response.set("X-Test", "yes");
    response.body() = std::string(request.method_string()) + " " + std::string(request.target()) +
                      " " + request.body() + " " + std::string(request[http::field::authorization]);
    response.prepare_payload();
    http::async_write(stream, response,
                      [self = this->shared_from_this()](beast::error_code, std::size_t) {});
  }
  Stream stream;
  beast::flat_buffer buffer;
  http::request<http::string_body> request;
  http::response<http::string_body> response;
};

struct http_server {
  http_server(asio::io_context& ioc, asio::ssl::context* tls = nullptr)
      : acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), tls(tls) {
    accept();
  }
  void accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec)
        return;
      if (tls) {
        auto s = std::make_shared<http_server_session<beast::ssl_stream<beast::tcp_stream>>>(
            beast::ssl_stream<beast::tcp_stream>(std::move(socket), *tls));
        s->stream.async_handshake(asio::ssl::stream_base::server, [s](beast::error_code ec) {
          if (!ec)
            s->start();
        });
      } else {
        std::make_shared<http_server_session<beast::tcp_stream>>(
            beast::tcp_stream(std::move(socket)))
            ->start();
      }
      accept();
    });
  }
  std::uint16_t port() const {
    return acceptor.local_endpoint().port();
  }
  tcp::acceptor acceptor;
  asio::ssl::context* tls;
};

struct outcome {
  std::optional<std::error_code> ec;
  net::http_response response;
};

outcome run(asio::io_context& ioc, net::http_request req) {
  outcome out;
  net::async_http_request(ioc, std::move(req), [&](std::error_code ec, net::http_response r) {
    out.ec = ec;
    out.response = std::move(r);
    ioc.stop();
  });
  ioc.run_for(10s);
  return out;
}

net::url url_of(const std::string& text) {
  auto u = net::parse_url(text);
  REQUIRE(u);
  return *u;
}

} // namespace

TEST_CASE("http GET returns status, headers and body", "[http_client]") {
  asio::io_context ioc;
  http_server server(ioc);
  net::http_request req;
  req.target = url_of("http://127.0.0.1:" + std::to_string(server.port()) + "/api/rooms?x=1");
  req.headers.emplace_back("Authorization", "Bearer t0k");
  auto out = run(ioc, req);
  REQUIRE(out.ec);
  CHECK_FALSE(*out.ec);
  CHECK(out.response.status == 200);
  CHECK(out.response.body == "GET /api/rooms?x=1  Bearer t0k");
  REQUIRE(out.response.header("x-test"));
  CHECK(*out.response.header("x-test") == "yes");
  CHECK(out.response.header("x-absent") == nullptr);
}

TEST_CASE("http POST sends its body, 404 is a response, not an error", "[http_client]") {
  asio::io_context ioc;
  http_server server(ioc);
  net::http_request req;
  req.method = "POST";
  req.target = url_of("http://127.0.0.1:" + std::to_string(server.port()) + "/api/login");
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = R"({"email":"a@b"})";
  auto out = run(ioc, req);
  REQUIRE(out.ec);
  CHECK_FALSE(*out.ec);
  CHECK(out.response.status == 200);
  CHECK(out.response.body == R"(POST /api/login {"email":"a@b"} )");

  asio::io_context ioc2;
  http_server server2(ioc2);
  req.target = url_of("http://127.0.0.1:" + std::to_string(server2.port()) + "/missing");
  auto missing = run(ioc2, req);
  REQUIRE(missing.ec);
  CHECK_FALSE(*missing.ec);
  CHECK(missing.response.status == 404);
}

TEST_CASE("http reports connect_refused", "[http_client]") {
  asio::io_context ioc;
  std::uint16_t port = 0;
  {
    tcp::acceptor a(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  net::http_request req;
  req.target = url_of("http://127.0.0.1:" + std::to_string(port) + "/");
  auto out = run(ioc, req);
  REQUIRE(out.ec);
  CHECK(*out.ec == transport_errc::connect_refused);
}

TEST_CASE("http total timeout gives request_timeout", "[http_client]") {
  asio::io_context ioc;
  http_server server(ioc);
  net::http_request req;
  req.target = url_of("http://127.0.0.1:" + std::to_string(server.port()) + "/slow");
  req.timeout = 200ms;
  auto out = run(ioc, req);
  REQUIRE(out.ec);
  CHECK(*out.ec == transport_errc::request_timeout);
}

TEST_CASE("http body over the limit gives message_too_large", "[http_client]") {
  asio::io_context ioc;
  http_server server(ioc);
  net::http_request req;
  req.method = "POST";
  req.target = url_of("http://127.0.0.1:" + std::to_string(server.port()) + "/big");
  req.body = std::string(500, 'b');
  req.max_body_bytes = 100;
  auto out = run(ioc, req);
  REQUIRE(out.ec);
  INFO(out.response.status << " " << out.response.body.size());
  CHECK(*out.ec == transport_errc::message_too_large);
}

TEST_CASE("https verifies with the CA and fails without it", "[http_client][tls]") {
  const auto& certs = test_support::certs();
  asio::ssl::context sctx(asio::ssl::context::tls_server);
  sctx.use_certificate_chain_file(certs.server_pem);
  sctx.use_private_key_file(certs.server_key, asio::ssl::context::pem);
  {
    asio::io_context ioc;
    http_server server(ioc, &sctx);
    net::http_request req;
    req.target = url_of("https://127.0.0.1:" + std::to_string(server.port()) + "/secure");
    req.tls.ca_file = certs.ca_pem;
    auto out = run(ioc, req);
    REQUIRE(out.ec);
    CHECK_FALSE(*out.ec);
    CHECK(out.response.status == 200);
    CHECK(out.response.body == "GET /secure  ");
    CHECK(out.response.error_detail.empty());
  }
  {
    asio::io_context ioc;
    http_server server(ioc, &sctx);
    net::http_request req;
    req.target = url_of("https://127.0.0.1:" + std::to_string(server.port()) + "/secure");
    auto out = run(ioc, req);
    REQUIRE(out.ec);
    CHECK(*out.ec == transport_errc::tls_error);
    CHECK(out.response.error_detail == "unable to get local issuer certificate");
  }
}
