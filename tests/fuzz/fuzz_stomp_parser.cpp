// The STOMP decoder fed in random chunks. Properties:
//   - no crash, no sanitizer report, no unbounded buffering (buffered() stays within the limits
//     plus one fed slice);
//   - the frames, heart-beats and the error (code and offset) are the same however the stream
//     is sliced (the parser's documented contract): a one-shot parse is the reference;
//   - every frame it returns re-encodes to bytes that parse back to the same frame.
// Input: 4 bytes of chunking seed, then the byte stream.

#include "fuzz_support.hpp"

#include "protocol/stomp_frame.hpp"
#include "protocol/stomp_parser.hpp"

#include <cstring>
#include <string>
#include <system_error>
#include <vector>

namespace {

using namespace stompede;

struct event {
  char kind; // 'F' frame, 'H' heart-beat, 'E' error
  stomp::frame f;
  std::error_code ec;
  std::size_t offset = 0;
  bool operator==(const event& o) const {
    return kind == o.kind && f.cmd == o.f.cmd && f.headers == o.f.headers && f.body == o.f.body &&
           ec == o.ec && offset == o.offset;
  }
};

constexpr stomp::parser_limits small_limits() {
  stomp::parser_limits l;
  l.max_frame_bytes = 4096;
  l.max_headers = 8;
  l.max_header_line = 256;
  l.max_body_bytes = 2048;
  return l;
}

// Drains the parser; true when it reached an error (the stream is over).
bool drain(stomp::parser& p, std::vector<event>& out) {
  for (;;) {
    stomp::frame_view v;
    switch (p.next(v)) {
    case stomp::parse_status::frame:
      out.push_back({'F', stomp::frame::from_view(v), {}, 0});
      break;
    case stomp::parse_status::heartbeat:
      out.push_back({'H', {}, {}, 0});
      break;
    case stomp::parse_status::need_more:
      return false;
    case stomp::parse_status::error:
      out.push_back({'E', {}, p.error(), p.error_offset()});
      return true;
    }
  }
}

std::vector<event> parse_whole(std::string_view bytes, const stomp::parser_limits& l) {
  stomp::parser p(l);
  p.feed(bytes);
  std::vector<event> ev;
  drain(p, ev);
  return ev;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::seeded_input in;
  if (!fuzz::split_seed(data, size, in))
    return 0;
  const std::uint32_t seed = in.seed;
  const std::string_view stream = in.stream;
  const auto limits = (seed & 0x80000000u) ? stomp::parser_limits{} : small_limits();

  const std::vector<event> reference = parse_whole(stream, limits);

  stomp::parser p(limits);
  fuzz::chunker chunks(seed);
  std::vector<event> sliced;
  std::size_t at = 0;
  bool failed = false;
  while (at < stream.size() && !failed) {
    const std::size_t n = chunks.next(stream.size() - at);
    p.feed(stream.substr(at, n));
    at += n;
    fuzz::require(p.buffered() <= limits.max_frame_bytes + n + 2,
                  "parser buffers more than a frame plus one slice");
    failed = drain(p, sliced);
  }
  fuzz::require(sliced == reference, "sliced parse differs from the one-shot parse");

  // Round trip: what was parsed encodes to bytes that parse back to the same frame. Frames
  // whose headers are not escaped (CONNECT, STOMP, CONNECTED) cannot carry every value (a CR
  // at the end of a value is indistinguishable from a CRLF line end), so they are skipped.
  for (const event& e : reference) {
    if (e.kind != 'F' || stomp::is_unescaped(e.f.cmd))
      continue;
    const std::string wire = stomp::encode(e.f);
    // The encoder adds content-length when the frame has none, and escaping can double a
    // header line: the re-parse allows for both, so a frame parsed at a limit still round-trips.
    stomp::parser_limits relaxed;
    relaxed.max_headers += 1;
    relaxed.max_header_line = 2 * relaxed.max_header_line + 64;
    relaxed.max_frame_bytes = 2 * relaxed.max_frame_bytes + 64;
    stomp::parser q(relaxed);
    q.feed(wire);
    stomp::frame_view v;
    fuzz::require(q.next(v) == stomp::parse_status::frame, "re-encoded frame does not parse");
    const stomp::frame back = stomp::frame::from_view(v);
    fuzz::require(back.cmd == e.f.cmd && back.body == e.f.body,
                  "re-encoded frame parses to another command or body");
    // The encoder may add a content-length; every original header comes back in order.
    fuzz::require(back.headers.size() >= e.f.headers.size(), "re-encoded frame lost headers");
    for (std::size_t i = 0; i < e.f.headers.size(); ++i)
      fuzz::require(back.headers[i] == e.f.headers[i], "re-encoded header differs");
  }
  return 0;
}
