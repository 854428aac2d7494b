#include "metrics/message_ledger.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <random>
#include <string>

using namespace stompede::metrics;

namespace {

constexpr std::int64_t s_us = 1'000'000;

/// Builds shards for one room (room 7) by hand.
struct feed {
  ledger_shard shard;
  void confirm(std::uint32_t user, std::int64_t t, std::int64_t room = 7) {
    shard.sessions.push_back({user, session_record::confirmed, room, t});
  }
  void end(std::uint32_t user, std::int64_t t, bool failed, std::int64_t room = 7) {
    shard.sessions.push_back(
        {user, failed ? session_record::ended_failed : session_record::ended_graceful, room, t});
  }
  void send(std::uint32_t user, std::uint64_t seq, std::int64_t t, std::int64_t room = 7) {
    shard.sent.push_back({user, seq, room, t});
  }
  void got(std::uint32_t receiver, std::uint32_t sender, std::uint64_t seq, bool behind = false) {
    shard.deliveries.push_back({static_cast<std::uint32_t>(seq), sender, receiver, behind});
  }
  /// Everyone of `members` gets (sender, seq).
  void all_get(std::initializer_list<std::uint32_t> members, std::uint32_t sender,
               std::uint64_t seq) {
    for (auto r : members)
      got(r, sender, seq);
  }
};

void check_invariants(const accounting_counts& c) {
  CHECK(c.classified() == c.sent);
  CHECK(c.pairs_expected == c.pairs_delivered + c.pairs_lost + c.pairs_missed_reconnecting +
                                c.pairs_left + c.pairs_in_flight);
}

/// Three members (0, 1, 2) confirmed at 1 s.
feed three_members() {
  feed f;
  for (std::uint32_t u = 0; u < 3; ++u)
    f.confirm(u, 1 * s_us);
  return f;
}

} // namespace

TEST_CASE("ledger: every member gets every message once: delivered to all") {
  message_ledger l;
  auto f = three_members();
  for (std::uint64_t n = 1; n <= 4; ++n) {
    f.send(0, n, (1 + n) * s_us);
    f.all_get({0, 1, 2}, 0, n);
  }
  l.apply(std::move(f.shard));
  // Too early: a message settles first.
  l.advance(2 * s_us);
  CHECK(l.pending() == 4);
  l.advance(20 * s_us);
  CHECK(l.pending() == 0);
  auto c = l.take();
  CHECK(c.sent == 4);
  CHECK(c.delivered_all == 4);
  CHECK(c.pairs_expected == 12);
  CHECK(c.pairs_delivered == 12);
  check_invariants(c);
  // take() restarts the counts.
  CHECK(l.take() == accounting_counts{});
}

TEST_CASE("ledger: a gap before a later message is lost, partly delivered to some") {
  message_ledger l;
  auto f = three_members();
  f.send(1, 1, 2 * s_us);
  f.send(1, 2, 3 * s_us);
  f.send(1, 3, 4 * s_us);
  f.all_get({0, 1, 2}, 1, 1);
  // Seq 2: member 2 only; seq 3: nobody... yet everyone gets seq 4.
  f.got(2, 1, 2);
  f.send(1, 4, 5 * s_us);
  f.all_get({0, 1, 2}, 1, 4);
  l.apply(std::move(f.shard));
  l.advance(10 * s_us);
  auto c = l.take();
  CHECK(c.sent == 4);
  CHECK(c.delivered_all == 2);
  CHECK(c.delivered_some == 1);
  CHECK(c.lost == 1);
  CHECK(c.pairs_lost == 2 + 3);
  check_invariants(c);
}

TEST_CASE("ledger: members that stay past the grace period without it: lost") {
  ledger_config cfg;
  cfg.grace_us = 5 * s_us;
  message_ledger l{cfg};
  auto f = three_members();
  f.send(2, 1, 2 * s_us); // nobody gets it, nothing follows
  l.apply(std::move(f.shard));
  l.advance(6 * s_us); // settled, but the grace period is not over: it waits
  CHECK(l.pending() == 1);
  l.advance(7 * s_us + 1);
  auto c = l.take();
  CHECK(c.lost == 1);
  CHECK(c.pairs_lost == 3);
  check_invariants(c);
}

TEST_CASE("ledger: duplicates and out-of-order arrivals") {
  message_ledger l;
  auto f = three_members();
  f.send(0, 1, 2 * s_us);
  f.send(0, 2, 3 * s_us);
  f.send(0, 3, 4 * s_us);
  f.all_get({0, 1, 2}, 0, 1);
  f.got(1, 0, 1, true); // a second copy to member 1
  // Member 2 gets 3 before 2.
  f.all_get({0, 1}, 0, 2);
  f.all_get({0, 1, 2}, 0, 3);
  f.got(2, 0, 2, true);
  l.apply(std::move(f.shard));
  l.advance(10 * s_us);
  auto c = l.take();
  CHECK(c.duplicated == 1);
  CHECK(c.out_of_order == 1);
  CHECK(c.delivered_all == 1);
  CHECK(c.duplicate_deliveries == 1);
  CHECK(c.out_of_order_deliveries == 1);
  CHECK(c.pairs_lost == 0);
  check_invariants(c);
}

TEST_CASE("ledger: a member whose session failed misses messages while it reconnects") {
  message_ledger l;
  auto f = three_members();
  // Member 2 fails at 3.5 s and is back (confirmed) at 5.5 s.
  f.send(0, 1, 3 * s_us);
  f.all_get({0, 1}, 0, 1); // in flight to member 2 when its session broke
  f.end(2, 3 * s_us + s_us / 2, true);
  f.send(0, 2, 4 * s_us); // member 2 down
  f.all_get({0, 1}, 0, 2);
  f.confirm(2, 5 * s_us + s_us / 2);
  f.send(0, 3, 6 * s_us); // everyone again
  f.all_get({0, 1, 2}, 0, 3);
  l.apply(std::move(f.shard));
  l.advance(20 * s_us);
  auto c = l.take();
  CHECK(c.missed_reconnecting == 2);
  CHECK(c.delivered_all == 1);
  CHECK(c.lost == 0);
  CHECK(c.pairs_missed_reconnecting == 2);
  check_invariants(c);
}

TEST_CASE("ledger: a member down for longer than the grace period is gone, not reconnecting") {
  ledger_config cfg;
  cfg.grace_us = 5 * s_us;
  message_ledger l{cfg};
  auto f = three_members();
  f.end(2, 2 * s_us, true); // given up: never back
  f.send(0, 1, 10 * s_us);
  f.all_get({0, 1}, 0, 1);
  l.apply(std::move(f.shard));
  l.advance(20 * s_us);
  auto c = l.take();
  CHECK(c.delivered_all == 1);
  CHECK(c.pairs_expected == 2);
  check_invariants(c);
}

TEST_CASE("ledger: members that leave, join late, and the end of the run") {
  message_ledger l;
  feed f;
  f.confirm(0, 1 * s_us);
  f.confirm(1, 1 * s_us);
  f.send(0, 1, 2 * s_us);
  f.got(0, 0, 1);
  f.end(1, 2 * s_us + 1000, false); // left before it came: not owed
  // Member 2 was not confirmed yet when seq 1 was sent, but got it: unexpected, fine.
  f.got(2, 0, 1);
  f.confirm(2, 2 * s_us + 2000);
  // The last message: nobody has it when everyone leaves (the end of the run).
  f.send(0, 2, 9 * s_us);
  f.end(0, 9 * s_us + 500, false);
  f.end(2, 9 * s_us + 600, false);
  l.apply(std::move(f.shard));
  l.advance(10 * s_us);
  CHECK(l.pending() == 1); // seq 2 settles at 11 s
  l.finish(10 * s_us);
  auto c = l.take();
  CHECK(c.sent == 2);
  CHECK(c.delivered_all == 1);
  CHECK(c.in_flight == 1);
  CHECK(c.pairs_left == 1 + 2);
  CHECK(c.pairs_unexpected == 1);
  check_invariants(c);
}

TEST_CASE("ledger: at the end, a member still on without it leaves its message in flight") {
  message_ledger l;
  auto f = three_members();
  f.send(0, 1, 2 * s_us);
  f.all_get({0, 1}, 0, 1);
  l.apply(std::move(f.shard));
  l.advance(5 * s_us);
  CHECK(l.pending() == 1); // member 2 may still get it
  l.finish(5 * s_us);
  auto c = l.take();
  CHECK(c.in_flight == 1);
  CHECK(c.pairs_in_flight == 1);
  check_invariants(c);
}

TEST_CASE("ledger: a send cut off by its sender's failure is a client gap") {
  message_ledger l;
  auto f = three_members();
  f.send(1, 1, 2 * s_us);
  f.end(1, 2 * s_us + 100, true);
  f.confirm(1, 3 * s_us);
  f.send(1, 2, 4 * s_us); // others get the next one: a gap for them, but the sender broke
  f.all_get({0, 1, 2}, 1, 2);
  l.apply(std::move(f.shard));
  l.advance(10 * s_us);
  auto c = l.take();
  CHECK(c.missed_reconnecting == 1);
  CHECK(c.lost == 0);
  CHECK(c.delivered_all == 1);
  check_invariants(c);
}

TEST_CASE("ledger: records arrive in any order across shards, late and unknown receipts") {
  message_ledger l;
  auto a = three_members();
  a.all_get({0, 1, 2}, 0, 1); // receipts before the send is known
  l.apply(std::move(a.shard));
  l.advance(1 * s_us);
  feed b;
  b.send(0, 2, 3 * s_us); // the user's later session, on another thread, first
  b.all_get({0, 1, 2}, 0, 2);
  l.apply(std::move(b.shard));
  feed c;
  c.send(0, 1, 2 * s_us);
  c.got(1, 99, 5); // a key no one here sent
  l.apply(std::move(c.shard));
  l.advance(10 * s_us);
  feed d;
  d.got(2, 0, 1); // after its message was classified
  l.apply(std::move(d.shard));
  l.finish(11 * s_us);
  auto n = l.take();
  CHECK(n.sent == 2);
  CHECK(n.delivered_some == 0);
  CHECK(n.delivered_all == 2);
  CHECK(n.late_deliveries == 1);
  CHECK(n.unknown_deliveries == 1);
  check_invariants(n);
}

TEST_CASE("ledger: random histories always add up") {
  std::mt19937_64 rng{42};
  for (int round = 0; round < 20; ++round) {
    ledger_config cfg;
    cfg.grace_us = 3 * s_us;
    message_ledger l{cfg};
    accounting_counts total;
    const std::uint32_t users = 6;
    std::vector<bool> up(users, false);
    std::vector<std::uint64_t> seq(users, 0);
    std::int64_t t = 0;
    for (int step = 0; step < 40; ++step) {
      feed f;
      for (int k = 0; k < 20; ++k) {
        t += 20'000;
        auto u = static_cast<std::uint32_t>(rng() % users);
        auto dice = rng() % 10;
        if (!up[u] && dice < 3) {
          up[u] = true;
          f.confirm(u, t);
        } else if (up[u] && dice == 0) {
          up[u] = false;
          f.end(u, t, rng() % 2 == 0);
        } else if (up[u]) {
          f.send(u, ++seq[u], t);
          for (std::uint32_t r = 0; r < users; ++r)
            if (up[r] && rng() % 8 != 0) {
              f.got(r, u, seq[u], rng() % 20 == 0);
              if (rng() % 30 == 0)
                f.got(r, u, seq[u], true);
            }
        }
      }
      l.apply(std::move(f.shard));
      l.advance(t - static_cast<std::int64_t>(rng() % 1'000'000));
      total += l.take();
    }
    {
      feed f;
      for (std::uint32_t u = 0; u < users; ++u)
        if (up[u])
          f.end(u, t + 1000, false);
      l.apply(std::move(f.shard));
    }
    l.finish(t + 2000);
    total += l.take();
    CHECK(l.pending() == 0);
    CHECK(total.sent > 0);
    check_invariants(total);
  }
}

TEST_CASE("ledger: sender_window flags arrivals not ahead of the highest seen") {
  sender_window w;
  CHECK(!w.behind(5, 1));
  CHECK(!w.behind(5, 2));
  CHECK(w.behind(5, 2));  // duplicate
  CHECK(!w.behind(6, 1)); // another sender
  CHECK(!w.behind(5, 4));
  CHECK(w.behind(5, 3)); // out of order
  for (std::uint32_t s = 100; s < 300; ++s)
    CHECK(!w.behind(s, 7));
  CHECK(w.size() == 202);
  CHECK(w.behind(150, 7));
  CHECK(!w.behind(150, 8));
  w.clear();
  CHECK(w.size() == 0);
  CHECK(!w.behind(5, 1));
}

TEST_CASE("ledger: sender_window agrees with a map of highest numbers, dense or sparse") {
  // Senders of a room of 100 (consecutive), of a room spread over a wide range of indices (the
  // array gives way to the table), and a mix; numbers repeat and go back at random.
  struct spread {
    std::uint32_t base, step, count;
  };
  for (auto sp : {spread{4200, 1, 100}, spread{0, 1, 100}, spread{1000, 97, 300},
                  spread{7, 1, 600}, spread{4294960000u, 1, 200}}) {
    std::mt19937 rng(sp.base + sp.step);
    sender_window w;
    std::map<std::uint32_t, std::uint64_t> highest;
    for (int i = 0; i < 20000; ++i) {
      const std::uint32_t sender = sp.base + sp.step * static_cast<std::uint32_t>(rng() % sp.count);
      const std::uint64_t seq = 1 + rng() % 50;
      auto it = highest.find(sender);
      const bool expect = it != highest.end() && seq <= it->second;
      if (!expect)
        highest[sender] = seq;
      REQUIRE(w.behind(sender, seq) == expect);
    }
    CHECK(w.size() == highest.size());
  }
}

TEST_CASE("ledger: sender_window keeps 4 bytes a sender for a room of consecutive users") {
  sender_window w;
  std::vector<std::uint32_t> order(100);
  for (std::uint32_t i = 0; i < 100; ++i)
    order[i] = 5000 + i;
  std::shuffle(order.begin(), order.end(), std::mt19937(7));
  for (auto s : order)
    CHECK(!w.behind(s, 1));
  CHECK(w.size() == 100);
  CHECK(w.bytes() == 400);
  for (auto s : order)
    CHECK(w.behind(s, 1));
}

TEST_CASE("ledger: the server's seq is found in a broadcast body") {
  std::uint64_t seq = 0;
  std::string body =
      R"({"roomId":3,"senderId":7,"type":"TEXT","seq":42,"content":"[W1-N2-T3] \"seq\":9"})";
  REQUIRE(find_server_seq(body.data(), body.size(), seq));
  CHECK(seq == 42);
  std::string none = R"({"roomId":3,"content":"sequence"})";
  CHECK(!find_server_seq(none.data(), none.size(), seq));
  std::string cut = R"({"seq":)";
  CHECK(!find_server_seq(cut.data(), cut.size(), seq));
}

TEST_CASE("ledger: server seq gaps are numbers that never came, not jumps") {
  ledger_shard s;
  server_seq_check c;
  for (std::uint64_t n : {10, 11, 13, 12, 14}) // 12 late: reordered, not missing
    c.see(n, s);
  CHECK(s.server_seq_checked == 5);
  CHECK(s.server_seq_regressions == 1);
  CHECK(s.server_seq_gaps == 0);
  c.see(17, s); // 15 and 16 missing: not known before they leave the window or the session ends
  CHECK(s.server_seq_gaps == 0);
  c.see(17, s); // repeated
  CHECK(s.server_seq_regressions == 2);
  c.see(17 + 64, s); // the window moves past 15 and 16
  CHECK(s.server_seq_gaps == 2);
  // 18..80 leave the window; of 82..280, 136 never enter it and 63 are in it.
  c.see(17 + 64 + 200, s);
  CHECK(s.server_seq_gaps == 2 + 63 + 136);
  c.end(s);
  CHECK(s.server_seq_gaps == 2 + 63 + 199);
  // A new session starts afresh: nothing before its first number is a gap.
  ledger_shard t;
  c.see(500, t);
  c.see(502, t);
  c.end(t);
  CHECK(t.server_seq_gaps == 1);
}
