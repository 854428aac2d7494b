#include "server/server_stats_counters.hpp"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

namespace stompede::server::detail {

namespace {
std::uint64_t get(const std::atomic<std::uint64_t>& a) {
  return a.load(std::memory_order_relaxed);
}
} // namespace

server_stats counters::snapshot() const {
  server_stats s;
  s.sessions = get(sessions);
  s.connections = get(connections);
  s.sessions_total = get(sessions_total);
  s.subscriptions = get(subscriptions);
  s.frames_in = get(frames_in);
  s.frames_out = get(frames_out);
  s.bytes_in = get(bytes_in);
  s.bytes_out = get(bytes_out);
  s.messages = get(messages);
  s.broadcasts = get(broadcasts);
  s.dropped_broadcasts = get(dropped_broadcasts);
  s.slow_consumer_closes = get(slow_consumer_closes);
  s.heartbeat_timeouts = get(heartbeat_timeouts);
  s.protocol_errors = get(protocol_errors);
  s.auth_failures = get(auth_failures);
  s.refused_connections = get(refused_connections);
  s.fault_closed_sessions = get(fault_closed_sessions);
  s.fault_error_sessions = get(fault_error_sessions);
  s.logins = get(logins);
  s.tls_handshake_failures = get(tls_handshake_failures);
  return s;
}

std::string counters::render_prometheus() const {
  // A fresh registry per scrape: the hot path only touches plain atomics, and scrapes are rare.
  prometheus::Registry reg;
  auto gauge = [&](const char* name, const char* help, std::uint64_t v) {
    prometheus::BuildGauge().Name(name).Help(help).Register(reg).Add({}).Set(
        static_cast<double>(v));
  };
  auto counter = [&](const char* name, const char* help, std::uint64_t v) {
    prometheus::BuildCounter().Name(name).Help(help).Register(reg).Add({}).Increment(
        static_cast<double>(v));
  };
  const server_stats s = snapshot();
  gauge("stompede_server_sessions", "Open STOMP sessions", s.sessions);
  gauge("stompede_server_connections", "Open TCP connections", s.connections);
  gauge("stompede_server_subscriptions", "Live subscriptions", s.subscriptions);
  counter("stompede_server_sessions_total", "STOMP sessions ever connected", s.sessions_total);
  counter("stompede_server_frames_in_total", "STOMP frames received", s.frames_in);
  counter("stompede_server_frames_out_total", "STOMP frames sent", s.frames_out);
  counter("stompede_server_bytes_in_total", "WebSocket payload bytes received", s.bytes_in);
  counter("stompede_server_bytes_out_total", "WebSocket payload bytes sent", s.bytes_out);
  counter("stompede_server_messages_total", "Chat messages accepted", s.messages);
  counter("stompede_server_broadcasts_total", "Fan-outs performed", s.broadcasts);
  counter("stompede_server_dropped_broadcasts_total", "Broadcasts dropped by the fault interface",
          s.dropped_broadcasts);
  counter("stompede_server_slow_consumer_closes_total", "Sessions cut as slow consumers",
          s.slow_consumer_closes);
  counter("stompede_server_heartbeat_timeouts_total", "Sessions closed for missing heart-beats",
          s.heartbeat_timeouts);
  counter("stompede_server_auth_failures_total", "Refused logins and tokens", s.auth_failures);
  counter("stompede_server_refused_connections_total", "Connections refused after accept",
          s.refused_connections);
  counter("stompede_server_logins_total", "Successful logins", s.logins);
  counter("stompede_server_http_requests_total", "HTTP requests served", get(http_requests));
  counter("stompede_server_tls_handshake_failures_total",
          "TLS handshakes the client failed (bad certificate, wrong protocol)",
          s.tls_handshake_failures);
  auto& errors = prometheus::BuildCounter()
                     .Name("stompede_server_protocol_errors_total")
                     .Help("ERROR frames sent, by category")
                     .Register(reg);
  for (const auto& [category, n] : this->errors()) {
    errors.Add({{"category", category}}).Increment(static_cast<double>(n));
  }
  return prometheus::TextSerializer().Serialize(reg.Collect());
}

} // namespace stompede::server::detail
