#include "protocol/stomp_frame.hpp"

#include "protocol/stomp_parser.hpp"

#include <catch2/catch.hpp>

#include <random>
#include <string>

using namespace stompede::stomp;
using namespace std::string_literals;

TEST_CASE("commands round trip through their wire spelling", "[stomp][frame]") {
  for (int i = 0; i <= static_cast<int>(command::error); ++i) {
    auto c = static_cast<command>(i);
    auto back = parse_command(to_string(c));
    REQUIRE(back);
    CHECK(*back == c);
  }
  CHECK_FALSE(parse_command("send"));
  CHECK_FALSE(parse_command("SEND "));
  CHECK_FALSE(parse_command(""));
  CHECK_FALSE(parse_command("GET / HTTP/1.1"));
}

TEST_CASE("escape_to and unescape_to handle the four escapes", "[stomp][frame]") {
  std::string out;
  escape_to("a:b\\c\r\nd", out);
  CHECK(out == "a\\cb\\\\c\\r\\nd");
  std::string back;
  REQUIRE(unescape_to(out, back));
  CHECK(back == "a:b\\c\r\nd");

  std::string plain;
  escape_to("nothing-special", plain);
  CHECK(plain == "nothing-special");

  std::string bad;
  CHECK_FALSE(unescape_to("tab\\t", bad));
  bad.clear();
  CHECK_FALSE(unescape_to("lone\\", bad));
  bad.clear();
  CHECK(unescape_to("ID\\cvm-1", bad));
  CHECK(bad == "ID:vm-1");
}

TEST_CASE("escaping round trips random strings of : \\ \\r \\n", "[stomp][frame][property]") {
  std::mt19937 rng{12345};
  const std::string alphabet = ":\\\r\nab c\x01\xc3\xa9";
  std::uniform_int_distribution<std::size_t> len(0, 40), pick(0, alphabet.size() - 1);
  for (int i = 0; i < 2000; ++i) {
    std::string s;
    for (std::size_t n = len(rng); n > 0; --n)
      s.push_back(alphabet[pick(rng)]);
    std::string esc;
    escape_to(s, esc);
    CHECK(esc.find_first_of(":\r\n") == std::string::npos);
    std::string back;
    REQUIRE(unescape_to(esc, back));
    REQUIRE(back == s);
  }
}

TEST_CASE("encode writes SEND with content-length, escapes and NUL", "[stomp][frame]") {
  frame f{command::send};
  f.add("destination", "/topic/a:b").add("x", "line\nbreak");
  f.body = "hi\0there"s;
  CHECK(encode(f) ==
        "SEND\ndestination:/topic/a\\cb\nx:line\\nbreak\ncontent-length:8\n\nhi\0there\0"s);

  encode_options crlf;
  crlf.crlf = true;
  CHECK(
      encode(f, crlf) ==
      "SEND\r\ndestination:/topic/a\\cb\r\nx:line\\nbreak\r\ncontent-length:8\r\n\r\nhi\0there\0"s);

  encode_options no_cl;
  no_cl.content_length = false;
  CHECK(encode(f, no_cl) == "SEND\ndestination:/topic/a\\cb\nx:line\\nbreak\n\nhi\0there\0"s);
}

TEST_CASE("encode keeps an existing content-length and appends to the buffer", "[stomp][frame]") {
  frame f{command::message};
  f.add("content-length", "2");
  f.body = "ok";
  std::string out = "prefix";
  encode(f, out);
  CHECK(out == "prefixMESSAGE\ncontent-length:2\n\nok\0"s);
}

TEST_CASE("encode leaves CONNECT and CONNECTED headers unescaped", "[stomp][frame]") {
  frame c{command::connect};
  c.add("passcode", "pa:ss\\word");
  CHECK(encode(c) == "CONNECT\npasscode:pa:ss\\word\n\n\0"s);
  frame d{command::connected};
  d.add("server", "x:y");
  CHECK(encode(d) == "CONNECTED\nserver:x:y\n\n\0"s);
  frame s{command::subscribe};
  s.add("id", "1");
  CHECK(encode(s) == "SUBSCRIBE\nid:1\n\n\0"s); // no body, no body frame: no content-length
}

TEST_CASE("frame::get and frame_view::get return the first of repeated headers", "[stomp][frame]") {
  frame f{command::message};
  f.add("foo", "World").add("foo", "Hello");
  CHECK(f.get("foo") == std::optional<std::string_view>{"World"});
  CHECK_FALSE(f.get("bar"));
  header_view hs[] = {{"foo", "World"}, {"foo", "Hello"}};
  frame_view v{command::message, hs, 2, {}};
  CHECK(v.get("foo") == std::optional<std::string_view>{"World"});
  auto copy = frame::from_view(v);
  CHECK(copy.headers.size() == 2);
  CHECK(copy.headers[1].second == "Hello");
}

namespace {

std::error_code check(std::string_view wire) {
  parser p;
  p.feed(wire);
  frame_view f;
  REQUIRE(p.next(f) == parse_status::frame);
  return check_server_frame(f);
}

} // namespace

TEST_CASE("check_server_frame applies the server-only rules", "[stomp][frame]") {
  CHECK_FALSE(check("SEND\ndestination:/a\ncontent-length:2\n\nhi\0"s));
  CHECK(check("SEND\n\nhi\0"s) == errc::missing_header);
  CHECK(check("SUBSCRIBE\ndestination:/a\nid:1\n\nbody\0"s) == errc::unexpected_body);
  CHECK(check("SUBSCRIBE\ndestination:/a\n\n\0"s) == errc::missing_header);
  CHECK_FALSE(check("SUBSCRIBE\ndestination:/a\nid:1\n\n\0"s));
  CHECK(check("UNSUBSCRIBE\n\n\0"s) == errc::missing_header);
  CHECK(check("ACK\nid:7\n\n\0"s) == std::error_code{});
  CHECK(check("BEGIN\n\n\0"s) == errc::missing_header);
  CHECK(check("MESSAGE\n\n\0"s) == errc::unexpected_frame);
  CHECK(check("CONNECTED\nversion:1.2\n\n\0"s) == errc::unexpected_frame);
  CHECK_FALSE(check("DISCONNECT\nreceipt:r\n\n\0"s));
}
