#pragma once

// Helpers shared by the fuzz targets. A failed property aborts, as libFuzzer expects.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

namespace stompede::fuzz {

/// Aborts with `what` when `ok` is false (a finding, under libFuzzer or the driver).
inline void require(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "fuzz property violated: %s\n", what);
    std::abort();
  }
}

/// An input of a target that slices its bytes: the first 4 bytes seed the slicing (and any
/// other choice the target makes), the rest is the byte stream.
struct seeded_input {
  std::uint32_t seed = 0;
  std::string_view stream;
};

/// False for an input shorter than the seed.
inline bool split_seed(const std::uint8_t* data, std::size_t size, seeded_input& out) {
  if (size < 4)
    return false;
  std::memcpy(&out.seed, data, 4);
  out.stream = std::string_view(reinterpret_cast<const char*>(data) + 4, size - 4);
  return true;
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
