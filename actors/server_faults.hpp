#pragma once

// How the fault injector reaches the server's fault interface: a call per change, answered with
// an empty string on success or one line saying why it failed. The embedded server in the same
// process is called directly (app/embedded_faults.hpp); a separately run `stompede serve` is
// called over its token-protected admin endpoint on loopback (make_admin_fault_port).

#include <chrono>
#include <functional>
#include <string>

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
    /// Every fault off.
    clear,
  } what = op::clear;
  bool on = false;
  double fraction = 0.0;
  std::chrono::milliseconds delay{0};
  bool abortive = false;
  std::string message;
};

/// Applies a call; returns "" on success, else one line.
using server_fault_port = std::function<std::string(const server_fault_call&)>;

/// A port over `stompede serve`'s admin endpoint at `base_url` (http://host:port) with the
/// bearer `token`. Each call is a blocking POST bounded by `timeout`; the token never appears
/// in a returned line.
server_fault_port
make_admin_fault_port(const std::string& base_url, const std::string& token,
                      std::chrono::milliseconds timeout = std::chrono::seconds(3));

/// The path and query of a call on the admin endpoint ("/admin/faults/close-sessions?...").
std::string admin_fault_target(const server_fault_call& c);

} // namespace stompede
