#pragma once

// Message accounting: every keyed chat message of a run ends in exactly one class (delivered to
// every member, to some, lost, duplicated, out of order, missed while reconnecting, in flight),
// and the classes add up to the messages sent. docs/accounting.md explains every rule.
//
// IO threads record plain facts into their own `ledger_shard` (a send, a receipt, a session
// confirmed or ended; no lock, no allocation beyond a vector's growth) and ship it with their
// once-a-second delta. The `message_ledger`, owned by one thread, merges the shards and
// classifies each message once its fate is known.

#include "metrics/accounting.hpp"

#include <cstdint>
#include <memory>
#include <unordered_map>
#include <vector>

namespace stompede::metrics {

/// A keyed message was sent: `[W{sender}-N{seq}-T{t_us}]` into room `room`.
struct sent_record {
  std::uint32_t sender = 0;
  /// Per-user sequence number, 1, 2, ... across the user's sessions (no gaps).
  std::uint64_t seq = 0;
  std::int64_t room = 0;
  /// When the message was due, wall-clock µs (the key's T).
  std::int64_t t_us = 0;
};

/// A keyed message arrived on a receiver's room subscription.
struct delivery_record {
  /// A user sends far fewer than 2^32 messages in a run; 16 bytes a record.
  std::uint32_t seq = 0;
  std::uint32_t sender = 0;
  std::uint32_t receiver = 0;
  /// The receiver's session had already seen this sender's `seq` or a later one: a duplicate
  /// or an out-of-order arrival (the ledger tells which).
  bool behind = false;
};

/// A receiver session's lifecycle, as far as the ledger needs it.
struct session_record {
  enum kind_t : std::uint8_t {
    /// The first MESSAGE on the room subscription arrived: from now on the server delivers
    /// every room message to this session (it processed the SUBSCRIBE before that MESSAGE).
    confirmed,
    /// The session ended as we asked (ramp-down, end of run, a behaviour's restart).
    ended_graceful,
    /// The session failed (its user will reconnect, or give up).
    ended_failed,
  };
  std::uint32_t user = 0;
  kind_t kind = confirmed;
  std::int64_t room = 0;
  /// Wall-clock µs.
  std::int64_t t_us = 0;
};

/// What one IO thread records between two deltas.
struct ledger_shard {
  std::vector<sent_record> sent;
  std::vector<delivery_record> deliveries;
  std::vector<session_record> sessions;
  /// Room MESSAGEs that carried the server's per-room `seq`.
  std::uint64_t server_seq_checked = 0;
  /// Server seqs a session never got although it got lower and (by 64) higher ones, or lower
  /// ones and the session ended (see server_seq_check).
  std::uint64_t server_seq_gaps = 0;
  /// Room MESSAGEs whose server seq was not above the highest one of the same session
  /// (reordered, repeated).
  std::uint64_t server_seq_regressions = 0;

  /// Moves the records out; this shard keeps vectors of the same capacity.
  ledger_shard take();
};

/// Per session, per sender: the highest sequence number seen, to flag arrivals that are not
/// ahead of it (duplicates or out of order). It grows with the senders seen (at most the room's
/// size), never per message. A room's members are usually consecutive user indices, so the
/// senders seen are kept as one array over their range (4 bytes a sender: 400 bytes for a room
/// of 100); senders spread wider than that switches it, for good, to a small open-addressing
/// table (8 bytes a slot, at most 7/8 full).
class sender_window {
public:
  /// Records `seq` from `sender`; true when it is not above the highest seen before.
  bool behind(std::uint32_t sender, std::uint64_t seq);
  void clear() noexcept;
  std::size_t size() const noexcept {
    return used_;
  }
  /// Bytes held (for tests and the memory record).
  std::size_t bytes() const noexcept {
    return dense_.capacity() * sizeof(std::uint32_t) + slots_.capacity() * sizeof(slot);
  }

private:
  bool behind_sparse(std::uint32_t sender, std::uint32_t seq);
  /// Widens the dense range to take `sender`; false when the range would be too sparse.
  bool widen(std::uint32_t sender);
  void to_sparse();
  void grow();
  /// One more than the highest number seen from sender lo_ + i; 0: none seen.
  std::vector<std::uint32_t> dense_;
  std::uint32_t lo_ = 0;
  bool sparse_ = false;
  /// A key and its value side by side: a lookup touches one cache line, not two.
  struct slot {
    std::uint32_t key = 0; // sender + 1; 0 = free
    std::uint32_t highest = 0;
  };
  std::vector<slot> slots_;
  std::size_t used_ = 0;
};

/// Per session: the server's per-room sequence numbers seen on the room subscription. A number
/// counts as a gap once it is 64 numbers behind the highest seen (or the session ends) and never
/// came: numbers of different senders may arrive out of order from a multi-threaded server, so a
/// jump alone proves nothing.
class server_seq_check {
public:
  /// Records `seq`, counting into `shard`'s server_seq_* fields.
  void see(std::uint64_t seq, ledger_shard& shard) noexcept;
  /// The session ended: holes still in the window are gaps.
  void end(ledger_shard& shard) noexcept;

private:
  /// Holes among the `n` oldest positions of the window that hold numbers seen or missed in
  /// this session.
  std::uint64_t holes_leaving(unsigned n) const noexcept;
  std::uint64_t highest_ = 0;
  std::uint64_t first_ = 0;
  /// Bit i: number highest_ - i arrived.
  std::uint64_t seen_ = 0;
};

/// Finds the first `"seq":<number>` in a MESSAGE body (the chat server's per-room sequence
/// number); false when there is none.
bool find_server_seq(const char* body, std::size_t size, std::uint64_t& seq) noexcept;

struct ledger_config {
  /// A member that stays connected this long after a message was due without getting it (and
  /// without a later message of the same sender) has lost it; a member that leaves or fails
  /// sooner is counted as left / missed while reconnecting. The round-trip timeout.
  std::int64_t grace_us = 30'000'000;
  /// A message is classified no sooner than this after it was due: time for reordered and
  /// duplicated arrivals to show up.
  std::int64_t settle_us = 2'000'000;
};

/// The run's ledger of keyed messages. Owned by one thread; fed with shards in any order.
class message_ledger {
public:
  explicit message_ledger(ledger_config cfg = {});
  ~message_ledger();
  message_ledger(const message_ledger&) = delete;
  message_ledger& operator=(const message_ledger&) = delete;

  /// Takes one shard's records.
  void apply(ledger_shard&& shard);
  /// Classifies what can be classified, given that every record stamped (or sent) before
  /// `watermark_us` (wall-clock µs) has been applied.
  void advance(std::int64_t watermark_us);
  /// The run is over and every session has ended: classifies every message still pending
  /// (what is still unknown is in flight) and counts deliveries of unknown messages.
  void finish(std::int64_t end_us);
  /// Counts since the previous take().
  accounting_counts take();
  /// Messages sent and not classified yet.
  std::uint64_t pending() const noexcept;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace stompede::metrics
