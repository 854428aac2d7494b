#include "protocol/transport_error.hpp"

#include <string>

namespace stompede::net {
namespace {

class transport_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override {
    return "stompede.transport";
  }
  std::string message(int value) const override {
    switch (static_cast<transport_errc>(value)) {
    case transport_errc::ok:
      return "success";
    case transport_errc::resolve_failed:
      return "host name could not be resolved";
    case transport_errc::connect_refused:
      return "connection refused";
    case transport_errc::connect_timeout:
      return "connect timed out";
    case transport_errc::port_exhaustion:
      return "no ephemeral port left (EADDRNOTAVAIL)";
    case transport_errc::fd_exhausted:
      return "out of file descriptors";
    case transport_errc::tls_error:
      return "TLS handshake or verification failed";
    case transport_errc::handshake_timeout:
      return "handshake timed out";
    case transport_errc::upgrade_rejected:
      return "WebSocket upgrade rejected by the server";
    case transport_errc::idle_timeout:
      return "no data received within the idle timeout";
    case transport_errc::write_timeout:
      return "write timed out";
    case transport_errc::write_queue_full:
      return "outgoing queue over its bound";
    case transport_errc::message_too_large:
      return "inbound message larger than the limit";
    case transport_errc::closed_by_peer:
      return "WebSocket closed by the peer";
    case transport_errc::connection_reset:
      return "connection reset or ended by the peer";
    case transport_errc::io_error:
      return "input/output error";
    case transport_errc::protocol_error:
      return "WebSocket or HTTP protocol violation";
    case transport_errc::request_timeout:
      return "HTTP request timed out";
    }
    return "unknown transport error";
  }
};

} // namespace

const std::error_category& transport_category() noexcept {
  static const transport_category_impl category;
  return category;
}

const char* to_label(transport_errc e) noexcept {
  switch (e) {
  case transport_errc::ok:
    return "ok";
  case transport_errc::resolve_failed:
    return "resolve_failed";
  case transport_errc::connect_refused:
    return "connect_refused";
  case transport_errc::connect_timeout:
    return "connect_timeout";
  case transport_errc::port_exhaustion:
    return "port_exhaustion";
  case transport_errc::fd_exhausted:
    return "fd_exhausted";
  case transport_errc::tls_error:
    return "tls_error";
  case transport_errc::handshake_timeout:
    return "handshake_timeout";
  case transport_errc::upgrade_rejected:
    return "upgrade_rejected";
  case transport_errc::idle_timeout:
    return "idle_timeout";
  case transport_errc::write_timeout:
    return "write_timeout";
  case transport_errc::write_queue_full:
    return "write_queue_full";
  case transport_errc::message_too_large:
    return "message_too_large";
  case transport_errc::closed_by_peer:
    return "closed_by_peer";
  case transport_errc::connection_reset:
    return "connection_reset";
  case transport_errc::io_error:
    return "io_error";
  case transport_errc::protocol_error:
    return "protocol_error";
  case transport_errc::request_timeout:
    return "request_timeout";
  }
  return "unknown";
}

} // namespace stompede::net
