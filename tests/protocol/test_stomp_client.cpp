#include "protocol/stomp_client.hpp"

#include "parse_helpers.hpp"

#include <catch2/catch.hpp>

#include <string>

using namespace stompede::stomp;
using namespace stompede::stomp::test;
using namespace std::string_literals;

namespace {

/// Parses exactly one frame from `wire` and hands it to the session.
struct harness {
  client_session session;
  parser p;
  frame_view f;

  explicit harness(client_options o = {}) : session(std::move(o)) {}

  client_event deliver(std::string_view wire) {
    p.feed(wire);
    auto s = p.next(f);
    REQUIRE(s == parse_status::frame);
    return session.on_frame(f);
  }

  void connect() {
    std::string out;
    session.connect(out);
    auto ev = deliver("CONNECTED\nversion:1.2\nheart-beat:5000,5000\n\n\0"s);
    REQUIRE(ev.kind == client_event::connected);
  }
};

frame reparse(const std::string& wire) {
  auto o = parse_whole(wire);
  REQUIRE_FALSE(o.error);
  REQUIRE(o.frames.size() == 1);
  return o.frames[0];
}

} // namespace

TEST_CASE("connect writes CONNECT with version, host, credentials, heart-beat and extras",
          "[stomp][client]") {
  client_options o;
  o.host = "chat.example";
  o.login = "alice";
  o.passcode = "pa:ss";
  o.connect_headers = {{"Authorization", "Bearer abc"}};
  o.heartbeat = {4000, 6000};
  client_session s{o};
  std::string out;
  s.connect(out);
  CHECK(s.state() == client_state::connecting);
  auto f = reparse(out);
  CHECK(f.cmd == command::connect);
  CHECK(f.get("accept-version") == std::optional<std::string_view>{"1.2"});
  CHECK(f.get("host") == std::optional<std::string_view>{"chat.example"});
  CHECK(f.get("login") == std::optional<std::string_view>{"alice"});
  CHECK(f.get("passcode") == std::optional<std::string_view>{"pa:ss"}); // not escaped
  CHECK(f.get("heart-beat") == std::optional<std::string_view>{"4000,6000"});
  CHECK(f.get("Authorization") == std::optional<std::string_view>{"Bearer abc"});

  client_options stomp_cmd;
  stomp_cmd.use_stomp_command = true;
  client_session s2{stomp_cmd};
  std::string out2;
  s2.connect(out2);
  CHECK(reparse(out2).cmd == command::stomp);
  CHECK_FALSE(reparse(out2).get("login"));
}

TEST_CASE("a connected session keeps no credentials", "[stomp][client]") {
  client_options o;
  o.login = "alice";
  o.passcode = "secret-passcode";
  o.connect_headers = {{"Authorization", "Bearer a-long-token-value-for-the-test"}};
  harness h{o};
  CHECK(h.session.options().passcode == "secret-passcode"); // still needed until CONNECTED
  h.connect();
  CHECK(h.session.options().login.empty());
  CHECK(h.session.options().passcode.empty());
  CHECK(h.session.options().connect_headers.empty());
  CHECK(h.session.options().host == "/");
}

TEST_CASE("CONNECTED negotiates heart-beats, a missing header means 0,0", "[stomp][client]") {
  client_options o;
  o.heartbeat = {10000, 10000};
  o.heartbeat_grace = 1.5;
  {
    harness h{o};
    std::string out;
    h.session.connect(out);
    auto ev = h.deliver("CONNECTED\nversion:1.2\nheart-beat:20000,5000\nserver:x/1\n\n\0"s);
    REQUIRE(ev.kind == client_event::connected);
    CHECK(ev.text == "x/1");
    CHECK(ev.heartbeat.send_every == std::chrono::milliseconds{10000});
    CHECK(ev.heartbeat.expect_every == std::chrono::milliseconds{20000});
    CHECK(ev.heartbeat.dead_after == std::chrono::milliseconds{30000});
    CHECK(h.session.state() == client_state::connected);
    CHECK(h.session.heartbeat().expect_every == std::chrono::milliseconds{20000});
  }
  {
    harness h{o};
    std::string out;
    h.session.connect(out);
    auto ev = h.deliver("CONNECTED\nversion:1.2\n\n\0"s);
    REQUIRE(ev.kind == client_event::connected);
    CHECK(ev.heartbeat.send_every.count() == 0);
    CHECK(ev.heartbeat.expect_every.count() == 0);
    CHECK(ev.heartbeat.dead_after.count() == 0);
  }
}

TEST_CASE("CONNECTED with a bad version or heart-beat is a protocol violation", "[stomp][client]") {
  struct row {
    std::string wire;
    errc code;
  };
  const row rows[] = {
      {"CONNECTED\nversion:1.0\n\n\0"s, errc::unsupported_version},
      {"CONNECTED\n\n\0"s, errc::missing_header},
      {"CONNECTED\nversion:1.2\nheart-beat:x\n\n\0"s, errc::malformed_header},
  };
  for (const auto& r : rows) {
    harness h;
    std::string out;
    h.session.connect(out);
    auto ev = h.deliver(r.wire);
    CHECK(ev.kind == client_event::protocol_violation);
    CHECK(ev.error_code == r.code);
    CHECK(h.session.state() == client_state::closed);
  }
}

TEST_CASE("MESSAGE before CONNECTED is a protocol violation", "[stomp][client]") {
  harness h;
  std::string out;
  h.session.connect(out);
  auto ev = h.deliver("MESSAGE\nsubscription:0\nmessage-id:1\ndestination:/t\n\nhi\0"s);
  CHECK(ev.kind == client_event::protocol_violation);
  CHECK(ev.error_code == errc::unexpected_frame);
  CHECK(h.session.state() == client_state::closed);

  harness idle; // nothing sent at all
  CHECK(idle.deliver("RECEIPT\nreceipt-id:1\n\n\0"s).kind == client_event::protocol_violation);
}

TEST_CASE("subscriptions, messages and ACK/NACK", "[stomp][client]") {
  harness h;
  h.connect();
  std::string out;
  h.session.subscribe(out, "sub-0", "/topic/room:1", "client-individual");
  CHECK(h.session.subscriptions() == 1);
  auto sub = reparse(out);
  CHECK(sub.cmd == command::subscribe);
  CHECK(sub.get("id") == std::optional<std::string_view>{"sub-0"});
  CHECK(sub.get("destination") == std::optional<std::string_view>{"/topic/room:1"});
  CHECK(sub.get("ack") == std::optional<std::string_view>{"client-individual"});
  CHECK(out.find("/topic/room\\c1") != std::string::npos);

  auto ev = h.deliver(
      "MESSAGE\nsubscription:sub-0\nmessage-id:m1\nack:a1\ndestination:/topic/room\\c1\n\n{}\0"s);
  REQUIRE(ev.kind == client_event::message);
  REQUIRE(ev.frame != nullptr);
  CHECK(ev.text == "sub-0");
  CHECK(ev.frame->body == "{}");

  out.clear();
  h.session.ack(out, "a1");
  CHECK(reparse(out).cmd == command::ack);
  CHECK(reparse(out).get("id") == std::optional<std::string_view>{"a1"});
  out.clear();
  h.session.nack(out, "a2");
  CHECK(reparse(out).cmd == command::nack);

  out.clear();
  h.session.unsubscribe(out, "sub-0");
  CHECK(h.session.subscriptions() == 0);
  CHECK(reparse(out).cmd == command::unsubscribe);
  CHECK(reparse(out).get("id") == std::optional<std::string_view>{"sub-0"});
}

TEST_CASE("SEND carries content-length and its receipt is matched on RECEIPT only",
          "[stomp][client]") {
  harness h;
  h.connect();
  std::string out;
  const std::string body = "{\"text\":\"a\\u0000b\"}\0tail"s;
  h.session.send(out, "/app/chat", body, "application/json", std::string_view{"r-1"});
  CHECK(h.session.pending_receipts() == 1);
  auto f = reparse(out);
  CHECK(f.cmd == command::send);
  CHECK(f.body == body);
  CHECK(f.get("content-length") == std::optional<std::string_view>{std::to_string(body.size())});
  CHECK(f.get("receipt") == std::optional<std::string_view>{"r-1"});
  CHECK(f.get("content-type") == std::optional<std::string_view>{"application/json"});

  // A broker that copies `receipt` into the delivered MESSAGE does not settle the receipt.
  auto msg = h.deliver("MESSAGE\nsubscription:s\nreceipt:r-1\n\n{}\0"s);
  CHECK(msg.kind == client_event::message);
  CHECK(h.session.pending_receipts() == 1);

  auto rc = h.deliver("RECEIPT\nreceipt-id:r-1\n\n\0"s);
  REQUIRE(rc.kind == client_event::receipt);
  CHECK(rc.text == "r-1");
  CHECK_FALSE(rc.disconnect_done);
  CHECK(h.session.pending_receipts() == 0);

  auto missing = h.deliver("RECEIPT\n\n\0"s);
  CHECK(missing.kind == client_event::protocol_violation);
  CHECK(missing.error_code == errc::missing_header);
}

TEST_CASE("DISCONNECT completes on its RECEIPT", "[stomp][client]") {
  harness h;
  h.connect();
  std::string out;
  h.session.disconnect(out, "bye-1");
  CHECK(h.session.state() == client_state::disconnecting);
  auto f = reparse(out);
  CHECK(f.cmd == command::disconnect);
  CHECK(f.get("receipt") == std::optional<std::string_view>{"bye-1"});
  auto other = h.deliver("RECEIPT\nreceipt-id:other\n\n\0"s);
  CHECK(other.kind == client_event::receipt);
  CHECK_FALSE(other.disconnect_done);
  auto ev = h.deliver("RECEIPT\nreceipt-id:bye-1\n\n\0"s);
  CHECK(ev.kind == client_event::receipt);
  CHECK(ev.disconnect_done);
  CHECK(h.session.state() == client_state::closed);
}

TEST_CASE("ERROR ends the session with its message", "[stomp][client]") {
  {
    harness h;
    h.connect();
    auto ev = h.deliver("ERROR\nmessage:Unknown destination\nreceipt-id:r\n\ndetails\0"s);
    CHECK(ev.kind == client_event::error);
    CHECK(ev.error_code == errc::error_frame);
    CHECK(ev.text == "Unknown destination");
    CHECK(ev.frame->get("receipt-id") == std::optional<std::string_view>{"r"});
    CHECK(h.session.state() == client_state::closed);
    auto after = h.deliver("MESSAGE\nsubscription:s\n\n\0"s);
    CHECK(after.kind == client_event::protocol_violation);
  }
  {
    harness h; // ERROR during CONNECT (bad login), message only in the body
    std::string out;
    h.session.connect(out);
    auto ev = h.deliver("ERROR\n\nAccess refused\nmore\0"s);
    CHECK(ev.kind == client_event::error);
    CHECK(ev.text == "Access refused");
  }
}

TEST_CASE("a server frame of a client command is a protocol violation", "[stomp][client]") {
  harness h;
  h.connect();
  auto ev = h.deliver("SEND\ndestination:/x\n\n\0"s);
  CHECK(ev.kind == client_event::protocol_violation);
  CHECK(ev.error_code == errc::unexpected_frame);
}
