#pragma once

// How the fault injector reaches the server's fault interface: a call per change, answered with
// an empty string on success or one line saying why it failed. The embedded server in the same
// process is called directly (app/embedded_faults.hpp); a separately run `stompede serve` is
// called over its token-protected admin endpoint on loopback (make_admin_fault_port).

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace stompede {

/// One change of the server's fault state.
struct server_fault_call {
  enum class op {
    /// Stop (on) or resume (off) reading from every session.
    pause_reading,
    /// Hold every broadcast back by `delay` (0 = off).
    delay_broadcasts,
    /// Drop `fraction` of the broadcasts (0 = off).
    drop_broadcasts,
    /// Close `fraction` of the sessions (TCP reset when `abortive`).
    close_sessions,
    /// Close new connections right after accept while on.
    refuse_connections,
    /// Send ERROR `message` to `fraction` of the sessions, then close them.
    error_sessions,
    /// Close and re-bind the listening socket.
    restart_listener,
    /// Hold each IO thread `delay` once per turn of its queue (0 = off).
    stall_io,
    /// Every fault off.
    clear,
  } what = op::clear;
  bool on = false;
  double fraction = 0.0;
  std::chrono::milliseconds delay{0};
  bool abortive = false;
  std::string message;
  /// Cohort (empty = the whole server): sessions of members of these rooms and broadcasts in
  /// them; sessions of these members and broadcasts they send.
  std::vector<std::int64_t> rooms;
  std::vector<std::int64_t> members;
};

/// The server's cumulative fault counts (server/faults.hpp fault_tally), read before and
/// after a fault to count what it hit.
struct server_fault_tally {
  std::int64_t dropped_broadcasts = 0;
  std::int64_t delayed_broadcasts = 0;
  std::int64_t closed_sessions = 0;
  std::int64_t error_sessions = 0;
  std::int64_t refused_connections = 0;
  std::int64_t paused_sessions = 0;
  std::int64_t stalled_turns = 0;
};

/// The server's fault interface as the injector sees it.
struct server_fault_port {
  /// Applies a call; returns "" on success, else one line.
  std::function<std::string(const server_fault_call&)> apply;
  /// Reads the tally; "" on success, else one line. Optional (hits then stay unknown).
  std::function<std::string(server_fault_tally&)> tally;

  explicit operator bool() const noexcept {
    return static_cast<bool>(apply);
  }
  std::string operator()(const server_fault_call& c) const {
    return apply(c);
  }
};

/// A port over `stompede serve`'s admin endpoint at `base_url` (http://host:port) with the
/// bearer `token`. Each call is a blocking POST bounded by `timeout`; the token never appears
/// in a returned line.
server_fault_port
make_admin_fault_port(const std::string& base_url, const std::string& token,
                      std::chrono::milliseconds timeout = std::chrono::seconds(3));

/// The path and query of a call on the admin endpoint ("/admin/faults/close-sessions?...").
std::string admin_fault_target(const server_fault_call& c);

/// The body of a call on the admin endpoint: its cohort as JSON, or "" without one.
std::string admin_fault_body(const server_fault_call& c);

/// Which tally counter a call's hits are counted on (nullptr: none, e.g. clear).
inline std::int64_t server_fault_tally::*hit_counter(const server_fault_call& c) {
  using op = server_fault_call::op;
  switch (c.what) {
  case op::pause_reading:
    return &server_fault_tally::paused_sessions;
  case op::delay_broadcasts:
    return &server_fault_tally::delayed_broadcasts;
  case op::drop_broadcasts:
    return &server_fault_tally::dropped_broadcasts;
  case op::close_sessions:
    return &server_fault_tally::closed_sessions;
  case op::refuse_connections:
    return &server_fault_tally::refused_connections;
  case op::error_sessions:
    return &server_fault_tally::error_sessions;
  case op::stall_io:
    return &server_fault_tally::stalled_turns;
  default:
    return nullptr;
  }
}

} // namespace stompede
