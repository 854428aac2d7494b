#pragma once

// UTF-8 validation (RFC 3629). A WebSocket text message must be UTF-8 (RFC 6455 8.1): the
// client checks what it receives, the server sends anything else as a binary message.

#include <string_view>

namespace stompede {

/// Whether `text` is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
/// above U+10FFFF).
bool valid_utf8(std::string_view text) noexcept;

} // namespace stompede
