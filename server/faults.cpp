#include "server/faults.hpp"

#include "server/connection.hpp"
#include "server/server_core.hpp"

#include <algorithm>
#include <memory>

namespace stompede::server {

namespace {

std::shared_ptr<const fault_cohort> cohort_ptr(const fault_cohort& who) {
  if (who.empty())
    return nullptr;
  auto c = std::make_shared<fault_cohort>(who);
  std::sort(c->rooms.begin(), c->rooms.end());
  std::sort(c->members.begin(), c->members.end());
  return c;
}

} // namespace

// Each switch publishes the cohort before turning a fault on and after turning it off, so a
// reader never sees the fault on with no cohort (which would mean the whole server).

void fault_control::pause_reading(bool paused, const fault_cohort& who) {
  if (paused) {
    std::atomic_store(&core_.pause_cohort, cohort_ptr(who));
    core_.reading_paused.store(true);
  } else {
    core_.reading_paused.store(false);
    std::atomic_store(&core_.pause_cohort, std::shared_ptr<const fault_cohort>{});
  }
}

bool fault_control::reading_paused() const {
  return core_.reading_paused.load();
}

void fault_control::delay_broadcasts(std::chrono::milliseconds delay, const fault_cohort& who) {
  if (delay.count() > 0) {
    std::atomic_store(&core_.delay_cohort, cohort_ptr(who));
    core_.broadcast_delay_ms.store(delay.count());
  } else {
    core_.broadcast_delay_ms.store(0);
    std::atomic_store(&core_.delay_cohort, std::shared_ptr<const fault_cohort>{});
  }
}

void fault_control::drop_broadcasts(double fraction, const fault_cohort& who) {
  if (fraction > 0.0) {
    std::atomic_store(&core_.drop_cohort, cohort_ptr(who));
    core_.drop_fraction.store(fraction > 1.0 ? 1.0 : fraction);
  } else {
    core_.drop_fraction.store(0.0);
    std::atomic_store(&core_.drop_cohort, std::shared_ptr<const fault_cohort>{});
  }
}

void fault_control::close_sessions(double fraction, bool abortive, const fault_cohort& who) {
  auto& stats = core_.stats;
  core_.for_sessions(fraction, cohort_ptr(who), [&stats, abortive](detail::connection& c) {
    stats.fault_closed_sessions.fetch_add(1, std::memory_order_relaxed);
    if (abortive) {
      c.abort(true);
    } else {
      c.close_after_flush(1001);
    }
  });
}

void fault_control::refuse_connections(bool refuse, const fault_cohort& who) {
  if (refuse) {
    std::atomic_store(&core_.refuse_cohort, cohort_ptr(who));
    core_.refusing.store(true);
  } else {
    core_.refusing.store(false);
    std::atomic_store(&core_.refuse_cohort, std::shared_ptr<const fault_cohort>{});
  }
}

void fault_control::error_sessions(double fraction, const std::string& message,
                                   const fault_cohort& who) {
  auto& stats = core_.stats;
  core_.for_sessions(fraction, cohort_ptr(who), [&stats, message](detail::connection& c) {
    stats.fault_error_sessions.fetch_add(1, std::memory_order_relaxed);
    c.fail(message, "fault", "injected by the fault interface");
  });
}

void fault_control::stall_io(std::chrono::milliseconds per_turn) {
  const auto ms = std::clamp<std::int64_t>(per_turn.count(), 0, 1000);
  core_.stall_ms.store(ms);
  if (ms > 0)
    core_.start_stall();
}

void fault_control::restart_listener() {
  core_.restart_listener();
}

void fault_control::clear() {
  pause_reading(false);
  delay_broadcasts(std::chrono::milliseconds(0));
  drop_broadcasts(0.0);
  refuse_connections(false);
  stall_io(std::chrono::milliseconds(0));
}

fault_tally fault_control::tally() const {
  const auto& st = core_.stats;
  auto get = [](const std::atomic<std::uint64_t>& a) { return a.load(std::memory_order_relaxed); };
  fault_tally t;
  t.dropped_broadcasts = get(st.dropped_broadcasts);
  t.delayed_broadcasts = get(st.delayed_broadcasts);
  t.closed_sessions = get(st.fault_closed_sessions);
  t.error_sessions = get(st.fault_error_sessions);
  t.refused_connections = get(st.fault_refused_connections);
  t.paused_sessions = get(st.paused_sessions);
  t.stalled_turns = get(st.stalled_turns);
  return t;
}

std::map<std::uint64_t, std::uint64_t> fault_control::dropped_broadcasts() const {
  std::lock_guard<std::mutex> lock(core_.dropped_mutex);
  return core_.dropped_per_room;
}

} // namespace stompede::server
