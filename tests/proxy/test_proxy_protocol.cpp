// The protocol-aware toxics: stompede's WebSocket client (Beast) through the proxy to an echo
// WebSocket server (Beast), and raw WebSocket frames where a test needs fragments, pings or a
// server that negotiated permessage-deflate. The client checks what it gets with stompede's
// STOMP parser.

#include "protocol/stomp_frame.hpp"
#include "protocol/stomp_parser.hpp"
#include "protocol/ws_client.hpp"
#include "proxy/fault_proxy.hpp"
#include "proxy/ws_frame.hpp"
#include "tests/proxy/proxy_support.hpp"
#include "tests/transport/loopback_server.hpp"

#include <catch2/catch.hpp>

#include <functional>

using namespace proxy_test;
namespace proxy = stompede::proxy;
namespace stomp = stompede::stomp;
namespace net = stompede::net;
namespace ws = stompede::proxy::ws;

namespace {

struct recorder : net::ws_handler {
  explicit recorder(boost::asio::io_context& ioc) : ioc(ioc) {}
  void on_open(std::chrono::nanoseconds) override {
    opened = true;
    if (open_fn)
      open_fn();
  }
  void on_message(std::string_view data) override {
    messages.emplace_back(data);
    if (done_when && done_when())
      ioc.stop();
  }
  void on_close_frame(std::uint16_t code, std::string_view reason) override {
    close_code = code;
    close_reason = std::string(reason);
  }
  void on_closed(std::error_code ec) override {
    closed = true;
    closed_ec = ec;
    ioc.stop();
  }
  boost::asio::io_context& ioc;
  bool opened = false;
  bool closed = false;
  std::vector<std::string> messages;
  int close_code = -1;
  std::string close_reason;
  std::error_code closed_ec;
  std::function<void()> open_fn;
  std::function<bool()> done_when;
};

/// What a stream of WebSocket messages holds as STOMP.
struct parsed {
  std::vector<stomp::frame> frames;
  int heartbeats = 0;
  bool error = false;
};

parsed parse_all(const std::vector<std::string>& messages) {
  parsed out;
  stomp::parser p;
  for (const auto& m : messages) {
    p.feed(m);
    for (;;) {
      stomp::frame_view f;
      auto s = p.next(f);
      if (s == stomp::parse_status::frame)
        out.frames.push_back(stomp::frame::from_view(f));
      else if (s == stomp::parse_status::heartbeat)
        ++out.heartbeats;
      else {
        out.error = s == stomp::parse_status::error;
        break;
      }
    }
  }
  return out;
}

std::string message_frame(const std::string& dest, const std::string& id, const std::string& body) {
  stomp::frame f(stomp::command::message);
  f.add("destination", dest).add("message-id", id).add("subscription", "sub-0");
  f.body = body;
  return stomp::encode(f);
}

std::string receipt_frame() {
  stomp::frame f(stomp::command::receipt);
  f.add("receipt-id", "end");
  return stomp::encode(f);
}

bool has_receipt(const std::vector<std::string>& messages) {
  for (auto& f : parse_all(messages).frames)
    if (f.cmd == stomp::command::receipt)
      return true;
  return false;
}

/// An echo WebSocket server, the proxy in front of it, a client through the proxy.
struct rig {
  boost::asio::io_context ioc;
  test_support::loopback_server server{ioc, test_support::behaviour::echo};
  std::unique_ptr<proxy::fault_proxy> p;
  std::shared_ptr<recorder> rec = std::make_shared<recorder>(ioc);
  std::shared_ptr<net::ws_client> client;

  rig() {
    proxy::proxy_options o;
    o.upstream_port = server.port();
    o.seed = 7;
    std::string err;
    p = proxy::fault_proxy::start(o, err);
    INFO(err);
    REQUIRE(p);
  }

  proxy::toxic_id add(const std::string& spec) {
    std::string err;
    auto t = proxy::parse_toxic(spec, err);
    INFO(err);
    REQUIRE(t);
    return p->add_toxic(*t);
  }

  /// Connects, runs `open_fn` once open, and runs until done/closed or 10 s.
  void run() {
    net::ws_options o;
    auto u = net::parse_url("ws://127.0.0.1:" + std::to_string(p->port()) + "/ws");
    REQUIRE(u);
    o.target = *u;
    o.connect_timeout = std::chrono::seconds(3);
    o.handshake_timeout = std::chrono::seconds(3);
    client = net::make_ws_client(ioc, o, rec);
    client->start();
    ioc.run_for(std::chrono::seconds(10));
  }
};

std::string raw_upgrade_request() {
  return "GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
         "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
}

/// Reads one HTTP head (bounded).
std::string read_head(int fd) {
  std::string head;
  while (head.find("\r\n\r\n") == std::string::npos) {
    auto r = read_for(fd, 1, 5s);
    if (r.data.empty())
      break;
    head += r.data;
  }
  return head;
}

/// Reads one WebSocket frame (bounded); the payload unmasked.
bool read_frame(int fd, ws::frame_header& h, std::string& payload) {
  std::string buf;
  for (;;) {
    auto st = ws::parse_header(buf, h);
    if (st == ws::header_status::bad)
      return false;
    if (st == ws::header_status::ok && buf.size() >= h.header_len + h.payload_len)
      break;
    auto r = read_for(fd, 1, 5s);
    if (r.data.empty())
      return false;
    buf += r.data;
  }
  payload = buf.substr(h.header_len, static_cast<std::size_t>(h.payload_len));
  if (h.masked)
    ws::apply_mask(payload.data(), payload.size(), h.mask);
  return true;
}

} // namespace

TEST_CASE("frame_split sends one STOMP frame as several WebSocket messages, both ways, and "
          "stompede's client still parses it",
          "[proxy][protocol]") {
  rig r;
  const auto up = r.add("frame_split:upstream:parts=3,command=SEND");
  const auto down = r.add("frame_split:downstream:parts=4");
  stomp::frame sent(stomp::command::send);
  sent.add("destination", "/app/chat.room.1");
  for (int i = 0; i < 40; ++i)
    sent.body += "€uro ñ "; // multi-byte UTF-8: every part must stay valid text
  r.rec->open_fn = [&] { r.client->send(stomp::encode(sent)); };
  r.rec->done_when = [&] { return !parse_all(r.rec->messages).frames.empty(); };
  r.run();
  auto got = parse_all(r.rec->messages);
  REQUIRE(got.frames.size() == 1);
  CHECK_FALSE(got.error);
  CHECK(got.frames[0].cmd == stomp::command::send);
  CHECK(got.frames[0].get("destination") == std::optional<std::string_view>("/app/chat.room.1"));
  CHECK(got.frames[0].body == sent.body);
  CHECK(r.rec->messages.size() == 4);
  CHECK(r.p->counters(up)->frames_split == 1);
  CHECK(r.p->counters(down)->frames_split == 1);
  CHECK_FALSE(r.rec->closed); // no protocol error at either end
}

TEST_CASE(
    "frame_drop drops a room entirely or a fraction of it, and the rest arrives intact and in "
    "order",
    "[proxy][protocol]") {
  rig r;
  const auto room_a = r.add("frame_drop:downstream:destination=/topic/a");
  const auto room_b = r.add("frame_drop:downstream:destination=/topic/b,fraction=0.5");
  r.rec->open_fn = [&] {
    // Two frames per WebSocket message: the proxy must cut messages apart, not just drop them.
    for (int i = 0; i < 20; ++i)
      r.client->send(
          message_frame("/topic/a", "a" + std::to_string(i), "body a " + std::to_string(i)) +
          message_frame("/topic/b", "b" + std::to_string(i), "body b " + std::to_string(i)));
    r.client->send(receipt_frame());
  };
  r.rec->done_when = [&] { return has_receipt(r.rec->messages); };
  r.run();
  auto got = parse_all(r.rec->messages);
  CHECK_FALSE(got.error);
  REQUIRE(!got.frames.empty());
  CHECK(got.frames.back().cmd == stomp::command::receipt);
  int last = -1;
  std::uint64_t b_received = 0;
  for (auto& f : got.frames) {
    if (f.cmd != stomp::command::message)
      continue;
    const std::string dest(*f.get("destination"));
    CHECK(dest == "/topic/b");
    const int i = std::stoi(std::string(f.get("message-id")->substr(1)));
    CHECK(i > last); // in order
    last = i;
    CHECK(f.body == "body b " + std::to_string(i)); // intact
    ++b_received;
  }
  const auto a = r.p->counters(room_a);
  const auto b = r.p->counters(room_b);
  CHECK(a->frames_dropped == 20);
  CHECK(b->frames_dropped > 0);
  CHECK(b->frames_dropped < 20);
  CHECK(b_received + b->frames_dropped == 20);
}

TEST_CASE("heartbeat_stall swallows the heart-beats of its direction and nothing else",
          "[proxy][protocol]") {
  rig r;
  const auto id = r.add("heartbeat_stall:downstream");
  r.rec->open_fn = [&] {
    for (int i = 0; i < 5; ++i)
      r.client->send("\n");
    r.client->send(message_frame("/topic/x", "m1", "hello") + "\n\n");
    r.client->send(receipt_frame());
  };
  r.rec->done_when = [&] { return has_receipt(r.rec->messages); };
  r.run();
  auto got = parse_all(r.rec->messages);
  CHECK(got.heartbeats == 0);
  REQUIRE(got.frames.size() == 2);
  CHECK(got.frames[0].body == "hello");
  CHECK(r.p->counters(id)->heartbeats_dropped == 7);
}

TEST_CASE("frame_delay holds the chosen frames back, and what follows waits behind them",
          "[proxy][protocol]") {
  rig r;
  const auto id = r.add("frame_delay:downstream:latency=300ms,destination=/topic/slow");
  clock_type::time_point t0;
  r.rec->open_fn = [&] {
    t0 = clock_type::now();
    r.client->send(message_frame("/topic/slow", "s", "slow"));
    r.client->send(message_frame("/topic/fast", "f", "fast"));
    r.client->send(receipt_frame());
  };
  r.rec->done_when = [&] { return has_receipt(r.rec->messages); };
  r.run();
  auto got = parse_all(r.rec->messages);
  REQUIRE(got.frames.size() == 3);
  CHECK(got.frames[0].body == "slow");
  CHECK(got.frames[1].body == "fast");
  CHECK(ms_since(t0) >= 290);
  CHECK(r.p->counters(id)->frames_delayed == 1);
}

TEST_CASE("frame_throttle paces one room's frames, and nothing is lost or reordered",
          "[proxy][protocol]") {
  rig r;
  // 10 frames a second for /topic/slow: of its 5 frames, sent in one message, only the first
  // has its slot at once; the others wait for theirs, 100 ms apart.
  const auto id = r.add("frame_throttle:downstream:rate=10,destination=/topic/slow");
  r.rec->open_fn = [&] {
    std::string burst;
    for (int i = 0; i < 5; ++i)
      burst += message_frame("/topic/slow", "s" + std::to_string(i), "slow " + std::to_string(i)) +
               message_frame("/topic/fast", "f" + std::to_string(i), "fast " + std::to_string(i));
    r.client->send(burst);
    r.client->send(receipt_frame());
  };
  r.rec->done_when = [&] { return has_receipt(r.rec->messages); };
  r.run();
  auto got = parse_all(r.rec->messages);
  CHECK_FALSE(got.error);
  REQUIRE(got.frames.size() == 11);
  for (int i = 0; i < 5; ++i) {
    CHECK(got.frames[2 * i].body == "slow " + std::to_string(i));
    CHECK(got.frames[2 * i + 1].body == "fast " + std::to_string(i));
  }
  const auto c = r.p->counters(id);
  CHECK(c->frames_delayed >= 1);
  CHECK(c->frames_delayed <= 4); // the first frame had its slot at once
  CHECK(c->bytes_delayed > 0);
  CHECK(c->frames_dropped == 0);
}

TEST_CASE("ws_close sends the client a close frame with the chosen code", "[proxy][protocol]") {
  rig r;
  const auto id =
      r.add("ws_close:downstream:close_code=4001,close_reason=proxy says bye,delay=100ms");
  r.run();
  CHECK(r.rec->opened);
  CHECK(r.rec->closed);
  CHECK(r.rec->close_code == 4001);
  CHECK(r.rec->close_reason == "proxy says bye");
  CHECK(r.rec->closed_ec == net::transport_errc::closed_by_peer);
  CHECK(r.p->counters(id)->closes == 1);
}

TEST_CASE("inject_error puts a STOMP ERROR frame into the downstream", "[proxy][protocol]") {
  rig r;
  const auto id = r.add("inject_error:error_message=injected by test,error_body=details");
  r.rec->done_when = [&] { return !parse_all(r.rec->messages).frames.empty(); };
  r.run();
  auto got = parse_all(r.rec->messages);
  REQUIRE(got.frames.size() == 1);
  CHECK(got.frames[0].cmd == stomp::command::error);
  CHECK(got.frames[0].get("message") == std::optional<std::string_view>("injected by test"));
  CHECK(got.frames[0].body == "details");
  CHECK(r.p->counters(id)->frames_injected == 1);
}

TEST_CASE("fragmented messages are reassembled and re-masked, and control frames pass",
          "[proxy][protocol]") {
  boost::asio::io_context ioc;
  test_support::loopback_server server{ioc, test_support::behaviour::echo};
  std::thread io([&] { ioc.run_for(std::chrono::seconds(10)); });
  proxy::proxy_options o;
  o.upstream_port = server.port();
  std::string err;
  auto p = proxy::fault_proxy::start(o, err);
  REQUIRE(p);
  auto t = proxy::parse_toxic("frame_split:upstream:parts=2,command=SEND", err);
  REQUIRE(t);
  const auto id = p->add_toxic(*t);
  fd_guard c{connect_to(p->port())};
  write_all(c.fd, raw_upgrade_request());
  CHECK(read_head(c.fd).rfind("HTTP/1.1 101", 0) == 0);
  const std::string frame =
      "SEND\ndestination:/q\n\nhello, fragmented world" + std::string(1, '\0');
  const std::uint8_t mask[4] = {9, 8, 7, 6};
  std::string wire;
  ws::append_frame(wire, false, ws::text, frame.substr(0, 10), mask);
  ws::append_frame(wire, true, ws::ping, "p", mask); // between two fragments
  ws::append_frame(wire, false, ws::continuation, frame.substr(10, 10), mask);
  ws::append_frame(wire, true, ws::continuation, frame.substr(20), mask);
  write_all(c.fd, wire);
  std::string text;
  int texts = 0;
  bool pong = false;
  for (int i = 0; i < 3; ++i) {
    ws::frame_header h;
    std::string payload;
    REQUIRE(read_frame(c.fd, h, payload));
    CHECK_FALSE(h.masked); // server to client
    if (h.op == ws::pong) {
      pong = payload == "p";
    } else {
      CHECK(h.op == ws::text);
      ++texts;
      text += payload;
    }
  }
  CHECK(pong);
  CHECK(texts == 2); // the upstream split made two messages, echoed one by one
  CHECK(text == frame);
  CHECK(p->counters(id)->frames_split == 1);
  ::shutdown(c.fd, SHUT_RDWR);
  p->stop();
  ioc.stop();
  io.join();
}

TEST_CASE("protocol-aware toxics leave a permessage-deflate connection alone and say so",
          "[proxy][protocol]") {
  const std::string frame = message_frame("/topic/x", "m1", "compressed world");
  script_server srv([&](int fd) {
    read_head(fd);
    write_all(fd,
              "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
              "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
              "Sec-WebSocket-Extensions: permessage-deflate\r\n\r\n");
    std::string wire;
    ws::append_frame(wire, true, ws::text, frame, nullptr);
    write_all(fd, wire);
    wait_for_close(fd);
  });
  proxy::proxy_options o;
  o.upstream_port = srv.port();
  std::string err;
  auto p = proxy::fault_proxy::start(o, err);
  REQUIRE(p);
  auto t = proxy::parse_toxic("frame_drop:downstream", err);
  REQUIRE(t);
  const auto id = p->add_toxic(*t);
  fd_guard c{connect_to(p->port())};
  write_all(c.fd, raw_upgrade_request());
  CHECK(read_head(c.fd).find("permessage-deflate") != std::string::npos);
  ws::frame_header h;
  std::string payload;
  REQUIRE(read_frame(c.fd, h, payload));
  CHECK(payload == frame);
  auto k = p->counters(id);
  CHECK(k->frames_dropped == 0);
  CHECK(k->connections_skipped == 1);
  CHECK(p->totals().connections_compressed == 1);
}
