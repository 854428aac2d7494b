#pragma once

#include <system_error>

namespace stompede::net {

/// Every way a connection can fail below STOMP. Each value is a counted error category.
enum class transport_errc {
  ok = 0,
  resolve_failed,
  connect_refused,
  connect_timeout,
  /// EADDRNOTAVAIL: no ephemeral port left for this source address.
  port_exhaustion,
  /// EMFILE/ENFILE: out of file descriptors.
  fd_exhausted,
  tls_error,
  handshake_timeout,
  /// The server answered the upgrade with something other than 101.
  upgrade_rejected,
  /// No inbound byte within the idle timeout.
  idle_timeout,
  write_timeout,
  /// The outgoing queue is over its bound.
  write_queue_full,
  /// An inbound message larger than the limit.
  message_too_large,
  /// The peer closed the WebSocket (close frame).
  closed_by_peer,
  /// The TCP connection ended without a close frame (EOF, reset).
  connection_reset,
  /// Any other read/write failure.
  io_error,
  /// The peer broke the WebSocket or HTTP protocol (bad frame, bad upgrade answer, bad HTTP).
  protocol_error,
  /// An HTTP request did not complete within its total timeout.
  request_timeout,
};

const std::error_category& transport_category() noexcept;

inline std::error_code make_error_code(transport_errc e) noexcept {
  return {static_cast<int>(e), transport_category()};
}

/// snake_case label for metrics.
const char* to_label(transport_errc e) noexcept;

} // namespace stompede::net

namespace std {
template<>
struct is_error_code_enum<stompede::net::transport_errc> : true_type {};
} // namespace std
