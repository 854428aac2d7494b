#include "protocol/stomp_frame.hpp"

#include <charconv>
#include <cstring>

namespace stompede::stomp {

namespace {

constexpr std::string_view command_names[] = {
    "CONNECT", "STOMP",  "CONNECTED", "SEND",       "SUBSCRIBE", "UNSUBSCRIBE", "ACK",   "NACK",
    "BEGIN",   "COMMIT", "ABORT",     "DISCONNECT", "MESSAGE",   "RECEIPT",     "ERROR",
};

// Escaping applies to names and values alike; the common case has nothing to escape, so
// look for the four special bytes first and append the whole string in one go.
bool needs_escape(std::string_view s) noexcept {
  for (char c : s)
    if (c == '\\' || c == '\r' || c == '\n' || c == ':')
      return true;
  return false;
}

void append_header(std::string& out, std::string_view name, std::string_view value, bool raw,
                   std::string_view eol) {
  if (raw) {
    out.append(name);
    out.push_back(':');
    out.append(value);
  } else {
    escape_to(name, out);
    out.push_back(':');
    escape_to(value, out);
  }
  out.append(eol);
}

bool iequals_content_length(std::string_view s) noexcept {
  return s == "content-length";
}

} // namespace

std::string_view to_string(command c) noexcept {
  auto i = static_cast<std::size_t>(c);
  return i < std::size(command_names) ? command_names[i] : std::string_view{"?"};
}

bool could_be_command(std::string_view s) noexcept {
  static constexpr std::string_view names[] = {
      "ACK",    "SEND",      "NACK",    "STOMP",      "BEGIN",   "ABORT",       "ERROR", "COMMIT",
      "CONNECT", "MESSAGE", "RECEIPT", "SUBSCRIBE", "CONNECTED", "DISCONNECT", "UNSUBSCRIBE"};
  for (auto name : names)
    if (name.substr(0, s.size()) == s)
      return true;
  return false;
}

std::optional<command> parse_command(std::string_view s) noexcept {
  // Dispatch on length and first byte: the parser calls this for every frame.
  switch (s.size()) {
  case 3:
    if (s == "ACK")
      return command::ack;
    break;
  case 4:
    if (s == "SEND")
      return command::send;
    if (s == "NACK")
      return command::nack;
    break;
  case 5:
    if (s == "STOMP")
      return command::stomp;
    if (s == "BEGIN")
      return command::begin;
    if (s == "ABORT")
      return command::abort;
    if (s == "ERROR")
      return command::error;
    break;
  case 6:
    if (s == "COMMIT")
      return command::commit;
    break;
  case 7:
    if (s == "MESSAGE")
      return command::message;
    if (s == "CONNECT")
      return command::connect;
    if (s == "RECEIPT")
      return command::receipt;
    break;
  case 9:
    if (s == "CONNECTED")
      return command::connected;
    if (s == "SUBSCRIBE")
      return command::subscribe;
    break;
  case 10:
    if (s == "DISCONNECT")
      return command::disconnect;
    break;
  case 11:
    if (s == "UNSUBSCRIBE")
      return command::unsubscribe;
    break;
  default:
    break;
  }
  return std::nullopt;
}

std::optional<std::string_view> frame_view::get(std::string_view name) const noexcept {
  for (std::size_t i = 0; i < header_count; ++i)
    if (headers[i].name == name)
      return headers[i].value;
  return std::nullopt;
}

std::optional<std::string_view> frame::get(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers)
    if (n == name)
      return std::string_view{v};
  return std::nullopt;
}

frame frame::from_view(const frame_view& v) {
  frame f{v.cmd};
  f.headers.reserve(v.header_count);
  for (std::size_t i = 0; i < v.header_count; ++i)
    f.headers.emplace_back(std::string{v.headers[i].name}, std::string{v.headers[i].value});
  f.body.assign(v.body.data(), v.body.size());
  return f;
}

void escape_to(std::string_view s, std::string& out) {
  if (!needs_escape(s)) {
    out.append(s);
    return;
  }
  for (char c : s) {
    switch (c) {
    case '\\':
      out.append("\\\\", 2);
      break;
    case '\r':
      out.append("\\r", 2);
      break;
    case '\n':
      out.append("\\n", 2);
      break;
    case ':':
      out.append("\\c", 2);
      break;
    default:
      out.push_back(c);
      break;
    }
  }
}

std::size_t unescape_at(std::string_view s, std::string& out) {
  std::size_t i = 0;
  while (i < s.size()) {
    const void* bs = std::memchr(s.data() + i, '\\', s.size() - i);
    if (bs == nullptr) {
      out.append(s.data() + i, s.size() - i);
      return unescape_ok;
    }
    auto at = static_cast<std::size_t>(static_cast<const char*>(bs) - s.data());
    out.append(s.data() + i, at - i);
    if (at + 1 >= s.size())
      return at; // a lone backslash at the end
    switch (s[at + 1]) {
    case '\\':
      out.push_back('\\');
      break;
    case 'r':
      out.push_back('\r');
      break;
    case 'n':
      out.push_back('\n');
      break;
    case 'c':
      out.push_back(':');
      break;
    default:
      return at;
    }
    i = at + 2;
  }
  return unescape_ok;
}

bool unescape_to(std::string_view s, std::string& out) {
  return unescape_at(s, out) == unescape_ok;
}

void encode(const frame& f, std::string& out, const encode_options& opts) {
  const std::string_view eol = opts.crlf ? std::string_view{"\r\n"} : std::string_view{"\n"};
  const bool raw = is_unescaped(f.cmd);

  // One reservation for the common case (nothing to escape) keeps growth to a single step.
  std::size_t need = to_string(f.cmd).size() + 2 * eol.size() + f.body.size() + 1 + 40;
  for (const auto& [n, v] : f.headers)
    need += n.size() + v.size() + 1 + eol.size();
  out.reserve(out.size() + need);

  out.append(to_string(f.cmd));
  out.append(eol);
  bool has_length = false;
  for (const auto& [n, v] : f.headers) {
    has_length = has_length || iequals_content_length(n);
    append_header(out, n, v, raw, eol);
  }
  if (opts.content_length && !has_length && (!f.body.empty() || may_have_body(f.cmd))) {
    char digits[24];
    auto r = std::to_chars(digits, digits + sizeof digits, f.body.size());
    out.append("content-length:");
    out.append(digits, static_cast<std::size_t>(r.ptr - digits));
    out.append(eol);
  }
  out.append(eol);
  out.append(f.body);
  out.push_back('\0');
}

std::string encode(const frame& f, const encode_options& opts) {
  std::string out;
  encode(f, out, opts);
  return out;
}

} // namespace stompede::stomp

namespace stompede::stomp {

std::error_code check_server_frame(const frame_view& f) noexcept {
  auto require = [&](std::string_view name) { return f.get(name).has_value(); };
  switch (f.cmd) {
  case command::connected:
  case command::message:
  case command::receipt:
  case command::error:
    return make_error_code(errc::unexpected_frame);
  default:
    break;
  }
  if (!f.body.empty() && f.cmd != command::send)
    return make_error_code(errc::unexpected_body);
  bool ok = true;
  switch (f.cmd) {
  case command::send:
    ok = require("destination");
    break;
  case command::subscribe:
    ok = require("destination") && require("id");
    break;
  case command::unsubscribe:
  case command::ack:
  case command::nack:
    ok = require("id");
    break;
  case command::begin:
  case command::commit:
  case command::abort:
    ok = require("transaction");
    break;
  default:
    break;
  }
  return ok ? std::error_code{} : make_error_code(errc::missing_header);
}

} // namespace stompede::stomp
