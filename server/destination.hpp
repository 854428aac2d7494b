#pragma once

// Destinations of the chat protocol. Strict: digits only for ids, no leading zeros, no
// trailing characters, bounded length; anything else is `unknown` (headers are attacker data).

#include <cstdint>
#include <string>
#include <string_view>

namespace stompede::server {

enum class destination_kind {
  unknown,
  room_topic_dot,   ///< /topic/chat.room.{roomId}   (what the service broadcasts on)
  room_topic_slash, ///< /topic/chat/room/{roomId}   (what the original tool subscribes to)
  user_summary,     ///< /topic/user.{memberId}.room-summary
  publish,          ///< /publish/{roomId}
};

struct destination {
  destination_kind kind = destination_kind::unknown;
  std::uint64_t id = 0; ///< room id or member id
};

/// Classifies a chat-mode destination.
destination parse_destination(std::string_view d) noexcept;

/// Parses a positive decimal id without sign or leading zeros (at most 18 digits).
bool parse_id(std::string_view s, std::uint64_t& out) noexcept;

/// The two room topic spellings.
std::string room_topic_dot(std::uint64_t room);
std::string room_topic_slash(std::uint64_t room);
std::string user_summary_topic(std::uint64_t member);

/// A broker-mode topic: "/topic/" followed by 1..255 bytes without NUL or line breaks.
bool is_broker_topic(std::string_view d) noexcept;

} // namespace stompede::server
