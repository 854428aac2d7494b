#include "protocol/utf8.hpp"

#include <catch2/catch.hpp>

#include <string>

using stompede::valid_utf8;

TEST_CASE("valid_utf8 follows RFC 3629", "[utf8]") {
  CHECK(valid_utf8(""));
  CHECK(valid_utf8("plain ascii"));
  CHECK(valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"));
  CHECK_FALSE(valid_utf8("\xC3"));             // cut in half
  CHECK_FALSE(valid_utf8("\xF0\x9F\x98"));     // cut in half
  CHECK_FALSE(valid_utf8("h\xFFi"));           // never in UTF-8
  CHECK_FALSE(valid_utf8("\xC0\xAF"));         // overlong '/'
  CHECK_FALSE(valid_utf8("\xE0\x80\xAF"));     // overlong
  CHECK_FALSE(valid_utf8("\xED\xA0\x80"));     // a surrogate
  CHECK_FALSE(valid_utf8("\xF4\x90\x80\x80")); // above U+10FFFF
  CHECK_FALSE(valid_utf8("\x80"));             // a lone continuation byte
}

TEST_CASE("valid_utf8 finds a bad byte at any place after runs of ASCII", "[utf8]") {
  for (std::size_t at = 0; at < 40; ++at) {
    std::string s(40, 'a');
    CHECK(valid_utf8(s));
    s[at] = '\xFF';
    CHECK_FALSE(valid_utf8(s));
    s[at] = '\xC3';
    if (at + 1 < s.size()) {
      s[at + 1] = '\xA9';
      CHECK(valid_utf8(s));
    } else {
      CHECK_FALSE(valid_utf8(s));
    }
  }
}
