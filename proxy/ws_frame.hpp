#pragma once

// The fault proxy reads and writes WebSocket frames with the protocol library's primitives.

#include "protocol/ws_frame.hpp"

namespace stompede::proxy {
namespace ws = ::stompede::ws;
} // namespace stompede::proxy
