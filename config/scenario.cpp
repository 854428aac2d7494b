#include "config/scenario.hpp"

#include <algorithm>
#include <cctype>

namespace stompede::config {

bool is_sensitive_header(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Exact credential headers, plus anything that names itself a token, password or secret.
  if (n == "authorization" || n == "proxy-authorization" || n == "cookie" || n == "set-cookie" ||
      n == "passcode" || n == "login")
    return true;
  for (const char* part : {"token", "passw", "secret", "api-key", "apikey", "auth"})
    if (n.find(part) != std::string::npos)
      return true;
  return false;
}

const char* to_string(auth_mode m) noexcept {
  switch (m) {
  case auth_mode::none:
    return "none";
  case auth_mode::token:
    return "token";
  case auth_mode::login:
    return "login";
  }
  return "?";
}

const char* to_string(rooms_mode m) noexcept {
  switch (m) {
  case rooms_mode::existing:
    return "existing";
  case rooms_mode::per_users:
    return "per_users";
  case rooms_mode::create:
    return "create";
  }
  return "?";
}

const char* to_string(wait_for w) noexcept {
  switch (w) {
  case wait_for::nothing:
    return "nothing";
  case wait_for::all_subscribed:
    return "all_subscribed";
  }
  return "?";
}

const char* to_string(behaviour_kind k) noexcept {
  switch (k) {
  case behaviour_kind::seed_mix:
    return "seed_mix";
  case behaviour_kind::listener:
    return "listener";
  }
  return "?";
}

} // namespace stompede::config
