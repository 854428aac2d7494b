#pragma once

// What the users of one behaviour (one `[[behaviour]]` label) did: a few standard counts and
// the behaviour's own counters and latency histograms. Recorded per IO thread, shipped as
// deltas and merged like the run's counters; reported with a `behaviour` label.

#include "metrics/histogram.hpp"

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stompede::metrics {

struct behaviour_figures {
  /// The entry's label.
  std::string label;
  /// Sessions that reached CONNECTED + SUBSCRIBE.
  std::uint64_t sessions = 0;
  /// Frames the behaviour sent: measured chat messages and plain SENDs.
  std::uint64_t messages_sent = 0;
  /// MESSAGE frames its sessions received (room and own subscriptions).
  std::uint64_t messages_received = 0;
  /// Sessions subscribed now (a level, not a count).
  std::int64_t connected = 0;
  /// The behaviour's own counters, by name.
  std::vector<std::pair<std::string, std::uint64_t>> counters;
  /// The behaviour's own latency samples (µs), by name.
  std::vector<std::pair<std::string, histogram>> latencies;

  /// Adds `n` to counter `name` (created on first use).
  void count(std::string_view name, std::uint64_t n);
  /// Records `us` in histogram `name` (created on first use).
  void record(std::string_view name, std::int64_t us);
  /// Adds every count and sample of `other` (same label); levels are added too.
  void merge(const behaviour_figures& other);
  /// Takes counts and samples out, leaving them at zero (the level stays).
  behaviour_figures take();
  /// The counter `name`, 0 when never counted.
  std::uint64_t counter(std::string_view name) const;
  /// The histogram `name`, nullptr when never recorded.
  const histogram* latency(std::string_view name) const;
};

/// Merges `from` into `into` entry by entry (growing `into` as needed); levels are added (the
/// IO threads' parts of one instant).
void merge(std::vector<behaviour_figures>& into, const std::vector<behaviour_figures>& from);

/// Adds an interval to a running total: counts and samples are added, levels replaced by the
/// interval's (the latest).
void merge_interval(std::vector<behaviour_figures>& total,
                    const std::vector<behaviour_figures>& interval);

} // namespace stompede::metrics
