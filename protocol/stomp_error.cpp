#include "protocol/stomp_error.hpp"

namespace stompede::stomp {

namespace {

class stomp_category final : public std::error_category {
public:
  const char* name() const noexcept override {
    return "stomp";
  }

  std::string message(int ev) const override {
    switch (static_cast<errc>(ev)) {
    case errc::ok:
      return "success";
    case errc::unknown_command:
      return "unknown STOMP command";
    case errc::malformed_header:
      return "malformed header line (no colon or empty name)";
    case errc::invalid_escape:
      return "undefined escape sequence in header";
    case errc::invalid_content_length:
      return "invalid content-length header";
    case errc::missing_nul:
      return "frame body not terminated by NUL";
    case errc::frame_too_large:
      return "frame exceeds the maximum size";
    case errc::too_many_headers:
      return "too many headers";
    case errc::header_line_too_long:
      return "header line too long";
    case errc::body_too_large:
      return "body exceeds the maximum size";
    case errc::unexpected_body:
      return "frame must not carry a body";
    case errc::unexpected_frame:
      return "frame not allowed in this session state";
    case errc::missing_header:
      return "required header missing";
    case errc::unsupported_version:
      return "no supported STOMP version";
    case errc::error_frame:
      return "peer sent an ERROR frame";
    case errc::heartbeat_timeout:
      return "heart-beat timeout";
    case errc::unknown_subscription:
      return "MESSAGE for a subscription never made";
    }
    return "unknown STOMP error";
  }
};

} // namespace

const std::error_category& error_category() noexcept {
  static const stomp_category cat;
  return cat;
}

const char* to_label(errc e) noexcept {
  switch (e) {
  case errc::ok:
    return "ok";
  case errc::unknown_command:
    return "unknown_command";
  case errc::malformed_header:
    return "malformed_header";
  case errc::invalid_escape:
    return "invalid_escape";
  case errc::invalid_content_length:
    return "invalid_content_length";
  case errc::missing_nul:
    return "missing_nul";
  case errc::frame_too_large:
    return "frame_too_large";
  case errc::too_many_headers:
    return "too_many_headers";
  case errc::header_line_too_long:
    return "header_line_too_long";
  case errc::body_too_large:
    return "body_too_large";
  case errc::unexpected_body:
    return "unexpected_body";
  case errc::unexpected_frame:
    return "unexpected_frame";
  case errc::missing_header:
    return "missing_header";
  case errc::unsupported_version:
    return "unsupported_version";
  case errc::error_frame:
    return "error_frame";
  case errc::heartbeat_timeout:
    return "heartbeat_timeout";
  case errc::unknown_subscription:
    return "unknown_subscription";
  }
  return "unknown";
}

} // namespace stompede::stomp
