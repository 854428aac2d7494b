#pragma once

// The inbound side of a WebSocket client (RFC 6455), with no socket: turns the bytes a server
// sent into whole messages and control frames, however the bytes were cut, and refuses what a
// server must not send. The transport (ws_client.cpp) feeds it what it read and writes frames
// with ws_frame.hpp.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stompede::net {

/// Why a reader stopped accepting bytes; the connection ends with it.
enum class ws_read_error : std::uint8_t {
  none,
  /// The server broke RFC 6455 (a masked frame, reserved bits, an unknown opcode, a bad
  /// length encoding, a fragmented or oversized control frame, a bad close code, a text
  /// message that is not UTF-8, ...): see ws_reader::reason().
  protocol_error,
  /// A text message (or a close reason) that is not UTF-8 (RFC 6455 8.1).
  invalid_utf8,
  /// A message longer than the reader's limit (checked from the frame header, before any
  /// byte of it is kept).
  message_too_large,
};

/// What a reader delivers, on the thread that feeds it.
class ws_reader_handler {
public:
  virtual ~ws_reader_handler() = default;
  /// One whole data message (text or binary). `payload` is valid during the call only. Return
  /// false to stop the reader after this message: it keeps the rest for resume().
  virtual bool on_ws_message(std::string_view payload) = 0;
  virtual void on_ws_ping(std::string_view payload) = 0;
  virtual void on_ws_pong(std::string_view payload) {
    (void)payload;
  }
  /// The server's close frame: its code (1005 when it carried none) and reason. The reader
  /// accepts nothing after it.
  virtual void on_ws_close(std::uint16_t code, std::string_view reason) = 0;
};

/// Reads the frames of one connection's inbound byte stream. A message that arrives whole in
/// one fed block is delivered from that block without a copy; only the bytes of a frame cut
/// by a read boundary, and a fragmented message, are kept (and given back once delivered).
class ws_reader {
public:
  explicit ws_reader(std::size_t max_message_bytes) : max_message_bytes_(max_message_bytes) {}

  /// Consumes `data`: delivers every complete message and control frame in it, keeps an
  /// incomplete frame's bytes for the next call. Stops at a close frame, at an error (returned,
  /// and returned again by every later call), or when the handler asks to.
  ws_read_error feed(std::string_view data, ws_reader_handler& handler);
  /// Goes on with the bytes kept when the handler asked to stop.
  ws_read_error resume(ws_reader_handler& handler) {
    return feed({}, handler);
  }

  /// Keeps `data` unparsed, after what is kept already (reading is paused): resume() or the
  /// next feed() parses it.
  void keep(std::string_view data) {
    if (error_ == ws_read_error::none && !closed_)
      carry_.append(data);
  }

  /// Kept bytes hold at least one complete frame not yet delivered (after a stop).
  bool has_complete_frame() const;
  /// A close frame was read.
  bool closed() const {
    return closed_;
  }
  ws_read_error error() const {
    return error_;
  }
  /// What was wrong, for a protocol_error; empty otherwise.
  std::string_view reason() const {
    return reason_;
  }
  /// Bytes kept between calls (an incomplete frame, a fragmented message).
  std::size_t kept_bytes() const {
    return carry_.size() + message_.size();
  }

private:
  /// Parses frames from `data`; returns how many bytes were consumed.
  std::size_t parse(std::string_view data, ws_reader_handler& handler);
  bool fail(ws_read_error e, const char* reason);
  bool deliver(std::string_view payload, bool text, ws_reader_handler& handler);

  std::string carry_;
  std::string message_;
  std::size_t max_message_bytes_;
  const char* reason_ = "";
  ws_read_error error_ = ws_read_error::none;
  bool in_message_ = false;
  bool message_text_ = false;
  bool closed_ = false;
  bool stopped_ = false;
};

} // namespace stompede::net
