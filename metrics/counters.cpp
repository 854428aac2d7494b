#include "metrics/counters.hpp"

namespace stompede::metrics {

namespace {

constexpr std::string_view error_labels[error_type_count] = {
    "connect_refused",   "connect_timeout",
    "resolve_failed",    "tls_error",
    "handshake_timeout", "upgrade_rejected",
    "stomp_error_frame", "protocol_error",
    "heartbeat_timeout", "idle_timeout",
    "read_error",        "write_error",
    "write_timeout",     "write_queue_full",
    "frame_too_large",   "connection_reset",
    "closed_by_peer",    "login_failed",
    "port_exhaustion",   "fd_exhausted",
    "injected",          "behaviour_error",
    "other",
};

// Applies `f(a_field, b_field)` to every scalar field; errors are handled by the callers.
template<class A, class B, class F>
void for_each_scalar(A& a, B& b, F f) {
  f(a.messages_sent, b.messages_sent);
  f(a.messages_received, b.messages_received);
  f(a.own_received, b.own_received);
  f(a.lost, b.lost);
  f(a.late_sends, b.late_sends);
  f(a.connect_attempts, b.connect_attempts);
  f(a.connects_ok, b.connects_ok);
  f(a.stomp_connected, b.stomp_connected);
  f(a.subscribed, b.subscribed);
  f(a.reconnect_attempts, b.reconnect_attempts);
  f(a.reconnect_successes, b.reconnect_successes);
  f(a.give_ups, b.give_ups);
  f(a.disconnects_graceful, b.disconnects_graceful);
  f(a.connects_abandoned, b.connects_abandoned);
  f(a.unresolved, b.unresolved);
  f(a.arrivals, b.arrivals);
  f(a.arrivals_started, b.arrivals_started);
  f(a.arrivals_dropped, b.arrivals_dropped);
  f(a.sessions_completed, b.sessions_completed);
  f(a.bytes_in, b.bytes_in);
  f(a.bytes_out, b.bytes_out);
  for (std::size_t i = 0; i < error_type_count; ++i)
    f(a.errors[i], b.errors[i]);
}

} // namespace

std::string_view to_label(error_type e) noexcept {
  auto i = static_cast<std::size_t>(e);
  return i < error_type_count ? error_labels[i] : error_labels[error_type_count - 1];
}

std::optional<error_type> error_type_from_label(std::string_view label) noexcept {
  for (std::size_t i = 0; i < error_type_count; ++i)
    if (error_labels[i] == label)
      return static_cast<error_type>(i);
  return std::nullopt;
}

std::uint64_t load_counters::errors_total() const noexcept {
  std::uint64_t total = 0;
  for (auto n : errors)
    total += n;
  return total;
}

load_counters& load_counters::operator+=(const load_counters& other) noexcept {
  for_each_scalar(*this, other, [](std::uint64_t& x, std::uint64_t y) { x += y; });
  return *this;
}

bool operator==(const load_counters& a, const load_counters& b) noexcept {
  bool equal = true;
  for_each_scalar(a, b, [&](std::uint64_t x, std::uint64_t y) { equal = equal && x == y; });
  return equal;
}

load_counters operator+(load_counters a, const load_counters& b) noexcept {
  a += b;
  return a;
}

load_counters operator-(const load_counters& now, const load_counters& before) noexcept {
  load_counters d = now;
  for_each_scalar(d, before, [](std::uint64_t& x, std::uint64_t y) { x = x >= y ? x - y : 0; });
  return d;
}

} // namespace stompede::metrics
