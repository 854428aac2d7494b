// Toxic names, checks and the `kind:direction:key=value,...` spec syntax.

#include "proxy/fault_proxy.hpp"

#include "protocol/stomp_frame.hpp"

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace stompede::proxy {

namespace {

struct kind_name {
  toxic_kind kind;
  std::string_view name;
};

constexpr kind_name kind_names[] = {
    {toxic_kind::latency, "latency"},
    {toxic_kind::bandwidth, "bandwidth"},
    {toxic_kind::slow_close, "slow_close"},
    {toxic_kind::timeout, "timeout"},
    {toxic_kind::reset_peer, "reset_peer"},
    {toxic_kind::limit_data, "limit_data"},
    {toxic_kind::slicer, "slicer"},
    {toxic_kind::partition, "partition"},
    {toxic_kind::frame_delay, "frame_delay"},
    {toxic_kind::frame_drop, "frame_drop"},
    {toxic_kind::heartbeat_stall, "heartbeat_stall"},
    {toxic_kind::frame_split, "frame_split"},
    {toxic_kind::frame_throttle, "frame_throttle"},
    {toxic_kind::ws_close, "ws_close"},
    {toxic_kind::inject_error, "inject_error"},
};

std::string kind_list() {
  std::string s;
  for (const auto& k : kind_names) {
    if (!s.empty())
      s += ", ";
    s += k.name;
  }
  return s;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
  if (s.empty() || s.size() > 20)
    return false;
  std::uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9')
      return false;
    const std::uint64_t d = static_cast<std::uint64_t>(c - '0');
    if (v > (std::numeric_limits<std::uint64_t>::max() - d) / 10)
      return false;
    v = v * 10 + d;
  }
  out = v;
  return true;
}

bool parse_double(std::string_view s, double& out) {
  if (s.empty() || s.size() > 40)
    return false;
  std::string tmp(s);
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(tmp.c_str(), &end);
  if (errno != 0 || end != tmp.c_str() + tmp.size() || !std::isfinite(v))
    return false;
  out = v;
  return true;
}

// "200ms", "1.5s", "500us", "2m", or a bare number of milliseconds.
bool parse_duration(std::string_view s, std::chrono::milliseconds& out) {
  double scale = 1.0; // to milliseconds
  std::string_view num = s;
  auto ends = [&](std::string_view suf) {
    return s.size() > suf.size() && s.substr(s.size() - suf.size()) == suf;
  };
  if (ends("ms")) {
    num = s.substr(0, s.size() - 2);
  } else if (ends("us")) {
    num = s.substr(0, s.size() - 2);
    scale = 0.001;
  } else if (ends("s")) {
    num = s.substr(0, s.size() - 1);
    scale = 1000.0;
  } else if (ends("m")) {
    num = s.substr(0, s.size() - 1);
    scale = 60000.0;
  }
  double v = 0;
  if (!parse_double(num, v) || v < 0 || v * scale > 1e12)
    return false;
  out = std::chrono::milliseconds(static_cast<std::int64_t>(std::llround(v * scale)));
  return true;
}

std::string upper(std::string_view s) {
  std::string u(s);
  for (char& c : u)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u;
}

std::string ms_text(std::chrono::milliseconds d) {
  return std::to_string(d.count()) + "ms";
}

std::string double_text(double v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0')
    s.pop_back();
  if (!s.empty() && s.back() == '.')
    s.pop_back();
  return s;
}

} // namespace

bool is_protocol_kind(toxic_kind k) noexcept {
  switch (k) {
  case toxic_kind::frame_delay:
  case toxic_kind::frame_drop:
  case toxic_kind::heartbeat_stall:
  case toxic_kind::frame_split:
  case toxic_kind::frame_throttle:
  case toxic_kind::ws_close:
  case toxic_kind::inject_error:
    return true;
  default:
    return false;
  }
}

std::string_view to_string(toxic_kind k) noexcept {
  for (const auto& n : kind_names)
    if (n.kind == k)
      return n.name;
  return "unknown";
}

std::string_view to_string(direction d) noexcept {
  switch (d) {
  case direction::upstream:
    return "upstream";
  case direction::downstream:
    return "downstream";
  case direction::both:
    return "both";
  }
  return "unknown";
}

std::string_view to_string(toxic_scope s) noexcept {
  switch (s) {
  case toxic_scope::all:
    return "all";
  case toxic_scope::new_connections:
    return "new";
  case toxic_scope::existing_connections:
    return "existing";
  }
  return "unknown";
}

std::string check_toxic(const toxic& t) {
  const std::string k(to_string(t.kind));
  if (!(t.toxicity >= 0.0 && t.toxicity <= 1.0))
    return k + ": toxicity must be between 0 and 1";
  if (!(t.fraction >= 0.0 && t.fraction <= 1.0))
    return k + ": fraction must be between 0 and 1";
  if (t.latency.count() < 0 || t.jitter.count() < 0 || t.delay.count() < 0 || t.timeout.count() < 0)
    return k + ": durations must not be negative";
  switch (t.kind) {
  case toxic_kind::bandwidth:
    if (t.rate == 0)
      return k + ": rate (bytes per second) must be > 0";
    break;
  case toxic_kind::frame_throttle:
    if (t.rate == 0)
      return k + ": rate (frames per second) must be > 0";
    break;
  case toxic_kind::limit_data:
    if (t.bytes == 0)
      return k + ": bytes must be > 0";
    break;
  case toxic_kind::slicer:
    if (t.average_size == 0)
      return k + ": average_size must be > 0";
    if (t.size_variation >= t.average_size)
      return k + ": size_variation must be smaller than average_size";
    break;
  case toxic_kind::frame_split:
    if (t.parts < 2 || t.parts > 64)
      return k + ": parts must be between 2 and 64";
    break;
  case toxic_kind::ws_close:
    // Codes a peer may send (RFC 6455 7.4): 1000-1003, 1007-1014, 3000-4999.
    if (!((t.close_code >= 1000 && t.close_code <= 1003) ||
          (t.close_code >= 1007 && t.close_code <= 1014) ||
          (t.close_code >= 3000 && t.close_code <= 4999)))
      return k + ": close_code " + std::to_string(t.close_code) +
             " may not be sent (use 1000-1003, 1007-1014 or 3000-4999)";
    if (t.close_reason.size() > 123)
      return k + ": close_reason is longer than 123 bytes";
    break;
  case toxic_kind::inject_error:
    for (char c : t.error_message)
      if (c == '\0')
        return k + ": error_message must not contain NUL";
    break;
  default:
    break;
  }
  if (t.kind == toxic_kind::frame_delay || t.kind == toxic_kind::frame_drop ||
      t.kind == toxic_kind::frame_split || t.kind == toxic_kind::frame_throttle) {
    if (!t.command.empty() && !stomp::parse_command(upper(t.command)))
      return k + ": command '" + t.command + "' is not a STOMP command";
  }
  return {};
}

std::optional<toxic> parse_toxic(std::string_view spec, std::string& error) {
  const std::string whole(spec);
  auto fail = [&](const std::string& why) -> std::optional<toxic> {
    error = "toxic '" + whole + "': " + why;
    return std::nullopt;
  };
  toxic t;
  t.name = whole;
  std::string_view rest = trim(spec);
  const auto c1 = rest.find(':');
  const std::string_view kind = trim(rest.substr(0, c1));
  rest = c1 == std::string_view::npos ? std::string_view{} : rest.substr(c1 + 1);
  bool found = false;
  for (const auto& n : kind_names)
    if (n.name == kind) {
      t.kind = n.kind;
      found = true;
    }
  if (!found)
    return fail("unknown kind '" + std::string(kind) + "' (one of " + kind_list() + ")");

  // Optional direction: the next part when it holds no '='.
  if (!rest.empty()) {
    const auto c2 = rest.find(':');
    const std::string_view part = trim(rest.substr(0, c2));
    if (part.find('=') == std::string_view::npos) {
      if (part == "upstream" || part == "up")
        t.dir = direction::upstream;
      else if (part == "downstream" || part == "down")
        t.dir = direction::downstream;
      else if (part == "both")
        t.dir = direction::both;
      else
        return fail("unknown direction '" + std::string(part) + "' (upstream, downstream or both)");
      rest = c2 == std::string_view::npos ? std::string_view{} : rest.substr(c2 + 1);
    }
  }

  while (!rest.empty()) {
    const auto comma = rest.find(',');
    const std::string_view kv = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (kv.empty())
      continue;
    const auto eq = kv.find('=');
    if (eq == std::string_view::npos)
      return fail("'" + std::string(kv) + "' is not key=value");
    const std::string key(trim(kv.substr(0, eq)));
    const std::string_view val = trim(kv.substr(eq + 1));
    auto bad = [&](const char* what) { return fail(key + "=" + std::string(val) + ": " + what); };
    std::uint64_t u = 0;
    double d = 0;
    std::chrono::milliseconds ms{0};
    if (key == "latency" || key == "jitter" || key == "delay" || key == "timeout") {
      if (!parse_duration(val, ms))
        return bad("not a duration (200ms, 1.5s, 500us, 2m)");
      (key == "latency"  ? t.latency
       : key == "jitter" ? t.jitter
       : key == "delay"  ? t.delay
                         : t.timeout) = ms;
    } else if (key == "rate" || key == "bytes" || key == "average_size" ||
               key == "size_variation" || key == "parts" || key == "seed" || key == "close_code") {
      if (!parse_u64(val, u))
        return bad("not a non-negative integer");
      if (key == "rate")
        t.rate = u;
      else if (key == "bytes")
        t.bytes = u;
      else if (key == "average_size")
        t.average_size = static_cast<std::size_t>(u);
      else if (key == "size_variation")
        t.size_variation = static_cast<std::size_t>(u);
      else if (key == "parts")
        t.parts = static_cast<std::size_t>(u);
      else if (key == "seed")
        t.seed = u;
      else {
        if (u > 65535)
          return bad("not a close code");
        t.close_code = static_cast<std::uint16_t>(u);
      }
    } else if (key == "toxicity" || key == "fraction") {
      if (!parse_double(val, d))
        return bad("not a number");
      (key == "toxicity" ? t.toxicity : t.fraction) = d;
    } else if (key == "scope") {
      if (val == "all")
        t.scope = toxic_scope::all;
      else if (val == "new")
        t.scope = toxic_scope::new_connections;
      else if (val == "existing")
        t.scope = toxic_scope::existing_connections;
      else
        return bad("scope is all, new or existing");
    } else if (key == "command") {
      t.command = upper(val);
    } else if (key == "destination") {
      t.destination = std::string(val);
    } else if (key == "close_reason") {
      t.close_reason = std::string(val);
    } else if (key == "error_message" || key == "message") {
      t.error_message = std::string(val);
    } else if (key == "error_body" || key == "body") {
      t.error_body = std::string(val);
    } else if (key == "name") {
      t.name = std::string(val);
    } else {
      return fail("unknown key '" + key + "'");
    }
  }
  if (std::string why = check_toxic(t); !why.empty()) {
    error = "toxic '" + whole + "': " + why;
    return std::nullopt;
  }
  return t;
}

std::string format_toxic(const toxic& t) {
  std::string s(to_string(t.kind));
  s += ':';
  s += to_string(t.dir);
  std::string kv;
  auto add = [&](const std::string& k, const std::string& v) {
    kv += kv.empty() ? ":" : ",";
    kv += k + "=" + v;
  };
  const toxic def;
  if (t.toxicity != def.toxicity)
    add("toxicity", double_text(t.toxicity));
  if (t.seed != def.seed)
    add("seed", std::to_string(t.seed));
  if (t.scope != def.scope)
    add("scope", std::string(to_string(t.scope)));
  switch (t.kind) {
  case toxic_kind::latency:
    add("latency", ms_text(t.latency));
    add("jitter", ms_text(t.jitter));
    break;
  case toxic_kind::bandwidth:
    add("rate", std::to_string(t.rate));
    break;
  case toxic_kind::slow_close:
  case toxic_kind::reset_peer:
    add("delay", ms_text(t.delay));
    break;
  case toxic_kind::timeout:
    add("timeout", ms_text(t.timeout));
    break;
  case toxic_kind::limit_data:
    add("bytes", std::to_string(t.bytes));
    break;
  case toxic_kind::slicer:
    add("average_size", std::to_string(t.average_size));
    add("size_variation", std::to_string(t.size_variation));
    add("delay", ms_text(t.delay));
    break;
  case toxic_kind::partition:
  case toxic_kind::heartbeat_stall:
    break;
  case toxic_kind::frame_throttle:
    add("rate", std::to_string(t.rate));
    if (!t.command.empty())
      add("command", t.command);
    if (!t.destination.empty())
      add("destination", t.destination);
    break;
  case toxic_kind::frame_delay:
  case toxic_kind::frame_drop:
  case toxic_kind::frame_split:
    if (t.kind == toxic_kind::frame_delay) {
      add("latency", ms_text(t.latency));
      add("jitter", ms_text(t.jitter));
    }
    if (t.kind == toxic_kind::frame_split)
      add("parts", std::to_string(t.parts));
    add("fraction", double_text(t.fraction));
    if (!t.command.empty())
      add("command", t.command);
    if (!t.destination.empty())
      add("destination", t.destination);
    break;
  case toxic_kind::ws_close:
    add("delay", ms_text(t.delay));
    add("close_code", std::to_string(t.close_code));
    if (!t.close_reason.empty())
      add("close_reason", t.close_reason);
    break;
  case toxic_kind::inject_error:
    add("delay", ms_text(t.delay));
    add("error_message", t.error_message);
    if (!t.error_body.empty())
      add("error_body", t.error_body);
    break;
  }
  return s + kv;
}

} // namespace stompede::proxy
