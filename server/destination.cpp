#include "server/destination.hpp"

namespace stompede::server {

namespace {

bool starts_with(std::string_view s, std::string_view p) noexcept {
  return s.size() >= p.size() && s.compare(0, p.size(), p) == 0;
}

bool ends_with(std::string_view s, std::string_view p) noexcept {
  return s.size() >= p.size() && s.compare(s.size() - p.size(), p.size(), p) == 0;
}

} // namespace

bool parse_id(std::string_view s, std::uint64_t& out) noexcept {
  if (s.empty() || s.size() > 18 || s[0] == '0')
    return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  out = v;
  return true;
}

destination parse_destination(std::string_view d) noexcept {
  destination out;
  if (d.size() > 256)
    return out;
  constexpr std::string_view dot = "/topic/chat.room.";
  constexpr std::string_view slash = "/topic/chat/room/";
  constexpr std::string_view user = "/topic/user.";
  constexpr std::string_view summary = ".room-summary";
  constexpr std::string_view publish = "/publish/";
  std::uint64_t id = 0;
  if (starts_with(d, dot) && parse_id(d.substr(dot.size()), id)) {
    out = {destination_kind::room_topic_dot, id};
  } else if (starts_with(d, slash) && parse_id(d.substr(slash.size()), id)) {
    out = {destination_kind::room_topic_slash, id};
  } else if (starts_with(d, user) && ends_with(d, summary) &&
             d.size() > user.size() + summary.size() &&
             parse_id(d.substr(user.size(), d.size() - user.size() - summary.size()), id)) {
    out = {destination_kind::user_summary, id};
  } else if (starts_with(d, publish) && parse_id(d.substr(publish.size()), id)) {
    out = {destination_kind::publish, id};
  }
  return out;
}

std::string room_topic_dot(std::uint64_t room) {
  return "/topic/chat.room." + std::to_string(room);
}

std::string room_topic_slash(std::uint64_t room) {
  return "/topic/chat/room/" + std::to_string(room);
}

std::string user_summary_topic(std::uint64_t member) {
  return "/topic/user." + std::to_string(member) + ".room-summary";
}

bool is_broker_topic(std::string_view d) noexcept {
  constexpr std::string_view topic = "/topic/";
  if (!starts_with(d, topic) || d.size() == topic.size() || d.size() > topic.size() + 255) {
    return false;
  }
  for (char c : d) {
    if (c == '\0' || c == '\n' || c == '\r')
      return false;
  }
  return true;
}

} // namespace stompede::server
