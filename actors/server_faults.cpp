#include "actors/server_faults.hpp"

#include "protocol/http_client.hpp"
#include "protocol/url.hpp"

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <memory>

namespace stompede {

std::string admin_fault_target(const server_fault_call& c) {
  using op = server_fault_call::op;
  auto frac = [](double f) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", f);
    return std::string{buf};
  };
  auto flag = [](bool on) { return std::string{on ? "true" : "false"}; };
  switch (c.what) {
  case op::pause_reading:
    return "/admin/faults/pause-reading?on=" + flag(c.on);
  case op::delay_broadcasts:
    return "/admin/faults/delay-broadcasts?ms=" + std::to_string(c.delay.count());
  case op::drop_broadcasts:
    return "/admin/faults/drop-broadcasts?fraction=" + frac(c.fraction);
  case op::close_sessions:
    return "/admin/faults/close-sessions?fraction=" + frac(c.fraction) +
           "&mode=" + (c.abortive ? "abortive" : "graceful");
  case op::refuse_connections:
    return "/admin/faults/refuse-connections?on=" + flag(c.on);
  case op::error_sessions: {
    // The message goes in the query: letters, digits and -_. as they are, the rest %-escaped.
    std::string m;
    for (unsigned char ch : c.message) {
      if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
          ch == '-' || ch == '_' || ch == '.') {
        m += static_cast<char>(ch);
      } else {
        char buf[4];
        std::snprintf(buf, sizeof buf, "%%%02X", ch);
        m += buf;
      }
    }
    return "/admin/faults/error-sessions?fraction=" + frac(c.fraction) + "&message=" + m;
  }
  case op::restart_listener:
    return "/admin/faults/restart-listener";
  case op::stall_io:
    return "/admin/faults/stall?ms=" + std::to_string(c.delay.count());
  case op::clear:
    return "/admin/faults/clear";
  }
  return "/admin/faults/clear";
}

std::string admin_fault_body(const server_fault_call& c) {
  if (c.rooms.empty() && c.members.empty())
    return {};
  nlohmann::json j = nlohmann::json::object();
  if (!c.rooms.empty())
    j["rooms"] = c.rooms;
  if (!c.members.empty())
    j["members"] = c.members;
  return j.dump();
}

namespace {

/// One blocking exchange with the admin endpoint; "" or one line. `answer` gets the reply.
std::string admin_exchange(const net::url& url, const std::string& token,
                           std::chrono::milliseconds timeout, std::string method,
                           std::string target, std::string body, net::http_response& answer) {
  net::http_request req;
  req.method = std::move(method);
  req.target = url;
  req.target.target = std::move(target);
  req.headers.emplace_back("Authorization", "Bearer " + token);
  if (!body.empty())
    req.headers.emplace_back("Content-Type", "application/json");
  req.body = std::move(body);
  req.connect_timeout = timeout;
  req.timeout = timeout;
  boost::asio::io_context ioc;
  std::error_code failed;
  net::async_http_request(ioc, std::move(req), [&](std::error_code ec, net::http_response r) {
    failed = ec;
    answer = std::move(r);
  });
  ioc.run();
  auto where = url.to_redacted_string();
  if (failed)
    return "admin endpoint " + where + ": " + failed.message();
  if (answer.status == 403)
    return "admin endpoint " + where + " refused the admin token (403)";
  if (answer.status == 404)
    return "admin endpoint " + where +
           " has no fault endpoints (404): start `stompede serve` with an admin_token";
  if (answer.status != 200)
    return "admin endpoint " + where + " answered " + std::to_string(answer.status);
  return {};
}

} // namespace

server_fault_port make_admin_fault_port(const std::string& base_url, const std::string& token,
                                        std::chrono::milliseconds timeout) {
  std::string why;
  auto base = net::parse_url(base_url, &why);
  server_fault_port port;
  if (!base) {
    port.apply = [why, base_url](const server_fault_call&) {
      return "admin endpoint \"" + base_url + "\": " + why;
    };
    return port;
  }
  auto url = *base;
  port.apply = [url, token, timeout](const server_fault_call& c) -> std::string {
    net::http_response answer;
    return admin_exchange(url, token, timeout, "POST", admin_fault_target(c), admin_fault_body(c),
                          answer);
  };
  port.tally = [url, token, timeout](server_fault_tally& t) -> std::string {
    net::http_response answer;
    auto e = admin_exchange(url, token, timeout, "GET", "/admin/stats", {}, answer);
    if (!e.empty())
      return e;
    auto j = nlohmann::json::parse(answer.body, nullptr, false);
    const nlohmann::json* ft = nullptr;
    if (j.is_object()) {
      // The chat service's wrapped answer: {"status": ..., "data": {...}}.
      const auto& d = j.contains("data") ? j["data"] : j;
      if (d.is_object() && d.contains("faultTally") && d["faultTally"].is_object())
        ft = &d["faultTally"];
    }
    if (ft == nullptr)
      return "admin endpoint " + url.to_redacted_string() + " gave no fault tally";
    auto get = [ft](const char* k) { return ft->value(k, std::int64_t{0}); };
    t.dropped_broadcasts = get("droppedBroadcasts");
    t.delayed_broadcasts = get("delayedBroadcasts");
    t.closed_sessions = get("closedSessions");
    t.error_sessions = get("errorSessions");
    t.refused_connections = get("refusedConnections");
    t.paused_sessions = get("pausedSessions");
    t.stalled_turns = get("stalledTurns");
    return std::string{};
  };
  return port;
}

} // namespace stompede
