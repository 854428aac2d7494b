#pragma once

#include "protocol/stomp_error.hpp"
#include "protocol/stomp_frame.hpp"

#include <cstddef>
#include <cstdint>
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
///
/// Limits are enforced on bytes as they arrive, so an unterminated frame never buffers more
/// than `max_frame_bytes` plus one fed slice. The error is the same however the stream is
/// sliced: the limit whose boundary byte comes first wins, and `error_offset` is that byte
/// (frame start + max_frame_bytes, line start + max_header_line, body start + max_body_bytes,
/// the start of the first header line too many). Other offsets: the frame start for
/// unknown_command (reported as soon as the command line is complete), the line start for
/// malformed_header, the backslash for invalid_escape, the value for invalid_content_length, the
/// byte that should be NUL for missing_nul. A declared content-length is checked against the limits
/// before any body byte is awaited. Body-on- non-body-frame (ST-13) is not the parser's business:
/// servers call `check_server_frame`. After an error, `feed` discards its input until `reset`.
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

  /// Gives the buffers' memory back (bytes, header views, unescaped values) when no byte is
  /// buffered, so a quiet connection holds none between messages (the next frame allocates
  /// again). Frame views from earlier `next` calls
  /// become invalid; error offsets keep counting from the first byte ever fed.
  void release_buffer() noexcept;

  const parser_limits& limits() const noexcept {
    return limits_;
  }

private:
  enum class phase : std::uint8_t { idle, headers, body };

  parse_status fail(errc e, std::size_t at);
  parse_status scan_headers();
  parse_status parse_block();

  parser_limits limits_;
  std::string buf_;              // fed bytes; [pos_, buf_.size()) not yet consumed
  std::size_t pos_ = 0;          // first unconsumed byte = start of the current frame
  std::size_t base_ = 0;         // stream offset of buf_[0]
  bool consume_pending_ = false; // the last frame returned is consumed on the next call
  std::size_t consume_to_ = 0;
  phase phase_ = phase::idle;
  // Offsets below are relative to pos_, so compaction in `feed` does not disturb them.
  std::size_t line_ = 0;     // start of the header line being scanned
  std::size_t lines_ = 0;    // complete lines of the current frame, command line included
  std::size_t body_ = 0;     // start of the body (one past the blank line)
  std::size_t nul_scan_ = 0; // where the search for a terminating NUL resumes
  bool has_length_ = false;
  std::uint64_t length_ = 0;
  bool views_stale_ = false; // a feed since the headers were parsed may have moved buf_
  command cmd_ = command::send;
  std::vector<header_view> headers_;
  std::string scratch_; // unescaped header names and values live here
  std::error_code error_;
  std::size_t error_offset_ = 0;
};

} // namespace stompede::stomp
