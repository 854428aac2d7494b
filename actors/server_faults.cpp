#include "actors/server_faults.hpp"

#include "protocol/http_client.hpp"
#include "protocol/url.hpp"

#include <boost/asio/io_context.hpp>

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
  case op::clear:
    return "/admin/faults/clear";
  }
  return "/admin/faults/clear";
}

server_fault_port make_admin_fault_port(const std::string& base_url, const std::string& token,
                                        std::chrono::milliseconds timeout) {
  std::string why;
  auto base = net::parse_url(base_url, &why);
  if (!base) {
    return [why, base_url](const server_fault_call&) {
      return "admin endpoint \"" + base_url + "\": " + why;
    };
  }
  auto url = *base;
  return [url, token, timeout](const server_fault_call& c) -> std::string {
    net::http_request req;
    req.method = "POST";
    req.target = url;
    req.target.target = admin_fault_target(c);
    req.headers.emplace_back("Authorization", "Bearer " + token);
    req.connect_timeout = timeout;
    req.timeout = timeout;
    boost::asio::io_context ioc;
    std::error_code failed;
    net::http_response answer;
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
  };
}

} // namespace stompede
