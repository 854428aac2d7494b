#pragma once

#include <string>
#include <system_error>

namespace stompede::stomp {

/// Every way a STOMP byte stream or a STOMP conversation can go wrong. Each value is a
/// category a session counts its failures under; `message()` gives the human text.
enum class errc {
  ok = 0,
  /// The command line is not a STOMP 1.2 command.
  unknown_command,
  /// A header line has no colon, or an empty name.
  malformed_header,
  /// A header value holds an escape other than \r \n \c \\ (or a lone backslash).
  invalid_escape,
  /// content-length is not a plain non-negative decimal that fits in 64 bits.
  invalid_content_length,
  /// The byte after a content-length body is not NUL.
  missing_nul,
  /// The frame (command + headers + body) exceeds the configured maximum.
  frame_too_large,
  /// More headers than the configured maximum.
  too_many_headers,
  /// One header line is longer than the configured maximum.
  header_line_too_long,
  /// The body exceeds the configured maximum.
  body_too_large,
  /// A frame that must not carry a body carries one (server side check).
  unexpected_body,
  /// A frame arrived that the session state does not allow (e.g. MESSAGE before CONNECTED).
  unexpected_frame,
  /// A required header is missing (e.g. destination on SEND, version on CONNECTED).
  missing_header,
  /// The peer offers no protocol version we speak.
  unsupported_version,
  /// The peer sent an ERROR frame.
  error_frame,
  /// No byte from the peer within the negotiated heart-beat period times the grace factor.
  heartbeat_timeout,
  /// A MESSAGE names a subscription id this session never sent a SUBSCRIBE for.
  unknown_subscription,
};

const std::error_category& error_category() noexcept;

inline std::error_code make_error_code(errc e) noexcept {
  return {static_cast<int>(e), error_category()};
}

/// A short snake_case name of the category, used as a metric label (`protocol_error` types).
const char* to_label(errc e) noexcept;

} // namespace stompede::stomp

namespace std {
template<>
struct is_error_code_enum<stompede::stomp::errc> : true_type {};
} // namespace std
