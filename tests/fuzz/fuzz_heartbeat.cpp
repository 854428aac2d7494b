// Heart-beat negotiation. Input: "x,y|x,y|grace" style text; each part is parsed as a
// heart-beat header value, and every spec that parses is negotiated against every other with
// a grace taken from the input. Properties: parse/print round trip; the negotiated intervals
// follow STOMP 1.2 (0 when either side says 0, else the larger of the two); the dead-peer
// deadline is at least the expected interval and never negative; no undefined behaviour
// (huge, negative, NaN or infinite grace included).

#include "fuzz_support.hpp"

#include "protocol/stomp_heartbeat.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

using namespace stompede;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  double grace = 2.0;
  if (size >= sizeof(double)) {
    std::memcpy(&grace, data, sizeof(double));
    data += sizeof(double);
    size -= sizeof(double);
  }
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  std::vector<stomp::heartbeat_spec> specs;
  std::size_t from = 0;
  for (;;) {
    const std::size_t bar = text.find('|', from);
    const std::string_view part =
        text.substr(from, bar == std::string_view::npos ? std::string_view::npos : bar - from);
    if (auto h = stomp::parse_heartbeat(part)) {
      fuzz::require(stomp::to_string(*h) == part ||
                        part.find_first_not_of("0123456789,") == std::string_view::npos,
                    "a heart-beat value with other characters parsed");
      auto again = stomp::parse_heartbeat(stomp::to_string(*h));
      fuzz::require(again && *again == *h, "heart-beat print/parse is not a round trip");
      specs.push_back(*h);
    }
    if (bar == std::string_view::npos || specs.size() > 16)
      break;
    from = bar + 1;
  }
  specs.push_back({});
  for (const auto& a : specs) {
    for (const auto& b : specs) {
      for (double g : {grace, 1.0, 2.0}) {
        const auto p = stomp::negotiate(a, b, g);
        const auto want_send =
            (a.send_ms == 0 || b.recv_ms == 0) ? 0 : std::max(a.send_ms, b.recv_ms);
        const auto want_expect =
            (b.send_ms == 0 || a.recv_ms == 0) ? 0 : std::max(b.send_ms, a.recv_ms);
        fuzz::require(p.send_every.count() == static_cast<std::int64_t>(want_send),
                      "negotiated send interval");
        fuzz::require(p.expect_every.count() == static_cast<std::int64_t>(want_expect),
                      "negotiated expected interval");
        fuzz::require(p.dead_after.count() >= p.expect_every.count(),
                      "dead-peer deadline below the expected interval");
        fuzz::require((p.expect_every.count() == 0) == (p.dead_after.count() == 0),
                      "dead-peer deadline without an expected interval, or the reverse");
      }
    }
  }
  return 0;
}
