#pragma once

// The counts of message accounting (metrics/message_ledger.hpp, docs/accounting.md): what the
// reports and exporters read.

#include <cstdint>

namespace stompede::metrics {

/// Counts of the accounting, either one interval's (what was classified in it) or a run's.
/// Message classes: once nothing is pending, sent == classified().
struct accounting_counts {
  /// Keyed messages sent.
  std::uint64_t sent = 0;
  // -- message classes (each classified message in exactly one) ----------------------------
  /// Every member subscribed when it was sent got it, once and in order.
  std::uint64_t delivered_all = 0;
  /// Some members got it, a member that was subscribed and stayed did not.
  std::uint64_t delivered_some = 0;
  /// No member got it although members were subscribed and stayed.
  std::uint64_t lost = 0;
  /// Delivered to every expected member, and twice (or more) to one.
  std::uint64_t duplicated = 0;
  /// Delivered to every expected member, once, but after a later message of the same sender.
  std::uint64_t out_of_order = 0;
  /// Delivered to every member that stayed connected; members (or its sender) whose session
  /// failed, or that were reconnecting, did not get it (a client gap, not a server fault).
  std::uint64_t missed_reconnecting = 0;
  /// Its fate was unknown when the members left: nobody had it yet and every member that
  /// could still get it ended its session gracefully soon after it was sent (or the run ended).
  std::uint64_t in_flight = 0;
  // -- (message, member) pairs --------------------------------------------------------------
  /// Members expected to get a message: subscribed (confirmed) when it was sent, or
  /// reconnecting after a failure then.
  std::uint64_t pairs_expected = 0;
  std::uint64_t pairs_delivered = 0;
  std::uint64_t pairs_lost = 0;
  std::uint64_t pairs_missed_reconnecting = 0;
  /// The member ended its session gracefully before the message came (not owed).
  std::uint64_t pairs_left = 0;
  /// The member's fate for the message was unknown at the end.
  std::uint64_t pairs_in_flight = 0;
  /// Received by members that were not expected (their subscription was not confirmed yet).
  std::uint64_t pairs_unexpected = 0;
  // -- deliveries -----------------------------------------------------------------------------
  std::uint64_t duplicate_deliveries = 0;
  std::uint64_t out_of_order_deliveries = 0;
  /// Arrived after its message had been classified (not part of any class).
  std::uint64_t late_deliveries = 0;
  /// Carried a key of no message this run sent (another load generator, a foreign key).
  std::uint64_t unknown_deliveries = 0;
  // -- the server's per-room sequence numbers, checked by receivers ---------------------------
  std::uint64_t server_seq_checked = 0;
  std::uint64_t server_seq_gaps = 0;
  std::uint64_t server_seq_regressions = 0;

  /// Sum of the message classes.
  std::uint64_t classified() const noexcept {
    return delivered_all + delivered_some + lost + duplicated + out_of_order + missed_reconnecting +
           in_flight;
  }
  accounting_counts& operator+=(const accounting_counts& o) noexcept;
  friend bool operator==(const accounting_counts& a, const accounting_counts& b) noexcept;
};

} // namespace stompede::metrics
