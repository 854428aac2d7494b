#include "config/scenario.hpp"

#include <utility>
#include <vector>

#include <algorithm>
#include <cctype>
#include <string_view>

namespace stompede::config {

bool is_sensitive_header(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  // Exact credential headers, plus anything that names itself a token, password or secret.
  if (n == "authorization" || n == "proxy-authorization" || n == "cookie" || n == "set-cookie" ||
      n == "passcode" || n == "login")
    return true;
  for (const char* part : {"token", "passw", "secret", "key", "auth", "bearer", "credential",
                           "csrf", "xsrf", "session", "signature", "jwt"})
    if (n.find(part) != std::string::npos)
      return true;
  return false;
}

bool is_sensitive_query_parameter(const std::string& name) {
  std::string n = name;
  std::transform(n.begin(), n.end(), n.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return is_sensitive_header(n) || n == "pwd" || n == "pass" || n == "sig";
}

namespace {

/// `%XX` decoded (and `+` as a space), for matching a query parameter's name.
std::string percent_decoded(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(std::string{s.substr(i + 1, 2)}, nullptr, 16));
      i += 2;
    } else {
      out += s[i] == '+' ? ' ' : s[i];
    }
  }
  return out;
}

/// Calls `f(begin, length)` for each part of `url` that redact_url hides: the userinfo before
/// the host and the values of credential-like query parameters.
template<class F>
void each_url_secret(const std::string& url, F&& f) {
  const auto sep = url.find("://");
  const std::size_t authority = sep == std::string::npos ? 0 : sep + 3;
  const std::size_t authority_end = std::min(url.find_first_of("/?#", authority), url.size());
  if (sep != std::string::npos) {
    // The last '@' of the authority ends the userinfo (a password may hold an unescaped '@').
    const auto at = url.rfind('@', authority_end == 0 ? 0 : authority_end - 1);
    if (at != std::string::npos && at >= authority && at < authority_end)
      f(authority, at - authority);
  }
  const auto q = url.find('?', authority_end);
  if (q == std::string::npos)
    return;
  const std::size_t end = std::min(url.find('#', q), url.size());
  for (std::size_t at = q + 1; at < end;) {
    const std::size_t amp = std::min(url.find_first_of("&;", at), end);
    const auto eq = url.find('=', at);
    if (eq != std::string::npos && eq < amp &&
        is_sensitive_query_parameter(percent_decoded(std::string_view{url}.substr(at, eq - at))))
      f(eq + 1, amp - eq - 1);
    at = amp + 1;
  }
}

} // namespace

std::string redact_url(const std::string& url) {
  std::vector<std::pair<std::size_t, std::size_t>> parts;
  each_url_secret(url, [&](std::size_t at, std::size_t n) { parts.emplace_back(at, n); });
  std::string out = url;
  // Back to front, so that the earlier offsets stay valid.
  for (auto it = parts.rbegin(); it != parts.rend(); ++it)
    if (it->second > 0)
      out.replace(it->first, it->second, "***");
  return out;
}

std::string scrub_secrets(std::string text, const scenario& sc) {
  std::vector<std::string> values{sc.auth.token.reveal(), sc.auth.password.reveal(),
                                  sc.auth.stomp_login.reveal(), sc.auth.stomp_passcode.reveal(),
                                  sc.experiment.admin_token.reveal()};
  for (const auto* url : {&sc.target.url, &sc.target.http_url, &sc.experiment.admin_url,
                          &sc.server_metrics.prometheus_url})
    each_url_secret(*url,
                    [&](std::size_t at, std::size_t n) { values.push_back(url->substr(at, n)); });
  for (const auto* headers : {&sc.target.connect_headers, &sc.target.upgrade_headers})
    for (const auto& h : *headers)
      if (is_sensitive_header(h.name)) {
        const auto& v = h.value.reveal();
        values.push_back(v);
        // "Bearer <token>": the token alone may come back too.
        if (auto sp = v.find(' '); sp != std::string::npos)
          values.push_back(v.substr(sp + 1));
      }
  // Longest first, so that a secret containing another is replaced whole.
  std::sort(values.begin(), values.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  for (const auto& v : values) {
    if (v.size() < 3)
      continue; // "" or a word this short would mask ordinary text, not a credential
    for (auto at = text.find(v); at != std::string::npos; at = text.find(v, at + 3))
      text.replace(at, v.size(), "***");
  }
  return text;
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

const char* to_string(fault_kind k) noexcept {
  switch (k) {
  case fault_kind::user_drop:
    return "user.drop";
  case fault_kind::user_close:
    return "user.close";
  case fault_kind::user_crash:
    return "user.crash";
  case fault_kind::user_stop_reading:
    return "user.stop_reading";
  case fault_kind::user_stop_heartbeats:
    return "user.stop_heartbeats";
  case fault_kind::user_malformed_frame:
    return "user.malformed_frame";
  case fault_kind::user_token_expiry:
    return "user.token_expiry";
  case fault_kind::server_pause:
    return "server.pause";
  case fault_kind::server_delay_broadcasts:
    return "server.delay_broadcasts";
  case fault_kind::server_drop_broadcasts:
    return "server.drop_broadcasts";
  case fault_kind::server_close_sessions:
    return "server.close_sessions";
  case fault_kind::server_refuse_connections:
    return "server.refuse_connections";
  case fault_kind::server_error:
    return "server.error";
  case fault_kind::server_restart:
    return "server.restart";
  case fault_kind::server_stall:
    return "server.stall";
  case fault_kind::proxy_toxic:
    return "net/stomp toxic";
  case fault_kind::proxy_refuse:
    return "net.refuse";
  }
  return "?";
}

bool is_proxy_fault(fault_kind k) noexcept {
  return k == fault_kind::proxy_toxic || k == fault_kind::proxy_refuse;
}

const std::vector<std::pair<std::string, std::string>>& proxy_fault_kinds() {
  static const std::vector<std::pair<std::string, std::string>> kinds{
      {"net.latency", "latency"},
      {"net.bandwidth", "bandwidth"},
      {"net.slow_close", "slow_close"},
      {"net.timeout", "timeout"},
      {"net.reset_peer", "reset_peer"},
      {"net.limit_data", "limit_data"},
      {"net.slicer", "slicer"},
      {"net.partition", "partition"},
      {"stomp.frame_delay", "frame_delay"},
      {"stomp.frame_drop", "frame_drop"},
      {"stomp.heartbeat_stall", "heartbeat_stall"},
      {"stomp.frame_split", "frame_split"},
      {"stomp.throttle", "frame_throttle"},
      {"stomp.ws_close", "ws_close"},
      {"stomp.inject_error", "inject_error"},
  };
  return kinds;
}

std::string fault_entry::kind_name() const {
  if (kind == fault_kind::proxy_toxic) {
    for (auto& [name, toxic_kind] : proxy_fault_kinds())
      if (toxic_kind == proxy_toxic)
        return name;
  }
  return to_string(kind);
}

bool is_user_fault(fault_kind k) noexcept {
  return k <= fault_kind::user_token_expiry;
}

bool is_lasting_fault(fault_kind k) noexcept {
  switch (k) {
  case fault_kind::user_stop_reading:
  case fault_kind::user_stop_heartbeats:
  case fault_kind::server_pause:
  case fault_kind::server_delay_broadcasts:
  case fault_kind::server_drop_broadcasts:
  case fault_kind::server_refuse_connections:
  case fault_kind::server_restart:
  case fault_kind::server_stall:
  case fault_kind::proxy_toxic:
  case fault_kind::proxy_refuse:
    return true;
  default:
    return false;
  }
}

std::uint32_t peak_users(const scenario& sc) noexcept {
  std::uint32_t peak = 0;
  for (const auto& st : sc.stages)
    peak = std::max(peak, st.users);
  return peak;
}

} // namespace stompede::config
