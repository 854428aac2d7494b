#include "protocol/ws_frame.hpp"

#include <cstring>

namespace stompede::ws {

header_status parse_header(std::string_view buf, frame_header& h) noexcept {
  if (buf.size() < 2)
    return header_status::need_more;
  const auto b0 = static_cast<std::uint8_t>(buf[0]);
  const auto b1 = static_cast<std::uint8_t>(buf[1]);
  h.fin = (b0 & 0x80) != 0;
  h.rsv = static_cast<std::uint8_t>((b0 >> 4) & 0x7);
  h.op = static_cast<std::uint8_t>(b0 & 0x0F);
  h.masked = (b1 & 0x80) != 0;
  std::uint64_t len = b1 & 0x7F;
  std::size_t pos = 2;
  if (len == 126) {
    if (buf.size() < 4)
      return header_status::need_more;
    len =
        (std::uint64_t{static_cast<std::uint8_t>(buf[2])} << 8) | static_cast<std::uint8_t>(buf[3]);
    pos = 4;
  } else if (len == 127) {
    if (buf.size() < 10)
      return header_status::need_more;
    len = 0;
    for (std::size_t i = 0; i < 8; ++i)
      len = (len << 8) | static_cast<std::uint8_t>(buf[2 + i]);
    if (len >> 63)
      return header_status::bad;
    pos = 10;
  }
  if (is_control(h.op) && (!h.fin || len > 125))
    return header_status::bad;
  if (h.masked) {
    if (buf.size() < pos + 4)
      return header_status::need_more;
    for (std::size_t i = 0; i < 4; ++i)
      h.mask[i] = static_cast<std::uint8_t>(buf[pos + i]);
    pos += 4;
  }
  h.payload_len = len;
  h.header_len = pos;
  return header_status::ok;
}

void apply_mask(char* data, std::size_t n, const std::uint8_t mask[4],
                std::uint64_t offset) noexcept {
  // Eight bytes at a time with the key rotated to `offset`: every client frame is masked.
  std::uint8_t k[8];
  for (std::size_t i = 0; i < 8; ++i)
    k[i] = mask[(offset + i) & 3];
  std::uint64_t k64;
  std::memcpy(&k64, k, sizeof k64);
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, data + i, sizeof w);
    w ^= k64;
    std::memcpy(data + i, &w, sizeof w);
  }
  for (; i < n; ++i)
    data[i] = static_cast<char>(static_cast<std::uint8_t>(data[i]) ^ k[i & 7]);
}

std::size_t encode_header(char* out, bool fin, std::uint8_t op, std::uint64_t len,
                          const std::uint8_t* mask) noexcept {
  std::size_t n = 0;
  out[n++] = static_cast<char>((fin ? 0x80 : 0x00) | (op & 0x0F));
  const std::uint8_t m = mask ? 0x80 : 0x00;
  if (len < 126) {
    out[n++] = static_cast<char>(m | len);
  } else if (len <= 0xFFFF) {
    out[n++] = static_cast<char>(m | 126);
    out[n++] = static_cast<char>((len >> 8) & 0xFF);
    out[n++] = static_cast<char>(len & 0xFF);
  } else {
    out[n++] = static_cast<char>(m | 127);
    for (int i = 7; i >= 0; --i)
      out[n++] = static_cast<char>((len >> (8 * i)) & 0xFF);
  }
  if (mask) {
    for (int i = 0; i < 4; ++i)
      out[n++] = static_cast<char>(mask[i]);
  }
  return n;
}

void append_frame(std::string& out, bool fin, std::uint8_t op, std::string_view payload,
                  const std::uint8_t* mask) {
  char header[max_header_bytes];
  const auto h = encode_header(header, fin, op, payload.size(), mask);
  out.reserve(out.size() + h + payload.size());
  out.append(header, h);
  const std::size_t at = out.size();
  out.append(payload);
  if (mask)
    apply_mask(out.data() + at, payload.size(), mask);
}

std::string close_payload(std::uint16_t code, std::string_view reason) {
  std::string p;
  p.push_back(static_cast<char>((code >> 8) & 0xFF));
  p.push_back(static_cast<char>(code & 0xFF));
  p.append(reason.substr(0, 123));
  return p;
}

bool valid_close_code(std::uint16_t code) noexcept {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
         (code >= 3000 && code <= 4999);
}

} // namespace stompede::ws
