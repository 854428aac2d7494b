#include "protocol/url.hpp"

#include <catch2/catch.hpp>

using stompede::net::is_loopback_host;
using stompede::net::parse_url;

TEST_CASE("parse_url accepts the four schemes with default ports", "[url]") {
  struct row {
    const char* text;
    const char* scheme;
    const char* host;
    unsigned port;
    const char* target;
    const char* host_header;
  };
  const row rows[] = {
      {"ws://localhost/ws", "ws", "localhost", 80, "/ws", "localhost"},
      {"wss://chat.example.com", "wss", "chat.example.com", 443, "/", "chat.example.com"},
      {"http://127.0.0.1:8080/api/v1?x=1", "http", "127.0.0.1", 8080, "/api/v1?x=1",
       "127.0.0.1:8080"},
      {"HTTPS://Example.COM:443/a#frag", "https", "example.com", 443, "/a", "example.com"},
      {"ws://[::1]:15674/ws", "ws", "::1", 15674, "/ws", "[::1]:15674"},
      {"wss://[fe80::1]/", "wss", "fe80::1", 443, "/", "[fe80::1]"},
      {"ws://host?token=abc", "ws", "host", 80, "/?token=abc", "host"},
  };
  for (const auto& r : rows) {
    INFO(r.text);
    std::string why;
    auto u = parse_url(r.text, &why);
    REQUIRE(u);
    CHECK(u->scheme == r.scheme);
    CHECK(u->host == r.host);
    CHECK(u->port == r.port);
    CHECK(u->target == r.target);
    CHECK(u->host_header() == r.host_header);
  }
}

TEST_CASE("parse_url rejects malformed URLs with a reason", "[url]") {
  const char* bad[] = {
      "localhost:8080",      // no scheme
      "ftp://host/",         // unsupported scheme
      "ws://",               // empty host
      "ws://host:0/",        // port out of range
      "ws://host:65536/",    // port out of range
      "ws://host:80x/",      // port not a number
      "ws://host:/",         // empty port
      "ws://[::1/",          // unterminated bracket
      "ws://[nonsense]:80/", // not an IPv6 address
      "ws://user:pw@host/",  // credentials
      "ws://ho st/",         // space in host
  };
  for (const char* text : bad) {
    INFO(text);
    std::string why;
    CHECK_FALSE(parse_url(text, &why));
    CHECK_FALSE(why.empty());
  }
}

TEST_CASE("url prints back and redacts its query", "[url]") {
  auto u = parse_url("wss://h:9443/ws?access_token=secret");
  REQUIRE(u);
  CHECK(u->tls());
  CHECK(u->to_string() == "wss://h:9443/ws?access_token=secret");
  CHECK(u->to_redacted_string() == "wss://h:9443/ws?...");
  auto plain = parse_url("ws://h/ws");
  REQUIRE(plain);
  CHECK_FALSE(plain->tls());
  CHECK(plain->to_redacted_string() == "ws://h/ws");
}

TEST_CASE("is_loopback_host", "[url]") {
  CHECK(is_loopback_host("127.0.0.1"));
  CHECK(is_loopback_host("127.3.4.5"));
  CHECK(is_loopback_host("::1"));
  CHECK(is_loopback_host("[::1]"));
  CHECK(is_loopback_host("localhost"));
  CHECK(is_loopback_host("LocalHost"));
  CHECK(is_loopback_host("::ffff:127.0.0.1"));
  CHECK_FALSE(is_loopback_host("128.0.0.1"));
  CHECK_FALSE(is_loopback_host("10.0.0.1"));
  CHECK_FALSE(is_loopback_host("example.com"));
  CHECK_FALSE(is_loopback_host("localhost.example.com"));
  CHECK_FALSE(is_loopback_host(""));
}
