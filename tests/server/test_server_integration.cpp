#include "server/server.hpp"

#include "tests/server/chat_support.hpp"
#include "tests/server/test_client.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
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
  c.admin_token = "adm-token";
  return c;
}

// Polls a condition for up to 5 s (the server acts on its own threads).
template<class F>
bool eventually(F&& f) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (std::chrono::steady_clock::now() < end) {
    if (f())
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return f();
}

} // namespace

TEST_CASE("REST login, refresh and rooms", "[server][integration]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  REQUIRE(port != 0);

  const auto bad = http_call(port, http::verb::post, "/v1/auth/login",
                             R"({"email":"user00001@test.com","password":"nope"})");
  CHECK(bad.status == 401);
  CHECK(nlohmann::json::parse(bad.body)["result"] == "ERROR");
  CHECK(http_call(port, http::verb::post, "/v1/auth/login",
                  R"({"email":"user99999@test.com","password":"password123!"})")
            .status == 404);
  CHECK(http_call(port, http::verb::post, "/v1/auth/login", "not json").status == 400);

  const auto r = http_call(port, http::verb::post, "/v1/auth/login",
                           R"({"email":"user00001@test.com","password":"password123!"})");
  REQUIRE(r.status == 200);
  const auto j = nlohmann::json::parse(r.body);
  const std::string access = j["data"]["tokenInfo"]["accessToken"];
  const std::string refresh = j["data"]["tokenInfo"]["refreshToken"];
  CHECK(j["error"].is_null());

  const auto rr = http_call(port, http::verb::post, "/v1/auth/refresh",
                            nlohmann::json({{"refreshToken", refresh}}).dump());
  REQUIRE(rr.status == 200);
  CHECK(nlohmann::json::parse(rr.body)["data"]["accessTokenExpiresIn"] == 3600);
  // An access token is not a refresh token.
  CHECK(http_call(port, http::verb::post, "/v1/auth/refresh",
                  nlohmann::json({{"refreshToken", access}}).dump())
            .status == 401);

  const std::string bearer = "Bearer " + access;
  CHECK(http_call(port, http::verb::get, "/v1/chat/rooms/me").status == 401);
  const auto me = http_call(port, http::verb::get, "/v1/chat/rooms/me", {}, bearer);
  REQUIRE(me.status == 200);
  CHECK(nlohmann::json::parse(me.body)["data"][0]["roomId"] == 1);

  const auto g = http_call(port, http::verb::post,
                           "/v1/chat/rooms/group?otherMemberIds=2&otherMemberIds=250", {}, bearer);
  REQUIRE(g.status == 200);
  const auto room = nlohmann::json::parse(g.body)["data"].get<int>();
  CHECK(room == 4);
  const auto p1 =
      http_call(port, http::verb::post, "/v1/chat/rooms/private?otherMemberId=9", {}, bearer);
  const auto p2 =
      http_call(port, http::verb::post, "/v1/chat/rooms/private?otherMemberId=9", {}, bearer);
  REQUIRE(p1.status == 200);
  CHECK(nlohmann::json::parse(p1.body)["data"] == nlohmann::json::parse(p2.body)["data"]);
  CHECK(http_call(port, http::verb::post, "/v1/chat/rooms/4", {}, bearer).status == 200);
  CHECK(http_call(port, http::verb::post, "/v1/chat/rooms/999", {}, bearer).status == 404);
  CHECK(http_call(port, http::verb::get, "/v1/nothing").status == 404);
  srv.stop();
}

TEST_CASE("STOMP chat round trip with per-room seq", "[server][integration]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto t1 = login(port, 1);
  const auto t2 = login(port, 2);
  const auto t150 = login(port, 150);

  stomp_test_client a(port), b(port), other(port);
  REQUIRE(a.connect(t1));
  REQUIRE(b.connect(t2));
  REQUIRE(other.connect(t150));
  REQUIRE(a.subscribe_sync("sub-0", "/topic/chat/room/1"));
  REQUIRE(b.subscribe_sync("sub-7", "/topic/chat.room.1"));
  REQUIRE(other.subscribe_sync("sub-0", "/topic/chat/room/2"));

  for (int i = 1; i <= 2; ++i) {
    a.send_to("/publish/1", chat_body(1, 1, "[W1-N" + std::to_string(i) + "] hi"));
    frame m;
    REQUIRE(a.expect(command::message, m));
    CHECK(m.get("subscription") == "sub-0");
    CHECK(m.get("destination") == "/topic/chat/room/1");
    CHECK(m.get("content-type") == "application/json");
    CHECK(m.get("message-id").has_value());
    const auto body = nlohmann::json::parse(m.body);
    CHECK(body["seq"] == i);
    CHECK(body["roomId"] == 1);
    CHECK(body["senderId"] == 1);
    CHECK(body["type"] == "TEXT");
    CHECK(body["content"] == "[W1-N" + std::to_string(i) + "] hi");
    CHECK_FALSE(body.contains("fileUrl"));
    REQUIRE(b.expect(command::message, m));
    CHECK(m.get("subscription") == "sub-7");
    CHECK(m.get("destination") == "/topic/chat.room.1");
    CHECK(nlohmann::json::parse(m.body)["seq"] == i);
  }
  frame none;
  CHECK(other.next(none, std::chrono::milliseconds(300)) == wait_result::timeout);
  CHECK(srv.stats().messages == 2);
  srv.stop();
}

TEST_CASE("STOMP errors close only the offending session", "[server][integration]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto t1 = login(port, 1);
  stomp_test_client bystander(port);
  REQUIRE(bystander.connect(t1));
  REQUIRE(bystander.subscribe_sync("s", "/topic/chat.room.1"));
  frame f;

  SECTION("subscribe to a room one is not in") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    c.subscribe("x", "/topic/chat.room.2");
    REQUIRE(c.expect(command::error, f));
    CHECK(f.get("message") == "UNAUTHORIZED_ROOM_MEMBER");
    CHECK(c.next(f) == wait_result::closed);
  }
  SECTION("another member's personal topic") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    REQUIRE(c.subscribe_sync("me", "/topic/user.1.room-summary"));
    c.subscribe("x", "/topic/user.2.room-summary");
    REQUIRE(c.expect(command::error, f));
    CHECK(f.get("message") == "UNAUTHORIZED_TOPIC");
  }
  SECTION("malformed frame") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    c.send_raw("SEND\ndestination:/publish/1\nbad\\tescape:x\n\n{}\0"s);
    REQUIRE(c.expect(command::error, f));
    CHECK(c.next(f) == wait_result::closed);
  }
  SECTION("frame before CONNECT") {
    stomp_test_client c(port);
    c.subscribe("x", "/topic/chat.room.1");
    REQUIRE(c.expect(command::error, f));
    CHECK(f.get("message") == "expected CONNECT");
    CHECK(c.next(f) == wait_result::closed);
  }
  SECTION("second CONNECT") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    frame again(command::connect);
    again.add("accept-version", "1.2").add("Authorization", "Bearer " + t1);
    c.send(again);
    REQUIRE(c.expect(command::error, f));
    CHECK(f.get("message") == "already connected");
  }
  SECTION("bad token") {
    stomp_test_client c(port);
    CHECK_FALSE(c.connect(t1 + "x"));
    CHECK(srv.stats().auth_failures >= 1);
  }
  SECTION("token as passcode") {
    stomp_test_client c(port);
    frame conn(command::connect);
    conn.add("accept-version", "1.2").add("login", "x").add("passcode", t1);
    c.send(conn);
    CHECK(c.expect(command::connected, f));
  }
  SECTION("token on the upgrade request") {
    stomp_test_client c(port, "/ws-stomp", "Bearer " + t1);
    CHECK(c.connect(""));
  }
  SECTION("body on SUBSCRIBE (ST-13)") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    c.send_raw("SUBSCRIBE\nid:1\ndestination:/topic/chat.room.1\n\nbody\0"s);
    REQUIRE(c.expect(command::error, f));
  }
  SECTION("oversized frame") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    c.send_to("/publish/1", std::string(600 * 1024, 'x'));
    REQUIRE(c.expect(command::error, f));
    CHECK(f.get("message") == "frame exceeds the maximum size");
    CHECK(c.next(f) == wait_result::closed);
    CHECK(srv.stats().protocol_errors == 1);
  }
  SECTION("one WebSocket message far over the frame limit still gets an ERROR") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    c.send_to("/publish/1", std::string(3 * 1024 * 1024, 'x'));
    REQUIRE(c.expect(command::error, f));
    CHECK(f.get("message") == "frame exceeds the maximum size");
    CHECK(c.next(f) == wait_result::closed);
  }
  SECTION("sender mismatch") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    c.send_to("/publish/1", chat_body(1, 2, "spoof"));
    REQUIRE(c.expect(command::error, f));
    CHECK(f.get("message") == "SENDER_MISMATCH");
  }
  SECTION("room id mismatch") {
    stomp_test_client c(port);
    REQUIRE(c.connect(t1));
    c.send_to("/publish/1", chat_body(2, 1, "x"));
    REQUIRE(c.expect(command::error, f));
    CHECK(f.get("message") == "ROOM_ID_MISMATCH");
  }
  SECTION("wrong WebSocket path") {
    CHECK_THROWS(stomp_test_client(port, "/ws"));
  }
  // The bystander is unaffected: its room still works.
  bystander.send_to("/publish/1", chat_body(1, 1, "still here"));
  REQUIRE(bystander.expect(command::message, f));
  CHECK(nlohmann::json::parse(f.body)["content"] == "still here");
  CHECK(srv.stats().sessions >= 1);
  srv.stop();
}

TEST_CASE("receipts and DISCONNECT", "[server][integration]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto t1 = login(srv.port(), 1);
  stomp_test_client c(srv.port());
  REQUIRE(c.connect(t1));
  frame d(command::disconnect);
  d.add("receipt", "bye");
  c.send(d);
  frame f;
  REQUIRE(c.expect(command::receipt, f));
  CHECK(f.get("receipt-id") == "bye");
  CHECK(c.next(f) == wait_result::closed);
  CHECK(eventually([&] { return srv.stats().sessions == 0; }));
  srv.stop();
}

TEST_CASE("fault interface: drop and close are counted", "[server][integration][faults]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto t1 = login(port, 1);
  stomp_test_client a(port), b(port);
  REQUIRE(a.connect(t1));
  REQUIRE(b.connect(t1));
  REQUIRE(a.subscribe_sync("s", "/topic/chat.room.1"));

  srv.faults().drop_broadcasts(1.0);
  a.send_to("/publish/1", chat_body(1, 1, "dropped"));
  frame f;
  CHECK(a.next(f, std::chrono::milliseconds(300)) == wait_result::timeout);
  CHECK(srv.stats().dropped_broadcasts == 1);
  CHECK(srv.faults().dropped_broadcasts().at(1) == 1);
  srv.faults().clear();

  srv.faults().close_sessions(1.0, false);
  CHECK(b.next(f) == wait_result::closed);
  CHECK(eventually([&] { return srv.stats().fault_closed_sessions == 2; }));
  CHECK(eventually([&] { return srv.stats().sessions == 0; }));
  srv.stop();
}

TEST_CASE("fault interface over HTTP needs the admin token", "[server][integration][faults]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  CHECK(http_call(port, http::verb::post, "/admin/faults/drop-broadcasts?fraction=1").status ==
        403);
  CHECK(http_call(port, http::verb::post, "/admin/faults/drop-broadcasts?fraction=1", {},
                  "Bearer wrong")
            .status == 403);
  CHECK(http_call(port, http::verb::post, "/admin/faults/drop-broadcasts?fraction=2", {},
                  "Bearer adm-token")
            .status == 400);
  CHECK(http_call(port, http::verb::post, "/admin/faults/refuse-connections?on=true", {},
                  "Bearer adm-token")
            .status == 200);
  CHECK_THROWS(http_call(port, http::verb::get, "/metrics"));
  // Counted on the IO thread right after the reset the client already saw.
  CHECK(eventually([&] { return srv.stats().refused_connections >= 1; }));
  // The admin endpoint stays reachable while every other request is refused, so the fault's
  // rollback (and a server.restart's steps) can come over it.
  CHECK(http_call(port, http::verb::get, "/admin/stats", {}, "Bearer adm-token").status == 200);
  CHECK(http_call(port, http::verb::post, "/admin/faults/restart-listener", {}, "Bearer adm-token")
            .status == 200);
  CHECK(eventually([&] {
    try {
      return http_call(port, http::verb::post, "/admin/faults/refuse-connections?on=false", {},
                       "Bearer adm-token")
                 .status == 200;
    } catch (const std::exception&) {
      return false; // the fresh listener is not open yet
    }
  }));
  CHECK(eventually([&] {
    try {
      return http_call(port, http::verb::get, "/metrics").status == 200;
    } catch (const std::exception&) {
      return false;
    }
  }));
  srv.stop();
}

TEST_CASE("a server held at every turn of its queue still takes a burst of connections in a "
          "few turns",
          "[server][integration][faults]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  // Every turn of the IO thread's queue now holds it 40 ms, as on a server short of CPU: an
  // accept that waited for the next turn after each connection would take 150 turns here.
  srv.faults().stall_io(std::chrono::milliseconds(40));
  REQUIRE(eventually([&] { return srv.faults().tally().stalled_turns >= 1; }));
  net::io_context ioc;
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 150; ++i) {
    clients.emplace_back(ioc);
    // Completes in the kernel's listen queue, whatever the server's thread is doing.
    clients.back().connect({net::ip::make_address("127.0.0.1"), port});
  }
  const auto turns = srv.faults().tally().stalled_turns;
  REQUIRE(eventually([&] { return srv.faults().tally().stalled_turns >= turns + 6; }));
  CHECK(srv.stats().connections == 150);
  srv.faults().clear();
  const auto after_clear = srv.faults().tally().stalled_turns;
  CHECK(http_call(port, http::verb::get, "/metrics").status == 200);
  CHECK(srv.faults().tally().stalled_turns <= after_clear + 1);
  srv.stop();
}

TEST_CASE("the stall fault over HTTP takes 0 to 1000 ms and no cohort",
          "[server][integration][faults]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const std::string admin = "Bearer adm-token";
  CHECK(http_call(port, http::verb::post, "/admin/faults/stall?ms=1001", {}, admin).status ==
        400);
  CHECK(http_call(port, http::verb::post, "/admin/faults/stall?ms=x", {}, admin).status == 400);
  CHECK(http_call(port, http::verb::post, "/admin/faults/stall?ms=5", R"({"rooms":[1]})", admin)
            .status == 400);
  CHECK(srv.faults().tally().stalled_turns == 0);
  CHECK(http_call(port, http::verb::post, "/admin/faults/stall?ms=5", {}, admin).status == 200);
  CHECK(eventually([&] { return srv.faults().tally().stalled_turns >= 3; }));
  const auto stats = nlohmann::json::parse(
      http_call(port, http::verb::get, "/admin/stats", {}, admin).body);
  CHECK(stats["data"]["faultTally"]["stalledTurns"].get<std::uint64_t>() >= 3);
  CHECK(http_call(port, http::verb::post, "/admin/faults/stall?ms=0", {}, admin).status == 200);
  srv.stop();
}

TEST_CASE("fault cohorts act on their members only, over HTTP too",
          "[server][integration][faults]") {
  server srv(small_config()); // rooms of 100: member 1 in room 1, member 150 in room 2
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto t1 = login(port, 1);
  const auto t150 = login(port, 150);
  const std::string admin = "Bearer adm-token";
  stomp_test_client a(port), b(port);
  REQUIRE(a.connect(t1));
  REQUIRE(b.connect(t150));
  REQUIRE(a.subscribe_sync("s", "/topic/chat.room.1"));
  // A cohort that is not one: 400, and nothing happens.
  CHECK(http_call(port, http::verb::post, "/admin/faults/close-sessions?fraction=1",
                  R"({"rooms":"2"})", admin)
            .status == 400);
  // Close the sessions of room 2's members: b goes, a stays.
  CHECK(http_call(port, http::verb::post, "/admin/faults/close-sessions?fraction=1",
                  R"({"rooms":[2]})", admin)
            .status == 200);
  frame f;
  CHECK(b.next(f) == wait_result::closed);
  CHECK(eventually([&] { return srv.stats().fault_closed_sessions == 1; }));
  CHECK(srv.stats().sessions == 1);
  // Drop the broadcasts member 150 sends (none here): member 1's still arrive.
  srv.faults().drop_broadcasts(1.0, fault_cohort{{}, {150}});
  a.send_to("/publish/1", chat_body(1, 1, "kept"));
  REQUIRE(a.expect(command::message, f));
  srv.faults().drop_broadcasts(1.0, fault_cohort{{1}, {1}});
  a.send_to("/publish/1", chat_body(1, 1, "dropped"));
  CHECK(a.next(f, std::chrono::milliseconds(300)) == wait_result::timeout);
  srv.faults().drop_broadcasts(0.0);
  // Refuse member 150 at CONNECT; member 1 still gets in.
  CHECK(http_call(port, http::verb::post, "/admin/faults/refuse-connections?on=true",
                  R"({"members":[150]})", admin)
            .status == 200);
  stomp_test_client c(port), d(port);
  CHECK_FALSE(c.connect(t150));
  CHECK(d.connect(t1));
  srv.faults().refuse_connections(false);
  // The tally over HTTP: one session closed, one broadcast dropped, one connection refused.
  const auto st = http_call(port, http::verb::get, "/admin/stats", {}, admin);
  REQUIRE(st.status == 200);
  const auto tally = nlohmann::json::parse(st.body)["data"]["faultTally"];
  CHECK(tally["closedSessions"] == 1);
  CHECK(tally["droppedBroadcasts"] == 1);
  CHECK(tally["refusedConnections"] == 1);
  srv.stop();
}

TEST_CASE("GET /metrics renders Prometheus text", "[server][integration][metrics]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto t1 = login(srv.port(), 1);
  stomp_test_client c(srv.port());
  REQUIRE(c.connect(t1));
  c.subscribe("x", "/topic/chat.room.2");
  frame f;
  REQUIRE(c.expect(command::error, f));
  const auto m = http_call(srv.port(), http::verb::get, "/metrics");
  REQUIRE(m.status == 200);
  CHECK_THAT(m.body, Catch::Contains("stompede_server_sessions_total 1"));
  CHECK_THAT(m.body, Catch::Contains("stompede_server_logins_total 1"));
  CHECK_THAT(m.body,
             Catch::Contains(
                 "stompede_server_protocol_errors_total{category=\"unauthorized_room_member\"} 1"));
  srv.stop();
}

TEST_CASE("broker mode relays any /topic unchanged without login", "[server][integration]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  stomp_test_client a(srv.port()), b(srv.port());
  REQUIRE(a.connect(""));
  REQUIRE(b.connect(""));
  REQUIRE(a.subscribe_sync("1", "/topic/x"));
  REQUIRE(b.subscribe_sync("2", "/topic/y"));
  frame s(command::send);
  s.add("destination", "/topic/x").add("content-type", "text/plain");
  s.body = "raw body";
  b.send(s);
  frame f;
  REQUIRE(a.expect(command::message, f));
  CHECK(f.body == "raw body");
  CHECK(f.get("subscription") == "1");
  CHECK(f.get("content-type") == "text/plain");
  CHECK(b.next(f, std::chrono::milliseconds(300)) == wait_result::timeout);
  srv.stop();
}

TEST_CASE("sessions on several IO threads all receive a broadcast", "[server][integration]") {
  auto cfg = small_config();
  cfg.io_threads = 2;
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  std::vector<std::unique_ptr<stomp_test_client>> clients;
  for (int i = 1; i <= 6; ++i) {
    clients.push_back(std::make_unique<stomp_test_client>(port));
    REQUIRE(clients.back()->connect(login(port, i)));
    REQUIRE(clients.back()->subscribe_sync("s", "/topic/chat.room.1"));
  }
  clients[0]->send_to("/publish/1", chat_body(1, 1, "all"));
  for (auto& c : clients) {
    frame f;
    REQUIRE(c->expect(command::message, f));
    CHECK(nlohmann::json::parse(f.body)["seq"] == 1);
  }
  srv.stop();
}

TEST_CASE("a client that stops sending heart-beats gets an ERROR, then the close",
          "[server][integration]") {
  auto cfg = small_config();
  cfg.heartbeat_recv_ms = 100; // the server wants to hear from clients every 100 ms
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto t1 = login(port, 1);
  stomp_test_client c(port);
  REQUIRE(c.connect(t1, "100,0")); // promises a heart-beat every 100 ms, then sends none
  frame f;
  REQUIRE(c.expect(command::error, f));
  CHECK(f.get("message") == "heart-beat timeout");
  CHECK(c.next(f) == wait_result::closed);
  CHECK(srv.stats().heartbeat_timeouts == 1);
  srv.stop();
}

TEST_CASE("unreadCount counts what a member missed while not viewing the room",
          "[server][integration]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto t1 = login(port, 1);
  const auto t2 = login(port, 2);
  const auto unread_of = [&](const std::string& token) {
    const auto r = http_call(port, http::verb::get, "/v1/chat/rooms/me", {}, "Bearer " + token);
    REQUIRE(r.status == 200);
    const auto j = nlohmann::json::parse(r.body)["data"][0];
    REQUIRE(j["roomId"] == 1);
    return j["unreadCount"].get<int>();
  };
  const auto summary_unread = [](stomp_test_client& c) {
    frame m;
    REQUIRE(c.expect(command::message, m));
    const auto j = nlohmann::json::parse(m.body);
    CHECK(j["roomId"] == 1);
    CHECK(j["chatRoomType"] == "GROUP");
    CHECK(j["lastMessagePreview"] == "hello");
    return j["unreadCount"].get<int>();
  };

  stomp_test_client a(port), b(port);
  REQUIRE(a.connect(t1));
  REQUIRE(b.connect(t2));
  REQUIRE(a.subscribe_sync("room", "/topic/chat.room.1"));
  REQUIRE(b.subscribe_sync("me", "/topic/user.2.room-summary")); // not viewing room 1

  frame m;
  a.send_to("/publish/1", chat_body(1, 1, "hello"));
  REQUIRE(a.expect(command::message, m)); // a's own broadcast
  CHECK(summary_unread(b) == 1);
  a.send_to("/publish/1", chat_body(1, 1, "hello"));
  REQUIRE(a.expect(command::message, m));
  CHECK(summary_unread(b) == 2);
  CHECK(unread_of(t2) == 2);
  CHECK(unread_of(t1) == 0); // viewing the room, and the sender

  // Viewing the room reads it; leaving it starts counting again.
  REQUIRE(b.subscribe_sync("room", "/topic/chat/room/1"));
  CHECK(unread_of(t2) == 0);
  frame un(command::unsubscribe);
  un.add("id", "room").add("receipt", "u");
  b.send(un);
  REQUIRE(b.expect(command::receipt, m));
  a.send_to("/publish/1", chat_body(1, 1, "hello"));
  REQUIRE(a.expect(command::message, m));
  CHECK(summary_unread(b) == 1);
  CHECK(unread_of(t2) == 1);
  // Member 3 never connected: everything in the room is unread.
  CHECK(unread_of(login(port, 3)) == 3);
  srv.stop();
}

TEST_CASE("previews are cut on a character boundary and never end the server",
          "[server][integration]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  const auto t1 = login(port, 1);
  const auto t2 = login(port, 2);
  stomp_test_client a(port), b(port);
  REQUIRE(a.connect(t1));
  REQUIRE(b.connect(t2));
  REQUIRE(a.subscribe_sync("room", "/topic/chat.room.1"));
  REQUIRE(b.subscribe_sync("me", "/topic/user.2.room-summary"));
  // 1 + 2 x 200 bytes: a 100-byte cut would split an 'é' in half.
  std::string content = "a";
  for (int i = 0; i < 200; ++i)
    content += "\xC3\xA9";
  a.send_to("/publish/1", chat_body(1, 1, content));
  frame m;
  REQUIRE(a.expect(command::message, m));
  CHECK(nlohmann::json::parse(m.body)["content"] == content);
  REQUIRE(b.expect(command::message, m));
  const auto preview = nlohmann::json::parse(m.body)["lastMessagePreview"].get<std::string>();
  CHECK(preview == content.substr(0, 1 + 2 * 99)); // 100 characters
  // The room lists show the same preview, and the server is still there.
  const auto r = http_call(port, http::verb::get, "/v1/chat/rooms/me", {}, "Bearer " + t2);
  REQUIRE(r.status == 200);
  CHECK(nlohmann::json::parse(r.body)["data"][0]["lastMessagePreview"] == preview);
  // A 4-byte character across the cut too.
  std::string emoji = "ab";
  for (int i = 0; i < 120; ++i)
    emoji += "\xF0\x9F\x98\x80";
  a.send_to("/publish/1", chat_body(1, 1, emoji));
  REQUIRE(a.expect(command::message, m));
  REQUIRE(b.expect(command::message, m));
  CHECK(nlohmann::json::parse(m.body)["lastMessagePreview"] == emoji.substr(0, 2 + 4 * 98));
  CHECK(http_call(port, http::verb::get, "/v1/chat/rooms", {}, "Bearer " + t1).status == 200);
  srv.stop();
}

TEST_CASE("content that is not a string is refused", "[server][integration]") {
  server srv(small_config());
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  stomp_test_client a(port);
  REQUIRE(a.connect(login(port, 1)));
  a.send_to("/publish/1",
            R"({"roomId":1,"senderId":1,"type":"TEXT","content":{"a":[1,2]},"createdAt":"x"})");
  frame e;
  REQUIRE(a.expect(command::error, e));
  CHECK(e.get("message") == "INVALID_MESSAGE");
  CHECK(srv.stats().messages == 0);
  srv.stop();
}

TEST_CASE("broker mode relays a body that is not UTF-8 in a binary WebSocket message",
          "[server][integration]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  stomp_test_client a(srv.port()), b(srv.port());
  REQUIRE(a.connect(""));
  REQUIRE(b.connect(""));
  REQUIRE(a.subscribe_sync("1", "/topic/x"));
  b.send_binary(std::string("SEND\ndestination:/topic/x\ncontent-length:3\n\nh\xFFi") +
                std::string(1, '\0'));
  frame f;
  REQUIRE(a.expect(command::message, f));
  CHECK(f.body == "h\xFFi");
  CHECK(a.got_binary()); // a text message must be UTF-8: the subscriber would close otherwise
  // A UTF-8 body after it still comes as text, and the subscriber is still connected.
  frame s(command::send);
  s.add("destination", "/topic/x");
  s.body = "caf\xC3\xA9";
  b.send(s);
  REQUIRE(a.expect(command::message, f));
  CHECK(f.body == "caf\xC3\xA9");
  srv.stop();
}

TEST_CASE("senders on different IO threads cannot overtake each other's seq",
          "[server][integration]") {
  auto cfg = small_config();
  cfg.io_threads = 4;
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  constexpr int senders = 5, each = 200;
  stomp_test_client observer(port);
  REQUIRE(observer.connect(login(port, 10)));
  REQUIRE(observer.subscribe_sync("o", "/topic/chat.room.1"));
  std::vector<std::thread> threads;
  for (int s = 1; s <= senders; ++s) {
    const auto token = login(port, s);
    threads.emplace_back([port, token, s] {
      stomp_test_client c(port);
      if (!c.connect(token))
        return;
      for (int i = 0; i < each; ++i)
        c.send_to("/publish/1", chat_body(1, s, "m" + std::to_string(i)));
      frame r(command::disconnect);
      r.add("receipt", "bye");
      c.send(r);
      frame f;
      while (c.next(f) == wait_result::frame && f.cmd != command::receipt) {
      }
    });
  }
  std::uint64_t last = 0, inversions = 0, got = 0;
  frame f;
  while (got < senders * each && observer.expect(command::message, f)) {
    const auto seq = nlohmann::json::parse(f.body)["seq"].get<std::uint64_t>();
    inversions += seq <= last ? 1 : 0;
    last = seq;
    ++got;
  }
  for (auto& t : threads)
    t.join();
  CHECK(got == senders * each);
  CHECK(inversions == 0);
  srv.stop();
}

TEST_CASE("a subscriber that stops reading is cut at its queue bound or write time limit; "
          "readers get everything",
          "[server][integration]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  SECTION("the queue bound") {
    cfg.max_queue_bytes = 64 * 1024;
  }
  SECTION("the write time limit") {
    cfg.max_queue_bytes = 256 * 1024 * 1024;
    cfg.slow_consumer_timeout = std::chrono::milliseconds(500);
  }
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  stomp_test_client stuck(port), reader(port), publisher(port);
  REQUIRE(stuck.connect(""));
  REQUIRE(reader.connect(""));
  REQUIRE(publisher.connect(""));
  REQUIRE(stuck.subscribe_sync("s", "/topic/x"));
  REQUIRE(reader.subscribe_sync("r", "/topic/x"));
  // 24 MB: more than the kernel buffers of the stuck subscriber's connection can hold, so the
  // server's writes to it come back short, then its queue passes the bound.
  constexpr int count = 6000;
  const std::string body(4000, 'b');
  std::atomic<int> got{0};
  std::atomic<bool> reading{true};
  std::thread read_all([&] {
    frame f;
    while (got < count && reader.expect(command::message, f))
      got += f.body == body ? 1 : 0;
    reading = false;
  });
  frame s(command::send);
  s.add("destination", "/topic/x");
  s.body = body;
  for (int i = 0; i < count; ++i) {
    // The reader is a reader, not a second slow consumer: the publisher stays within 2 MB of
    // it (its kernel buffers hold that much), whatever the machine's load.
    while (reading && i - got > 500)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    publisher.send(s);
  }
  read_all.join();
  INFO("max_queue_bytes " << cfg.max_queue_bytes << ", slow consumer closes "
                          << srv.stats().slow_consumer_closes << ", sessions "
                          << srv.stats().sessions);
  CHECK(got == count);
  CHECK(eventually([&] { return srv.stats().slow_consumer_closes == 1; }));
  srv.stop();
}

TEST_CASE("pongs written while a slow reader's frames wait for its socket leave every frame "
          "whole, coalesced or not",
          "[server][integration]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  cfg.max_queue_bytes = 256 * 1024 * 1024;
  cfg.slow_consumer_timeout = std::chrono::seconds(30);
  SECTION("frames coalesced into messages") {
    cfg.coalesce_frames = true;
  }
  SECTION("a message per frame") {
    cfg.coalesce_frames = false;
  }
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  stomp_test_client slow(port), publisher(port);
  slow.shrink_receive_buffer();
  REQUIRE(slow.connect(""));
  REQUIRE(publisher.connect(""));
  REQUIRE(slow.subscribe_sync("s", "/topic/x"));
  // 12 MB to a reader that reads nothing yet: the server's writes come back short and wait,
  // one of them in the middle of a WebSocket message.
  constexpr int count = 3000;
  const std::string filler(3995, 'b');
  frame m(command::send);
  m.add("destination", "/topic/x");
  for (int i = 0; i < count; ++i) {
    char seq[8];
    std::snprintf(seq, sizeof seq, "%05d", i);
    m.body = seq + filler;
    publisher.send(m);
  }
  REQUIRE(eventually([&] { return srv.stats().messages == count; }));
  // Beast on the server answers each ping with a pong, which must wait for the message in
  // the middle of its write.
  constexpr int pings = 3;
  for (int i = 0; i < pings; ++i)
    slow.ping("p" + std::to_string(i));
  int in_order = 0;
  frame f;
  while (in_order < count && slow.expect(command::message, f)) {
    char seq[8];
    std::snprintf(seq, sizeof seq, "%05d", in_order);
    if (f.body != seq + filler)
      break;
    ++in_order;
  }
  CHECK(in_order == count);
  // The server reads a frame after a ping only once that ping's pong is written, so the
  // receipt of a DISCONNECT sent now comes after every pong.
  frame d(command::disconnect);
  d.add("receipt", "bye");
  slow.send(d);
  CHECK(slow.expect(command::receipt, f));
  CHECK(slow.pongs() == pings);
  CHECK(srv.stats().slow_consumer_closes == 0);
  srv.stop();
}

TEST_CASE("max_sessions refuses the upgrade beyond the limit with 503, and frees a place on close",
          "[server][integration]") {
  auto cfg = small_config();
  cfg.mode = server_mode::broker;
  cfg.max_sessions = 2;
  server srv(cfg);
  REQUIRE_FALSE(srv.start());
  const auto port = srv.port();
  auto a = std::make_unique<stomp_test_client>(port);
  stomp_test_client b(port);
  REQUIRE(a->connect(""));
  REQUIRE(b.connect(""));
  // The third upgrade is answered 503 TOO_MANY_SESSIONS: the handshake fails.
  CHECK_THROWS(stomp_test_client(port));
  CHECK(srv.stats().refused_connections == 1);
  // The others are untouched, and a place frees when one leaves.
  CHECK(b.subscribe_sync("s", "/topic/x"));
  a.reset();
  CHECK(eventually([&] { return srv.stats().sessions == 1; }));
  stomp_test_client c(port);
  CHECK(c.connect(""));
  srv.stop();
}
