#include "protocol/utf8.hpp"

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace stompede {

bool valid_utf8(std::string_view text) noexcept {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data());
  const auto* end = p + text.size();
  while (p < end) {
    // Eight ASCII bytes at a time: chat traffic is mostly ASCII.
    while (end - p >= 8) {
      std::uint64_t word;
      std::memcpy(&word, p, sizeof word);
      if (word & 0x8080808080808080ULL)
        break;
      p += 8;
    }
    if (p == end)
      break;
    const unsigned c = *p;
    if (c < 0x80) {
      ++p;
      continue;
    }
    std::size_t n = 0;
    unsigned lo = 0x80, hi = 0xBF; // allowed range of the second byte
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      if (c == 0xE0)
        lo = 0xA0; // overlong
      else if (c == 0xED)
        hi = 0x9F; // surrogates
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      if (c == 0xF0)
        lo = 0x90; // overlong
      else if (c == 0xF4)
        hi = 0x8F; // above U+10FFFF
    } else {
      return false;
    }
    if (static_cast<std::size_t>(end - p) <= n)
      return false;
    if (p[1] < lo || p[1] > hi)
      return false;
    for (std::size_t i = 2; i <= n; ++i)
      if ((p[i] & 0xC0) != 0x80)
        return false;
    p += n + 1;
  }
  return true;
}

} // namespace stompede
