#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

namespace stompede::metrics {

/// Every counted kind of error; the label is the Prometheus `type` label and the CSV row suffix.
enum class error_type : std::uint8_t {
  connect_refused,
  connect_timeout,
  resolve_failed,
  tls_error,
  handshake_timeout,
  upgrade_rejected,
  stomp_error_frame,
  protocol_error,
  heartbeat_timeout,
  idle_timeout,
  read_error,
  write_error,
  write_timeout,
  write_queue_full,
  frame_too_large,
  connection_reset,
  closed_by_peer,
  login_failed,
  port_exhaustion,
  fd_exhausted,
  /// A session ended by a fault the experiment injected on the user side (docs/faults.md).
  injected,
  /// A behaviour's hook or factory threw: that session ended, the run went on.
  behaviour_error,
  other,
};

/// Number of error_type values.
inline constexpr std::size_t error_type_count = static_cast<std::size_t>(error_type::other) + 1;

/// snake_case label of an error type ("connect_refused", ...); "other" for out-of-range values.
std::string_view to_label(error_type e) noexcept;

/// The error type with this label, if any.
std::optional<error_type> error_type_from_label(std::string_view label) noexcept;

/// Plain event counters of a load run. Recorded per shard or IO thread, shipped as deltas and
/// summed; every field is a monotonically increasing count.
struct load_counters {
  /// SEND frames written (chat messages sent).
  std::uint64_t messages_sent = 0;
  /// MESSAGE frames received (own and others').
  std::uint64_t messages_received = 0;
  /// Own messages seen back through the room broadcast: completed round trips.
  std::uint64_t own_received = 0;
  /// Own messages not seen back within the round-trip timeout.
  std::uint64_t lost = 0;
  /// Sends issued later than their intended time by more than the tolerance.
  std::uint64_t late_sends = 0;
  /// TCP connects started (first connects and reconnects).
  std::uint64_t connect_attempts = 0;
  /// WebSocket sessions established (TCP + TLS + upgrade done).
  std::uint64_t connects_ok = 0;
  /// STOMP CONNECTED frames received.
  std::uint64_t stomp_connected = 0;
  /// SUBSCRIBEs confirmed (or sent, when receipts are off).
  std::uint64_t subscribed = 0;
  /// Reconnect attempts after a failure (the seed's connection_retries_total).
  std::uint64_t reconnect_attempts = 0;
  /// Reconnects that reached a subscribed session again.
  std::uint64_t reconnect_successes = 0;
  /// Users given up after the maximum number of attempts.
  std::uint64_t give_ups = 0;
  /// Sessions ended by us with a STOMP DISCONNECT (ramp-down, end of run).
  std::uint64_t disconnects_graceful = 0;
  /// Connection attempts still under way (TCP, TLS, upgrade or STOMP CONNECT not yet answered)
  /// when their user was stopped by a ramp-down or the end of the run: neither a success nor
  /// an error, and counted so that a run ending on slow connects says so.
  std::uint64_t connects_abandoned = 0;
  /// Own messages whose session ended before their round trip completed and before the
  /// round-trip timeout: neither confirmed nor lost (sent = round trips + lost + unresolved,
  /// once nothing is in flight).
  std::uint64_t unresolved = 0;
  /// Open model: arrivals the plan made due, those that started a session, those dropped for
  /// want of a free slot (the stage's `users` cap was reached), and sessions that completed
  /// (lived their length, or ended themselves).
  std::uint64_t arrivals = 0;
  std::uint64_t arrivals_started = 0;
  std::uint64_t arrivals_dropped = 0;
  std::uint64_t sessions_completed = 0;
  /// WebSocket payload bytes received.
  std::uint64_t bytes_in = 0;
  /// WebSocket payload bytes sent.
  std::uint64_t bytes_out = 0;
  /// Errors by type, indexed by error_type.
  std::array<std::uint64_t, error_type_count> errors{};

  /// Counts one error of type `e`.
  void add_error(error_type e, std::uint64_t n = 1) noexcept {
    errors[static_cast<std::size_t>(e)] += n;
  }

  /// The count of errors of type `e`.
  std::uint64_t error_count(error_type e) const noexcept {
    return errors[static_cast<std::size_t>(e)];
  }

  /// Sum of all error counts.
  std::uint64_t errors_total() const noexcept;

  /// Adds every field of `other`.
  load_counters& operator+=(const load_counters& other) noexcept;

  /// Field-wise equality.
  friend bool operator==(const load_counters& a, const load_counters& b) noexcept;
  friend bool operator!=(const load_counters& a, const load_counters& b) noexcept {
    return !(a == b);
  }
};

/// Field-wise sum.
load_counters operator+(load_counters a, const load_counters& b) noexcept;

/// The delta `now - before`, field by field (both taken from the same monotonic source).
/// A field that went backwards gives 0 rather than wrapping around.
load_counters operator-(const load_counters& now, const load_counters& before) noexcept;

} // namespace stompede::metrics
