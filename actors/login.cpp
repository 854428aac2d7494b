#include "actors/login.hpp"

#include "actors/io_pool.hpp"
#include "config/validate.hpp"
#include "protocol/http_client.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string_view>

namespace stompede {

namespace {

using json = nlohmann::json;

std::string email_of(const std::string& pattern, std::int64_t member_id) {
  return config::render_email(pattern, member_id);
}

net::tls_options tls_of(const config::scenario& sc) {
  net::tls_options t;
  t.verify = sc.tls.verify;
  t.ca_file = sc.tls.ca_file;
  t.cert_file = sc.tls.cert_file;
  t.key_file = sc.tls.key_file;
  t.server_name = sc.tls.server_name;
  return t;
}

/// "HTTP 401: <error.message>" or the transport error, never the request body (a password).
std::string describe(const std::error_code& ec, const net::http_response& r) {
  if (ec)
    return r.error_detail.empty() ? ec.message() : ec.message() + ": " + r.error_detail;
  std::string s = "HTTP " + std::to_string(r.status);
  auto j = json::parse(r.body, nullptr, false);
  if (!j.is_discarded() && j.is_object() && j.contains("error") && j["error"].is_object() &&
      j["error"].contains("message") && j["error"]["message"].is_string())
    s += ": " + j["error"]["message"].get<std::string>();
  return s;
}

/// Runs `n` requests with at most `concurrency` in flight, spread over the IO threads, and
/// waits for all of them. `make(i)` builds request i; `done(i, ec, response)` runs on an IO
/// thread under a lock. `stop()` may end issuing early. Returns false, without waiting for the
/// requests still out, as soon as `interrupted()` (polled every 100 ms) says so: their
/// completions then find the call abandoned and touch nothing of the caller's.
template<class Make, class Done, class Stop>
bool run_bounded(io_pool& pool, std::size_t n, std::size_t concurrency, Make make, Done done,
                 Stop stop, const std::function<bool()>& interrupted) {
  struct shared {
    std::mutex mx;
    std::condition_variable cv;
    std::size_t next = 0;
    std::size_t in_flight = 0;
    bool abandoned = false;
  };
  auto st = std::make_shared<shared>();
  std::function<void()> issue;
  issue = [&, st] {
    // Called with the lock held.
    while (st->in_flight < concurrency && st->next < n && !stop()) {
      auto i = st->next++;
      st->in_flight++;
      auto io = pool.next_index();
      net::async_http_request(pool.context(io), make(i),
                              [&, st, i](std::error_code ec, net::http_response r) {
                                std::lock_guard<std::mutex> lock{st->mx};
                                st->in_flight--;
                                if (st->abandoned)
                                  return; // the caller's frame is gone
                                done(i, ec, r);
                                issue();
                                st->cv.notify_all();
                              });
    }
  };
  std::unique_lock<std::mutex> lock{st->mx};
  issue();
  while (!st->cv.wait_for(lock, std::chrono::milliseconds(100), [&] {
    return st->in_flight == 0 && (st->next >= n || stop());
  })) {
    if (interrupted && interrupted()) {
      st->abandoned = true;
      return false;
    }
  }
  return true;
}

/// Waits for one request made with `start(callback)`; false, without waiting further, when
/// `interrupted()` says so (the callback then stores nothing).
template<class Start>
bool await_one(Start start, std::error_code& ec, net::http_response& resp,
               const std::function<bool()>& interrupted) {
  struct shared {
    std::mutex mx;
    std::condition_variable cv;
    bool finished = false;
    bool abandoned = false;
    std::error_code ec;
    net::http_response resp;
  };
  auto st = std::make_shared<shared>();
  start([st](std::error_code e, net::http_response r) {
    std::lock_guard<std::mutex> lock{st->mx};
    if (st->abandoned)
      return;
    st->ec = e;
    st->resp = std::move(r);
    st->finished = true;
    st->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock{st->mx};
  while (!st->cv.wait_for(lock, std::chrono::milliseconds(100), [&] { return st->finished; })) {
    if (interrupted && interrupted()) {
      st->abandoned = true;
      return false;
    }
  }
  ec = st->ec;
  resp = std::move(st->resp);
  return true;
}

} // namespace

std::optional<login_settings> make_login_settings(const config::scenario& sc) {
  if (sc.auth.mode != config::auth_mode::login)
    return std::nullopt;
  auto base = net::parse_url(sc.target.http_url);
  if (!base)
    return std::nullopt;
  login_settings ls;
  ls.url = *base;
  ls.url.target = sc.auth.login_path;
  ls.email = sc.auth.email;
  ls.password = sc.auth.password.reveal();
  ls.tls = tls_of(sc);
  ls.connect_timeout = sc.target.connect_timeout;
  return ls;
}

net::http_request login_request(const login_settings& ls, std::int64_t member_id) {
  net::http_request req;
  req.method = "POST";
  req.target = ls.url;
  req.headers.emplace_back("Content-Type", "application/json");
  req.body = json{{"email", email_of(ls.email, member_id)}, {"password", ls.password}}.dump();
  req.tls = ls.tls;
  req.connect_timeout = ls.connect_timeout;
  return req;
}

std::optional<room_rest_settings> make_room_rest_settings(const config::scenario& sc) {
  if (sc.auth.mode == config::auth_mode::none)
    return std::nullopt;
  auto base = net::parse_url(sc.target.http_url);
  if (!base)
    return std::nullopt;
  room_rest_settings rs;
  rs.base = *base;
  rs.tls = tls_of(sc);
  rs.connect_timeout = sc.target.connect_timeout;
  return rs;
}

net::http_request room_request(const room_rest_settings& rs, const std::string& token,
                               std::int64_t room, std::int64_t other_member) {
  net::http_request req;
  req.method = "POST";
  req.target = rs.base;
  req.target.target = room != 0
                          ? "/v1/chat/rooms/" + std::to_string(room)
                          : "/v1/chat/rooms/private?otherMemberId=" + std::to_string(other_member);
  if (!token.empty())
    req.headers.emplace_back("Authorization", "Bearer " + token);
  req.tls = rs.tls;
  req.connect_timeout = rs.connect_timeout;
  req.timeout = std::max(rs.connect_timeout, std::chrono::milliseconds{10000});
  return req;
}

bool parse_room_response(const std::error_code& ec, const net::http_response& r, std::int64_t& room,
                         std::string& why) {
  if (ec || r.status != 200) {
    why = describe(ec, r);
    return false;
  }
  auto j = json::parse(r.body, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("data")) {
    why = "HTTP 200 without data";
    return false;
  }
  if (j["data"].is_number_integer())
    room = j["data"].get<std::int64_t>();
  else if (!j["data"].is_null()) {
    why = "HTTP 200 with a data that is not a room id";
    return false;
  }
  return true;
}

bool parse_login_response(const std::error_code& ec, const net::http_response& r,
                          std::string& token, std::int64_t& member_id, std::string& why) {
  if (!ec && r.status == 200) {
    auto j = json::parse(r.body, nullptr, false);
    const json* data =
        (!j.is_discarded() && j.is_object() && j.contains("data")) ? &j["data"] : nullptr;
    if (data && data->is_object() && data->contains("tokenInfo") &&
        (*data)["tokenInfo"].is_object() && (*data)["tokenInfo"].contains("accessToken") &&
        (*data)["tokenInfo"]["accessToken"].is_string()) {
      token = (*data)["tokenInfo"]["accessToken"].get<std::string>();
      if (data->contains("memberInfo") && (*data)["memberInfo"].is_object() &&
          (*data)["memberInfo"].contains("memberId") &&
          (*data)["memberInfo"]["memberId"].is_number_integer())
        member_id = (*data)["memberInfo"]["memberId"].get<std::int64_t>();
      return true;
    }
    why = "HTTP 200 without data.tokenInfo.accessToken";
    return false;
  }
  why = describe(ec, r);
  return false;
}

std::optional<std::int64_t> jwt_expiry(std::string_view token) {
  auto first = token.find('.');
  if (first == std::string_view::npos)
    return std::nullopt;
  auto second = token.find('.', first + 1);
  if (second == std::string_view::npos)
    return std::nullopt;
  auto payload = token.substr(first + 1, second - first - 1);
  // base64url without padding -> bytes.
  std::string bytes;
  std::uint32_t acc = 0;
  int bits = 0;
  for (char ch : payload) {
    int v;
    if (ch >= 'A' && ch <= 'Z')
      v = ch - 'A';
    else if (ch >= 'a' && ch <= 'z')
      v = ch - 'a' + 26;
    else if (ch >= '0' && ch <= '9')
      v = ch - '0' + 52;
    else if (ch == '-' || ch == '+')
      v = 62;
    else if (ch == '_' || ch == '/')
      v = 63;
    else if (ch == '=')
      break;
    else
      return std::nullopt;
    acc = (acc << 6) | static_cast<std::uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes.push_back(static_cast<char>((acc >> bits) & 0xFF));
    }
  }
  auto j = json::parse(bytes, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("exp") || !j["exp"].is_number())
    return std::nullopt;
  const json& exp = j["exp"];
  // A server's token is input like any other: an exp that no int64 holds (1e300, a huge
  // unsigned, NaN) reads as no expiry rather than as a float-to-integer overflow.
  if (exp.is_number_unsigned())
    return exp.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)
               ? std::nullopt
               : std::optional<std::int64_t>{static_cast<std::int64_t>(exp.get<std::uint64_t>())};
  if (exp.is_number_integer())
    return exp.get<std::int64_t>();
  const double d = exp.get<double>();
  if (!(d > -9.2e18 && d < 9.2e18))
    return std::nullopt;
  return static_cast<std::int64_t>(d);
}

bool prepare_users(io_pool& pool, const config::scenario& sc, std::vector<user_identity>& ids,
                   std::int64_t& created_room, std::string& why, std::size_t* failed_logins,
                   const std::function<bool()>& interrupted) {
  if (sc.auth.mode == config::auth_mode::login && !ids.empty()) {
    auto ls = make_login_settings(sc);
    if (!ls) {
      why = "target.http_url: not an http(s) URL";
      return false;
    }
    auto& login_url = ls->url;
    std::size_t ok = 0, failed = 0;
    std::string first_failure;
    auto concurrency = std::max<std::size_t>(1, sc.auth.concurrency);
    std::printf("stompede: logging in %zu users (%zu at a time)\n", ids.size(), concurrency);
    std::fflush(stdout);
    const bool finished = run_bounded(
        pool, ids.size(), concurrency,
        [&](std::size_t i) { return login_request(*ls, ids[i].member_id); },
        [&](std::size_t i, const std::error_code& ec, const net::http_response& r) {
          std::string why_not;
          if (parse_login_response(ec, r, ids[i].token, ids[i].member_id, why_not)) {
            ++ok;
            return;
          }
          if (failed++ == 0)
            first_failure = email_of(sc.auth.email, ids[i].member_id) + ": " + why_not;
        },
        // Everything failed so far over a full window: the target refuses us; stop asking.
        [&] { return ok == 0 && failed >= concurrency; }, interrupted);
    if (failed_logins)
      *failed_logins = failed;
    if (!finished) {
      why = "interrupted while logging in (" + std::to_string(ok) + " of " +
            std::to_string(ids.size()) + " logged in)";
      return false;
    }
    if (ok == 0) {
      why = "login failed at " + login_url.to_string() + " (" + first_failure + ")";
      return false;
    }
    if (failed > 0)
      std::fprintf(stderr,
                   "stompede: warning: %zu of %zu logins failed (first: %s); those users "
                   "connect without a token (counted as login_failed errors)\n",
                   failed, ids.size(), first_failure.c_str());
  }
  if (sc.rooms.mode == config::rooms_mode::create) {
    auto base = net::parse_url(sc.target.http_url);
    if (!base || ids.empty()) {
      why = "rooms.mode = create needs target.http_url and at least one user";
      return false;
    }
    auto u = *base;
    u.target = sc.rooms.create_path;
    char sep = u.target.find('?') == std::string::npos ? '?' : '&';
    for (auto m : sc.rooms.member_ids) {
      u.target += sep;
      u.target += "otherMemberIds=" + std::to_string(m);
      sep = '&';
    }
    std::error_code ec;
    net::http_response resp;
    net::http_request req;
    req.method = "POST";
    req.target = u;
    req.tls = tls_of(sc);
    if (!ids[0].token.empty())
      req.headers.emplace_back("Authorization", "Bearer " + ids[0].token);
    const bool answered = await_one(
        [&](auto callback) {
          net::async_http_request(pool.context(0), std::move(req), std::move(callback));
        },
        ec, resp, interrupted);
    if (!answered) {
      why = "interrupted while creating the room";
      return false;
    }
    auto j = json::parse(resp.body, nullptr, false);
    if (ec || resp.status != 200 || j.is_discarded() || !j.contains("data") ||
        !j["data"].is_number_integer()) {
      why = "room creation failed at " + u.to_string() + " (" + describe(ec, resp) + ")";
      return false;
    }
    created_room = j["data"].get<std::int64_t>();
  }
  return true;
}

} // namespace stompede
