#pragma once

// UTF-8 validation for what the server relays: a WebSocket text message must be UTF-8
// (RFC 6455 8.1), so anything else goes out in a binary message.

#include <string_view>

namespace stompede::server {

/// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
/// above U+10FFFF).
bool valid_utf8(std::string_view text) noexcept;

} // namespace stompede::server
