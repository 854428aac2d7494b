// Toxic specs (the CLI's and the experiments' syntax) and the proxy's WebSocket frame code.

#include "proxy/fault_proxy.hpp"
#include "proxy/ws_frame.hpp"

#include <catch2/catch.hpp>

namespace proxy = stompede::proxy;
namespace ws = stompede::proxy::ws;
using namespace std::chrono_literals;

TEST_CASE("toxic specs parse into toxics and print back", "[proxy][spec]") {
  std::string err;
  auto t = proxy::parse_toxic("latency:downstream:latency=200ms,jitter=50ms", err);
  REQUIRE(t);
  CHECK(t->kind == proxy::toxic_kind::latency);
  CHECK(t->dir == proxy::direction::downstream);
  CHECK(t->latency == 200ms);
  CHECK(t->jitter == 50ms);

  t = proxy::parse_toxic("frame_drop:down:fraction=0.25,destination=/topic/room.7,toxicity=0.5,"
                         "seed=9,scope=new",
                         err);
  REQUIRE(t);
  CHECK(t->kind == proxy::toxic_kind::frame_drop);
  CHECK(t->fraction == 0.25);
  CHECK(t->destination == "/topic/room.7");
  CHECK(t->toxicity == 0.5);
  CHECK(t->seed == 9);
  CHECK(t->scope == proxy::toxic_scope::new_connections);
  CHECK(proxy::is_protocol_kind(t->kind));

  t = proxy::parse_toxic("timeout:up:timeout=1.5s", err);
  REQUIRE(t);
  CHECK(t->dir == proxy::direction::upstream);
  CHECK(t->timeout == 1500ms);

  t = proxy::parse_toxic("ws_close:close_code=4001,close_reason=bye", err);
  REQUIRE(t);
  CHECK(t->dir == proxy::direction::downstream); // the default
  CHECK(t->close_code == 4001);

  for (const char* s :
       {"latency:both:latency=10ms,jitter=1ms", "bandwidth:upstream:rate=1000",
        "slicer:downstream:average_size=10,size_variation=3,delay=5ms", "limit_data:both:bytes=99",
        "partition:toxicity=0.3,seed=4", "frame_split:upstream:parts=3,command=SEND",
        "inject_error:delay=1s,error_message=boom", "heartbeat_stall:upstream",
        "reset_peer:delay=2s", "frame_throttle:downstream:rate=5,destination=/topic/room.3"}) {
    auto a = proxy::parse_toxic(s, err);
    INFO(s << ": " << err);
    REQUIRE(a);
    auto b = proxy::parse_toxic(proxy::format_toxic(*a), err);
    INFO(proxy::format_toxic(*a));
    REQUIRE(b);
    CHECK(proxy::format_toxic(*b) == proxy::format_toxic(*a));
  }
}

TEST_CASE("bad toxic specs are refused with one line naming the problem", "[proxy][spec]") {
  struct bad_case {
    const char* spec;
    const char* says;
  };
  for (auto c : {bad_case{"lag:downstream", "unknown kind 'lag'"},
                 bad_case{"latency:sideways", "unknown direction 'sideways'"},
                 bad_case{"latency:latency=fast", "not a duration"},
                 bad_case{"latency:speed=1", "unknown key 'speed'"}, bad_case{"bandwidth", "rate"},
                 bad_case{"limit_data:bytes=-3", "not a non-negative integer"},
                 bad_case{"partition:toxicity=1.5", "toxicity must be between 0 and 1"},
                 bad_case{"slicer:average_size=10,size_variation=10", "size_variation"},
                 bad_case{"frame_split:parts=1", "parts"},
                 bad_case{"frame_drop:command=SHOUT", "not a STOMP command"},
                 bad_case{"frame_throttle:destination=/topic/a", "rate (frames per second)"},
                 bad_case{"ws_close:close_code=1005", "may not be sent"},
                 bad_case{"latency:downstream:latency", "not key=value"}}) {
    std::string err;
    INFO(c.spec);
    CHECK_FALSE(proxy::parse_toxic(c.spec, err));
    INFO(err);
    CHECK(err.find(c.says) != std::string::npos);
    CHECK(err.find(c.spec) != std::string::npos);
    CHECK(err.find('\n') == std::string::npos);
  }
  proxy::toxic t;
  t.kind = proxy::toxic_kind::bandwidth;
  CHECK(proxy::check_toxic(t) == "bandwidth: rate (bytes per second) must be > 0");
}

TEST_CASE("WebSocket frames encode and parse back, masked and unmasked, at every length class",
          "[proxy][ws]") {
  for (std::size_t len : {std::size_t{0}, std::size_t{125}, std::size_t{126}, std::size_t{65535},
                          std::size_t{65536}, std::size_t{70000}}) {
    std::string payload(len, 'q');
    for (std::size_t i = 0; i < len; ++i)
      payload[i] = static_cast<char>(i * 31);
    for (bool masked : {false, true}) {
      const std::uint8_t mask[4] = {1, 2, 3, 0xFE};
      std::string wire;
      ws::append_frame(wire, true, ws::binary, payload, masked ? mask : nullptr);
      ws::frame_header h;
      // Every prefix shorter than the header asks for more.
      ws::parse_header(std::string_view(wire).substr(0, 1), h);
      CHECK(ws::parse_header(std::string_view(wire).substr(0, 1), h) ==
            ws::header_status::need_more);
      REQUIRE(ws::parse_header(wire, h) == ws::header_status::ok);
      CHECK(h.fin);
      CHECK(h.op == ws::binary);
      CHECK(h.masked == masked);
      REQUIRE(h.payload_len == len);
      REQUIRE(wire.size() == h.header_len + len);
      std::string got = wire.substr(h.header_len);
      if (masked) {
        CHECK((got != payload || len == 0));
        ws::apply_mask(got.data(), got.size(), h.mask);
      }
      CHECK(got == payload);
    }
  }
  // A fragmented or oversized control frame is not WebSocket.
  std::string bad;
  bad.push_back(static_cast<char>(0x09)); // ping without FIN
  bad.push_back(static_cast<char>(0x00));
  ws::frame_header h;
  CHECK(ws::parse_header(bad, h) == ws::header_status::bad);
  CHECK(ws::close_payload(4001, "x") == std::string("\x0f\xa1x", 3));
}
