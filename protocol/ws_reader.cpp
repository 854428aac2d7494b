#include "protocol/ws_reader.hpp"
#include "protocol/utf8.hpp"
#include "protocol/ws_frame.hpp"

#include <algorithm>
#include <cstring>

namespace stompede::net {
bool ws_reader::fail(ws_read_error e, const char* reason) {
  error_ = e;
  reason_ = reason;
  return false;
}

bool ws_reader::deliver(std::string_view payload, bool text, ws_reader_handler& handler) {
  if (text && !valid_utf8(payload))
    return fail(ws_read_error::invalid_utf8, "a text message that is not UTF-8");
  if (!handler.on_ws_message(payload))
    stopped_ = true;
  return true;
}

std::size_t ws_reader::parse(std::string_view data, ws_reader_handler& handler) {
  std::size_t pos = 0;
  while (!closed_ && !stopped_ && error_ == ws_read_error::none) {
    const std::size_t avail = data.size() - pos;
    ws::frame_header h;
    const auto status = ws::parse_header(data.substr(pos), h);
    if (status == ws::header_status::need_more)
      break;
    if (status == ws::header_status::bad)
      return fail(ws_read_error::protocol_error,
                  "a 64-bit length with its top bit set, or a fragmented or long control frame"),
             pos;
    if (h.rsv)
      return fail(ws_read_error::protocol_error, "reserved bits set (no extension agreed)"), pos;
    if (h.masked)
      return fail(ws_read_error::protocol_error, "a masked frame from the server"), pos;
    if ((h.header_len == 4 && h.payload_len < 126) ||
        (h.header_len == 10 && h.payload_len <= 0xFFFF))
      return fail(ws_read_error::protocol_error, "a length not in its shortest form"), pos;
    if (ws::is_control(h.op)) {
      if (h.op > ws::pong)
        return fail(ws_read_error::protocol_error, "an unknown control opcode"), pos;
    } else {
      if (h.op > ws::binary)
        return fail(ws_read_error::protocol_error, "an unknown data opcode"), pos;
      if (h.op == ws::continuation && !in_message_)
        return fail(ws_read_error::protocol_error, "a continuation frame outside a message"),
               pos;
      if (h.op != ws::continuation && in_message_)
        return fail(ws_read_error::protocol_error, "a new message inside a fragmented one"), pos;
      const std::uint64_t so_far = in_message_ ? message_.size() : 0;
      if (h.payload_len > max_message_bytes_ || so_far + h.payload_len > max_message_bytes_)
        return fail(ws_read_error::message_too_large, "a message over the size limit"), pos;
    }
    if (avail - h.header_len < h.payload_len)
      break; // the rest of this frame has not arrived
    const std::string_view payload(data.data() + pos + h.header_len,
                                   static_cast<std::size_t>(h.payload_len));
    pos += h.header_len + static_cast<std::size_t>(h.payload_len);
    switch (h.op) {
    case ws::ping:
      handler.on_ws_ping(payload);
      break;
    case ws::pong:
      handler.on_ws_pong(payload);
      break;
    case ws::close: {
      if (payload.size() == 1)
        return fail(ws_read_error::protocol_error, "a close frame of one byte"), pos;
      std::uint16_t code = 1005;
      std::string_view reason;
      if (payload.size() >= 2) {
        code = static_cast<std::uint16_t>((static_cast<unsigned char>(payload[0]) << 8) |
                                          static_cast<unsigned char>(payload[1]));
        reason = payload.substr(2);
        if (!ws::valid_close_code(code))
          return fail(ws_read_error::protocol_error, "an invalid close code"), pos;
        if (!valid_utf8(reason))
          return fail(ws_read_error::invalid_utf8, "a close reason that is not UTF-8"), pos;
      }
      closed_ = true;
      handler.on_ws_close(code, reason);
      return pos;
    }
    default: // data
      if (h.op != ws::continuation && h.fin) {
        if (!deliver(payload, h.op == ws::text, handler))
          return pos;
        break;
      }
      if (h.op != ws::continuation) {
        in_message_ = true;
        message_text_ = h.op == ws::text;
      }
      message_.append(payload);
      if (h.fin) {
        in_message_ = false;
        // The handler may stop the reader; the message is given back either way.
        std::string whole = std::move(message_);
        message_ = std::string();
        if (!deliver(whole, message_text_, handler))
          return pos;
      }
      break;
    }
  }
  return pos;
}

ws_read_error ws_reader::feed(std::string_view data, ws_reader_handler& handler) {
  if (error_ != ws_read_error::none || closed_)
    return error_;
  stopped_ = false;
  if (carry_.empty()) {
    const std::size_t used = parse(data, handler);
    if (used < data.size() && error_ == ws_read_error::none && !closed_)
      carry_.assign(data.substr(used));
  } else {
    carry_.append(data);
    const std::size_t used = parse(carry_, handler);
    if (error_ != ws_read_error::none || closed_ || used == carry_.size())
      std::string().swap(carry_); // an idle connection keeps no buffer
    else
      carry_.erase(0, used);
  }
  return error_;
}

bool ws_reader::has_complete_frame() const {
  ws::frame_header h;
  return ws::parse_header(carry_, h) == ws::header_status::ok &&
         carry_.size() - h.header_len >= h.payload_len;
}

} // namespace stompede::net
