#pragma once

// The server's live counters: relaxed atomics bumped on the IO threads (in batches on the
// fan-out path) and read by stats() and GET /metrics.

#include "server/server.hpp"

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace stompede::server::detail {

struct counters {
  std::atomic<std::uint64_t> sessions{0};
  std::atomic<std::uint64_t> connections{0};
  std::atomic<std::uint64_t> sessions_total{0};
  std::atomic<std::uint64_t> subscriptions{0};
  std::atomic<std::uint64_t> frames_in{0};
  std::atomic<std::uint64_t> frames_out{0};
  std::atomic<std::uint64_t> bytes_in{0};
  std::atomic<std::uint64_t> bytes_out{0};
  std::atomic<std::uint64_t> messages{0};
  std::atomic<std::uint64_t> broadcasts{0};
  std::atomic<std::uint64_t> dropped_broadcasts{0};
  std::atomic<std::uint64_t> delayed_broadcasts{0};
  std::atomic<std::uint64_t> paused_sessions{0};
  /// Turns of an IO thread's queue held by the stall fault.
  std::atomic<std::uint64_t> stalled_turns{0};
  std::atomic<std::uint64_t> slow_consumer_closes{0};
  std::atomic<std::uint64_t> heartbeat_timeouts{0};
  std::atomic<std::uint64_t> protocol_errors{0};
  std::atomic<std::uint64_t> auth_failures{0};
  std::atomic<std::uint64_t> refused_connections{0};
  /// Of those, refused by the refuse fault (not for being full or a foreign origin).
  std::atomic<std::uint64_t> fault_refused_connections{0};
  std::atomic<std::uint64_t> fault_closed_sessions{0};
  std::atomic<std::uint64_t> fault_error_sessions{0};
  std::atomic<std::uint64_t> logins{0};
  std::atomic<std::uint64_t> http_requests{0};
  std::atomic<std::uint64_t> tls_handshake_failures{0};

  /// Errors by category label (rare events: a mutex is fine).
  void count_error(const std::string& category) {
    protocol_errors.fetch_add(1, std::memory_order_relaxed);
    std::lock_guard<std::mutex> lock(mutex_);
    ++errors_[category];
  }
  std::map<std::string, std::uint64_t> errors() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return errors_;
  }

  server_stats snapshot() const;

  /// Prometheus text exposition of everything above.
  std::string render_prometheus() const;

private:
  mutable std::mutex mutex_;
  std::map<std::string, std::uint64_t> errors_;
};

} // namespace stompede::server::detail
