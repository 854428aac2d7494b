#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stompede::net {

/// A parsed ws://, wss://, http:// or https:// URL.
struct url {
  std::string scheme; // lower case
  std::string host;   // without brackets for IPv6
  std::uint16_t port = 0;
  std::string target = "/"; // path + query

  bool tls() const noexcept {
    return scheme == "wss" || scheme == "https";
  }
  /// "host:port" as the Host header wants it (brackets for IPv6, port omitted when default).
  std::string host_header() const;
  /// The URL back as text.
  std::string to_string() const;
  /// The URL with its query replaced by "?..." (query strings often carry tokens): for logs.
  std::string to_redacted_string() const;
  /// The default port of `scheme` (80 or 443), 0 for an unknown scheme.
  static std::uint16_t default_port(std::string_view scheme) noexcept;
};

/// Parses a URL; nullopt with `why` set when it is not one of the four schemes or malformed.
std::optional<url> parse_url(std::string_view s, std::string* why = nullptr);

/// True when `host` is a loopback address or name (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(std::string_view host) noexcept;

} // namespace stompede::net
