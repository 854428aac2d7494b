#include "actors/supervisor.hpp"

#include "actors/population_plan.hpp"
#include "config/scenario.hpp"

#include <caf/actor_cast.hpp>
#include <caf/exit_reason.hpp>
#include <caf/sec.hpp>
#include <caf/system_messages.hpp>

#include <algorithm>
#include <utility>

namespace stompede {

namespace {

using self_ptr = supervisor_actor::stateful_pointer<supervisor_state>;

supervisor_actor handle_of(self_ptr self) {
  return caf::actor_cast<supervisor_actor>(self);
}

supervisor_stats current_stats(self_ptr self) {
  auto& st = self->state;
  auto result = st.stats;
  result.target = st.target;
  result.running = 0;
  result.connected = 0;
  result.reconnecting = 0;
  for (auto& [index, slot] : st.slots) {
    if (slot.state == slot_state::running || slot.state == slot_state::stopping)
      ++result.running;
    // An open-model session in its lifetime is part of the population the plan wants now.
    if (slot.arrival != 0 &&
        (slot.state == slot_state::running || slot.state == slot_state::pending))
      ++result.target;
    if (slot.connected)
      ++result.connected;
    if (slot.recovering && slot.state != slot_state::given_up)
      ++result.reconnecting;
  }
  return result;
}

// Delivers the shutdown replies once the last user is gone; the supervisor's work is over then.
void check_done(self_ptr self) {
  auto& st = self->state;
  if (!st.shutting_down || !st.slots.empty())
    return;
  auto final_stats = current_stats(self);
  for (auto& rp : st.done_promises)
    rp.deliver(done_atom::value, final_stats);
  st.done_promises.clear();
  self->quit();
}

// Starts the user of `index` now; a factory that fails counts as a failed attempt.
void spawn_user(self_ptr self, uint32_t index);
bool start_waiting_arrival(self_ptr self, uint32_t index);
void drop_waiting_arrivals(self_ptr self);
void prune_waiting_arrivals(self_ptr self);

void schedule_restart(self_ptr self, uint32_t index) {
  auto& st = self->state;
  auto& slot = st.slots[index];
  if (slot.attempts >= st.config.backoff.max_attempts) {
    slot.state = slot_state::given_up;
    slot.recovering = false;
    ++st.stats.give_ups;
    return;
  }
  auto wait = delay(st.config.backoff, slot.attempts, st.rng);
  ++slot.attempts;
  slot.state = slot_state::pending;
  ++slot.generation;
  self->delayed_send(handle_of(self), wait, respawn_atom::value, index, slot.generation);
}

void record_failure(self_ptr self, uint32_t index) {
  auto& st = self->state;
  auto& slot = st.slots[index];
  ++st.stats.failures;
  slot.connected = false;
  slot.handle = nullptr;
  if (!slot.recovering) {
    slot.recovering = true;
    slot.down_at = self->clock().now();
  }
  schedule_restart(self, index);
}

void spawn_user(self_ptr self, uint32_t index) {
  auto& st = self->state;
  auto& slot = st.slots[index];
  if (slot.attempts > 0)
    ++st.stats.attempts;
  ++slot.generation;
  slot.connected = false;
  auto hdl = st.make_user ? st.make_user(self, slot.id) : caf::actor{};
  if (!hdl) {
    record_failure(self, index);
    return;
  }
  ++st.stats.spawned;
  slot.handle = hdl;
  slot.state = slot_state::running;
  st.by_addr[hdl.address()] = index;
  self->monitor(hdl);
}

// Asks the user in `index` to stop gracefully and arms the kill deadline.
void stop_user(self_ptr self, uint32_t index) {
  auto& st = self->state;
  auto& slot = st.slots[index];
  slot.state = slot_state::stopping;
  ++slot.generation;
  // Typed actors may not send to dynamically typed ones; the user needs no sender here.
  caf::anon_send(slot.handle, stop_atom::value);
  self->delayed_send(handle_of(self), st.config.stop_timeout, deadline_atom::value, index,
                     slot.generation);
}

// Adds a pending slot for `index` and starts it after `wait`.
void start_slot(self_ptr self, uint32_t index, std::chrono::milliseconds wait) {
  auto& st = self->state;
  auto& slot = st.slots[index];
  slot = user_slot{};
  if (st.make_identity) {
    slot.id = st.make_identity(st.config.first_index + index);
  } else {
    slot.id = user_identity{};
    slot.id.index = st.config.first_index + index;
  }
  if (wait.count() <= 0) {
    spawn_user(self, index);
    return;
  }
  ++slot.generation;
  self->delayed_send(handle_of(self), wait, respawn_atom::value, index, slot.generation);
}

// A closed-model population is wanted: open-model sessions still alive are stopped (not
// counted as completed) and their slots go back to the closed model.
void cut_open_sessions(self_ptr self) {
  auto& st = self->state;
  drop_waiting_arrivals(self);
  for (auto it = st.slots.begin(); it != st.slots.end();) {
    auto& slot = it->second;
    if (slot.arrival == 0 || slot.state == slot_state::stopping) {
      ++it;
      continue;
    }
    if (slot.state == slot_state::running) {
      slot.arrival = 0;
      stop_user(self, it->first);
      ++it;
    } else {
      it = st.slots.erase(it); // a pending timer finds no slot and does nothing
    }
  }
}

void set_target(self_ptr self, uint32_t n) {
  auto& st = self->state;
  if (st.shutting_down)
    return;
  n = std::min(n, st.config.capacity);
  if (n > 0)
    cut_open_sessions(self);
  auto old = st.target;
  st.target = n;
  if (n > old) {
    // Slots still stopping from an earlier decrease are reused when their DOWN arrives.
    std::vector<uint32_t> fresh;
    for (auto i = old; i < n; ++i)
      if (st.slots.count(i) == 0)
        fresh.push_back(i);
    auto offsets = spread_arrivals(static_cast<uint32_t>(fresh.size()),
                                   std::chrono::milliseconds{0}, st.config.spawn_spacing);
    for (size_t k = 0; k < fresh.size(); ++k)
      start_slot(self, fresh[k], offsets[k]);
    return;
  }
  // Newest first: the highest slots were added last.
  for (auto i = old; i > n; --i) {
    auto index = i - 1;
    auto it = st.slots.find(index);
    if (it == st.slots.end())
      continue;
    switch (it->second.state) {
    case slot_state::running:
      stop_user(self, index);
      break;
    case slot_state::stopping:
      break;
    case slot_state::pending:
    case slot_state::exited:
    case slot_state::given_up:
      st.slots.erase(it); // a pending timer finds no slot and does nothing
      break;
    }
  }
}

void on_down(self_ptr self, const caf::down_msg& msg) {
  auto& st = self->state;
  auto found = st.by_addr.find(msg.source);
  if (found == st.by_addr.end())
    return;
  auto index = found->second;
  st.by_addr.erase(found);
  auto it = st.slots.find(index);
  if (it == st.slots.end())
    return;
  auto& slot = it->second;
  bool normal = !msg.reason;
  if (slot.state == slot_state::stopping || st.shutting_down) {
    if (normal)
      ++st.stats.stopped;
    if (normal && slot.arrival != 0 && slot.expired)
      ++st.stats.sessions_completed;
    // The target may have grown again while this user was stopping: start the slot afresh.
    // Else an open-model arrival waiting for a free slot takes it.
    if (!st.shutting_down && index < st.target) {
      start_slot(self, index, std::chrono::milliseconds{0});
    } else {
      st.slots.erase(it);
      if (!st.shutting_down && !st.waiting_arrivals.empty() && !start_waiting_arrival(self, index))
        prune_waiting_arrivals(self);
    }
    check_done(self);
    return;
  }
  if (normal && slot.arrival != 0) {
    // An open-model session that ended itself is complete; its slot is free again.
    ++st.stats.stopped;
    ++st.stats.sessions_completed;
    st.slots.erase(it);
    return;
  }
  if (normal) {
    // A user that ends on its own without an error has finished; it is not restarted.
    ++st.stats.stopped;
    slot.state = slot_state::exited;
    slot.connected = false;
    slot.handle = nullptr;
    return;
  }
  record_failure(self, index);
}

// Applies a user-side fault to the connected users of the cohort, or rolls a lasting one back on
// the users it was applied to (those still running). Returns the number of users told.
uint32_t apply_fault(self_ptr self, const user_fault_order& o) {
  auto& st = self->state;
  const auto kind = static_cast<std::uint8_t>(o.kind);
  const bool lasting = o.kind == user_fault::stop_reading || o.kind == user_fault::stop_heartbeats;
  uint32_t told = 0;
  if (!o.on) {
    auto it = st.fault_slots.find(o.fault_id);
    if (it == st.fault_slots.end())
      return 0;
    for (auto index : it->second) {
      auto s = st.slots.find(index);
      if (s == st.slots.end() || !s->second.handle || s->second.state != slot_state::running)
        continue;
      caf::anon_send(s->second.handle, fault_atom::value, kind, false);
      ++told;
    }
    st.fault_slots.erase(it);
    return told;
  }
  if (st.shutting_down)
    return 0;
  std::vector<uint32_t> hit;
  for (auto& [index, slot] : st.slots) {
    if (slot.state != slot_state::running || !slot.connected || !slot.handle)
      continue;
    if (!in_cohort(o, slot.id.index, slot.id.room, slot.id.behaviour))
      continue;
    if (o.kind == user_fault::token_expiry)
      slot.id.token_expired = true; // the restart logs in again
    caf::anon_send(slot.handle, fault_atom::value, kind, true);
    hit.push_back(index);
  }
  told = static_cast<uint32_t>(hit.size());
  if (lasting)
    st.fault_slots[o.fault_id] = std::move(hit);
  return told;
}

// Open model: starts one arrival in the free slot `index`, living `lifetime_ms`.
void start_arrival(self_ptr self, uint32_t index, uint32_t lifetime_ms) {
  auto& st = self->state;
  ++st.stats.arrivals_started;
  auto arrival = ++st.arrival_seq;
  self->delayed_send(handle_of(self), std::chrono::milliseconds{lifetime_ms}, expire_atom::value,
                     index, arrival);
  // The slot is marked before the spawn: a factory that fails leaves an open slot waiting
  // for its restart, which the expiry frees.
  auto& slot = st.slots[index];
  slot = user_slot{};
  slot.arrival = arrival;
  slot.id = st.make_identity ? st.make_identity(st.config.first_index + index) : user_identity{};
  if (!st.make_identity)
    slot.id.index = st.config.first_index + index;
  spawn_user(self, index);
}

// Open model: users still leaving (stopping) in slots below `cap`.
std::size_t leaving_below(self_ptr self, uint32_t cap) {
  const auto& slots = self->state.slots;
  std::size_t n = 0;
  for (auto it = slots.begin(); it != slots.end() && it->first < cap; ++it)
    if (it->second.state == slot_state::stopping)
      ++n;
  return n;
}

// Open model: `count` arrivals, each started in the lowest free slot below `cap` with a
// lifetime drawn from [min_ms, max_ms]. An arrival without a free slot waits for a user that
// is leaving (one per leaving user below the cap: the end of a closed warm-up, a ramp-down)
// and otherwise is dropped (counted): an open model that cannot keep up says so instead of
// silently becoming a closed one.
void arrive(self_ptr self, uint32_t count, uint32_t min_ms, uint32_t max_ms, uint32_t cap) {
  auto& st = self->state;
  if (st.shutting_down)
    return;
  st.stats.arrivals += count;
  cap = std::min(cap, st.config.capacity);
  auto lifetime = [&] {
    auto l = min_ms;
    if (max_ms > min_ms)
      l += static_cast<uint32_t>(st.rng() % (uint64_t{max_ms} - min_ms + 1));
    return l;
  };
  uint32_t next = 0;
  for (uint32_t k = 0; k < count; ++k) {
    while (next < cap && st.slots.count(next) != 0)
      ++next;
    if (next < cap) {
      start_arrival(self, next++, lifetime());
      continue;
    }
    const auto leaving = leaving_below(self, cap);
    for (; k < count && st.waiting_arrivals.size() < leaving; ++k)
      st.waiting_arrivals.push_back({lifetime(), cap});
    st.stats.arrivals_dropped += count - k;
    return;
  }
}

// Open model: a leaving user's slot `index` is free now; the oldest arrival waiting for one
// under its cap takes it. True when one did.
bool start_waiting_arrival(self_ptr self, uint32_t index) {
  auto& st = self->state;
  for (auto it = st.waiting_arrivals.begin(); it != st.waiting_arrivals.end(); ++it) {
    if (index >= it->cap)
      continue;
    auto lifetime = it->lifetime_ms;
    st.waiting_arrivals.erase(it);
    start_arrival(self, index, lifetime);
    return true;
  }
  return false;
}

// Open model: arrivals still waiting when nothing will free a slot for them are dropped.
void drop_waiting_arrivals(self_ptr self) {
  auto& st = self->state;
  st.stats.arrivals_dropped += st.waiting_arrivals.size();
  st.waiting_arrivals.clear();
}

// Open model: no more arrivals wait than users are still leaving under their caps; the newest
// ones beyond that are dropped.
void prune_waiting_arrivals(self_ptr self) {
  auto& st = self->state;
  uint32_t cap = 0;
  for (const auto& w : st.waiting_arrivals)
    cap = std::max(cap, w.cap);
  const auto leaving = leaving_below(self, cap);
  while (st.waiting_arrivals.size() > leaving) {
    st.waiting_arrivals.pop_back();
    ++st.stats.arrivals_dropped;
  }
}

// Open model: the session of `arrival` has lived its length: it leaves gracefully (a user
// waiting for a restart simply frees its slot).
void expire(self_ptr self, uint32_t index, uint64_t arrival) {
  auto& st = self->state;
  auto it = st.slots.find(index);
  if (it == st.slots.end() || it->second.arrival != arrival)
    return; // a late timer: the slot holds another session by now
  auto& slot = it->second;
  switch (slot.state) {
  case slot_state::running:
    slot.expired = true;
    stop_user(self, index);
    break;
  case slot_state::stopping:
    break;
  case slot_state::pending:
  case slot_state::exited:
  case slot_state::given_up:
    st.slots.erase(it);
    break;
  }
}

} // namespace

std::string to_string(const user_identity& x) {
  return "user_identity(index=" + std::to_string(x.index) +
         ", member_id=" + std::to_string(x.member_id) + ", room=" + std::to_string(x.room) +
         ", token=" + (x.token.empty() ? "<none>" : "<redacted>") + ")";
}

supervisor_stats& supervisor_stats::operator+=(const supervisor_stats& other) {
  target += other.target;
  running += other.running;
  connected += other.connected;
  spawned += other.spawned;
  attempts += other.attempts;
  successes += other.successes;
  connects += other.connects;
  failures += other.failures;
  give_ups += other.give_ups;
  stopped += other.stopped;
  killed += other.killed;
  recover_count += other.recover_count;
  recover_ns_sum += other.recover_ns_sum;
  recover_ns_max = std::max(recover_ns_max, other.recover_ns_max);
  reconnecting += other.reconnecting;
  arrivals += other.arrivals;
  arrivals_started += other.arrivals_started;
  arrivals_dropped += other.arrivals_dropped;
  sessions_completed += other.sessions_completed;
  return *this;
}

supervisor_config make_supervisor_config(const config::scenario& sc, uint32_t first_index,
                                         uint64_t seed) {
  supervisor_config c;
  c.first_index = first_index;
  c.capacity = sc.run.users_per_shard;
  c.backoff.initial = sc.reconnect.initial;
  c.backoff.max = sc.reconnect.max;
  c.backoff.multiplier = sc.reconnect.multiplier;
  c.backoff.jitter = sc.reconnect.jitter;
  c.backoff.max_attempts = sc.reconnect.enabled ? sc.reconnect.max_attempts : 0;
  c.backoff.healthy_reset = sc.reconnect.healthy_reset;
  c.spawn_spacing =
      sc.stages.empty() ? std::chrono::milliseconds{10} : sc.stages.front().min_start_gap;
  c.seed = seed;
  return c;
}

std::vector<std::string> validate(const supervisor_config& config) {
  auto problems = validate(config.backoff);
  if (config.capacity == 0)
    problems.emplace_back("supervisor capacity must be at least 1");
  if (config.spawn_spacing.count() < 0)
    problems.emplace_back("supervisor spawn spacing must not be negative");
  if (config.stop_timeout.count() <= 0)
    problems.emplace_back("supervisor stop timeout must be positive");
  return problems;
}

supervisor_actor::behavior_type
supervisor(supervisor_actor::stateful_pointer<supervisor_state> self, supervisor_config config,
           user_factory make_user, identity_fn make_identity) {
  auto& st = self->state;
  st.config = std::move(config);
  st.make_user = std::move(make_user);
  st.make_identity = std::move(make_identity);
  st.rng.seed(st.config.seed);
  self->set_down_handler([self](const caf::down_msg& msg) { on_down(self, msg); });
  return {
      [self](target_atom, uint32_t n) { set_target(self, n); },
      [self](shutdown_atom) -> caf::result<done_atom, supervisor_stats> {
        auto& st = self->state;
        st.shutting_down = true;
        drop_waiting_arrivals(self);
        for (auto it = st.slots.begin(); it != st.slots.end();) {
          switch (it->second.state) {
          case slot_state::running:
            stop_user(self, it->first);
            ++it;
            break;
          case slot_state::stopping:
            ++it;
            break;
          default:
            it = st.slots.erase(it);
          }
        }
        if (st.slots.empty()) {
          self->quit();
          return {done_atom::value, current_stats(self)};
        }
        auto rp = self->make_response_promise<done_atom, supervisor_stats>();
        st.done_promises.push_back(rp);
        return rp;
      },
      [self](get_atom, stats_atom) -> supervisor_stats { return current_stats(self); },
      [self](get_atom, reconnect_atom) -> std::vector<int64_t> {
        return std::exchange(self->state.recover_samples_ms, {});
      },
      [self](connected_atom) {
        auto& st = self->state;
        auto addr = caf::actor_cast<caf::actor_addr>(self->current_sender());
        auto found = st.by_addr.find(addr);
        if (found == st.by_addr.end())
          return;
        auto index = found->second;
        auto& slot = st.slots[index];
        if (slot.state != slot_state::running || slot.connected)
          return;
        slot.connected = true;
        slot.id.token_expired = false; // it logged in again, if an injected expiry asked it to
        ++st.stats.connects;
        if (slot.recovering) {
          slot.recovering = false;
          ++st.stats.successes;
          auto took = std::chrono::duration_cast<std::chrono::nanoseconds>(self->clock().now() -
                                                                           slot.down_at)
                          .count();
          ++st.stats.recover_count;
          st.stats.recover_ns_sum += took;
          st.stats.recover_ns_max = std::max(st.stats.recover_ns_max, took);
          // Kept for the metrics actor's reconnection-time histogram, drained once a second.
          if (st.recover_samples_ms.size() < supervisor_state::max_recover_samples)
            st.recover_samples_ms.push_back(took / 1'000'000);
        }
        if (slot.attempts > 0)
          self->delayed_send(handle_of(self), st.config.backoff.healthy_reset, healthy_atom::value,
                             index, slot.generation);
      },
      [self](fault_atom, const user_fault_order& o) -> uint32_t { return apply_fault(self, o); },
      [self](respawn_atom, uint32_t index, uint64_t generation) {
        auto& st = self->state;
        auto it = st.slots.find(index);
        if (st.shutting_down || it == st.slots.end() || it->second.generation != generation ||
            it->second.state != slot_state::pending)
          return;
        spawn_user(self, index);
      },
      [self](healthy_atom, uint32_t index, uint64_t generation) {
        auto& st = self->state;
        auto it = st.slots.find(index);
        if (it == st.slots.end() || it->second.generation != generation || !it->second.connected)
          return;
        it->second.attempts = 0;
      },
      [self](deadline_atom, uint32_t index, uint64_t generation) {
        auto& st = self->state;
        auto it = st.slots.find(index);
        if (it == st.slots.end() || it->second.generation != generation ||
            it->second.state != slot_state::stopping)
          return;
        ++st.stats.killed;
        self->send_exit(it->second.handle, caf::exit_reason::kill);
      },
      [self](arrive_atom, uint32_t count, uint32_t min_ms, uint32_t max_ms, uint32_t cap) {
        arrive(self, count, min_ms, max_ms, cap);
      },
      [self](expire_atom, uint32_t index, uint64_t arrival) { expire(self, index, arrival); },
      [self](stage_atom, uint32_t stage) {
        auto& st = self->state;
        st.stage = stage;
        // One message per live user per stage change: behaviours that repeat "until the stage
        // ends" learn it without polling.
        for (auto& [index, slot] : st.slots)
          if (slot.state == slot_state::running && slot.handle)
            caf::anon_send(slot.handle, stage_atom::value, stage);
      },
  };
}

} // namespace stompede
