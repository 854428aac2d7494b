#include "server/server.hpp"

#include "server/server_core.hpp"

namespace stompede::server {

bool parse_server_mode(const std::string& s, server_mode& out) {
  if (s == "chat") {
    out = server_mode::chat;
  } else if (s == "broker") {
    out = server_mode::broker;
  } else {
    return false;
  }
  return true;
}

server::server(server_config config)
    : core_(std::make_unique<detail::server_core>(std::move(config))) {}

server::~server() {
  stop();
}

std::error_code server::start() {
  return core_->start();
}

std::uint16_t server::port() const {
  return core_->port();
}

namespace {
std::string authority(const detail::server_core& c) {
  const auto& h = c.host();
  const bool v6 = h.find(':') != std::string::npos;
  return (v6 ? "[" + h + "]" : h) + ":" + std::to_string(c.port());
}
} // namespace

std::string server::ws_url() const {
  return (tls() ? "wss://" : "ws://") + authority(*core_) + "/ws-stomp";
}

std::string server::http_url() const {
  return (tls() ? "https://" : "http://") + authority(*core_);
}

std::string server::start_problem() const {
  return core_->start_problem();
}

bool server::tls() const {
  return core_->tls_context() != nullptr;
}

void server::stop() {
  core_->stop();
}

fault_control& server::faults() {
  return core_->faults;
}

server_stats server::stats() const {
  return core_->stats.snapshot();
}

const server_config& server::config() const {
  return core_->config();
}

} // namespace stompede::server
