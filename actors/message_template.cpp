#include "actors/message_template.hpp"

#include <chrono>
#include <cstdio>
#include <ctime>

namespace stompede {

message_template::message_template(std::string_view text) {
  static constexpr std::pair<std::string_view, var> names[] = {
      {"{user}", var::user}, {"{member}", var::member},   {"{room}", var::room},
      {"{seq}", var::seq},   {"{content}", var::content}, {"{created_at}", var::created_at},
  };
  std::string literal;
  std::size_t i = 0;
  while (i < text.size()) {
    bool matched = false;
    if (text[i] == '{') {
      for (auto& [name, kind] : names) {
        if (text.substr(i, name.size()) == name) {
          if (!literal.empty())
            parts_.push_back({var::literal, std::move(literal)});
          literal.clear();
          parts_.push_back({kind, {}});
          i += name.size();
          matched = true;
          break;
        }
      }
    }
    if (!matched)
      literal.push_back(text[i++]);
  }
  if (!literal.empty())
    parts_.push_back({var::literal, std::move(literal)});
}

void message_template::render(const template_vars& v, std::string& out) const {
  char num[24];
  auto append_num = [&](auto x, const char* fmt) {
    int n = std::snprintf(num, sizeof(num), fmt, x);
    out.append(num, static_cast<std::size_t>(n));
  };
  for (auto& p : parts_) {
    switch (p.kind) {
    case var::literal:
      out += p.text;
      break;
    case var::user:
      append_num(static_cast<unsigned long long>(v.user), "%llu");
      break;
    case var::member:
      append_num(static_cast<long long>(v.member), "%lld");
      break;
    case var::room:
      append_num(static_cast<long long>(v.room), "%lld");
      break;
    case var::seq:
      append_num(static_cast<unsigned long long>(v.seq), "%llu");
      break;
    case var::content:
      out += v.content;
      break;
    case var::created_at:
      out += v.created_at;
      break;
    }
  }
}

bool message_template::uses(std::string_view name) const {
  var wanted = var::literal;
  if (name == "user")
    wanted = var::user;
  else if (name == "member")
    wanted = var::member;
  else if (name == "room")
    wanted = var::room;
  else if (name == "seq")
    wanted = var::seq;
  else if (name == "content")
    wanted = var::content;
  else if (name == "created_at")
    wanted = var::created_at;
  for (auto& p : parts_)
    if (p.kind == wanted && wanted != var::literal)
      return true;
  return false;
}

void json_escape_to(std::string_view s, std::string& out) {
  for (char c : s) {
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (static_cast<unsigned char>(c) < 0x20) {
        char buf[8];
        std::snprintf(buf, sizeof(buf), "\\u%04x", c);
        out += buf;
      } else {
        out.push_back(c);
      }
    }
  }
}

std::string iso8601_now() {
  using namespace std::chrono;
  auto now = system_clock::now();
  auto secs = time_point_cast<seconds>(now);
  auto ms = duration_cast<milliseconds>(now - secs).count();
  std::time_t t = system_clock::to_time_t(secs);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms));
  return buf;
}

} // namespace stompede
