// Protocol details of the embedded server that an outside client can observe: room summaries,
// HTTP keep-alive and handshake answers, STOMP negotiation, limits and liveness.

#include "server/server.hpp"

#include "tests/server/test_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <thread>

using namespace std::string_literals;

using namespace stompede::server;
using namespace stompede::server::test;
using stompede::stomp::command;
using stompede::stomp::frame;

namespace {

server_config small_config() {
  server_config c;
  c.listen = "127.0.0.1:0";
  c.users = 300;
  c.room_size = 100;
  return c;
}

std::string login(std::uint16_t port, int member) {
  char email[64];
  std::snprintf(email, sizeof email, "user%05d@test.com", member);
  const auto r =
      http_call(port, http::verb::post, "/v1/auth/login",
                std::string(R"({"email":")") + email + R"(","password":"password123!"})");
  REQUIRE(r.status == 200);
  return nlohmann::json::parse(r.body)["data"]["tokenInfo"]["accessToken"].get<std::string>();
}

std::string chat_body(std::uint64_t room, int sender, const std::string& content) {
  return nlohmann::json({{"roomId", room},
                         {"senderId", sender},
                         {"type", "TEXT"},
                         {"content", content},
                         {"createdAt", "2024-01-01T00:00:00Z"}})
      .dump();
}

bool eventually_sessions(server& srv, std::uint64_t n) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (srv.stats().sessions != n && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return srv.stats().sessions == n;
}

} // namespace

TEST_CASE("a room summary names the room's type as the room lists do",
          "[server][integration][summary]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto t1 = login(port, 1);
  const auto t250 = login(port, 250);
  const auto p = http_call(port, http::verb::post, "/v1/chat/rooms/private?otherMemberId=250", {},
                           "Bearer " + t1);
  REQUIRE(p.status == 200);
  const auto room = nlohmann::json::parse(p.body)["data"].get<std::uint64_t>();

  stomp_test_client a(port), b(port);
  REQUIRE(a.connect(t1));
  REQUIRE(b.connect(t250));
  REQUIRE(b.subscribe_sync("me", "/topic/user.250.room-summary"));
  a.send_to("/publish/" + std::to_string(room), chat_body(room, 1, "hi"));
  frame m;
  REQUIRE(b.expect(command::message, m));
  const auto summary = nlohmann::json::parse(m.body);
  CHECK(summary["roomId"] == room);
  CHECK(summary["chatRoomType"] == "PRIVATE");

  const auto me = http_call(port, http::verb::get, "/v1/chat/rooms/me", {}, "Bearer " + t250);
  REQUIRE(me.status == 200);
  bool listed = false;
  const auto rooms = nlohmann::json::parse(me.body);
  for (const auto& r : rooms["data"]) {
    if (r["roomId"] == room) {
      listed = true;
      CHECK(r["chatRoomType"] == summary["chatRoomType"]);
    }
  }
  CHECK(listed);

  // An automatic room is a group room, in its summaries too.
  REQUIRE(b.subscribe_sync("room", "/topic/chat.room.3"));
  stomp_test_client c(port);
  REQUIRE(c.connect(login(port, 201)));
  c.send_to("/publish/3", chat_body(3, 201, "group"));
  bool group_summary = false;
  while (!group_summary && b.expect(command::message, m)) {
    if (m.get("subscription") == "me")
      group_summary = nlohmann::json::parse(m.body)["chatRoomType"] == "GROUP";
  }
  CHECK(group_summary);
  srv.stop();
}

TEST_CASE("a keep-alive connection in use outlives connect_timeout; an idle one is closed",
          "[server][integration][keepalive]") {
  auto cfg = small_config();
  cfg.connect_timeout = std::chrono::milliseconds(1000);
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), srv.port()});
  beast::flat_buffer b;
  const auto call = [&] {
    http::request<http::string_body> req(http::verb::post, "/v1/auth/login", 11);
    req.set(http::field::host, "127.0.0.1");
    req.body() = R"({"email":"user00001@test.com","password":"password123!"})";
    req.prepare_payload();
    http::write(s, req);
    http::response<http::string_body> res;
    http::read(s, b, res);
    return res;
  };
  // One request every 0.4 s for 3 s: three times the timeout, on one connection.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  int done = 0;
  auto idle_from = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < until) {
    const auto res = call();
    idle_from = std::chrono::steady_clock::now();
    REQUIRE(res.result_int() == 200);
    CHECK(res.keep_alive());
    CHECK(res[http::field::keep_alive] == "timeout=1");
    ++done;
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
  }
  CHECK(done >= 7);
  // Idle longer than the timeout: the server closes it (the read sees the end).
  char byte;
  beast::error_code ec;
  std::thread watchdog([&] {
    std::this_thread::sleep_for(std::chrono::seconds(5));
    beast::error_code ignored;
    s.shutdown(tcp::socket::shutdown_both, ignored);
  });
  s.read_some(net::buffer(&byte, 1), ec);
  const auto idle_for = std::chrono::steady_clock::now() - idle_from;
  watchdog.join();
  CHECK(ec == net::error::eof);
  CHECK(idle_for >= std::chrono::milliseconds(900));
  CHECK(idle_for < std::chrono::milliseconds(3500));

  // A request that begins but never ends is still cut after the timeout.
  tcp::socket slow(ioc);
  slow.connect({net::ip::make_address("127.0.0.1"), srv.port()});
  net::write(slow, net::buffer("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"s));
  const auto started = std::chrono::steady_clock::now();
  slow.read_some(net::buffer(&byte, 1), ec);
  CHECK(ec == net::error::eof);
  CHECK(std::chrono::steady_clock::now() - started < std::chrono::milliseconds(3500));
  srv.stop();
}

TEST_CASE("max_sessions counts upgraded sessions before their CONNECT, so the limit holds exactly",
          "[server][integration][max_sessions]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  cfg.max_sessions = 3;
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  // Eight upgrades first, no CONNECT yet: three get a place, the others 503.
  std::vector<std::unique_ptr<stomp_test_client>> upgraded;
  int refused = 0;
  for (int i = 0; i < 8; ++i) {
    try {
      upgraded.push_back(std::make_unique<stomp_test_client>(port));
    } catch (const std::exception&) {
      ++refused;
    }
  }
  CHECK(upgraded.size() == 3);
  CHECK(refused == 5);
  for (auto& c : upgraded)
    CHECK(c->connect(""));
  CHECK(srv.stats().sessions == 3);
  // A session that leaves, CONNECTed or not, gives its place back.
  upgraded.pop_back();
  CHECK(eventually_sessions(srv, 2));
  stomp_test_client again(port);
  CHECK_THROWS(stomp_test_client(port));
  CHECK(again.connect(""));
  CHECK(srv.stats().sessions == 3);
  srv.stop();
}

TEST_CASE("WebSocket pings alone keep a session alive for the heart-beat check",
          "[server][integration][heartbeat]") {
  auto cfg = small_config();
  cfg.heartbeat_recv_ms = 200; // silent for 200 ms x grace 2 = 400 ms: dead
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  stomp_test_client c(port);
  REQUIRE(c.connect(login(port, 1), "200,0"));
  // Only pings, every 100 ms, for 1.5 s: no STOMP heart-beat at all.
  for (int i = 0; i < 15; ++i) {
    c.ping("p");
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  c.subscribe("s", "/topic/chat.room.1", "still-alive");
  frame f;
  REQUIRE(c.next(f) == wait_result::frame);
  CHECK(f.cmd == command::receipt);
  CHECK(f.get("message") == std::nullopt);
  CHECK(srv.stats().heartbeat_timeouts == 0);
  // Once the pings stop, the check still ends a silent session.
  REQUIRE(c.expect(command::error, f, std::chrono::seconds(3)));
  CHECK(f.get("message") == "heart-beat timeout");
  srv.stop();
}

TEST_CASE("SUBSCRIBE takes ack:auto only; other modes and invalid values get ERROR",
          "[server][integration][ack]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto subscribe = [&](std::optional<std::string> ack) {
    stomp_test_client c(port);
    REQUIRE(c.connect(""));
    frame s(command::subscribe);
    s.add("id", "s").add("destination", "/topic/x").add("receipt", "r");
    if (ack)
      s.add("ack", *ack);
    c.send(s);
    frame f;
    REQUIRE(c.next(f) == wait_result::frame);
    return f;
  };
  CHECK(subscribe("auto"s).cmd == command::receipt);
  CHECK(subscribe(std::nullopt).cmd == command::receipt);
  for (const auto& mode : {"client"s, "client-individual"s}) {
    const auto f = subscribe(mode);
    CHECK(f.cmd == command::error);
    CHECK(f.get("message") == "only ack:auto is supported");
    CHECK(f.get("receipt-id") == "r");
  }
  const auto bad = subscribe("bogus"s);
  CHECK(bad.cmd == command::error);
  CHECK(bad.get("message") == "invalid ack mode");
  srv.stop();
}

TEST_CASE("a failed version negotiation's ERROR lists the supported versions",
          "[server][integration][version]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  stomp_test_client c(port);
  frame conn(command::connect);
  conn.add("accept-version", "1.0,1.1").add("Authorization", "Bearer " + login(port, 1));
  c.send(conn);
  frame f;
  REQUIRE(c.expect(command::error, f));
  CHECK(f.get("version") == "1.2");
  CHECK(f.get("message") == "Supported protocol versions are 1.2");
  CHECK(c.next(f) == wait_result::closed);
  CHECK(srv.stats().protocol_errors == 1);
  srv.stop();
}
