// load_server_config: server.toml -> server_config, with file:line:col errors.

#include "server/server.hpp"

#include <toml++/toml.h>

#include <sstream>

namespace stompede::server {

namespace {

struct loader {
  std::string path;
  std::string error;

  std::string where(const toml::node& n) const {
    const auto& s = n.source();
    std::ostringstream o;
    o << path << ":" << s.begin.line << ":" << s.begin.column << ": ";
    return o.str();
  }

  bool fail(const toml::node& n, const std::string& key, const std::string& what) {
    if (error.empty())
      error = where(n) + "`" + key + "`: expected " + what;
    return false;
  }

  bool str(const toml::node& n, const std::string& key, std::string& out) {
    if (auto v = n.value<std::string>(); v && n.is_string()) {
      out = *v;
      return true;
    }
    return fail(n, key, "a string");
  }

  bool boolean(const toml::node& n, const std::string& key, bool& out) {
    if (!n.is_boolean())
      return fail(n, key, "true or false");
    out = *n.value<bool>();
    return true;
  }

  bool count(const toml::node& n, const std::string& key, std::size_t& out, std::int64_t min) {
    if (!n.is_integer() || *n.value<std::int64_t>() < min) {
      return fail(n, key, "an integer >= " + std::to_string(min));
    }
    out = static_cast<std::size_t>(*n.value<std::int64_t>());
    return true;
  }

  // "20s", "500ms", "1h", "14d", "2m".
  bool duration(const toml::node& n, const std::string& key, std::chrono::milliseconds& out) {
    const std::string what = "a duration string with a unit (\"500ms\", \"20s\", \"1h\", \"14d\")";
    if (!n.is_string())
      return fail(n, key, what);
    const std::string s = n.value_or(std::string());
    std::size_t i = 0;
    std::uint64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 12)
      v = v * 10 + (s[i++] - '0');
    if (i == 0)
      return fail(n, key, what);
    const std::string unit = s.substr(i);
    std::uint64_t ms = 0;
    if (unit == "ms")
      ms = v;
    else if (unit == "s")
      ms = v * 1000;
    else if (unit == "m")
      ms = v * 60'000;
    else if (unit == "h")
      ms = v * 3'600'000;
    else if (unit == "d")
      ms = v * 86'400'000;
    else
      return fail(n, key, what);
    out = std::chrono::milliseconds(ms);
    return true;
  }

  // 524288, "512KiB", "1MiB".
  bool bytes(const toml::node& n, const std::string& key, std::size_t& out) {
    const std::string what = "bytes: an integer or a string like \"512KiB\", \"1MiB\"";
    if (n.is_integer() && *n.value<std::int64_t>() > 0) {
      out = static_cast<std::size_t>(*n.value<std::int64_t>());
      return true;
    }
    if (!n.is_string())
      return fail(n, key, what);
    const std::string s = n.value_or(std::string());
    std::size_t i = 0;
    std::uint64_t v = 0;
    while (i < s.size() && s[i] >= '0' && s[i] <= '9' && i < 12)
      v = v * 10 + (s[i++] - '0');
    const std::string unit = s.substr(i);
    if (i == 0 || v == 0)
      return fail(n, key, what);
    if (unit == "" || unit == "B")
      out = v;
    else if (unit == "KiB")
      out = v * 1024;
    else if (unit == "MiB")
      out = v * 1024 * 1024;
    else
      return fail(n, key, what);
    return true;
  }

  bool strings(const toml::node& n, const std::string& key, std::vector<std::string>& out) {
    const auto* arr = n.as_array();
    if (arr == nullptr)
      return fail(n, key, "an array of strings");
    out.clear();
    for (const auto& e : *arr) {
      if (!e.is_string())
        return fail(e, key, "an array of strings");
      out.push_back(*e.value<std::string>());
    }
    return true;
  }

  bool heartbeat(const toml::node& n, const std::string& key, server_config& c) {
    const std::string what = "\"send_ms,recv_ms\" such as \"10000,10000\"";
    if (!n.is_string())
      return fail(n, key, what);
    const std::string s = n.value_or(std::string());
    const auto comma = s.find(',');
    if (comma == std::string::npos)
      return fail(n, key, what);
    try {
      std::size_t p1 = 0, p2 = 0;
      const auto a = std::stoul(s.substr(0, comma), &p1);
      const auto b = std::stoul(s.substr(comma + 1), &p2);
      if (p1 != comma || p2 != s.size() - comma - 1 || a > 3'600'000 || b > 3'600'000) {
        return fail(n, key, what);
      }
      c.heartbeat_send_ms = static_cast<std::uint32_t>(a);
      c.heartbeat_recv_ms = static_cast<std::uint32_t>(b);
    } catch (const std::exception&) {
      return fail(n, key, what);
    }
    return true;
  }

  bool apply(const toml::table& t, server_config& c) {
    for (const auto& [k, node] : t) {
      const std::string key(k.str());
      std::chrono::milliseconds d{};
      bool ok = true;
      if (key == "server" && node.is_table()) {
        ok = apply(*node.as_table(), c);
      } else if (key == "listen") {
        ok = str(node, key, c.listen);
      } else if (key == "mode") {
        std::string m;
        ok = str(node, key, m) &&
             (parse_server_mode(m, c.mode) || fail(node, key, "\"chat\" or \"broker\""));
      } else if (key == "users") {
        ok = count(node, key, c.users, 1);
      } else if (key == "password") {
        ok = str(node, key, c.password);
      } else if (key == "jwt_secret") {
        ok = str(node, key, c.jwt_secret) &&
             (c.jwt_secret.empty() || c.jwt_secret.size() >= 32 ||
              fail(node, key, "at least 32 bytes (256 bits), or empty for a random key"));
      } else if (key == "access_token_ttl") {
        ok = duration(node, key, d);
        c.access_token_ttl = std::chrono::duration_cast<std::chrono::seconds>(d);
      } else if (key == "refresh_token_ttl") {
        ok = duration(node, key, d);
        c.refresh_token_ttl = std::chrono::duration_cast<std::chrono::seconds>(d);
      } else if (key == "auto_rooms") {
        ok = boolean(node, key, c.auto_rooms);
      } else if (key == "room_size") {
        ok = count(node, key, c.room_size, 1);
      } else if (key == "first_room_member") {
        ok = count(node, key, c.first_room_member, 1);
      } else if (key == "room_summaries") {
        ok = boolean(node, key, c.room_summaries);
      } else if (key == "max_frame_bytes") {
        ok = bytes(node, key, c.max_frame_bytes);
      } else if (key == "allowed_origins") {
        ok = strings(node, key, c.allowed_origins);
      } else if (key == "coalesce_frames") {
        ok = boolean(node, key, c.coalesce_frames);
      } else if (key == "max_queue_bytes") {
        ok = bytes(node, key, c.max_queue_bytes);
      } else if (key == "slow_consumer_timeout") {
        ok = duration(node, key, c.slow_consumer_timeout);
      } else if (key == "connect_timeout") {
        ok = duration(node, key, c.connect_timeout);
      } else if (key == "max_sessions") {
        ok = count(node, key, c.max_sessions, 1);
      } else if (key == "heartbeat") {
        ok = heartbeat(node, key, c);
      } else if (key == "heartbeat_grace") {
        if (auto v = node.value<double>(); v && *v >= 1.0 && *v <= 10.0) {
          c.heartbeat_grace = *v;
        } else {
          ok = fail(node, key, "a number between 1 and 10");
        }
      } else if (key == "io_threads") {
        ok = count(node, key, c.io_threads, 1);
      } else if (key == "admin_token") {
        ok = str(node, key, c.admin_token);
      } else if (key == "metrics") {
        ok = boolean(node, key, c.metrics);
      } else if (key == "tls_cert_file") {
        ok = str(node, key, c.tls_cert_file);
      } else if (key == "tls_key_file") {
        ok = str(node, key, c.tls_key_file);
      } else if (key == "tls_client_ca_file") {
        ok = str(node, key, c.tls_client_ca_file);
      } else {
        ok = fail(node, key, "a known server setting (see docs/server.md)");
        error = where(node) + "unknown key `" + key + "` (see docs/server.md)";
      }
      if (!ok)
        return false;
    }
    return true;
  }
};

} // namespace

std::variant<server_config, std::string> load_server_config(const std::string& path) {
  toml::table t;
  try {
    t = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    std::ostringstream o;
    o << path << ":" << e.source().begin.line << ":" << e.source().begin.column << ": "
      << e.description();
    return o.str();
  }
  server_config c;
  loader l{path, {}};
  if (!l.apply(t, c))
    return l.error;
  return c;
}

} // namespace stompede::server
