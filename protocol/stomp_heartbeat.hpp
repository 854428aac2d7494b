#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stompede::stomp {

/// A `heart-beat:x,y` header value, in milliseconds: x = the smallest interval at which the
/// sender can send heart-beats, y = the interval at which it would like to receive them.
/// 0 means "cannot" / "does not want".
struct heartbeat_spec {
  std::uint32_t send_ms = 0;
  std::uint32_t recv_ms = 0;
  bool operator==(const heartbeat_spec& o) const noexcept {
    return send_ms == o.send_ms && recv_ms == o.recv_ms;
  }
};

/// Parses "x,y" (digits only, no spaces); nullopt when malformed. A missing header means 0,0:
/// callers pass std::nullopt header values to `negotiate` instead.
std::optional<heartbeat_spec> parse_heartbeat(std::string_view v) noexcept;

/// "x,y".
std::string to_string(const heartbeat_spec& h);

/// The agreed heart-beat intervals of one side of a connection.
struct heartbeat_plan {
  /// How often we must send something (0 = never).
  std::chrono::milliseconds send_every{0};
  /// The peer's agreed sending interval (0 = the peer sends none).
  std::chrono::milliseconds expect_every{0};
  /// After this long without any inbound byte the peer counts as dead (0 = never):
  /// expect_every × grace.
  std::chrono::milliseconds dead_after{0};
};

/// Negotiates per STOMP 1.2: we send every max(our.send, their.recv) unless either is 0; the
/// peer sends every max(their.send, our.recv) unless either is 0; the peer is dead after that
/// period × `grace` (tolerance for scheduling and network delay; 1.5–2 is usual).
heartbeat_plan negotiate(heartbeat_spec ours, heartbeat_spec theirs, double grace = 2.0) noexcept;

} // namespace stompede::stomp
