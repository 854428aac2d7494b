// `stompede serve`: the server in the foreground until SIGINT/SIGTERM.

#include "server/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include <csignal>
#include <iostream>

namespace stompede::server {

int run_serve(const server_config& config) {
  // The signal set must exist before the server's threads start, so they inherit nothing odd
  // and the signals land here.
  boost::asio::io_context ioc;
  boost::asio::signal_set signals(ioc, SIGINT, SIGTERM);
  int caught = 0;
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (!ec)
      caught = sig;
  });

  server srv(config);
  if (auto ec = srv.start()) {
    std::cerr << "stompede serve: " << srv.start_problem() << "\n";
    return 2;
  }
  std::cout << "stompede serve: " << (config.mode == server_mode::chat ? "chat" : "broker")
            << " mode" << (srv.tls() ? ", TLS" : "")
            << (config.tls_client_ca_file.empty() ? "" : " (client certificates required)") << "\n"
            << "  WebSocket (STOMP 1.2): " << srv.ws_url() << "\n"
            << "  HTTP:                  " << srv.http_url() << "\n";
  if (config.metrics)
    std::cout << "  metrics:               " << srv.http_url() << "/metrics\n";
  if (!config.admin_token.empty()) {
    std::cout << "  admin (Bearer token):  " << srv.http_url() << "/admin/...\n";
  }
  std::cout << "  Ctrl-C stops it." << std::endl;
  ioc.run();
  std::cout << "stompede serve: signal " << caught << ", stopping" << std::endl;
  srv.stop();
  const auto s = srv.stats();
  std::cout << "stompede serve: stopped after " << s.sessions_total << " sessions, " << s.messages
            << " messages, " << s.frames_out << " frames out" << std::endl;
  return 0;
}

} // namespace stompede::server
