#pragma once

// Measurements of one IO thread: counters and mergeable histograms recorded by the sessions of
// that thread only, taken out as a delta once a second by a task posted to the same thread.

#include "metrics/behaviour_figures.hpp"
#include "metrics/counters.hpp"
#include "metrics/message_ledger.hpp"
#include "metrics/snapshot.hpp"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace stompede {

struct io_aggregate {
  metrics::load_counters counters;
  metrics::load_histograms histograms;
  /// Sessions open (WebSocket established) on this thread right now.
  std::int64_t open_sessions = 0;
  /// Sessions subscribed right now.
  std::int64_t subscribed_sessions = 0;
  /// Own messages awaiting their round trip.
  std::int64_t in_flight = 0;
  /// Per behaviour (indexed like the run's behaviour entries; sized by the first session).
  std::vector<metrics::behaviour_figures> behaviours;
  /// The reason of the latest TLS failure on this thread since the last delta ("certificate
  /// has expired", ...); empty when there was none.
  std::string tls_failure;
  /// The `message` of the latest STOMP ERROR frame a server sent on this thread since the last
  /// delta (first line, at most 256 bytes); empty when there was none.
  std::string server_error;
  /// The latest refused WebSocket upgrade on this thread since the last delta ("WebSocket
  /// upgrade answered HTTP 403 Forbidden"); kept apart from ERROR frames, so that each error
  /// type is explained by its own kind of answer.
  std::string upgrade_refusal;
  /// Message accounting: sends, receipts and session lifecycle of this thread's sessions.
  metrics::ledger_shard ledger;
  /// Scratch for composing a chat message (content, rendered body, timestamp), shared by the
  /// thread's sessions: a send is composed and written in one go on this thread, so no session
  /// needs to keep the buffers (about 450 bytes per sending user otherwise).
  struct scratch_buffers {
    std::string content;
    std::string body;
    std::string created_at;
  } scratch;
};

/// What leaves an IO thread once a second.
struct io_delta {
  metrics::load_counters counters;
  metrics::load_histograms histograms;
  std::int64_t open_sessions = 0;
  std::int64_t subscribed_sessions = 0;
  std::int64_t in_flight = 0;
  std::vector<metrics::behaviour_figures> behaviours;
  std::string tls_failure;
  std::string server_error;
  std::string upgrade_refusal;
  metrics::ledger_shard ledger;
  /// Which IO thread, and its wall clock (µs) when the delta was taken: every ledger record of
  /// the thread stamped before that is in this delta or an earlier one.
  std::uint32_t thread = 0;
  std::int64_t taken_at_us = 0;
};

/// Moves the histograms out (they restart empty), takes the counters, copies the gauges.
inline io_delta take_delta(io_aggregate& a) {
  io_delta d;
  d.counters = a.counters;
  a.counters = {};
  // A moved-from histogram is empty and usable: no 240 KB copy per thread per second.
  d.histograms = std::move(a.histograms);
  d.open_sessions = a.open_sessions;
  d.subscribed_sessions = a.subscribed_sessions;
  d.in_flight = a.in_flight;
  d.behaviours.reserve(a.behaviours.size());
  for (auto& b : a.behaviours)
    d.behaviours.push_back(b.take());
  d.tls_failure = std::move(a.tls_failure);
  a.tls_failure.clear();
  d.server_error = std::move(a.server_error);
  a.server_error.clear();
  d.upgrade_refusal = std::move(a.upgrade_refusal);
  a.upgrade_refusal.clear();
  d.ledger = a.ledger.take();
  return d;
}

} // namespace stompede
