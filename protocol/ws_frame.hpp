#pragma once

// WebSocket (RFC 6455) frames as bytes, no sockets: parse a frame header, mask, encode a frame.
// The client's frame reader (ws_reader.hpp) and the fault proxy, which reads what flows through
// and writes frames of its own, are built on them.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace stompede::ws {

enum opcode : std::uint8_t {
  continuation = 0x0,
  text = 0x1,
  binary = 0x2,
  close = 0x8,
  ping = 0x9,
  pong = 0xA,
};

constexpr bool is_control(std::uint8_t op) noexcept {
  return (op & 0x8) != 0;
}

struct frame_header {
  bool fin = true;
  std::uint8_t rsv = 0; // RSV1..3 as bits 2..0
  std::uint8_t op = text;
  bool masked = false;
  std::uint8_t mask[4] = {0, 0, 0, 0};
  std::uint64_t payload_len = 0;
  std::size_t header_len = 0;
};

enum class header_status { ok, need_more, bad };

/// Parses the frame header at the start of `buf`. `bad` for a 64-bit length with the top bit
/// set (RFC 6455 5.2) or a control frame that is fragmented or longer than 125 bytes.
header_status parse_header(std::string_view buf, frame_header& h) noexcept;

/// XORs `n` bytes at `data` with `mask`, `offset` being the position of data[0] in the payload.
void apply_mask(char* data, std::size_t n, const std::uint8_t mask[4],
                std::uint64_t offset = 0) noexcept;

/// The longest frame header: 2 bytes, an 8-byte length and a 4-byte mask.
constexpr std::size_t max_header_bytes = 14;

/// Writes the header of a frame (RSV bits clear) of `len` payload bytes to `out` (room for
/// max_header_bytes), with `mask` when it is not null; returns its length.
std::size_t encode_header(char* out, bool fin, std::uint8_t op, std::uint64_t len,
                          const std::uint8_t* mask) noexcept;

/// Appends one frame (RSV bits clear) to `out`; masked with `mask` when it is not null.
void append_frame(std::string& out, bool fin, std::uint8_t op, std::string_view payload,
                  const std::uint8_t* mask);

/// The payload of a close frame: the code (big-endian) and the reason (cut to 123 bytes).
std::string close_payload(std::uint16_t code, std::string_view reason = {});

/// Whether a peer may send `code` in a close frame (RFC 6455 7.4: 1000-1003, 1007-1014,
/// 3000-4999).
bool valid_close_code(std::uint16_t code) noexcept;

} // namespace stompede::ws
