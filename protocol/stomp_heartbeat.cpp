#include "protocol/stomp_heartbeat.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace stompede::stomp {

namespace {

// Digits only: from_chars alone would accept a leading '-'.
bool parse_ms(std::string_view s, std::uint32_t& out) noexcept {
  if (s.empty() || s.size() > 10)
    return false;
  for (char c : s)
    if (c < '0' || c > '9')
      return false;
  std::uint64_t v = 0;
  for (char c : s)
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  if (v > UINT32_MAX)
    return false;
  out = static_cast<std::uint32_t>(v);
  return true;
}

} // namespace

std::optional<heartbeat_spec> parse_heartbeat(std::string_view v) noexcept {
  auto comma = v.find(',');
  if (comma == std::string_view::npos)
    return std::nullopt;
  heartbeat_spec h;
  if (!parse_ms(v.substr(0, comma), h.send_ms) || !parse_ms(v.substr(comma + 1), h.recv_ms))
    return std::nullopt;
  return h;
}

std::string to_string(const heartbeat_spec& h) {
  return std::to_string(h.send_ms) + ',' + std::to_string(h.recv_ms);
}

heartbeat_plan negotiate(heartbeat_spec ours, heartbeat_spec theirs, double grace) noexcept {
  heartbeat_plan p;
  if (ours.send_ms != 0 && theirs.recv_ms != 0)
    p.send_every = std::chrono::milliseconds{std::max(ours.send_ms, theirs.recv_ms)};
  if (theirs.send_ms != 0 && ours.recv_ms != 0)
    p.expect_every = std::chrono::milliseconds{std::max(theirs.send_ms, ours.recv_ms)};
  if (p.expect_every.count() != 0) {
    // A grace below 1 would declare a punctual peer dead; NaN and negatives mean "no grace".
    const double g = (grace >= 1.0) ? grace : 1.0;
    // Capped so that a huge (or infinite) grace means "practically never" instead of a
    // float-to-integer overflow: 1e15 ms is about 31,700 years.
    constexpr double cap_ms = 1e15;
    double ms = std::ceil(static_cast<double>(p.expect_every.count()) * g);
    if (!(ms <= cap_ms))
      ms = cap_ms;
    p.dead_after = std::chrono::milliseconds{static_cast<std::int64_t>(ms)};
  }
  return p;
}

} // namespace stompede::stomp
