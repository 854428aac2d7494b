#include "metrics/message_ledger.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <optional>

namespace stompede::metrics {

// -- ledger_shard -----------------------------------------------------------------------------

ledger_shard ledger_shard::take() {
  ledger_shard out;
  out.sent.swap(sent);
  out.deliveries.swap(deliveries);
  out.sessions.swap(sessions);
  // One allocation per vector and second, of last second's size: none per message.
  sent.reserve(out.sent.size());
  deliveries.reserve(out.deliveries.size());
  sessions.reserve(out.sessions.size());
  out.server_seq_checked = server_seq_checked;
  out.server_seq_gaps = server_seq_gaps;
  out.server_seq_regressions = server_seq_regressions;
  server_seq_checked = server_seq_gaps = server_seq_regressions = 0;
  return out;
}

// -- sender_window ----------------------------------------------------------------------------

namespace {

std::size_t slot_of(std::uint32_t key, std::size_t mask) noexcept {
  // Fibonacci hashing: user indices of a room are consecutive.
  return static_cast<std::size_t>((static_cast<std::uint64_t>(key) * 0x9E3779B97F4A7C15ull) >> 32) &
         mask;
}

} // namespace

bool sender_window::behind(std::uint32_t sender, std::uint64_t seq) {
  // A user sends far fewer than 2^32 messages in a run; numbers start at 1.
  const auto s = static_cast<std::uint32_t>(seq);
  if (!sparse_) {
    if (dense_.empty() || sender < lo_ || sender - lo_ >= dense_.size()) {
      if (!widen(sender)) {
        to_sparse();
        return behind_sparse(sender, s);
      }
    }
    auto& h = dense_[sender - lo_]; // highest + 1
    if (h == 0)
      ++used_;
    else if (s < h)
      return true;
    h = s + 1;
    return false;
  }
  return behind_sparse(sender, s);
}

bool sender_window::widen(std::uint32_t sender) {
  // The range's ends after taking `sender`, one past the last.
  const std::uint64_t lo = dense_.empty() ? sender : std::min(lo_, sender);
  const std::uint64_t hi = dense_.empty() ? std::uint64_t{sender} + 1
                                          : std::max<std::uint64_t>(std::uint64_t{lo_} + dense_.size(),
                                                                    std::uint64_t{sender} + 1);
  const std::uint64_t range = hi - lo;
  // Up to 256 senders (1 KB, what the table would take for a room of 100) any spread is fine;
  // beyond, the range must stay within twice the senders seen.
  if (range > 256 && range > 2 * (std::uint64_t{used_} + 1))
    return false;
  // Allocated to the range, not doubled: senders arrive in random order, and only a new
  // lowest or highest one widens it (a few times for a room).
  std::vector<std::uint32_t> d(static_cast<std::size_t>(range), 0);
  for (std::size_t i = 0; i < dense_.size(); ++i)
    d[static_cast<std::size_t>(lo_ - lo + i)] = dense_[i];
  dense_.swap(d);
  lo_ = static_cast<std::uint32_t>(lo);
  return true;
}

void sender_window::to_sparse() {
  sparse_ = true;
  std::vector<std::uint32_t> d;
  d.swap(dense_);
  used_ = 0;
  for (std::size_t i = 0; i < d.size(); ++i)
    if (d[i] != 0)
      behind_sparse(static_cast<std::uint32_t>(lo_ + i), d[i] - 1);
}

bool sender_window::behind_sparse(std::uint32_t sender, std::uint32_t s) {
  // Up to 7/8 full: a room of 100 fits in 128 slots (1 KB).
  if ((used_ + 1) * 8 > slots_.size() * 7)
    grow();
  const std::uint32_t key = sender + 1;
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = slot_of(key, mask);; i = (i + 1) & mask) {
    auto& e = slots_[i];
    if (e.key == key) {
      if (s <= e.highest)
        return true;
      e.highest = s;
      return false;
    }
    if (e.key == 0) {
      e.key = key;
      e.highest = s;
      ++used_;
      return false;
    }
  }
}

void sender_window::grow() {
  std::vector<slot> slots(slots_.empty() ? 16 : slots_.size() * 2);
  const std::size_t mask = slots.size() - 1;
  for (const auto& e : slots_) {
    if (e.key == 0)
      continue;
    auto i = slot_of(e.key, mask);
    while (slots[i].key != 0)
      i = (i + 1) & mask;
    slots[i] = e;
  }
  slots_.swap(slots);
}

void sender_window::clear() noexcept {
  std::fill(slots_.begin(), slots_.end(), slot{});
  std::fill(dense_.begin(), dense_.end(), 0u);
  used_ = 0;
}

void server_seq_check::see(std::uint64_t seq, ledger_shard& shard) noexcept {
  shard.server_seq_checked++;
  if (highest_ == 0) {
    highest_ = first_ = seq;
    seen_ = 1;
    return;
  }
  if (seq > highest_) {
    auto shift = seq - highest_;
    if (shift >= 64) {
      shard.server_seq_gaps += holes_leaving(64) + (shift - 64);
      seen_ = 1;
    } else {
      shard.server_seq_gaps += holes_leaving(static_cast<unsigned>(shift));
      seen_ = (seen_ << shift) | 1;
    }
    highest_ = seq;
    return;
  }
  shard.server_seq_regressions++;
  auto back = highest_ - seq;
  if (back < 64 && seq >= first_)
    seen_ |= std::uint64_t{1} << back; // late, not lost
}

void server_seq_check::end(ledger_shard& shard) noexcept {
  if (highest_ != 0)
    shard.server_seq_gaps += holes_leaving(64);
  highest_ = first_ = seen_ = 0;
}

std::uint64_t server_seq_check::holes_leaving(unsigned n) const noexcept {
  // Positions 63 - n + 1 .. 63 leave the window; only those at or above first_ count.
  std::uint64_t holes = 0;
  for (unsigned i = 64 - n; i < 64; ++i) {
    if (highest_ - first_ < i)
      continue; // before the session's first number
    if (((seen_ >> i) & 1u) == 0)
      holes++;
  }
  return holes;
}

bool find_server_seq(const char* body, std::size_t size, std::uint64_t& seq) noexcept {
  static constexpr char needle[] = "\"seq\":";
  constexpr std::size_t n = sizeof(needle) - 1;
  const char* end = body + size;
  for (const char* p = body; p + n <= end;) {
    auto* q = static_cast<const char*>(std::memchr(p, '"', static_cast<std::size_t>(end - p)));
    if (q == nullptr || q + n > end)
      return false;
    if (std::memcmp(q, needle, n) == 0) {
      const char* s = q + n;
      while (s < end && *s == ' ')
        ++s;
      auto [ptr, ec] = std::from_chars(s, end, seq);
      return ec == std::errc{} && ptr != s;
    }
    p = q + 1;
  }
  return false;
}

// -- accounting_counts ------------------------------------------------------------------------

namespace {

template<class A, class B, class F>
void for_each_count(A& a, B& b, F f) {
  f(a.sent, b.sent);
  f(a.delivered_all, b.delivered_all);
  f(a.delivered_some, b.delivered_some);
  f(a.lost, b.lost);
  f(a.duplicated, b.duplicated);
  f(a.out_of_order, b.out_of_order);
  f(a.missed_reconnecting, b.missed_reconnecting);
  f(a.in_flight, b.in_flight);
  f(a.pairs_expected, b.pairs_expected);
  f(a.pairs_delivered, b.pairs_delivered);
  f(a.pairs_lost, b.pairs_lost);
  f(a.pairs_missed_reconnecting, b.pairs_missed_reconnecting);
  f(a.pairs_left, b.pairs_left);
  f(a.pairs_in_flight, b.pairs_in_flight);
  f(a.pairs_unexpected, b.pairs_unexpected);
  f(a.duplicate_deliveries, b.duplicate_deliveries);
  f(a.out_of_order_deliveries, b.out_of_order_deliveries);
  f(a.late_deliveries, b.late_deliveries);
  f(a.unknown_deliveries, b.unknown_deliveries);
  f(a.server_seq_checked, b.server_seq_checked);
  f(a.server_seq_gaps, b.server_seq_gaps);
  f(a.server_seq_regressions, b.server_seq_regressions);
}

} // namespace

accounting_counts& accounting_counts::operator+=(const accounting_counts& o) noexcept {
  for_each_count(*this, o, [](std::uint64_t& x, const std::uint64_t& y) { x += y; });
  return *this;
}

bool operator==(const accounting_counts& a, const accounting_counts& b) noexcept {
  bool same = true;
  for_each_count(
      a, b, [&same](const std::uint64_t& x, const std::uint64_t& y) { same = same && x == y; });
  return same;
}

// -- message_ledger ---------------------------------------------------------------------------

namespace {

constexpr std::uint32_t no_room = std::numeric_limits<std::uint32_t>::max();
constexpr std::int64_t never = std::numeric_limits<std::int64_t>::max();

enum class presence : std::uint8_t { absent, active, reconnecting };

struct member_event {
  std::int64_t t;
  session_record::kind_t kind;
};

struct member {
  std::uint32_t room = no_room;
  /// Position among the room's members: the bit of this member in a message's receipts.
  std::uint32_t pos = 0;
  /// Sorted by time.
  std::vector<member_event> events;

  /// Where the member stood at `t`. Reconnecting lasts from a failure until the next
  /// confirmed session, at most `window` after the latest failure (a user given up, or stopped
  /// while it waited, is gone after that).
  presence at(std::int64_t t, std::int64_t window) const noexcept {
    presence p = presence::absent;
    std::int64_t failed_at = 0;
    for (auto& e : events) {
      if (e.t > t)
        break;
      switch (e.kind) {
      case session_record::confirmed:
        p = presence::active;
        break;
      case session_record::ended_failed:
        // A failure of a session that was never confirmed leaves a newcomer absent.
        if (p != presence::absent) {
          p = presence::reconnecting;
          failed_at = e.t;
        }
        break;
      case session_record::ended_graceful:
        p = presence::absent;
        break;
      }
    }
    if (p == presence::reconnecting && t - failed_at >= window)
      p = presence::absent;
    return p;
  }

  /// The first end of a session after `t`.
  const member_event* end_after(std::int64_t t) const noexcept {
    for (auto& e : events)
      if (e.t > t && e.kind != session_record::confirmed)
        return &e;
    return nullptr;
  }
};

struct room_info {
  std::int64_t id = 0;
  std::vector<std::uint32_t> members;
};

struct message {
  std::int64_t t = 0;
  std::uint32_t room = no_room;
  bool present = false;
  bool classified = false;
  std::uint32_t receipts = 0;
  std::uint32_t duplicates = 0;
  std::uint32_t reordered = 0;
  /// Bit per room member position: received at least once.
  std::vector<std::uint64_t> got;

  bool has(std::uint32_t pos) const noexcept {
    auto w = pos / 64;
    return w < got.size() && ((got[w] >> (pos % 64)) & 1u) != 0;
  }
  void set(std::uint32_t pos) {
    auto w = pos / 64;
    if (w >= got.size())
      got.resize(w + 1, 0);
    got[w] |= std::uint64_t{1} << (pos % 64);
  }
};

/// A sender's messages not classified yet, oldest first: a vector whose classified front is
/// dropped in bulk. A std::deque allocates ~600 bytes for its first element and keeps them; a
/// sender has a handful of messages pending at most, and none most of the time, when this
/// holds no memory at all.
class message_queue {
public:
  std::size_t size() const noexcept {
    return items_.size() - head_;
  }
  bool empty() const noexcept {
    return size() == 0;
  }
  message& operator[](std::size_t i) noexcept {
    return items_[head_ + i];
  }
  const message& operator[](std::size_t i) const noexcept {
    return items_[head_ + i];
  }
  message& front() noexcept {
    return items_[head_];
  }
  void resize(std::size_t n) {
    items_.resize(head_ + n);
  }
  void pop_front() {
    if (++head_ < items_.size()) {
      if (head_ >= 8 && head_ * 2 >= items_.size()) {
        items_.erase(items_.begin(), items_.begin() + static_cast<std::ptrdiff_t>(head_));
        head_ = 0;
      }
      return;
    }
    std::vector<message>().swap(items_);
    head_ = 0;
  }

private:
  std::vector<message> items_;
  std::size_t head_ = 0;
};

struct sender_state {
  /// Sequence number of messages.front(); a user's numbers start at 1 and have no gaps.
  std::uint64_t base = 1;
  message_queue messages;
};

} // namespace

struct message_ledger::impl {
  ledger_config cfg;
  std::vector<member> members;  // by user index
  std::vector<room_info> rooms; // by room slot
  std::unordered_map<std::int64_t, std::uint32_t> room_slots;
  std::vector<sender_state> senders; // by user index
  struct orphan {
    delivery_record d;
    bool retried = false;
  };
  std::vector<orphan> orphans; // receipts of messages not known yet
  accounting_counts counts;
  std::uint64_t sent_total = 0;
  std::uint64_t classified_total = 0;

  std::uint32_t room_slot(std::int64_t id) {
    auto [it, fresh] = room_slots.emplace(id, static_cast<std::uint32_t>(rooms.size()));
    if (fresh)
      rooms.push_back(room_info{id, {}});
    return it->second;
  }

  member& member_of(std::uint32_t user) {
    if (user >= members.size())
      members.resize(static_cast<std::size_t>(user) + 1);
    return members[user];
  }

  /// Registers `user` in room `id` on first sight.
  void join(std::uint32_t user, std::int64_t id) {
    auto& m = member_of(user);
    if (m.room != no_room)
      return;
    m.room = room_slot(id);
    auto& r = rooms[m.room];
    m.pos = static_cast<std::uint32_t>(r.members.size());
    r.members.push_back(user);
  }

  void on_session(const session_record& s) {
    join(s.user, s.room);
    auto& ev = member_of(s.user).events;
    member_event e{s.t_us, s.kind};
    auto at = std::upper_bound(ev.begin(), ev.end(), e.t,
                               [](std::int64_t t, const member_event& x) { return t < x.t; });
    ev.insert(at, e);
  }

  void on_sent(const sent_record& r) {
    // The sender is a member of its room even before its first session is confirmed.
    join(r.sender, r.room);
    if (r.sender >= senders.size())
      senders.resize(static_cast<std::size_t>(r.sender) + 1);
    auto& s = senders[r.sender];
    if (r.seq < s.base)
      return; // a number already classified: a repeated record
    // Sent records of one user can arrive out of order (its sessions ran on different IO
    // threads): the numbers in between are holes until their records come.
    auto i = r.seq - s.base;
    if (i >= s.messages.size())
      s.messages.resize(i + 1);
    auto& m = s.messages[i];
    if (m.present)
      return;
    m.present = true;
    m.t = r.t_us;
    m.room = room_slot(r.room);
    counts.sent++;
    sent_total++;
  }

  /// False when the message is not known yet (kept to try again).
  bool on_delivery(const delivery_record& d) {
    if (d.sender >= senders.size())
      return false;
    auto& s = senders[d.sender];
    if (d.seq < s.base) {
      counts.late_deliveries++; // classified and forgotten
      return true;
    }
    if (d.seq >= s.base + s.messages.size())
      return false;
    auto& m = s.messages[d.seq - s.base];
    if (!m.present)
      return false;
    if (m.classified) {
      counts.late_deliveries++;
      return true;
    }
    if (d.receiver >= members.size() || members[d.receiver].room != m.room) {
      counts.unknown_deliveries++;
      return true;
    }
    auto pos = members[d.receiver].pos;
    if (m.has(pos)) {
      m.duplicates++;
      counts.duplicate_deliveries++;
      return true;
    }
    m.set(pos);
    m.receipts++;
    if (d.behind) {
      m.reordered++;
      counts.out_of_order_deliveries++;
    }
    return true;
  }

  /// A later message of the same sender that reached the member at `pos` and was sent before
  /// `until` (so while the member's session that should have got `i` was still on).
  bool successor_seen(const sender_state& s, std::size_t i, std::uint32_t pos,
                      std::int64_t until) const {
    for (auto j = i + 1; j < s.messages.size(); ++j) {
      auto& n = s.messages[j];
      if (n.present && n.t < until && n.has(pos))
        return true;
    }
    return false;
  }

  struct tally {
    std::uint64_t expected = 0, delivered = 0, lost = 0, missed = 0, left = 0, in_flight = 0,
                  unexpected = 0;
  };

  /// Classifies message `i` of `sender` if its fate is known; false when it must wait.
  bool classify(std::uint32_t sender, std::size_t i, std::int64_t watermark, bool final) {
    auto& s = senders[sender];
    auto& m = s.messages[i];
    if (!final && watermark < m.t + cfg.settle_us)
      return false;
    tally t;
    for (auto user : rooms[m.room].members) {
      auto& mem = members[user];
      bool got = m.has(mem.pos);
      auto p = mem.at(m.t, cfg.grace_us);
      if (p == presence::absent) {
        t.unexpected += got ? 1 : 0;
        continue;
      }
      t.expected++;
      if (got) {
        t.delivered++;
        continue;
      }
      if (p == presence::reconnecting) {
        t.missed++;
        continue;
      }
      // Subscribed when it was sent, and did not get it.
      auto* end = mem.end_after(m.t);
      if (successor_seen(s, i, mem.pos, end != nullptr ? end->t : never)) {
        t.lost++; // a later message of the same sender came through: a gap
      } else if (end != nullptr && end->t - m.t < cfg.grace_us) {
        if (end->kind == session_record::ended_failed)
          t.missed++;
        else
          t.left++;
      } else if (end != nullptr || watermark - m.t >= cfg.grace_us) {
        t.lost++; // stayed connected for the whole grace period
      } else if (final) {
        t.in_flight++;
      } else {
        return false;
      }
    }
    const bool nobody = t.delivered + t.unexpected == 0;
    auto& c = counts;
    if (nobody && sender_cut_off(sender, m.t)) {
      // Its sender's session failed right after: the send itself may never have reached the
      // server. A client gap, not a server fault.
      t.missed += t.lost + t.left + t.in_flight;
      t.lost = t.left = t.in_flight = 0;
      c.missed_reconnecting++;
    } else if (t.lost > 0) {
      (nobody ? c.lost : c.delivered_some)++;
    } else if (nobody) {
      if (t.left + t.in_flight > 0)
        c.in_flight++;
      else if (t.missed > 0)
        c.missed_reconnecting++;
      else
        c.lost++; // no member could have had it, and none did
    } else if (t.in_flight > 0) {
      c.in_flight++;
    } else if (m.duplicates > 0) {
      c.duplicated++;
    } else if (m.reordered > 0) {
      c.out_of_order++;
    } else if (t.missed > 0) {
      c.missed_reconnecting++;
    } else {
      c.delivered_all++;
    }
    c.pairs_expected += t.expected;
    c.pairs_delivered += t.delivered;
    c.pairs_lost += t.lost;
    c.pairs_missed_reconnecting += t.missed;
    c.pairs_left += t.left;
    c.pairs_in_flight += t.in_flight;
    c.pairs_unexpected += t.unexpected;
    m.classified = true;
    classified_total++;
    return true;
  }

  bool sender_cut_off(std::uint32_t sender, std::int64_t t) const {
    if (sender >= members.size())
      return false;
    auto* end = members[sender].end_after(t);
    return end != nullptr && end->kind == session_record::ended_failed && end->t - t < cfg.grace_us;
  }

  void retry_orphans() {
    if (orphans.empty())
      return;
    // A send is recorded before its SEND is written, so its record is applied at the latest
    // one collection after any receipt of it: what is still unknown after that is foreign.
    std::vector<orphan> still;
    for (auto& o : orphans) {
      if (on_delivery(o.d))
        continue;
      if (!o.retried)
        still.push_back(orphan{o.d, true});
      else
        counts.unknown_deliveries++;
    }
    orphans.swap(still);
  }

  void run(std::int64_t watermark, bool final) {
    retry_orphans();
    for (std::uint32_t u = 0; u < senders.size(); ++u) {
      auto& s = senders[u];
      for (std::size_t i = 0; i < s.messages.size(); ++i) {
        auto& m = s.messages[i];
        // A message that must wait keeps the later ones of its sender waiting too: whatever a
        // member lacks for it, it also lacks for them (or it would be a gap, known now).
        if (m.present && !m.classified && !classify(u, i, watermark, final))
          break;
      }
      // Classified messages leave from the front; a receipt of one of them is late.
      while (!s.messages.empty() &&
             (s.messages.front().classified || (final && !s.messages.front().present))) {
        s.messages.pop_front();
        s.base++;
      }
    }
    if (final) {
      counts.unknown_deliveries += orphans.size();
      orphans.clear();
    }
  }
};

message_ledger::message_ledger(ledger_config cfg) : impl_(std::make_unique<impl>()) {
  impl_->cfg = cfg;
}

message_ledger::~message_ledger() = default;

void message_ledger::apply(ledger_shard&& shard) {
  auto& d = *impl_;
  // Lifecycle first (a receiver is confirmed before its first receipt), then sends, then
  // receipts; a receipt of a message whose send is in another shard waits for it.
  for (auto& s : shard.sessions)
    d.on_session(s);
  for (auto& s : shard.sent)
    d.on_sent(s);
  for (auto& r : shard.deliveries)
    if (!d.on_delivery(r))
      d.orphans.push_back({r, false});
  d.counts.server_seq_checked += shard.server_seq_checked;
  d.counts.server_seq_gaps += shard.server_seq_gaps;
  d.counts.server_seq_regressions += shard.server_seq_regressions;
}

void message_ledger::advance(std::int64_t watermark_us) {
  impl_->run(watermark_us, false);
}

void message_ledger::finish(std::int64_t end_us) {
  impl_->run(end_us, true);
}

accounting_counts message_ledger::take() {
  auto c = impl_->counts;
  impl_->counts = {};
  return c;
}

std::uint64_t message_ledger::pending() const noexcept {
  return impl_->sent_total - impl_->classified_total;
}

} // namespace stompede::metrics
