#pragma once

// The server's in-process fault interface. Every call is thread-safe and returns at once; the
// effects happen on the IO threads and are counted in server_stats.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <system_error>

namespace stompede::server {

namespace detail {
class server_core;
}

/// Faults the embedded server can inject into its own behaviour.
class fault_control {
public:
  explicit fault_control(detail::server_core& core) : core_(core) {}

  /// Stops (true) or resumes (false) reading from every session.
  void pause_reading(bool paused);
  bool reading_paused() const;

  /// Holds every broadcast back by `delay` (0 = off).
  void delay_broadcasts(std::chrono::milliseconds delay);

  /// Drops this fraction [0, 1] of broadcasts (each one counted per room).
  void drop_broadcasts(double fraction);

  /// Closes this fraction of the open STOMP sessions: gracefully (WebSocket close 1001) or
  /// abortively (TCP reset).
  void close_sessions(double fraction, bool abortive);

  /// Closes every new connection right after accept while on.
  void refuse_connections(bool refuse);

  /// Sends ERROR `message` to this fraction of the sessions, then closes them.
  void error_sessions(double fraction, const std::string& message);

  /// Closes and re-binds the listening socket on the same address and port.
  void restart_listener();

  /// Turns every fault off.
  void clear();

  /// Broadcasts dropped so far, per room id (0 = broker topics).
  std::map<std::uint64_t, std::uint64_t> dropped_broadcasts() const;

private:
  detail::server_core& core_;
};

} // namespace stompede::server
