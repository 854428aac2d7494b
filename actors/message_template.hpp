#pragma once

// A destination or body template with {placeholders}, split once into literal and variable
// parts so that rendering per message is a few appends and no parsing.

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace stompede {

/// The values a template may refer to.
struct template_vars {
  std::uint64_t user = 0;
  std::int64_t member = 0;
  std::int64_t room = 0;
  std::uint64_t seq = 0;
  /// Already JSON-escaped message text.
  std::string_view content;
  /// ISO-8601 UTC time.
  std::string_view created_at;
};

class message_template {
public:
  /// Known placeholders: {user} {member} {room} {seq} {content} {created_at}. Anything else in
  /// braces (JSON objects!) is literal text.
  explicit message_template(std::string_view text = {});

  /// Appends the rendered template to `out`.
  void render(const template_vars& v, std::string& out) const;

  std::string render(const template_vars& v) const {
    std::string s;
    render(v, s);
    return s;
  }

  /// True when the template refers to {name}.
  bool uses(std::string_view name) const;

private:
  enum class var : std::uint8_t { literal, user, member, room, seq, content, created_at };
  struct part {
    var kind;
    std::string text;
  };
  std::vector<part> parts_;
};

/// Appends `s` JSON-escaped (quotes, backslashes, control characters) to `out`.
void json_escape_to(std::string_view s, std::string& out);

/// The current UTC time as ISO-8601 with milliseconds ("2026-11-26T12:00:00.123Z").
std::string iso8601_now();

} // namespace stompede
