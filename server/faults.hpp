#pragma once

// The server's in-process fault interface. Every call is thread-safe and returns at once; the
// effects happen on the IO threads and are counted in server_stats.

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <system_error>
#include <vector>

namespace stompede::server {

namespace detail {
class server_core;
}

/// Whom a fault acts on. Empty lists match everyone; both set, both must match. A session
/// matches by its authenticated member (chat mode: broker-mode sessions have no member and
/// match only an empty cohort); a broadcast by its room and its sender.
struct fault_cohort {
  /// Sessions of members of these rooms; broadcasts in these rooms.
  std::vector<std::uint64_t> rooms;
  /// Sessions of these members; broadcasts they send.
  std::vector<std::uint64_t> members;
  bool empty() const noexcept {
    return rooms.empty() && members.empty();
  }
};

/// What the faults did so far (cumulative since start), for counting a fault's hits.
struct fault_tally {
  std::uint64_t dropped_broadcasts = 0;
  std::uint64_t delayed_broadcasts = 0;
  /// Sessions closed by close_sessions (restart's cut included).
  std::uint64_t closed_sessions = 0;
  /// Sessions sent an ERROR by error_sessions.
  std::uint64_t error_sessions = 0;
  /// Connections refused (at accept, or at CONNECT for a cohort).
  std::uint64_t refused_connections = 0;
  /// Reads paused: sessions that stopped reading because of pause_reading.
  std::uint64_t paused_sessions = 0;
  /// Turns of an IO thread's queue held by stall_io.
  std::uint64_t stalled_turns = 0;
};

/// Faults the embedded server can inject into its own behaviour. Each one takes an optional
/// cohort (fault_cohort): without one it acts on the whole server.
class fault_control {
public:
  explicit fault_control(detail::server_core& core) : core_(core) {}

  /// Stops (true) or resumes (false) reading from every session (of the cohort).
  void pause_reading(bool paused, const fault_cohort& who = {});
  bool reading_paused() const;

  /// Holds every broadcast (of the cohort) back by `delay` (0 = off).
  void delay_broadcasts(std::chrono::milliseconds delay, const fault_cohort& who = {});

  /// Drops this fraction [0, 1] of broadcasts (of the cohort; each one counted per room).
  void drop_broadcasts(double fraction, const fault_cohort& who = {});

  /// Closes this fraction of the open STOMP sessions (of the cohort): gracefully (WebSocket
  /// close 1001) or abortively (TCP reset).
  void close_sessions(double fraction, bool abortive, const fault_cohort& who = {});

  /// While on: closes every new connection right after accept, or, with a cohort, resets the
  /// connection of a member of the cohort when its CONNECT (or upgrade) names it.
  void refuse_connections(bool refuse, const fault_cohort& who = {});

  /// Sends ERROR `message` to this fraction of the sessions (of the cohort), then closes them.
  void error_sessions(double fraction, const std::string& message, const fault_cohort& who = {});

  /// While `per_turn` > 0: every IO thread sleeps `per_turn` once in each turn of its queue
  /// of work, so every read, write, accept and timer waits behind it — a server short of CPU
  /// (a saturated host, a collector's pauses) as its clients see it. The whole server only;
  /// at most 1 s per turn (longer is taken as 1 s). 0 turns it off.
  void stall_io(std::chrono::milliseconds per_turn);

  /// Closes and re-binds the listening socket on the same address and port.
  void restart_listener();

  /// Turns every fault off.
  void clear();

  /// What the faults did so far.
  fault_tally tally() const;

  /// Broadcasts dropped so far, per room id (0 = broker topics).
  std::map<std::uint64_t, std::uint64_t> dropped_broadcasts() const;

private:
  detail::server_core& core_;
};

} // namespace stompede::server
