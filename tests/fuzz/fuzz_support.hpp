#pragma once

// Helpers shared by the fuzz targets. A failed property aborts, as libFuzzer expects.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace stompede::fuzz {

/// Aborts with `what` when `ok` is false (a finding, under libFuzzer or the driver).
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

/// Splits the fuzz input into pseudo-random chunk sizes from a seed the input carries, so one
/// input both names a byte stream and how it is sliced.
class chunker {
public:
  explicit chunker(std::uint32_t seed) : state_(seed | 1u) {}
  /// The next chunk length, 1..max (small lengths more often: byte-by-byte splits matter).
  std::size_t next(std::size_t max) {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    const std::uint32_t r = state_;
    std::size_t n = (r & 3u) == 0 ? 1 : 1 + (r >> 2) % (((r & 3u) == 1) ? 4 : 64);
    return n > max ? max : n;
  }

private:
  std::uint32_t state_;
};

} // namespace stompede::fuzz
