// The client's WebSocket frame reader fed in random chunks, its handler stopping it at random
// and resuming. Properties:
//   - no crash, no sanitizer report; the bytes it keeps stay within one frame header, the
//     message limit and one fed slice;
//   - the messages, pings, pongs, close and error are the same however the stream is sliced
//     and wherever the handler stops it: a one-shot read is the reference.
// Input: 4 bytes of chunking seed, then the byte stream.

#include "fuzz_support.hpp"

#include "protocol/ws_reader.hpp"

#include <cstring>
#include <string>
#include <vector>

namespace {

using namespace stompede;

constexpr std::size_t max_message = 2048;

struct recorder final : net::ws_reader_handler {
  std::vector<std::string> events;
  std::uint32_t stop_bits = 0; // bit i set: stop after the i-th message (cycling)
  unsigned n = 0;
  bool on_ws_message(std::string_view p) override {
    fuzz::require(p.size() <= max_message, "a message over the limit was delivered");
    events.push_back("M" + std::string(p));
    return ((stop_bits >> (n++ % 32)) & 1u) == 0;
  }
  void on_ws_ping(std::string_view p) override {
    events.push_back("P" + std::string(p));
  }
  void on_ws_pong(std::string_view p) override {
    events.push_back("O" + std::string(p));
  }
  void on_ws_close(std::uint16_t code, std::string_view reason) override {
    events.push_back("C" + std::to_string(code) + ":" + std::string(reason));
  }
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::seeded_input in;
  if (!fuzz::split_seed(data, size, in))
    return 0;
  const std::uint32_t seed = in.seed;
  const std::string_view stream = in.stream;

  recorder whole;
  net::ws_reader one(max_message);
  const auto e = one.feed(stream, whole);
  if (e != net::ws_read_error::none)
    whole.events.push_back("E" + std::to_string(static_cast<int>(e)));

  recorder sliced;
  sliced.stop_bits = seed;
  net::ws_reader r(max_message);
  fuzz::chunker chunks(seed);
  auto err = net::ws_read_error::none;
  for (std::size_t at = 0; at < stream.size() && err == net::ws_read_error::none;) {
    const std::size_t n = chunks.next(stream.size() - at);
    err = r.feed(stream.substr(at, n), sliced);
    at += n;
    // As the connection does: after a stop, resume until only an incomplete frame is kept.
    while (err == net::ws_read_error::none && !r.closed() && r.kept_bytes() > 0) {
      const auto before = sliced.events.size();
      err = r.resume(sliced);
      if (sliced.events.size() == before)
        break;
    }
    // An incomplete frame (header + payload within the limit) and a fragmented message.
    fuzz::require(r.kept_bytes() <= 2 * max_message + 14, "unbounded buffering");
  }
  if (err != net::ws_read_error::none)
    sliced.events.push_back("E" + std::to_string(static_cast<int>(err)));
  fuzz::require(sliced.events == whole.events, "slicing or stopping changed what was read");
  return 0;
}
