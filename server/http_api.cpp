#include "server/http_api.hpp"

#include "server/connection.hpp"
#include "server/destination.hpp"
#include "server/server_core.hpp"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <utility>
#include <vector>

namespace stompede::server::detail {

namespace {

using json = nlohmann::ordered_json;

api_response error(unsigned status, const std::string& code, const std::string& message) {
  return {status, "application/json", error_json(code, message), {}};
}

// A known path asked with a method it does not take (RFC 9110 15.5.6).
api_response not_allowed(const char* allow) {
  api_response r = error(405, "METHOD_NOT_ALLOWED", std::string("use ") + allow);
  r.allow = allow;
  return r;
}

api_response ok(const json& data) {
  return {200, "application/json",
          success_json(data.dump(-1, ' ', false, json::error_handler_t::replace)),
          {}};
}

std::vector<std::pair<std::string, std::string>> parse_query(const std::string& q) {
  std::vector<std::pair<std::string, std::string>> out;
  std::size_t pos = 0;
  while (pos <= q.size() && out.size() < 256) {
    auto amp = q.find('&', pos);
    if (amp == std::string::npos)
      amp = q.size();
    const std::string part = q.substr(pos, amp - pos);
    if (!part.empty()) {
      const auto eq = part.find('=');
      std::string k, v;
      url_decode(part.substr(0, eq), k);
      if (eq != std::string::npos)
        url_decode(part.substr(eq + 1), v);
      out.emplace_back(std::move(k), std::move(v));
    }
    pos = amp + 1;
  }
  return out;
}

// "user00042@test.com" -> 42.
bool parse_email(const std::string& email, std::uint64_t& id) {
  static const std::string prefix = "user";
  static const std::string suffix = "@test.com";
  if (email.size() <= prefix.size() + suffix.size() || email.compare(0, 4, prefix) != 0 ||
      email.compare(email.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return false;
  }
  std::string digits = email.substr(4, email.size() - 4 - suffix.size());
  if (digits.empty() || digits.size() > 18)
    return false;
  std::uint64_t v = 0;
  for (char c : digits) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<std::uint64_t>(c - '0');
  }
  id = v;
  return v != 0;
}

std::string member_name(std::uint64_t id) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "user%05llu", static_cast<unsigned long long>(id));
  return buf;
}

json room_list(const std::vector<room_summary>& rooms) {
  json arr = json::array();
  for (const auto& r : rooms) {
    json o;
    o["roomId"] = r.room_id;
    o["unreadCount"] = r.unread_count;
    o["chatRoomType"] = room_type_name(r.type);
    o["lastMessagePreview"] =
        r.last_message_preview.empty() ? json(nullptr) : json(r.last_message_preview);
    o["lastMessageAt"] = r.last_message_at.empty() ? json(nullptr) : json(r.last_message_at);
    arr.push_back(std::move(o));
  }
  return arr;
}

// The Bearer token's member id, or an error response.
bool bearer_member(server_core& core, const api_request& req, std::uint64_t& member,
                   api_response& err) {
  std::string_view h = req.authorization;
  constexpr std::string_view bearer = "Bearer ";
  if (h.size() <= bearer.size() || h.compare(0, bearer.size(), bearer) != 0) {
    core.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
    err = error(401, "UNAUTHORIZED", "missing Bearer token");
    return false;
  }
  jwt_claims claims;
  if (auto ec = core.jwt.verify(h.substr(bearer.size()), token_kind::access, claims)) {
    core.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
    err = error(401, "INVALID_TOKEN", ec.message());
    return false;
  }
  if (!core.rooms.member_exists(claims.member_id)) {
    err = error(404, "MEMBER_NOT_FOUND", "no such member");
    return false;
  }
  member = claims.member_id;
  return true;
}

api_response room_error(room_result r) {
  switch (r) {
  case room_result::ok:
    break;
  case room_result::no_such_room:
    return error(404, "ROOM_NOT_FOUND", "no such room");
  case room_result::no_such_member:
    return error(404, "MEMBER_NOT_FOUND", "no such member");
  case room_result::too_many_members:
    return error(400, "TOO_MANY_MEMBERS", "at most 50 other members");
  case room_result::not_group:
    return error(400, "NOT_GROUP_ROOM", "not a group room");
  }
  return error(500, "INTERNAL", "unexpected");
}

api_response login(server_core& core, const api_request& req) {
  const auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("email") ||
      !body.contains("password") || !body["email"].is_string() || !body["password"].is_string()) {
    return error(400, "INVALID_REQUEST", "expected {\"email\",\"password\"}");
  }
  std::uint64_t id = 0;
  if (!parse_email(body["email"].get<std::string>(), id) || !core.rooms.member_exists(id)) {
    core.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
    return error(404, "MEMBER_NOT_FOUND", "no such member");
  }
  if (body["password"].get<std::string>() != core.config().password) {
    core.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
    return error(401, "INVALID_PASSWORD", "wrong password");
  }
  core.stats.logins.fetch_add(1, std::memory_order_relaxed);
  const auto& cfg = core.config();
  json data;
  data["tokenInfo"]["accessToken"] = core.jwt.issue(id, token_kind::access, cfg.access_token_ttl);
  data["tokenInfo"]["refreshToken"] =
      core.jwt.issue(id, token_kind::refresh, cfg.refresh_token_ttl);
  data["memberInfo"]["memberId"] = id;
  data["memberInfo"]["memberName"] = member_name(id);
  data["memberInfo"]["memberRole"] = "USER";
  return ok(data);
}

api_response refresh(server_core& core, const api_request& req) {
  const auto body = nlohmann::json::parse(req.body, nullptr, false);
  if (body.is_discarded() || !body.is_object() || !body.contains("refreshToken") ||
      !body["refreshToken"].is_string()) {
    return error(400, "INVALID_REQUEST", "expected {\"refreshToken\"}");
  }
  jwt_claims claims;
  if (auto ec =
          core.jwt.verify(body["refreshToken"].get<std::string>(), token_kind::refresh, claims)) {
    core.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
    return error(401, "INVALID_TOKEN", ec.message());
  }
  const auto& cfg = core.config();
  json data;
  data["accessToken"] = core.jwt.issue(claims.member_id, token_kind::access, cfg.access_token_ttl);
  data["refreshToken"] =
      core.jwt.issue(claims.member_id, token_kind::refresh, cfg.refresh_token_ttl);
  data["accessTokenExpiresIn"] = cfg.access_token_ttl.count();
  data["refreshTokenExpiresIn"] = cfg.refresh_token_ttl.count();
  return ok(data);
}

bool parse_number(const std::string& s, std::uint64_t& out) {
  return parse_id(s, out);
}

api_response admin(server_core& core, const api_request& req, const std::string& path,
                   const std::vector<std::pair<std::string, std::string>>& query) {
  const auto& token = core.config().admin_token;
  if (token.empty())
    return error(404, "NOT_FOUND", "no such endpoint");
  const std::string expect = "Bearer " + token;
  // Length first, then a constant-time compare of equal-length strings.
  bool good = req.authorization.size() == expect.size();
  unsigned char diff = 0;
  for (std::size_t i = 0; good && i < expect.size(); ++i) {
    diff |= static_cast<unsigned char>(req.authorization[i] ^ expect[i]);
  }
  if (!good || diff != 0) {
    core.stats.auth_failures.fetch_add(1, std::memory_order_relaxed);
    return error(403, "FORBIDDEN", "admin token required");
  }
  auto arg = [&](const char* name, const std::string& def) {
    for (const auto& [k, v] : query) {
      if (k == name)
        return v;
    }
    return def;
  };
  auto flag = [&](const char* name) {
    const auto v = arg(name, "true");
    return v == "true" || v == "1" || v == "on";
  };
  auto fraction = [&](double& f) {
    char* end = nullptr;
    const auto s = arg("fraction", "1");
    f = std::strtod(s.c_str(), &end);
    return end != s.c_str() && *end == '\0' && f >= 0.0 && f <= 1.0;
  };
  // A fault's cohort: a JSON body {"rooms": [...], "members": [...]} (both optional).
  fault_cohort who;
  if (req.method == "POST" && !req.body.empty()) {
    auto body = json::parse(req.body, nullptr, false);
    auto ids = [&](const char* key, std::vector<std::uint64_t>& out) {
      auto it = body.find(key);
      if (it == body.end())
        return true;
      if (!it->is_array())
        return false;
      for (auto& v : *it) {
        if (!v.is_number_unsigned())
          return false;
        out.push_back(v.get<std::uint64_t>());
      }
      return true;
    };
    if (!body.is_object() || !ids("rooms", who.rooms) || !ids("members", who.members))
      return error(400, "INVALID_REQUEST",
                   "the body is a cohort: {\"rooms\": [ids], \"members\": [ids]}");
  }
  auto& faults = core.faults;
  if (path == "/admin/stats" && req.method != "GET")
    return not_allowed("GET");
  if (path == "/admin/stats") {
    const auto s = core.stats.snapshot();
    json d;
    d["sessions"] = s.sessions;
    d["connections"] = s.connections;
    d["subscriptions"] = s.subscriptions;
    d["messages"] = s.messages;
    d["broadcasts"] = s.broadcasts;
    d["droppedBroadcasts"] = s.dropped_broadcasts;
    d["framesOut"] = s.frames_out;
    const auto t = core.faults.tally();
    d["faultTally"] = {
        {"droppedBroadcasts", t.dropped_broadcasts},   {"delayedBroadcasts", t.delayed_broadcasts},
        {"closedSessions", t.closed_sessions},         {"errorSessions", t.error_sessions},
        {"refusedConnections", t.refused_connections}, {"pausedSessions", t.paused_sessions},
        {"stalledTurns", t.stalled_turns}};
    return ok(d);
  }
  if (req.method != "POST")
    return not_allowed("POST");
  double f = 0;
  if (path == "/admin/faults/pause-reading") {
    faults.pause_reading(flag("on"), who);
  } else if (path == "/admin/faults/delay-broadcasts") {
    std::uint64_t ms = 0;
    const auto v = arg("ms", "0");
    if (v != "0" && !parse_number(v, ms))
      return error(400, "INVALID_REQUEST", "ms=<integer>");
    faults.delay_broadcasts(std::chrono::milliseconds(ms), who);
  } else if (path == "/admin/faults/drop-broadcasts") {
    if (!fraction(f))
      return error(400, "INVALID_REQUEST", "fraction in [0,1]");
    faults.drop_broadcasts(f, who);
  } else if (path == "/admin/faults/close-sessions") {
    if (!fraction(f))
      return error(400, "INVALID_REQUEST", "fraction in [0,1]");
    faults.close_sessions(f, arg("mode", "graceful") == "abortive", who);
  } else if (path == "/admin/faults/refuse-connections") {
    faults.refuse_connections(flag("on"), who);
  } else if (path == "/admin/faults/error-sessions") {
    if (!fraction(f))
      return error(400, "INVALID_REQUEST", "fraction in [0,1]");
    faults.error_sessions(f, arg("message", "INJECTED_FAULT"), who);
  } else if (path == "/admin/faults/stall") {
    std::uint64_t ms = 0;
    const auto v = arg("ms", "0");
    if ((v != "0" && !parse_number(v, ms)) || ms > 1000)
      return error(400, "INVALID_REQUEST", "ms=<integer, 0 to 1000>");
    if (!who.empty())
      return error(400, "INVALID_REQUEST", "stall acts on the whole server, not on a cohort");
    faults.stall_io(std::chrono::milliseconds(ms));
  } else if (path == "/admin/faults/restart-listener") {
    faults.restart_listener();
  } else if (path == "/admin/faults/clear") {
    faults.clear();
  } else {
    return error(404, "NOT_FOUND", "no such endpoint");
  }
  return ok(nullptr);
}

} // namespace

std::string success_json(const std::string& data_json) {
  return R"({"result":"SUCCESS","data":)" + data_json + R"(,"error":null})";
}

std::string error_json(const std::string& code, const std::string& message) {
  json e;
  e["result"] = "ERROR";
  e["data"] = nullptr;
  e["error"]["code"] = code;
  e["error"]["message"] = message;
  return e.dump(-1, ' ', false, json::error_handler_t::replace);
}

bool url_decode(const std::string& in, std::string& out) {
  out.clear();
  for (std::size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      if (i + 2 >= in.size())
        return false;
      auto hex = [](char h) -> int {
        if (h >= '0' && h <= '9')
          return h - '0';
        if (h >= 'a' && h <= 'f')
          return h - 'a' + 10;
        if (h >= 'A' && h <= 'F')
          return h - 'A' + 10;
        return -1;
      };
      const int hi = hex(in[i + 1]), lo = hex(in[i + 2]);
      if (hi < 0 || lo < 0)
        return false;
      out += static_cast<char>(hi * 16 + lo);
      i += 2;
    } else {
      out += c;
    }
  }
  return true;
}

api_response handle_api(server_core& core, const api_request& req) {
  core.stats.http_requests.fetch_add(1, std::memory_order_relaxed);
  const auto q = req.target.find('?');
  const std::string path = req.target.substr(0, q);
  const auto query = parse_query(q == std::string::npos ? "" : req.target.substr(q + 1));
  const bool post = req.method == "POST";
  const bool get = req.method == "GET";

  if (path == "/metrics" && core.config().metrics) {
    if (!get)
      return not_allowed("GET");
    return {200, "text/plain; version=0.0.4", core.stats.render_prometheus(), {}};
  }
  if (path.compare(0, 7, "/admin/") == 0)
    return admin(core, req, path, query);
  if (core.config().mode != server_mode::chat) {
    return error(404, "NOT_FOUND", "no such endpoint");
  }
  if (path == "/v1/auth/login")
    return post ? login(core, req) : not_allowed("POST");
  if (path == "/v1/auth/refresh")
    return post ? refresh(core, req) : not_allowed("POST");

  constexpr std::string_view rooms_prefix = "/v1/chat/rooms";
  if (path.compare(0, rooms_prefix.size(), rooms_prefix) != 0) {
    return error(404, "NOT_FOUND", "no such endpoint");
  }
  std::uint64_t member = 0;
  api_response err;
  if ((path == "/v1/chat/rooms/group" || path == "/v1/chat/rooms/private") && !post)
    return not_allowed("POST");
  if ((path == "/v1/chat/rooms/me" || path == "/v1/chat/rooms") && !get)
    return not_allowed("GET");
  if (path == "/v1/chat/rooms/group") {
    if (!bearer_member(core, req, member, err))
      return err;
    std::vector<std::uint64_t> others;
    for (const auto& [k, v] : query) {
      if (k != "otherMemberIds")
        continue;
      // Spring binds both ?ids=2&ids=3 and ?ids=2,3.
      std::size_t pos = 0;
      while (pos <= v.size()) {
        auto comma = v.find(',', pos);
        if (comma == std::string::npos)
          comma = v.size();
        std::uint64_t id = 0;
        if (!parse_id(v.substr(pos, comma - pos), id)) {
          return error(400, "INVALID_REQUEST", "otherMemberIds must be member ids");
        }
        if (id != member)
          others.push_back(id);
        if (others.size() > 50)
          return room_error(room_result::too_many_members);
        pos = comma + 1;
      }
    }
    std::uint64_t room = 0;
    const auto r = core.rooms.create_group(member, others, room);
    if (r != room_result::ok)
      return room_error(r);
    return ok(room);
  }
  if (path == "/v1/chat/rooms/private") {
    if (!bearer_member(core, req, member, err))
      return err;
    std::uint64_t other = 0;
    bool found = false;
    for (const auto& [k, v] : query) {
      if (k == "otherMemberId")
        found = parse_id(v, other);
    }
    if (!found)
      return error(400, "INVALID_REQUEST", "otherMemberId required");
    std::uint64_t room = 0;
    const auto r = core.rooms.private_room(member, other, room);
    if (r != room_result::ok)
      return room_error(r);
    return ok(room);
  }
  if (path == "/v1/chat/rooms/me") {
    if (!bearer_member(core, req, member, err))
      return err;
    return ok(room_list(core.rooms.rooms_of(member)));
  }
  if (path == "/v1/chat/rooms") {
    if (!bearer_member(core, req, member, err))
      return err;
    return ok(room_list(core.rooms.group_rooms(member)));
  }
  std::uint64_t room = 0;
  if (path.size() > rooms_prefix.size() + 1 && path[rooms_prefix.size()] == '/' &&
      parse_id(path.substr(rooms_prefix.size() + 1), room)) {
    if (!post)
      return not_allowed("POST");
    if (!bearer_member(core, req, member, err))
      return err;
    const auto r = core.rooms.join(room, member);
    if (r != room_result::ok)
      return room_error(r);
    return ok(nullptr);
  }
  return error(404, "NOT_FOUND", "no such endpoint");
}

} // namespace stompede::server::detail
