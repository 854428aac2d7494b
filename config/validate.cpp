#include "config/validate.hpp"

#include "config/duration.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <fstream>

namespace stompede::config {

namespace {

/// The parts of a URL that validation needs.
struct url_parts {
  std::string scheme;
  std::string host;
  int port = 0;
};

/// scheme://host[:port][/path]; false with `why` when malformed.
bool split_url(const std::string& text, url_parts& out, std::string& why) {
  auto sep = text.find("://");
  if (sep == std::string::npos || sep == 0) {
    why = "expected scheme://host[:port]/path";
    return false;
  }
  out.scheme = text.substr(0, sep);
  std::string rest = text.substr(sep + 3);
  std::string authority = rest.substr(0, rest.find_first_of("/?#"));
  if (authority.find('@') != std::string::npos) {
    why = "credentials in the URL are not supported (use [auth] or headers)";
    return false;
  }
  std::string port_text;
  bool port_given = false;
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos) {
      why = "unclosed \"[\" in an IPv6 address";
      return false;
    }
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') {
        why = "expected \":PORT\" after \"]\"";
        return false;
      }
      port_text = authority.substr(close + 2);
      port_given = true;
    }
  } else {
    auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos) {
      port_text = authority.substr(colon + 1);
      port_given = true;
    }
  }
  if (out.host.empty()) {
    why = "the URL has no host";
    return false;
  }
  if (port_given) {
    if (port_text.empty() || port_text.size() > 5 ||
        port_text.find_first_not_of("0123456789") != std::string::npos ||
        std::stoi(port_text) == 0 || std::stoi(port_text) > 65535) {
      why = "expected a port from 1 to 65535";
      return false;
    }
    out.port = std::stoi(port_text);
  }
  return true;
}

/// Loopback or private (RFC 1918, IPv6 unique local) address, or "localhost".
bool is_local_host(std::string host) {
  // Host names are case-insensitive, and "localhost." is the same name written absolute.
  std::transform(host.begin(), host.end(), host.begin(),
                 [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
  if (!host.empty() && host.back() == '.')
    host.pop_back();
  if (host == "localhost" ||
      (host.size() > 10 && host.compare(host.size() - 10, 10, ".localhost") == 0))
    return true;
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    const auto a = ntohl(v4.s_addr);
    return (a >> 24) == 127 || (a >> 24) == 10 || (a >> 20) == ((172u << 4) | 1) ||
           (a >> 16) == ((192u << 8) | 168);
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    static const in6_addr loop = IN6ADDR_LOOPBACK_INIT;
    return std::equal(std::begin(v6.s6_addr), std::end(v6.s6_addr), std::begin(loop.s6_addr)) ||
           (v6.s6_addr[0] & 0xfe) == 0xfc;
  }
  return false;
}

bool is_ip_address(const std::string& host) {
  in_addr v4{};
  in6_addr v6{};
  return inet_pton(AF_INET, host.c_str(), &v4) == 1 || inet_pton(AF_INET6, host.c_str(), &v6) == 1;
}

bool is_loopback_ip(const std::string& host) {
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1)
    return (ntohl(v4.s_addr) >> 24) == 127;
  return host == "::1" || host == "localhost";
}

/// Counts printf conversions; true when there is at most one and it is an integer one.
bool valid_email_pattern(const std::string& p, std::string& why) {
  int conversions = 0;
  for (std::size_t i = 0; i < p.size(); ++i) {
    if (p[i] != '%')
      continue;
    if (i + 1 < p.size() && p[i + 1] == '%') {
      ++i;
      continue;
    }
    std::size_t j = i + 1;
    while (j < p.size() && (p[j] == '0' || p[j] == '-' || p[j] == ' ' || p[j] == '+'))
      ++j;
    const auto width_at = j;
    while (j < p.size() && p[j] >= '0' && p[j] <= '9')
      ++j;
    if (j - width_at > 2) {
      why = "the field width of " + p.substr(i, j - i + 1) + " is too large (at most 99)";
      return false;
    }
    if (j >= p.size() || (p[j] != 'd' && p[j] != 'i' && p[j] != 'u')) {
      why = "expected at most one integer conversion such as %d or %05d (write %% for a "
            "literal %)";
      return false;
    }
    ++conversions;
    i = j;
  }
  if (conversions > 1) {
    why = "expected at most one integer conversion, found " + std::to_string(conversions);
    return false;
  }
  return true;
}

/// True when every `{...}` in `t` is one of the known placeholders.
bool valid_template(const std::string& t, std::string& why) {
  static const char* known[] = {"room", "member", "content", "created_at"};
  for (std::size_t i = t.find('{'); i != std::string::npos; i = t.find('{', i + 1)) {
    auto close = t.find('}', i);
    if (close == std::string::npos)
      return true; // an unmatched brace is plain text (JSON bodies have many)
    std::string name = t.substr(i + 1, close - i - 1);
    // Only identifier-like contents are placeholders: JSON objects are not.
    if (name.empty() || name.find_first_not_of("abcdefghijklmnopqrstuvwxyz_") != std::string::npos)
      continue;
    bool ok = false;
    for (auto* k : known)
      ok = ok || name == k;
    if (!ok) {
      why = "unknown placeholder {" + name +
            "}; expected {room}, {member}, {content} or {created_at}";
      return false;
    }
  }
  return true;
}

bool file_readable(const std::string& path) {
  std::ifstream in{path};
  return static_cast<bool>(in);
}

/// Collects diagnostics at the position of each key.
class checker {
public:
  explicit checker(const scenario& s) : s_(s) {}

  void fail(const std::string& key, std::string message) {
    source_position p;
    // The key itself, else the closest enclosing table that has a position.
    for (std::string k = key; !k.empty();) {
      if (auto it = s_.positions.find(k); it != s_.positions.end()) {
        p = it->second;
        break;
      }
      auto cut = k.find_last_of(".[");
      k = cut == std::string::npos ? std::string{} : k.substr(0, cut);
    }
    if (p.file.empty())
      p.file = s_.source;
    out.push_back({p.file, p.line, p.column, key, std::move(message)});
  }

  void positive(const std::string& key, std::chrono::milliseconds d) {
    if (d.count() > 0)
      return;
    if (missing(key))
      fail(key, "required (a duration greater than zero, e.g. \"30s\")");
    else
      fail(key, "expected a duration greater than zero, got " + format_duration(d));
  }

  /// A key the file did not give (and so holds its default). Scenarios built in code, with no
  /// positions at all, count every key as given.
  bool missing(const std::string& key) const {
    return !s_.positions.empty() && s_.positions.find(key) == s_.positions.end();
  }

  /// A key the file gave, for keys whose default is a value one could write too (`message`,
  /// `every`). Scenarios built in code, with no positions, give it when `not_default`.
  bool given(const std::string& key, bool not_default) const {
    return s_.positions.empty() ? not_default : s_.positions.count(key) != 0;
  }

  std::vector<diagnostic> out;

private:
  const scenario& s_;
};

void check_target(const scenario& s, checker& c) {
  const auto& t = s.target;
  if (!t.embedded) {
    url_parts u;
    std::string why;
    if (t.url.empty())
      c.fail("target.url", "required (a ws:// or wss:// URL) unless target.embedded = true");
    else if (!split_url(t.url, u, why))
      c.fail("target.url", why); // no echo: a URL may carry a token in its query
    else if (u.scheme != "ws" && u.scheme != "wss")
      c.fail("target.url", "expected a ws:// or wss:// URL, got scheme \"" + u.scheme + "\"");
    else if (!t.i_own_this_target && !is_local_host(u.host))
      c.fail("target.url", "host \"" + u.host +
                               "\" is neither loopback nor private; set "
                               "target.i_own_this_target = true if you own it");
    const bool needs_http = s.auth.mode == auth_mode::login || s.rooms.mode == rooms_mode::create;
    if (t.http_url.empty()) {
      if (needs_http)
        c.fail("target.http_url", "required (an http:// or https:// URL) for REST login or "
                                  "room creation");
    } else if (!split_url(t.http_url, u, why))
      c.fail("target.http_url", why);
    else if (u.scheme != "http" && u.scheme != "https")
      c.fail("target.http_url",
             "expected an http:// or https:// URL, got scheme \"" + u.scheme + "\"");
    else if (!t.i_own_this_target && !is_local_host(u.host))
      c.fail("target.http_url", "host \"" + u.host +
                                    "\" is neither loopback nor private; set "
                                    "target.i_own_this_target = true if you own it");
  } else {
    // Unused with the built-in server, but printed with the scenario: no credentials either.
    for (auto [key, url] :
         {std::pair{"target.url", &t.url}, std::pair{"target.http_url", &t.http_url}}) {
      url_parts u;
      std::string why;
      if (url->find('@') != std::string::npos && !split_url(*url, u, why))
        c.fail(key, why);
    }
  }
  for (const auto* list : {&t.connect_headers, &t.upgrade_headers}) {
    const std::string table =
        list == &t.connect_headers ? "target.connect_headers" : "target.upgrade_headers";
    for (const auto& h : *list) {
      if (h.value.reveal().find_first_of("\r\n") != std::string::npos ||
          (list == &t.connect_headers && h.value.reveal().find('\0') != std::string::npos))
        c.fail(table + "." + h.name, "a header value must not contain line breaks");
    }
  }
  if (t.heartbeat_grace < 1.0)
    c.fail("target.heartbeat_grace", "expected a factor of at least 1.0 (1.5 to 2 is usual)");
  c.positive("target.connect_timeout", t.connect_timeout);
  c.positive("target.handshake_timeout", t.handshake_timeout);
  if (t.max_frame < 1024)
    c.fail("target.max_frame", "expected at least 1KiB, got " + format_size(t.max_frame));
  if (t.delayed_acks && t.compression)
    c.fail("target.delayed_acks", "not with compression (a compressed connection reads through "
                                  "Beast's WebSocket stream, which this does not reach)");
  for (std::size_t i = 0; i < t.source_addresses.size(); ++i)
    if (!is_ip_address(t.source_addresses[i]))
      c.fail("target.source_addresses[" + std::to_string(i) + "]",
             "expected an IPv4 or IPv6 address, got \"" + t.source_addresses[i] + "\"");
}

/// The embedded server's accounts are user<id>@test.com (any zero padding): a pattern that
/// renders anything else for the scenario's members cannot log in there.
bool embedded_email(const std::string& pattern, std::int64_t first_id, std::string& why) {
  auto e = render_email(pattern, first_id);
  const std::string prefix = "user", suffix = "@test.com";
  bool ok = e.size() > prefix.size() + suffix.size() && e.compare(0, 4, prefix) == 0 &&
            e.compare(e.size() - suffix.size(), suffix.size(), suffix) == 0;
  if (ok) {
    auto digits = e.substr(4, e.size() - 4 - suffix.size());
    ok = digits.find_first_not_of("0123456789") == std::string::npos && digits.size() <= 18 &&
         std::stoll(digits) == first_id;
  }
  if (!ok)
    why = "the embedded server's accounts are user<member id>@test.com (\"user%05d@test.com\"), "
          "but this pattern gives \"" + e + "\" for member " + std::to_string(first_id);
  return ok;
}

void check_auth(const scenario& s, checker& c) {
  const auto& a = s.auth;
  const auto peak = peak_users(s);
  // Member ids travel as JSON numbers: keep them where every JSON parser is exact.
  constexpr std::int64_t max_id = (std::int64_t{1} << 53) - 1;
  bool ids_ok = false;
  if (a.start_id < 0)
    c.fail("auth.start_id", "expected a member id of 0 or more, got " + std::to_string(a.start_id));
  else if (a.start_id > max_id - peak)
    c.fail("auth.start_id", "start_id + users must stay below 2^53 (9007199254740991), got " +
                                std::to_string(a.start_id) + " + " + std::to_string(peak));
  else if (s.target.embedded && a.start_id == 0)
    c.fail("auth.start_id", "the embedded server's member ids start at 1");
  else
    ids_ok = true;
  // The built-in server runs in chat mode: CONNECT needs an access token signed with its key,
  // which is drawn when it starts, so only the tokens its own REST login hands out get in.
  if (s.target.embedded && a.mode != auth_mode::login)
    c.fail("auth.mode", std::string{"the embedded server (target.embedded = true) accepts only "
                                    "the tokens its own login hands out, so every session with "
                                    "auth.mode = \""} +
                            to_string(a.mode) +
                            "\" would be refused at CONNECT: set auth.mode = \"login\" with a "
                            "password (any password logs in there)");
  if (a.mode == auth_mode::token && a.token.empty())
    c.fail("auth.token", "required when auth.mode = \"token\"");
  if (a.mode == auth_mode::login) {
    if (a.password.empty())
      c.fail("auth.password", "required when auth.mode = \"login\"");
    std::string why;
    if (a.email.empty())
      c.fail("auth.email", "required when auth.mode = \"login\"");
    else if (!valid_email_pattern(a.email, why))
      c.fail("auth.email", why);
    else if (s.target.embedded && ids_ok && !embedded_email(a.email, a.start_id, why))
      c.fail("auth.email", why);
    if (a.concurrency == 0)
      c.fail("auth.concurrency", "expected at least 1");
    if (a.login_path.empty() || a.login_path[0] != '/')
      c.fail("auth.login_path", "expected a path starting with \"/\"");
  }
}

void check_rooms(const scenario& s, checker& c) {
  const auto& r = s.rooms;
  switch (r.mode) {
  case rooms_mode::existing:
    if (r.room_id <= 0)
      c.fail("rooms.room_id", "required (a room id of at least 1) when rooms.mode = \"existing\"");
    else if (s.target.embedded && r.room_id != 1)
      c.fail("rooms.room_id", "the embedded server puts every user in room 1 when rooms.mode = "
                              "\"existing\"");
    break;
  case rooms_mode::per_users:
    if (r.members_per_room == 0)
      c.fail("rooms.members_per_room", "expected at least 1");
    break;
  case rooms_mode::create:
    // The chat server accepts at most 50 other members per group room.
    if (r.member_ids.size() > 50)
      c.fail("rooms.member_ids",
             "expected at most 50 member ids, got " + std::to_string(r.member_ids.size()));
    if (r.create_path.empty() || r.create_path[0] != '/')
      c.fail("rooms.create_path", "expected a path starting with \"/\"");
    if (s.auth.mode == auth_mode::none)
      c.fail("rooms.mode", "creating a room needs auth.mode = \"login\" or \"token\"");
    break;
  }
}

void check_destinations(const scenario& s, checker& c) {
  const auto& d = s.destinations;
  std::string why;
  if (d.subscribe.empty())
    c.fail("destinations.subscribe", "required");
  else if (!valid_template(d.subscribe, why))
    c.fail("destinations.subscribe", why);
  if (d.send.empty())
    c.fail("destinations.send", "required");
  else if (!valid_template(d.send, why))
    c.fail("destinations.send", why);
  if (!valid_template(d.body, why))
    c.fail("destinations.body", why);
}

void check_stages(const scenario& s, checker& c) {
  if (s.stages.empty()) {
    c.fail("stage", "at least one [[stage]] is required");
    return;
  }
  for (std::size_t i = 0; i < s.stages.size(); ++i) {
    const auto& st = s.stages[i];
    const std::string p = "stage[" + std::to_string(i) + "]";
    if (st.users == 0)
      c.fail(p + ".users", c.missing(p + ".users") ? "required (at least 1 user)"
                                                   : "expected at least 1 user");
    c.positive(p + ".duration", st.duration);
    if (st.arrival_rate > 0 && st.session_length.count() <= 0)
      c.fail(p + ".session_length", "required (greater than zero) with arrival_rate");
    if (st.arrival_rate <= 0 && st.session_length.count() > 0)
      c.fail(p + ".arrival_rate", "required (greater than zero) with session_length");
    for (auto [key, d] : {std::pair{".session_length", st.session_length},
                          std::pair{".session_length_max", st.session_length_max}})
      if (d > std::chrono::hours(24 * 7))
        c.fail(p + key, "expected at most 7 days");
    if (st.session_length_max.count() > 0 && st.arrival_rate <= 0)
      c.fail(p + ".session_length_max", "only for an open-model stage (with arrival_rate)");
    else if (st.session_length_max.count() > 0 && st.session_length_max < st.session_length)
      c.fail(p + ".session_length_max", "must be at least session_length");
    if (st.arrival_rate > 0 &&
        st.arrival_rate * static_cast<double>(st.duration.count()) / 1000.0 > 10'000'000.0)
      c.fail(p + ".arrival_rate",
             "more than 10,000,000 arrivals in the stage; lower the rate or the duration");
    if (st.arrival_rate > 0 && st.wait_for == wait_for::all_subscribed)
      c.fail(p + ".wait_for", "\"all_subscribed\" needs a closed-model stage (no arrival_rate)");
    // [[fault]] stage and the reports tell stages apart by name. A stage without
    // a name is "stage N", which an explicit name elsewhere can take too.
    for (std::size_t j = 0; j < i; ++j) {
      if (s.stages[j].name != st.name)
        continue;
      const std::string other = "stage[" + std::to_string(j) + "]";
      if (c.missing(p + ".name"))
        c.fail(p + ".name", "this stage's default name \"" + st.name +
                                "\" is already the name of " + other +
                                "; give one of them another name");
      else
        c.fail(p + ".name", "the name \"" + st.name + "\" is already used by " + other +
                                (c.missing(other + ".name") ? " (its default name)" : "") +
                                "; stage names must be unique ([[fault]] stage and the "
                                "reports tell stages apart by name)");
      break;
    }
  }
}

void check_behaviour(const scenario& s, checker& c) {
  const auto& b = s.behaviour;
  if (b.kind != behaviour_kind::seed_mix)
    return;
  c.positive("behaviour.interval", b.interval);
  if (b.active_weight + b.moderate_weight + b.passive_weight <= 0)
    c.fail("behaviour.active_weight", "the three weights must add up to more than zero");
  for (auto [key, m] : {std::pair{"behaviour.active_multiplier", b.active_multiplier},
                        std::pair{"behaviour.moderate_multiplier", b.moderate_multiplier},
                        std::pair{"behaviour.passive_multiplier", b.passive_multiplier}})
    if (m <= 0)
      c.fail(key, "expected a multiplier greater than zero");
}

/// Every {data.COLUMN} of the steps' templates names a column of the entry's CSV.
void check_step_data(const behaviour_entry& b, const std::vector<step>& steps, checker& c,
                     const std::string& path) {
  for (std::size_t i = 0; i < steps.size(); ++i) {
    const auto& st = steps[i];
    const std::string p = path + "[" + std::to_string(i) + "]";
    for (const std::string* text : {&st.text, &st.destination}) {
      for (auto at = text->find("{data."); at != std::string::npos;
           at = text->find("{data.", at + 1)) {
        auto close = text->find('}', at);
        if (close == std::string::npos)
          break;
        auto column = text->substr(at + 6, close - at - 6);
        if (std::find(b.data_columns.begin(), b.data_columns.end(), column) != b.data_columns.end())
          continue;
        if (b.data_file.empty())
          c.fail(p, "{data." + column + "} needs data = \"FILE.csv\" in the entry");
        else {
          std::string msg = "\"" + b.data_file + "\" has no column \"" + column + "\"; columns:";
          for (auto& col : b.data_columns)
            msg += " " + col;
          c.fail(p, msg);
        }
      }
    }
    check_step_data(b, st.steps, c, p + ".steps");
    check_step_data(b, st.otherwise, c, p + ".otherwise");
  }
}

void check_behaviours(const scenario& s, checker& c) {
  double total = 0;
  for (std::size_t i = 0; i < s.behaviours.size(); ++i) {
    const auto& b = s.behaviours[i];
    const std::string p = "behaviour[" + std::to_string(i) + "]";
    if (b.name.empty())
      c.fail(p + ".name", "required (a registered behaviour, or steps = [...])");
    total += b.weight;
    for (std::size_t j = 0; j < i; ++j)
      if (s.behaviours[j].metric_label() == b.metric_label())
        c.fail(b.label.empty() ? p + ".name" : p + ".label",
               "the label \"" + b.metric_label() + "\" is already used by behaviour[" +
                   std::to_string(j) + "]; set label = \"...\" to tell them apart");
    check_step_data(b, b.steps, c, p + ".steps");
  }
  if (!s.behaviours.empty() && total <= 0)
    c.fail("behaviour[0].weight", "the weights must add up to more than zero");
}

void check_reconnect(const scenario& s, checker& c) {
  const auto& r = s.reconnect;
  // The ranges hold with enabled = false too: a section switched off for now is still read,
  // printed into the results and switched on later with --set, so a mistake in it is reported
  // now. Only max_attempts = 0 ("never") is consistent with reconnecting switched off.
  if (r.enabled && r.max_attempts == 0)
    c.fail("reconnect.max_attempts", "expected at least 1 when reconnect.enabled = true");
  c.positive("reconnect.initial", r.initial);
  if (r.max < r.initial)
    c.fail("reconnect.max", "expected at least reconnect.initial (" + format_duration(r.initial) +
                                "), got " + format_duration(r.max));
  if (r.multiplier < 1.0)
    c.fail("reconnect.multiplier", "expected at least 1.0");
  if (r.jitter > 1.0)
    c.fail("reconnect.jitter", "expected a fraction from 0 to 1 (0.5 = +-50%)");
}

void check_tls(const scenario& s, checker& c) {
  const auto& e = s.target;
  if (!e.embedded_cert_file.empty() || !e.embedded_key_file.empty()) {
    if (!e.embedded)
      c.fail(e.embedded_cert_file.empty() ? "target.embedded_key_file"
                                          : "target.embedded_cert_file",
             "only used with target.embedded = true");
    else if (e.embedded_cert_file.empty() != e.embedded_key_file.empty())
      c.fail(e.embedded_cert_file.empty() ? "target.embedded_cert_file"
                                          : "target.embedded_key_file",
             "target.embedded_cert_file and target.embedded_key_file go together");
  }
  for (auto [key, path] : {std::pair{"target.embedded_cert_file", &e.embedded_cert_file},
                           std::pair{"target.embedded_key_file", &e.embedded_key_file}})
    if (!path->empty() && !file_readable(*path))
      c.fail(key, "cannot read \"" + *path + "\"");
  const auto& t = s.tls;
  if (t.cert_file.empty() != t.key_file.empty())
    c.fail(t.cert_file.empty() ? "tls.cert_file" : "tls.key_file",
           "tls.cert_file and tls.key_file go together");
  for (auto [key, path] :
       {std::pair{"tls.ca_file", &t.ca_file}, std::pair{"tls.cert_file", &t.cert_file},
        std::pair{"tls.key_file", &t.key_file}})
    if (!path->empty() && !file_readable(*path))
      c.fail(key, "cannot read \"" + *path + "\"");
}

void check_output(const scenario& s, checker& c) {
  const auto& o = s.output;
  if (o.dir.empty())
    c.fail("output.dir", "required");
  if (!o.prometheus.empty()) {
    url_parts u;
    std::string why;
    // A bare port means 127.0.0.1; port 0 picks a free port (printed at the start of the run).
    std::string probe = o.prometheus;
    if (probe.find_first_not_of("0123456789") == std::string::npos)
      probe = "127.0.0.1:" + probe;
    if (probe.size() > 2 && probe.compare(probe.size() - 2, 2, ":0") == 0)
      probe.back() = '1';
    if (!split_url("http://" + probe, u, why) || u.port == 0)
      c.fail("output.prometheus", "expected \"HOST:PORT\" such as \"127.0.0.1:2112\", or \"\" "
                                  "to disable, got \"" +
                                      o.prometheus + "\"");
    else if (!o.allow_public_metrics && !is_loopback_ip(u.host))
      c.fail("output.prometheus",
             "binding the exposer to \"" + u.host +
                 "\" needs output.allow_public_metrics = true (loopback by default)");
  }
  c.positive("output.round_trip_timeout", o.round_trip_timeout);
  if (o.prometheus_linger > std::chrono::minutes(10))
    c.fail("output.prometheus_linger", "expected at most 10m, got " +
                                           std::to_string(o.prometheus_linger.count()) + "ms");
}

void check_run(const scenario& s, checker& c) {
  if (s.run.users_per_shard == 0)
    c.fail("run.users_per_shard", "expected at least 1");
  if (s.run.io_threads > 1024)
    c.fail("run.io_threads", "expected 0 (one per core) to 1024");
}

void check_control(const scenario& s, checker& c) {
  const auto& l = s.control.listen;
  if (l.empty())
    return;
  url_parts u;
  std::string why;
  // Port 0 picks a free port (printed at the start of the run).
  std::string probe = l;
  if (probe.size() > 2 && probe.compare(probe.size() - 2, 2, ":0") == 0)
    probe.back() = '1';
  if (!split_url("http://" + probe, u, why) || u.port == 0)
    c.fail("control.listen",
           "expected \"HOST:PORT\" such as \"127.0.0.1:2113\", got \"" + l + "\"");
  else if (!is_loopback_ip(u.host))
    c.fail("control.listen",
           "the control endpoint listens on loopback only, got \"" + u.host + "\"");
}

void check_server_metrics(const scenario& s, checker& c) {
  const auto& m = s.server_metrics;
  if (m.pid < 0 || m.pid > 4194304)
    c.fail("server_metrics.pid", "expected a process id, got " + std::to_string(m.pid));
  if (!m.prometheus_url.empty()) {
    url_parts u;
    std::string why;
    if (!split_url(m.prometheus_url, u, why) || u.scheme != "http")
      c.fail("server_metrics.prometheus_url",
             "expected an http:// URL such as \"http://127.0.0.1:8080/metrics\", got \"" +
                 redact_url(m.prometheus_url) + "\"");
  }
}

/// What a kind that takes no `fraction` acts on: all it reaches at once (nullptr for the kinds
/// that choose a fraction of users, sessions, broadcasts or connections).
const char* whole_of(fault_kind k) {
  switch (k) {
  case fault_kind::server_pause:
    return "pauses every session (of its cohort)";
  case fault_kind::server_delay_broadcasts:
    return "delays every broadcast (of its cohort)";
  case fault_kind::server_refuse_connections:
    return "refuses every new connection (of its cohort)";
  case fault_kind::server_restart:
    return "takes the whole server down";
  case fault_kind::server_stall:
    return "holds the whole server's threads";
  case fault_kind::proxy_refuse:
    return "refuses every new connection through the fault proxy (of its cohort)";
  default:
    return nullptr;
  }
}

void check_experiment(const scenario& s, checker& c) {
  const auto& x = s.experiment;
  if (!x.enabled) {
    if (!s.faults.empty())
      c.fail("fault", "[[fault]] entries belong to an experiment: add an [experiment] table with "
                      "the hypothesis they are checked against");
    return;
  }
  if (x.hypothesis.empty())
    c.fail("experiment.hypothesis",
           "required: what healthy means, e.g. [\"p99(rtt) < 200ms\", \"connected >= 95%\"]");
  if (s.faults.empty())
    c.fail("experiment", "an experiment needs at least one [[fault]]");
  c.positive("experiment.baseline", x.baseline);
  c.positive("experiment.recovery_deadline", x.recovery_deadline);
  if (!x.admin_url.empty()) {
    url_parts u;
    std::string why;
    if (!split_url(x.admin_url, u, why) || (u.scheme != "http" && u.scheme != "https"))
      c.fail("experiment.admin_url", "expected the http:// base URL of `stompede serve`, such as "
                                     "\"http://127.0.0.1:8080\", got \"" +
                                         redact_url(x.admin_url) + "\"");
  }
  std::chrono::milliseconds run_length{0};
  for (auto& st : s.stages)
    run_length += st.ramp + st.duration;
  std::chrono::milliseconds first = std::chrono::milliseconds::max();
  bool server_faults = false;
  for (std::size_t i = 0; i < s.faults.size(); ++i) {
    const auto& f = s.faults[i];
    const std::string p = "fault[" + std::to_string(i) + "]";
    const std::string kind = f.kind_name();
    first = std::min(first, f.at);
    const bool user = is_user_fault(f.kind);
    server_faults = server_faults || (!user && !is_proxy_fault(f.kind));
    // The journal, the time series and the report tell faults apart by name. A fault without
    // a name is "<kind>#<n>", which an explicit name elsewhere can take too.
    for (std::size_t j = 0; j < i; ++j) {
      if (s.faults[j].name != f.name)
        continue;
      const std::string other = "fault[" + std::to_string(j) + "]";
      if (c.missing(p + ".name"))
        c.fail(p + ".name", "this fault's default name \"" + f.name + "\" is already the name of " +
                                other + "; give one of them another name");
      else
        c.fail(p + ".name", "the name \"" + f.name + "\" is already used by " + other +
                                (c.missing(other + ".name") ? " (its default name)" : "") +
                                "; fault names must be unique (the journal, the time series "
                                "and the report tell faults apart by name)");
      break;
    }
    if (!(f.fraction > 0.0 && f.fraction <= 1.0))
      c.fail(p + ".fraction", "expected a fraction in (0, 1], got " + std::to_string(f.fraction));
    else if (const char* whole = whole_of(f.kind); whole != nullptr && f.fraction != 1.0)
      c.fail(p + ".fraction", "\"" + kind + "\" " + whole + "; it takes no fraction");
    if (is_lasting_fault(f.kind) && f.duration.count() <= 0)
      c.fail(p + ".duration", "\"" + kind + "\" lasts until it is rolled back: give it a duration");
    if (c.given(p + ".every", f.every.count() != 0) && f.every.count() <= 0)
      c.fail(p + ".every", "expected a repeat period greater than zero, got " +
                               format_duration(f.every) + " (leave every out for one occurrence)");
    else if (f.times > 0 && f.every.count() <= 0)
      c.fail(p + ".times", "times counts repetitions: it needs every");
    if (f.every.count() > 0 && f.every <= f.duration)
      c.fail(p + ".every", "occurrences would overlap: every (" + format_duration(f.every) +
                               ") must be longer than duration (" + format_duration(f.duration) +
                               ")");
    if (run_length.count() > 0 && f.at >= run_length)
      c.fail(p + ".at", "the run ends at " + format_duration(run_length) +
                            " (stages' ramps and durations), before the fault starts at " +
                            format_duration(f.at));
    if (f.kind == fault_kind::proxy_refuse && !f.toxic.empty())
      c.fail(p + ".toxic", "\"net.refuse\" switches the fault proxy's refusal of new "
                           "connections on and off; it takes no toxic");
    else if (!is_proxy_fault(f.kind) && !f.toxic.empty())
      c.fail(p + ".toxic", "toxic is the proxy spec of net.* and stomp.* kinds only");
    // A server knows a session by the member its token names: with one shared token (or
    // none) it cannot tell a behaviour's or a stage's users from the others.
    if (!user && !is_proxy_fault(f.kind) && s.auth.mode != auth_mode::login)
      for (auto [key, set] :
           {std::pair{"behaviour", !f.behaviour.empty()}, std::pair{"stage", !f.stage.empty()}})
        if (set)
          c.fail(p + "." + key, "a server fault finds a " + std::string{key} +
                                    "'s users by their member ids: it needs [auth] mode = "
                                    "\"login\"");
    // Every kind takes a cohort but the restart, which takes the whole listener down, and the
    // stall, which holds the server's threads (whole_of: the kinds that take no fraction).
    if (f.kind == fault_kind::server_restart || f.kind == fault_kind::server_stall) {
      for (auto [key, set] :
           {std::pair{"rooms", !f.rooms.empty()}, std::pair{"behaviour", !f.behaviour.empty()},
            std::pair{"stage", !f.stage.empty()}})
        if (set)
          c.fail(p + "." + key,
                 f.kind == fault_kind::server_restart
                     ? "\"server.restart\" takes the whole server down; it has no cohort "
                       "(server.close_sessions with a cohort cuts some users)"
                     : "\"server.stall\" holds the whole server's threads; it has no cohort "
                       "(server.delay_broadcasts with a cohort slows some rooms)");
    }
    // A cohort of rooms no user is in would select nobody, silently.
    const auto per = std::max<std::uint32_t>(1, s.rooms.members_per_room);
    const std::int64_t last_room = (static_cast<std::int64_t>(peak_users(s)) + per - 1) / per;
    if (s.rooms.mode != rooms_mode::create)
      for (std::size_t k = 0; k < f.rooms.size(); ++k) {
        const auto room = f.rooms[k];
        if (s.rooms.mode == rooms_mode::existing ? room != s.rooms.room_id
                                                 : room < 1 || room > last_room)
          c.fail(p + ".rooms[" + std::to_string(k) + "]",
                 "no user is in room " + std::to_string(room) + " (" +
                     (s.rooms.mode == rooms_mode::existing
                          ? "every user is in room " + std::to_string(s.rooms.room_id)
                          : "the users are in rooms 1 to " + std::to_string(last_room)) +
                     ")");
      }
    if (!f.behaviour.empty()) {
      bool found = false;
      for (auto& b : s.behaviours)
        found = found || b.metric_label() == f.behaviour;
      if (!found)
        c.fail(p + ".behaviour", "no [[behaviour]] entry is labelled \"" + f.behaviour + "\"");
    }
    if (!f.stage.empty()) {
      std::uint32_t before = 0;
      bool found = false;
      for (auto& st : s.stages) {
        if (st.name == f.stage) {
          found = true;
          if (st.users <= before)
            c.fail(p + ".stage", "stage \"" + f.stage + "\" adds no users to choose from");
          break;
        }
        before = std::max(before, st.users);
      }
      if (!found)
        c.fail(p + ".stage", "no [[stage]] is named \"" + f.stage + "\"");
    }
    if (f.kind == fault_kind::server_delay_broadcasts && f.delay.count() <= 0)
      c.fail(p + ".delay", "server.delay_broadcasts needs the delay, e.g. \"200ms\"");
    if (f.kind == fault_kind::server_stall &&
        (f.delay.count() <= 0 || f.delay > std::chrono::seconds(1)))
      c.fail(p + ".delay", "server.stall needs how long each turn of the server's threads is "
                           "held, from 1ms to 1s, e.g. \"20ms\"");
    if (f.kind != fault_kind::server_delay_broadcasts && f.kind != fault_kind::server_stall &&
        f.delay.count() > 0)
      c.fail(p + ".delay", "delay is a parameter of server.delay_broadcasts and server.stall only");
    if (f.kind != fault_kind::server_close_sessions && c.given(p + ".abortive", f.abortive))
      c.fail(p + ".abortive", "abortive is a parameter of server.close_sessions only");
    if (f.kind != fault_kind::server_error &&
        c.given(p + ".message", f.message != fault_entry{}.message))
      c.fail(p + ".message", "message is a parameter of server.error only (the ERROR frame's "
                             "message)");
    if (f.kind == fault_kind::user_token_expiry && s.auth.mode != auth_mode::login)
      c.fail(p + ".kind", "user.token_expiry makes users log in again: it needs [auth] mode = "
                          "\"login\"");
  }
  if (!s.faults.empty() && first < x.baseline)
    c.fail("experiment.baseline", "the baseline phase (" + format_duration(x.baseline) +
                                      ") must fit before the first fault, which starts at " +
                                      format_duration(first));
  if (server_faults && !s.target.embedded && x.admin_token.reveal().empty())
    c.fail("experiment.admin_token",
           "server.* faults on a separately run server go through its admin endpoint: give "
           "the token `stompede serve` was started with, e.g. admin_token = "
           "\"${STOMPEDE_ADMIN_TOKEN}\"");
}

} // namespace

/// The e-mail of member `id` under `pattern` (at most one %d-like conversion, 64-bit).
std::string render_email(const std::string& pattern, std::int64_t id) {
  std::string out;
  for (std::size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '%') {
      out += pattern[i];
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '%') {
      out += '%';
      ++i;
      continue;
    }
    auto j = pattern.find_first_of("diu", i);
    if (j == std::string::npos)
      return out;
    auto spec = pattern.substr(i, j - i) + "lld";
    char buf[128];
    std::snprintf(buf, sizeof buf, spec.c_str(), static_cast<long long>(id));
    out += buf;
    i = j;
  }
  return out;
}

std::vector<diagnostic> validate(const scenario& s) {
  checker c{s};
  check_target(s, c);
  check_auth(s, c);
  check_rooms(s, c);
  check_destinations(s, c);
  check_stages(s, c);
  check_behaviour(s, c);
  check_behaviours(s, c);
  check_reconnect(s, c);
  check_tls(s, c);
  check_output(s, c);
  check_run(s, c);
  check_control(s, c);
  check_server_metrics(s, c);
  check_experiment(s, c);
  return std::move(c.out);
}

} // namespace stompede::config
