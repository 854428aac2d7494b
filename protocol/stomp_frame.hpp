#pragma once

#include "protocol/stomp_error.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace stompede::stomp {

/// STOMP 1.2 commands, client and server.
enum class command : std::uint8_t {
  connect,
  stomp,
  connected,
  send,
  subscribe,
  unsubscribe,
  ack,
  nack,
  begin,
  commit,
  abort,
  disconnect,
  message,
  receipt,
  error,
};

/// The wire spelling of a command ("SEND", ...).
std::string_view to_string(command c) noexcept;

/// Parses a command line (without EOL); nullopt when it is not a STOMP command.
std::optional<command> parse_command(std::string_view s) noexcept;

/// True when `s` is the beginning of a command name (the empty string included): what a
/// parser that has not seen the end of the command line can still accept.
bool could_be_command(std::string_view s) noexcept;

/// True for the frames whose headers are not escaped (CONNECT, STOMP, CONNECTED).
constexpr bool is_unescaped(command c) noexcept {
  return c == command::connect || c == command::stomp || c == command::connected;
}

/// True for the frames allowed to carry a body (SEND, MESSAGE, ERROR).
constexpr bool may_have_body(command c) noexcept {
  return c == command::send || c == command::message || c == command::error;
}

/// One header as views; valid as long as the frame_view it came from.
struct header_view {
  std::string_view name;
  std::string_view value;
};

/// A parsed frame whose strings point into the parser's buffers. Valid until the next call
/// to the parser that produced it. Headers keep wire order, duplicates included; `get`
/// implements "the first one wins".
struct frame_view {
  command cmd = command::send;
  const header_view* headers = nullptr;
  std::size_t header_count = 0;
  std::string_view body;

  /// The value of the first header called `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const noexcept;
};

/// An owning frame, for building frames to send and for tests.
struct frame {
  command cmd = command::send;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;

  frame() = default;
  explicit frame(command c) : cmd(c) {}

  frame& add(std::string name, std::string value) {
    headers.emplace_back(std::move(name), std::move(value));
    return *this;
  }

  /// The value of the first header called `name`, if any.
  std::optional<std::string_view> get(std::string_view name) const noexcept;

  /// A deep copy of a parsed frame.
  static frame from_view(const frame_view& v);
};

/// Options of the encoder.
struct encode_options {
  /// Use "\r\n" instead of "\n" as line end.
  bool crlf = false;
  /// Add content-length to every frame that has a body or is a SEND/MESSAGE/ERROR (a body may
  /// contain NUL). Never duplicates a content-length the frame already has.
  bool content_length = true;
};

/// Appends the wire form of `f` to `out` (escaping header names and values except for
/// CONNECT/STOMP/CONNECTED, terminating NUL included).
void encode(const frame& f, std::string& out, const encode_options& opts = {});

/// Convenience: the wire form of `f`.
std::string encode(const frame& f, const encode_options& opts = {});

/// Appends `s` escaped per STOMP 1.2 (\\ \r \n \c) to `out`.
void escape_to(std::string_view s, std::string& out);

/// Appends the unescaped form of `s` to `out`; false on an undefined escape (`\t`, a trailing
/// lone backslash).
bool unescape_to(std::string_view s, std::string& out);

/// `unescape_at`'s answer when every escape was defined.
inline constexpr std::size_t unescape_ok = static_cast<std::size_t>(-1);

/// Like `unescape_to`, but tells where: the index in `s` of the first undefined escape, or
/// `unescape_ok`.
std::size_t unescape_at(std::string_view s, std::string& out);

/// The checks a server applies to a frame received from a client that the parser leaves out
/// because a client must not apply them to what it receives: the command is a client command
/// (else `unexpected_frame`), only SEND may carry a body (else `unexpected_body`, ST-13), and
/// the headers the spec requires are present (else `missing_header`: destination on SEND and
/// SUBSCRIBE, id on SUBSCRIBE, UNSUBSCRIBE, ACK and NACK, transaction on BEGIN, COMMIT and
/// ABORT). Returns an empty error_code when the frame is acceptable.
std::error_code check_server_frame(const frame_view& f) noexcept;

} // namespace stompede::stomp
