#pragma once

// User-side faults: what the fault injector asks supervisors to do to a cohort of their users,
// and how a user is chosen. Light on purpose (no CAF, no Asio): sessions, supervisors and the
// injector all include it.

#include <cstdint>
#include <limits>
#include <system_error>
#include <vector>

namespace stompede {

/// What a user-side fault does to one user's session.
enum class user_fault : std::uint8_t {
  /// Abortive close with a TCP reset; the supervisor reconnects the user.
  drop,
  /// WebSocket close (1000) without a STOMP DISCONNECT; the supervisor reconnects the user.
  close,
  /// The user actor dies with an error (its session goes with it): the supervisor's restart.
  crash,
  /// Stop reading from the socket (a slow consumer) until rolled back.
  stop_reading,
  /// Send no STOMP heart-beats until rolled back (chat sends still count as activity).
  stop_heartbeats,
  /// Write a SEND whose content-length is not a number: the server answers ERROR and closes.
  malformed_frame,
  /// The user's token expires: the session ends and the restarted one logs in again first.
  token_expiry,
};

/// The error a session ends with when a fault ended it (counted as `injected`).
std::error_code injected_fault_error() noexcept;

/// One order to a supervisor: apply (on) or roll back (off) fault occurrence `fault_id` on the
/// users of its shard that are in the cohort.
struct user_fault_order {
  std::uint32_t fault_id = 0;
  user_fault kind = user_fault::drop;
  bool on = true;
  /// Cohort: this fraction of the users (chosen by a hash of seed, fault and user index).
  double fraction = 1.0;
  /// Cohort: rooms (empty = any).
  std::vector<std::int64_t> rooms;
  /// Cohort: index of the user's behaviour (-1 = any).
  int behaviour = -1;
  /// Cohort: user indices [index_from, index_to) (a stage's users).
  std::uint32_t index_from = 0;
  std::uint32_t index_to = std::numeric_limits<std::uint32_t>::max();
  std::uint64_t seed = 0;
};

/// True when the user with this index, room and behaviour is in the order's cohort.
bool in_cohort(const user_fault_order& o, std::uint32_t index, std::int64_t room,
               int behaviour) noexcept;

} // namespace stompede
