#include "protocol/ws_frame.hpp"
#include "protocol/ws_reader.hpp"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace stompede::net;
namespace ws = stompede::ws;
using namespace std::string_literals;

namespace {

/// A server frame (never masked).
std::string server_frame(unsigned first_byte, std::string_view payload) {
  std::string f;
  f.push_back(static_cast<char>(first_byte));
  const std::size_t len = payload.size();
  if (len < 126) {
    f.push_back(static_cast<char>(len));
  } else if (len <= 0xFFFF) {
    f.push_back(static_cast<char>(126));
    f.push_back(static_cast<char>(len >> 8));
    f.push_back(static_cast<char>(len & 0xFF));
  } else {
    f.push_back(static_cast<char>(127));
    for (int shift = 56; shift >= 0; shift -= 8)
      f.push_back(static_cast<char>((static_cast<std::uint64_t>(len) >> shift) & 0xFF));
  }
  f.append(payload);
  return f;
}

std::string text(std::string_view p) {
  return server_frame(0x81, p);
}

/// Records what a reader delivered.
struct recorder final : ws_reader_handler {
  std::vector<std::string> messages;
  std::vector<std::string> pings;
  std::vector<std::string> pongs;
  std::vector<std::pair<std::uint16_t, std::string>> closes;
  /// Stop the reader after each message.
  bool stop_each = false;

  bool on_ws_message(std::string_view payload) override {
    messages.emplace_back(payload);
    return !stop_each;
  }
  void on_ws_ping(std::string_view payload) override {
    pings.emplace_back(payload);
  }
  void on_ws_pong(std::string_view payload) override {
    pongs.emplace_back(payload);
  }
  void on_ws_close(std::uint16_t code, std::string_view reason) override {
    closes.emplace_back(code, std::string(reason));
  }
};

/// A stream with every kind of frame a server may send, in one message sequence.
std::string mixed_stream() {
  std::string big(70000, 'x'); // a 64-bit length
  std::string mid(300, 'y');   // a 16-bit length
  return text("MESSAGE\n\nhello\0"s) + server_frame(0x89, "ping!") + text("") +
         server_frame(0x01, "frag") + server_frame(0x8A, "pong") + server_frame(0x00, "men") +
         server_frame(0x80, "ted") + server_frame(0x82, "\xff\x00\x01"s) + text(mid) +
         text(big) + text("caf\xC3\xA9") + server_frame(0x88, "\x03\xe8" "bye");
}

void check_mixed(const recorder& r) {
  REQUIRE(r.messages.size() == 7);
  CHECK(r.messages[0] == "MESSAGE\n\nhello\0"s);
  CHECK(r.messages[1].empty());
  CHECK(r.messages[2] == "fragmented");
  CHECK(r.messages[3] == "\xff\x00\x01"s);
  CHECK(r.messages[4] == std::string(300, 'y'));
  CHECK(r.messages[5] == std::string(70000, 'x'));
  CHECK(r.messages[6] == "caf\xC3\xA9");
  CHECK(r.pings == std::vector<std::string>{"ping!"});
  CHECK(r.pongs == std::vector<std::string>{"pong"});
  REQUIRE(r.closes.size() == 1);
  CHECK(r.closes[0].first == 1000);
  CHECK(r.closes[0].second == "bye");
}

ws_read_error read_all(std::string_view wire, recorder& r, std::size_t max = 1 << 20) {
  ws_reader reader(max);
  return reader.feed(wire, r);
}

} // namespace

TEST_CASE("ws_reader delivers every frame kind from one block", "[ws_reader]") {
  recorder r;
  ws_reader reader(1 << 20);
  CHECK(reader.feed(mixed_stream(), r) == ws_read_error::none);
  check_mixed(r);
  CHECK(reader.closed());
  CHECK(reader.kept_bytes() == 0);
}

TEST_CASE("ws_reader gives the same result when the stream is split at every byte",
          "[ws_reader]") {
  const std::string wire = mixed_stream();
  // Two cuts would be quadratic in a 70 KB stream: one cut at every byte, then byte by byte.
  for (std::size_t cut = 0; cut <= wire.size(); cut += (cut < 400 || cut > wire.size() - 400)
                                                           ? 1
                                                           : 97) {
    recorder r;
    ws_reader reader(1 << 20);
    REQUIRE(reader.feed(std::string_view(wire).substr(0, cut), r) == ws_read_error::none);
    REQUIRE(reader.feed(std::string_view(wire).substr(cut), r) == ws_read_error::none);
    check_mixed(r);
  }
  recorder r;
  ws_reader reader(1 << 20);
  for (char c : wire)
    REQUIRE(reader.feed(std::string_view(&c, 1), r) == ws_read_error::none);
  check_mixed(r);
}

TEST_CASE("ws_reader splits a small stream at every pair of bytes", "[ws_reader]") {
  const std::string wire = text("MESSAGE\n\nhi\0"s) + server_frame(0x89, "p") +
                           server_frame(0x01, "a") + server_frame(0x80, "b") +
                           server_frame(0x88, "\x03\xe8"s);
  for (std::size_t a = 0; a <= wire.size(); ++a) {
    for (std::size_t b = a; b <= wire.size(); ++b) {
      recorder r;
      ws_reader reader(1024);
      const std::string_view w(wire);
      REQUIRE(reader.feed(w.substr(0, a), r) == ws_read_error::none);
      REQUIRE(reader.feed(w.substr(a, b - a), r) == ws_read_error::none);
      REQUIRE(reader.feed(w.substr(b), r) == ws_read_error::none);
      REQUIRE(r.messages == std::vector<std::string>{"MESSAGE\n\nhi\0"s, "ab"});
      REQUIRE(r.pings.size() == 1);
      REQUIRE(r.closes.size() == 1);
    }
  }
}

TEST_CASE("ws_reader keeps what follows a stop and delivers it on resume", "[ws_reader]") {
  recorder r;
  r.stop_each = true;
  ws_reader reader(1024);
  const std::string wire = text("one") + text("two") + text("thr");
  CHECK(reader.feed(wire.substr(0, wire.size() - 1), r) == ws_read_error::none);
  CHECK(r.messages == std::vector<std::string>{"one"});
  CHECK(reader.has_complete_frame());
  CHECK(reader.resume(r) == ws_read_error::none);
  CHECK(r.messages == std::vector<std::string>{"one", "two"});
  CHECK_FALSE(reader.has_complete_frame()); // "thr" lacks its last byte
  CHECK(reader.resume(r) == ws_read_error::none);
  CHECK(r.messages.size() == 2);
  CHECK(reader.feed(wire.substr(wire.size() - 1), r) == ws_read_error::none);
  CHECK(r.messages == std::vector<std::string>{"one", "two", "thr"});
  CHECK(reader.kept_bytes() == 0);
}

TEST_CASE("ws_reader accepts nothing after a close frame", "[ws_reader]") {
  recorder r;
  ws_reader reader(1024);
  CHECK(reader.feed(server_frame(0x88, "") + text("late"), r) == ws_read_error::none);
  REQUIRE(r.closes.size() == 1);
  CHECK(r.closes[0].first == 1005);
  CHECK(r.messages.empty());
  CHECK(reader.feed(text("later"), r) == ws_read_error::none);
  CHECK(r.messages.empty());
}

TEST_CASE("ws_reader rejects what RFC 6455 forbids a server to send", "[ws_reader]") {
  struct bad {
    const char* what;
    std::string wire;
    ws_read_error error = ws_read_error::protocol_error;
  };
  std::string masked = text("x");
  masked[1] = static_cast<char>(masked[1] | 0x80);
  const std::vector<bad> cases = {
      {"reserved bit", server_frame(0xC1, "x")},
      {"masked", masked + "\0\0\0\0"s},
      {"unknown data opcode", server_frame(0x83, "x")},
      {"unknown control opcode", server_frame(0x8B, "x")},
      {"fragmented control frame", server_frame(0x09, "x")},
      {"control frame over 125 bytes", server_frame(0x89, std::string(126, 'p'))},
      {"continuation outside a message", server_frame(0x80, "x")},
      {"new message inside a fragmented one", server_frame(0x01, "a") + text("b")},
      {"16-bit length under 126", "\x81\x7e\x00\x05hello"s},
      {"64-bit length under 65536", "\x81\x7f\x00\x00\x00\x00\x00\x00\x00\x05hello"s},
      {"64-bit length with its top bit", "\x81\x7f\x80\x00\x00\x00\x00\x00\x00\x05"s},
      {"one-byte close", server_frame(0x88, "\x03")},
      {"close code 1005", server_frame(0x88, "\x03\xed")},
      {"close code 999", server_frame(0x88, "\x03\xe7")},
      {"close reason not UTF-8", server_frame(0x88, "\x03\xe8\xff"), ws_read_error::invalid_utf8},
      {"text not UTF-8", text("h\xffi"), ws_read_error::invalid_utf8},
      {"fragmented text not UTF-8", server_frame(0x01, "\xC3") + server_frame(0x80, "("),
       ws_read_error::invalid_utf8},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    recorder r;
    ws_reader reader(1024);
    CHECK(reader.feed(c.wire, r) == c.error);
    CHECK_FALSE(reader.reason().empty());
    CHECK(r.messages.empty());
    // An error is final.
    CHECK(reader.feed(text("ok"), r) == c.error);
    CHECK(r.messages.empty());
  }
}

TEST_CASE("ws_reader accepts a UTF-8 character split across fragments", "[ws_reader]") {
  recorder r;
  CHECK(read_all(server_frame(0x01, "\xC3") + server_frame(0x80, "\xA9"), r) ==
        ws_read_error::none);
  CHECK(r.messages == std::vector<std::string>{"\xC3\xA9"});
}

TEST_CASE("ws_reader refuses a message over its limit from the header alone", "[ws_reader]") {
  recorder r;
  ws_reader reader(100);
  // Only the header of a 2^62-byte frame: refused before any payload arrives.
  CHECK(reader.feed("\x82\x7f\x40\x00\x00\x00\x00\x00\x00\x00"s, r) ==
        ws_read_error::message_too_large);
  recorder r2;
  CHECK(read_all(text(std::string(101, 'a')), r2, 100) == ws_read_error::message_too_large);
  recorder r3;
  CHECK(read_all(text(std::string(100, 'a')), r3, 100) == ws_read_error::none);
  CHECK(r3.messages.size() == 1);
  // Fragments add up.
  recorder r4;
  CHECK(read_all(server_frame(0x01, std::string(60, 'a')) + server_frame(0x80, std::string(41, 'b')),
                 r4, 100) == ws_read_error::message_too_large);
  CHECK(r4.messages.empty());
}

TEST_CASE("client frames are masked and decode back to their payload", "[ws_frame]") {
  for (std::size_t len : {0u, 1u, 7u, 8u, 9u, 125u, 126u, 127u, 65535u, 65536u, 70001u}) {
    INFO(len);
    std::string payload(len, '\0');
    for (std::size_t i = 0; i < len; ++i)
      payload[i] = static_cast<char>(i * 31 + 7);
    std::string out = "prefix";
    const std::uint8_t key_bytes[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    ws::append_frame(out, true, ws::text, payload, key_bytes);
    REQUIRE(out.compare(0, 6, "prefix") == 0);
    const auto* p = reinterpret_cast<const unsigned char*>(out.data() + 6);
    CHECK(p[0] == 0x81);
    CHECK((p[1] & 0x80) != 0); // masked
    std::size_t at = 2;
    std::uint64_t n = p[1] & 0x7F;
    if (n == 126) {
      n = (std::uint64_t{p[2]} << 8) | p[3];
      at = 4;
    } else if (n == 127) {
      n = 0;
      for (int i = 0; i < 8; ++i)
        n = (n << 8) | p[2 + i];
      at = 10;
    }
    CHECK(n == len);
    CHECK(p[at] == 0xA1);
    CHECK(p[at + 3] == 0xD4);
    at += 4;
    REQUIRE(out.size() == 6 + at + len);
    // Unmask by hand, byte by byte, as RFC 6455 5.3 says.
    const unsigned char key[4] = {0xA1, 0xB2, 0xC3, 0xD4};
    std::string back(len, '\0');
    for (std::size_t i = 0; i < len; ++i)
      back[i] = static_cast<char>(p[at + i] ^ key[i % 4]);
    CHECK(back == payload);
  }
}

TEST_CASE("apply_mask at an offset continues the key where it left off", "[ws_frame]") {
  const std::uint8_t key[4] = {1, 2, 3, 4};
  std::string a(37, 'q'), b = a;
  ws::apply_mask(a.data(), a.size(), key);
  ws::apply_mask(b.data(), 13, key);
  ws::apply_mask(b.data() + 13, b.size() - 13, key, 13);
  CHECK(a == b);
  for (std::size_t i = 0; i < a.size(); ++i)
    CHECK(static_cast<unsigned char>(a[i]) == ('q' ^ key[i % 4]));
}

TEST_CASE("close payloads and codes", "[ws_frame]") {
  CHECK(ws::close_payload(1000) == "\x03\xe8"s);
  CHECK(ws::close_payload(4000, "why") == "\x0f\xa0why"s);
  CHECK(ws::close_payload(1000, std::string(200, 'r')).size() == 125);
  CHECK(ws::valid_close_code(1000));
  CHECK(ws::valid_close_code(1011));
  CHECK(ws::valid_close_code(4999));
  CHECK_FALSE(ws::valid_close_code(1004));
  CHECK_FALSE(ws::valid_close_code(1005));
  CHECK_FALSE(ws::valid_close_code(1006));
  CHECK_FALSE(ws::valid_close_code(1015));
  CHECK_FALSE(ws::valid_close_code(2999));
  CHECK_FALSE(ws::valid_close_code(5000));
}

TEST_CASE("bytes kept unparsed while paused are parsed on resume", "[ws_reader]") {
  recorder r;
  ws_reader reader(1024);
  const std::string wire = text("a") + text("b");
  reader.keep(wire.substr(0, 4));
  CHECK(r.messages.empty());
  CHECK(reader.has_complete_frame());
  reader.keep(wire.substr(4));
  CHECK(reader.resume(r) == ws_read_error::none);
  CHECK(r.messages == std::vector<std::string>{"a", "b"});
  CHECK(reader.kept_bytes() == 0);
}
