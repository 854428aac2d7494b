// Protocol details of the embedded server that an outside client can observe: room summaries,
// HTTP keep-alive and handshake answers, STOMP negotiation, limits and liveness.

#include "server/server.hpp"

#include "tests/server/chat_support.hpp"
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

/// Reads what arrives on `s` within `timeout`: false on timeout, else `ec` says how it ended
/// (`n` bytes appended to `out`).
bool read_within(net::io_context& ioc, tcp::socket& s, std::chrono::milliseconds timeout,
                 std::string& out, beast::error_code& ec) {
  char chunk[256];
  bool done = false;
  s.async_read_some(net::buffer(chunk), [&](beast::error_code e, std::size_t n) {
    ec = e;
    out.append(chunk, n);
    done = true;
  });
  ioc.restart();
  ioc.run_for(timeout);
  if (!done) {
    s.cancel();
    ioc.restart();
    ioc.run();
  }
  return done;
}

bool eventually_sessions(server& srv, std::uint64_t n) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (srv.stats().sessions != n && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return srv.stats().sessions == n;
}

bool eventually_slow_cut(server& srv) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (srv.stats().slow_consumer_closes == 0 && std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return srv.stats().slow_consumer_closes == 1;
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
  std::string rest;
  beast::error_code ec;
  CHECK(read_within(ioc, s, std::chrono::seconds(5), rest, ec));
  const auto idle_for = std::chrono::steady_clock::now() - idle_from;
  CHECK(ec == net::error::eof);
  CHECK(idle_for >= std::chrono::milliseconds(900));
  CHECK(idle_for < std::chrono::milliseconds(3500));

  // A request that begins but never ends is still cut after the timeout.
  tcp::socket slow(ioc);
  slow.connect({net::ip::make_address("127.0.0.1"), srv.port()});
  net::write(slow, net::buffer("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n"s));
  const auto started = std::chrono::steady_clock::now();
  CHECK(read_within(ioc, slow, std::chrono::seconds(5), rest, ec));
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

TEST_CASE("ack:client and client-individual MESSAGE frames carry ack; ACK and NACK need id; "
          "an invalid ack mode gets ERROR",
          "[server][integration][ack]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  // Subscribes with `ack` (none: no header), publishes one message on the topic, and returns
  // the SUBSCRIBE's answer and the MESSAGE that came back.
  const auto round = [&](std::optional<std::string> ack, frame& answer, frame& message) {
    stomp_test_client c(port);
    REQUIRE(c.connect(""));
    frame s(command::subscribe);
    s.add("id", "s-1").add("destination", "/topic/x").add("receipt", "r");
    if (ack)
      s.add("ack", *ack);
    c.send(s);
    REQUIRE(c.next(answer) == wait_result::frame);
    if (answer.cmd != command::receipt)
      return;
    frame send(command::send);
    send.add("destination", "/topic/x");
    send.body = "hello";
    c.send(send);
    REQUIRE(c.expect(command::message, message));
    // ACK and NACK name what they acknowledge (STOMP 1.2); nothing is redelivered either way.
    frame a(command::ack);
    a.add("id", std::string(message.get("ack").value_or("x"))).add("receipt", "a");
    c.send(a);
    frame f;
    REQUIRE(c.next(f) == wait_result::frame);
    CHECK(f.cmd == command::receipt);
    frame n(command::nack);
    n.add("receipt", "n");
    c.send(n);
    REQUIRE(c.next(f) == wait_result::frame);
    CHECK(f.cmd == command::error);
    CHECK(f.get("message") == "NACK needs id");
  };
  frame answer, message;
  for (const auto& mode : {std::optional<std::string>{}, std::optional<std::string>{"auto"}}) {
    round(mode, answer, message);
    CHECK(answer.cmd == command::receipt);
    CHECK(message.get("subscription") == "s-1");
    CHECK(message.get("ack") == std::nullopt);
    CHECK(message.body == "hello");
  }
  for (const auto& mode : {"client"s, "client-individual"s}) {
    round(mode, answer, message);
    CHECK(answer.cmd == command::receipt);
    CHECK(message.get("subscription") == "s-1");
    REQUIRE(message.get("ack"));
    CHECK(message.get("ack") == message.get("message-id"));
    CHECK(message.body == "hello");
  }
  round("bogus"s, answer, message);
  CHECK(answer.cmd == command::error);
  CHECK(answer.get("message") == "invalid ack mode");
  CHECK(answer.get("receipt-id") == "r");
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

namespace {

/// Writes `request` as is on a new connection and reads one response.
http::response<http::string_body> raw_http(std::uint16_t port, const std::string& request) {
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), port});
  net::write(s, net::buffer(request));
  beast::flat_buffer b;
  http::response<http::string_body> res;
  http::read(s, b, res);
  return res;
}

const std::string good_key = "dGhlIHNhbXBsZSBub25jZQ==";

std::string upgrade_request(const std::string& key, const std::string& extra = {}) {
  return "GET /ws-stomp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
         "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
         key + "\r\n" + extra + "\r\n";
}

} // namespace

TEST_CASE("HTTP and handshake answers: 400, 401, 405, 426, 431", "[server][integration][http]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();

  SECTION("a Sec-WebSocket-Key that is not 16 bytes in base64 gets 400") {
    CHECK(raw_http(port, upgrade_request(good_key)).result_int() == 101);
    for (const std::string key :
         {"short", "dGhlIHNhbXBsZSBub25jZQ=", "dGhlIHNhbXBsZSBub25jZQ==AA",
          "dGhlIHNhbXBsZSBub25j!Q==", "dGhlIHNhbXBsZSBub25jZQAA"}) {
      INFO(key);
      CHECK(raw_http(port, upgrade_request(key)).result_int() == 400);
    }
  }
  SECTION("/ws-stomp without a valid upgrade gets 426 or 400, not 404") {
    const auto plain = raw_http(port, "GET /ws-stomp HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(plain.result_int() == 426);
    CHECK(plain[http::field::upgrade] == "websocket");
    CHECK(raw_http(port, "POST /ws-stomp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n")
              .result_int() == 426);
    CHECK(raw_http(port, "POST /ws-stomp HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nContent-Length: 0\r\n\r\n")
              .result_int() == 400);
    CHECK(raw_http(port, "GET /ws-stomp HTTP/1.0\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                         "Sec-WebSocket-Key: " +
                             good_key + "\r\n\r\n")
              .result_int() == 400);
    CHECK(raw_http(port, "GET /elsewhere HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").result_int() ==
          404);
  }
  SECTION("a known path with the wrong method gets 405 with Allow") {
    const auto get_login =
        raw_http(port, "GET /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(get_login.result_int() == 405);
    CHECK(get_login[http::field::allow] == "POST");
    const auto delete_me =
        raw_http(port, "DELETE /v1/chat/rooms/me HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(delete_me.result_int() == 405);
    CHECK(delete_me[http::field::allow] == "GET");
    const auto get_join = raw_http(port, "GET /v1/chat/rooms/3 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(get_join.result_int() == 405);
    CHECK(get_join[http::field::allow] == "POST");
    const auto post_metrics =
        raw_http(port, "POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
    CHECK(post_metrics.result_int() == 405);
    CHECK(post_metrics[http::field::allow] == "GET");
  }
  SECTION("401 answers carry WWW-Authenticate: Bearer") {
    const auto rooms = raw_http(port, "GET /v1/chat/rooms/me HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    CHECK(rooms.result_int() == 401);
    CHECK(rooms[http::field::www_authenticate] == "Bearer");
    const auto upgrade =
        raw_http(port, upgrade_request(good_key, "Authorization: Bearer not-a-token\r\n"));
    CHECK(upgrade.result_int() == 401);
    CHECK(upgrade[http::field::www_authenticate] == "Bearer");
  }
  SECTION("headers over the limit get 431") {
    CHECK(raw_http(port, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " +
                             std::string(20 * 1024, 'a') + "\r\n\r\n")
              .result_int() == 431);
  }
  SECTION("a request that cannot be parsed gets 400 before the close") {
    CHECK(raw_http(port, "POST /v1/auth/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         "Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!")
              .result_int() == 400);
    CHECK(raw_http(port, "NOT AN HTTP REQUEST\r\n\r\n").result_int() == 400);
  }
  // The server still answers.
  CHECK(http_call(port, http::verb::get, "/metrics").status == 200);
  srv.stop();
}

TEST_CASE("a WebSocket frame length with its most significant bit set fails the connection",
          "[server][integration][http]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), srv.port()});
  net::write(s, net::buffer(upgrade_request(good_key)));
  beast::flat_buffer b;
  http::response_parser<http::empty_body> p;
  http::read_header(s, b, p);
  REQUIRE(p.get().result_int() == 101);
  // FIN + text, masked, 64-bit length 0xFFFF...FF, then a mask key.
  std::string frame = "\x81\xFF"s + std::string(8, '\xFF') + "\x01\x02\x03\x04"s;
  net::write(s, net::buffer(frame));
  // The server's close frame arrives (instead of a wait for 2^64 bytes).
  std::string got(static_cast<const char*>(b.cdata().data()), b.size());
  beast::error_code ec;
  while (got.size() < 4 && !ec && read_within(ioc, s, std::chrono::seconds(5), got, ec)) {
  }
  REQUIRE(got.size() >= 4);
  CHECK(static_cast<unsigned char>(got[0]) == 0x88); // close
  const unsigned code = static_cast<unsigned char>(got[2]) * 256u + static_cast<unsigned char>(got[3]);
  // 1002 would name the cause best; Beast reports a length beyond any limit as 1009.
  CHECK((code == 1002 || code == 1009));
  srv.stop();
}

TEST_CASE("an upgrade whose Origin matches a re-pointed DNS name is refused (DNS rebinding)",
          "[server][integration][origin]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = std::to_string(srv.port());
  const auto with = [&](const std::string& host, const std::string& origin) {
    return raw_http(srv.port(),
                    "GET /ws-stomp HTTP/1.1\r\nHost: " + host +
                        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: " +
                        good_key + "\r\nOrigin: " + origin + "\r\n\r\n")
        .result_int();
  };
  CHECK(with("attacker.example:" + port, "http://attacker.example:" + port) == 403);
  CHECK(with("127.0.0.1:" + port, "http://127.0.0.1:" + port) == 101);
  CHECK(with("localhost:" + port, "http://localhost:" + port) == 101);
  CHECK(with("127.0.0.1:" + port, "http://attacker.example:" + port) == 403);
  // Non-browser clients send no Origin: any Host works, as the project's own client sends it.
  CHECK(raw_http(srv.port(), upgrade_request(good_key)).result_int() == 101);
  srv.stop();
}

TEST_CASE("a slow consumer that is cut gets a TCP reset, not the rest of its backlog",
          "[server][integration][slow]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  SECTION("at the queue bound") {
    cfg.max_queue_bytes = 64 * 1024;
  }
  SECTION("at the write time limit") {
    cfg.max_queue_bytes = 256 * 1024 * 1024;
    cfg.slow_consumer_timeout = std::chrono::milliseconds(500);
  }
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  stomp_test_client stuck(port), publisher(port);
  stuck.shrink_receive_buffer();
  REQUIRE(stuck.connect(""));
  REQUIRE(publisher.connect(""));
  REQUIRE(stuck.subscribe_sync("s", "/topic/x"));
  // 12 MB to a subscriber that reads nothing: more than the kernel buffers hold.
  frame s(command::send);
  s.add("destination", "/topic/x");
  s.body = std::string(4000, 'b');
  for (int i = 0; i < 3000 && srv.stats().slow_consumer_closes == 0; ++i)
    publisher.send(s);
  REQUIRE(eventually_slow_cut(srv));
  // What the cut subscriber reads now is what its own receive buffer held; the server's
  // backlog went with the reset.
  frame f;
  std::size_t frames = 0;
  while (stuck.next(f, std::chrono::seconds(10)) == wait_result::frame)
    ++frames;
  INFO("frames read after the cut: " << frames);
  CHECK(stuck.last_error() == net::error::connection_reset);
  srv.stop();
}
