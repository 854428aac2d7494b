#include "protocol/url.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace stompede::net {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool fail(std::string* why, const char* text) {
  if (why)
    *why = text;
  return false;
}

bool parse_port(std::string_view s, std::uint16_t& port) {
  if (s.empty() || s.size() > 5)
    return false;
  unsigned value = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  if (value == 0 || value > 65535)
    return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

bool valid_reg_name(std::string_view host) {
  // Letters, digits, '-', '.', '_' (docker-style names use '_'); no spaces or delimiters.
  return std::all_of(host.begin(), host.end(), [](unsigned char c) {
    return std::isalnum(c) || c == '-' || c == '.' || c == '_';
  });
}

} // namespace

std::uint16_t url::default_port(std::string_view scheme) noexcept {
  if (scheme == "ws" || scheme == "http")
    return 80;
  if (scheme == "wss" || scheme == "https")
    return 443;
  return 0;
}

std::string url::host_header() const {
  std::string out;
  const bool v6 = host.find(':') != std::string::npos;
  if (v6)
    out += '[';
  out += host;
  if (v6)
    out += ']';
  if (port != default_port(scheme)) {
    out += ':';
    out += std::to_string(port);
  }
  return out;
}

std::string url::to_string() const {
  return scheme + "://" + host_header() + target;
}

std::string url::to_redacted_string() const {
  const auto q = target.find('?');
  if (q == std::string::npos)
    return to_string();
  return scheme + "://" + host_header() + target.substr(0, q) + "?...";
}

std::optional<url> parse_url(std::string_view s, std::string* why) {
  url u;
  const auto sep = s.find("://");
  if (sep == std::string_view::npos) {
    fail(why, "missing scheme (expected ws://, wss://, http:// or https://)");
    return std::nullopt;
  }
  u.scheme = lower(s.substr(0, sep));
  if (url::default_port(u.scheme) == 0) {
    fail(why, "unsupported scheme (expected ws, wss, http or https)");
    return std::nullopt;
  }
  std::string_view rest = s.substr(sep + 3);
  // The authority ends at the first '/', '?' or '#'.
  const auto auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view tail =
      auth_end == std::string_view::npos ? std::string_view{} : rest.substr(auth_end);
  if (authority.find('@') != std::string_view::npos) {
    // Credentials in a URL end up in logs; they belong in headers or the scenario's secrets.
    fail(why, "credentials in the URL are not supported");
    return std::nullopt;
  }
  std::string_view host;
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      fail(why, "unterminated '[' in IPv6 host");
      return std::nullopt;
    }
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        fail(why, "unexpected text after IPv6 host");
        return std::nullopt;
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        fail(why, "empty port");
        return std::nullopt;
      }
    }
    in6_addr addr{};
    const std::string h(host);
    if (inet_pton(AF_INET6, h.c_str(), &addr) != 1) {
      fail(why, "invalid IPv6 address");
      return std::nullopt;
    }
  } else {
    const auto colon = authority.rfind(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) {
        fail(why, "empty port");
        return std::nullopt;
      }
    }
    if (!valid_reg_name(host)) {
      fail(why, "invalid character in host");
      return std::nullopt;
    }
  }
  if (host.empty()) {
    fail(why, "empty host");
    return std::nullopt;
  }
  u.host = lower(host);
  u.port = url::default_port(u.scheme);
  if (!port_text.empty() && !parse_port(port_text, u.port)) {
    fail(why, "port must be a number from 1 to 65535");
    return std::nullopt;
  }
  // The fragment never goes on the wire.
  tail = tail.substr(0, tail.find('#'));
  if (tail.empty())
    u.target = "/";
  else if (tail.front() == '?')
    u.target = "/" + std::string(tail);
  else
    u.target = std::string(tail);
  if (u.target.find_first_of(" \t\r\n") != std::string::npos) {
    fail(why, "whitespace in path");
    return std::nullopt;
  }
  return u;
}

bool is_loopback_host(std::string_view host) noexcept {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  if (host.empty() || host.size() > 64)
    return false;
  char buf[65];
  std::memcpy(buf, host.data(), host.size());
  buf[host.size()] = '\0';
  for (std::size_t i = 0; i < host.size(); ++i)
    buf[i] = static_cast<char>(std::tolower(static_cast<unsigned char>(buf[i])));
  const std::string_view h(buf, host.size());
  if (h == "localhost" || h == "localhost." ||
      (h.size() > 10 && h.substr(h.size() - 10) == ".localhost"))
    return true;
  in_addr v4{};
  if (inet_pton(AF_INET, buf, &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  in6_addr v6{};
  if (inet_pton(AF_INET6, buf, &v6) == 1) {
    static const unsigned char loop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    if (std::memcmp(v6.s6_addr, loop6, 16) == 0)
      return true;
    // IPv4-mapped 127.0.0.0/8 (::ffff:127.x.y.z).
    static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    return std::memcmp(v6.s6_addr, mapped, 12) == 0 && v6.s6_addr[12] == 127;
  }
  return false;
}

} // namespace stompede::net
