#include "server/faults.hpp"

#include "server/connection.hpp"
#include "server/server_core.hpp"

namespace stompede::server {

void fault_control::pause_reading(bool paused) {
  core_.reading_paused.store(paused);
}

bool fault_control::reading_paused() const {
  return core_.reading_paused.load();
}

void fault_control::delay_broadcasts(std::chrono::milliseconds delay) {
  core_.broadcast_delay_ms.store(delay.count() > 0 ? delay.count() : 0);
}

void fault_control::drop_broadcasts(double fraction) {
  core_.drop_fraction.store(fraction < 0.0 ? 0.0 : (fraction > 1.0 ? 1.0 : fraction));
}

void fault_control::close_sessions(double fraction, bool abortive) {
  auto& stats = core_.stats;
  core_.for_sessions(fraction, [&stats, abortive](detail::connection& c) {
    stats.fault_closed_sessions.fetch_add(1, std::memory_order_relaxed);
    if (abortive) {
      c.abort(true);
    } else {
      c.close_after_flush(1001);
    }
  });
}

void fault_control::refuse_connections(bool refuse) {
  core_.refusing.store(refuse);
}

void fault_control::error_sessions(double fraction, const std::string& message) {
  auto& stats = core_.stats;
  core_.for_sessions(fraction, [&stats, message](detail::connection& c) {
    stats.fault_error_sessions.fetch_add(1, std::memory_order_relaxed);
    c.fail(message, "fault", "injected by the fault interface");
  });
}

void fault_control::restart_listener() {
  core_.restart_listener();
}

void fault_control::clear() {
  pause_reading(false);
  delay_broadcasts(std::chrono::milliseconds(0));
  drop_broadcasts(0.0);
  refuse_connections(false);
}

std::map<std::uint64_t, std::uint64_t> fault_control::dropped_broadcasts() const {
  std::lock_guard<std::mutex> lock(core_.dropped_mutex);
  return core_.dropped_per_room;
}

} // namespace stompede::server
