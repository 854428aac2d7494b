#pragma once

#include "protocol/stomp_error.hpp"
#include "protocol/stomp_frame.hpp"

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace stompede::stomp {

/// Bounds on what a parser accepts; anything beyond is a categorised error, checked before any
/// allocation of that size.
struct parser_limits {
  /// Command + headers + body of one frame, in bytes.
  std::size_t max_frame_bytes = 512 * 1024;
  /// Number of header lines.
  std::size_t max_headers = 64;
  /// Bytes of one header line.
  std::size_t max_header_line = 8 * 1024;
  /// Bytes of a body.
  std::size_t max_body_bytes = 512 * 1024;
};

/// What `parser::next` found.
enum class parse_status {
  /// A complete frame is in the out-parameter.
  frame,
  /// One EOL between frames (a heart-beat); counts as life, carries nothing.
  heartbeat,
  /// Everything fed so far is consumed; feed more bytes.
  need_more,
  /// The stream is broken; `error()` and `error_offset()` tell why and where. The parser stays
  /// in this state until `reset()`.
  error,
};

/// An incremental STOMP 1.2 parser fed with arbitrary byte slices (one WebSocket message may
/// hold several frames, part of one, or heart-beat EOLs). Pull-style:
///
///   p.feed(bytes);
///   frame_view f;
///   for (;;) { auto s = p.next(f); if (s == parse_status::frame) ...; else if ... }
///
/// Steady state allocates nothing per frame: headers are views into a reused buffer. A
/// frame_view stays valid until the next call to `feed`, `next` or `reset`.
class parser {
public:
  explicit parser(parser_limits limits = {});

  /// Appends bytes to the internal buffer (compacting what earlier frames consumed).
  void feed(std::string_view bytes);

  /// Extracts the next frame or heart-beat from what has been fed.
  parse_status next(frame_view& out);

  /// The error after `next` returned parse_status::error.
  std::error_code error() const noexcept {
    return error_;
  }

  /// Byte offset, counted from the first byte ever fed (or since `reset`), of the error.
  std::size_t error_offset() const noexcept {
    return error_offset_;
  }

  /// Bytes fed but not yet consumed (a partial frame).
  std::size_t buffered() const noexcept;

  /// Forgets all state and buffered bytes.
  void reset();

  const parser_limits& limits() const noexcept {
    return limits_;
  }

private:
  parse_status fail(errc e, std::size_t at);

  parser_limits limits_;
  std::string buf_;         // fed bytes; [pos_, buf_.size()) not yet consumed
  std::size_t pos_ = 0;     // first unconsumed byte
  std::size_t base_ = 0;    // stream offset of buf_[0]
  std::size_t scan_ = 0;    // where to resume looking for the end of the header block
  bool consume_pending_ = false;
  std::size_t consume_to_ = 0;
  std::vector<header_view> headers_;
  std::string scratch_;     // unescaped header values live here
  std::error_code error_;
  std::size_t error_offset_ = 0;
};

} // namespace stompede::stomp
