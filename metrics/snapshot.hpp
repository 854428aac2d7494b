#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "metrics/accounting.hpp"
#include "metrics/behaviour_figures.hpp"
#include "metrics/counters.hpp"
#include "metrics/histogram.hpp"

namespace stompede::metrics {

/// The latency and duration distributions of a load run. Units are in the names.
struct load_histograms {
  /// Round trip of own messages timed from the *intended* send time (corrected for coordinated
  /// omission): the headline latency.
  histogram round_trip_intended_us;
  /// Round trip timed from the moment the SEND actually went out (uncorrected).
  histogram round_trip_actual_us;
  /// Others' messages: receive time minus the send time embedded by the sender (one sample per
  /// message and recipient). Negative samples mean clock skew and are counted, never clamped.
  histogram fanout_us;
  /// How late a send went out compared with its intended time.
  histogram send_lateness_us;
  /// TCP connect + TLS + WebSocket upgrade.
  histogram ws_connect_us;
  /// STOMP CONNECT until CONNECTED.
  histogram stomp_connect_us;
  /// How long a session stayed connected (recorded when it ends).
  histogram connection_duration_ms;
  /// From a session failure until the user is subscribed again.
  histogram reconnect_time_ms;

  /// Merges every histogram of `other` into the matching one here.
  void merge(const load_histograms& other) noexcept;
  /// Resets every histogram.
  void reset() noexcept;

  /// Calls `f(name, histogram&)` for each member, in declaration order.
  template<class F>
  void for_each(F&& f) {
    visit(*this, f);
  }
  /// Calls `f(name, const histogram&)` for each member, in declaration order.
  template<class F>
  void for_each(F&& f) const {
    visit(*this, f);
  }

  /// Same content in every histogram.
  friend bool operator==(const load_histograms& a, const load_histograms& b) noexcept;

private:
  // One list of members for both constness overloads of for_each.
  template<class Self, class F>
  static void visit(Self& self, F& f) {
    f("round_trip_intended_us", self.round_trip_intended_us);
    f("round_trip_actual_us", self.round_trip_actual_us);
    f("fanout_us", self.fanout_us);
    f("send_lateness_us", self.send_lateness_us);
    f("ws_connect_us", self.ws_connect_us);
    f("stomp_connect_us", self.stomp_connect_us);
    f("connection_duration_ms", self.connection_duration_ms);
    f("reconnect_time_ms", self.reconnect_time_ms);
  }
};

/// What one shard (or IO thread) ships once a second: counters and histograms recorded since
/// its previous delta, plus its current levels.
struct shard_delta {
  /// Which shard this comes from.
  std::uint32_t shard_id = 0;
  /// Events since the previous delta of this shard.
  load_counters counters;
  /// Samples since the previous delta of this shard.
  load_histograms histograms;
  /// Sessions of this shard that are open now (a level, not a delta).
  std::int64_t active_connections = 0;
  /// Users of this shard waiting for or running a reconnect now.
  std::int64_t active_reconnections = 0;
  /// Users of this shard that are subscribed now.
  std::int64_t connected_users = 0;
};

/// Levels and labels of the run at one instant.
struct load_gauges {
  /// Open sessions.
  std::int64_t active_connections = 0;
  /// Users waiting for or running a reconnect.
  std::int64_t active_reconnections = 0;
  /// Users the stage director wants running now.
  std::int64_t target_users = 0;
  /// Users currently subscribed.
  std::int64_t connected_users = 0;
  /// CAF actors running in the engine's actor system (users, supervisors, director, metrics):
  /// a leak shows as growth at a steady population (the soak watches it).
  std::int64_t actors = 0;
  /// Index of the current stage (0-based), -1 before the first.
  std::int32_t stage_index = -1;
  /// Name of the current stage.
  std::string stage_name;
  /// Name of the director's phase (idle, ramp, steady, drain, done).
  std::string phase_name;
};

/// Counters, histograms and gauges of a run: either one interval's delta or the running total.
struct load_snapshot {
  /// Seconds since the run started, at the end of the interval this snapshot covers.
  double elapsed_s = 0.0;
  /// Length of the interval in seconds (for a total: the whole run so far).
  double interval_s = 0.0;
  /// Events (delta or total).
  load_counters counters;
  /// Samples (delta or total).
  load_histograms histograms;
  /// Levels at the end of the interval.
  load_gauges gauges;
  /// Per behaviour (`[[behaviour]]` label): counts and samples like `counters` and
  /// `histograms`, and the level of connected users like `gauges`.
  std::vector<behaviour_figures> behaviours;
  /// Message accounting: messages classified (and sent, and seqs checked) in the interval, or
  /// in the whole run for a total.
  accounting_counts accounting;
  /// Keyed messages sent and not classified yet (a level).
  std::uint64_t accounting_pending = 0;

  /// Resets counters and histograms; keeps gauges and times.
  void reset_events() noexcept;
};

/// Adds a shard's delta into an interval snapshot being assembled from all shards: counters and
/// histograms are added, and the shard's levels are *added* to the gauges (each shard reports its
/// own levels once per interval). Stage, phase and target stay as they are.
void accumulate(load_snapshot& interval, const shard_delta& delta) noexcept;

/// Adds an interval snapshot to a running total: counters and histograms are added, gauges are
/// replaced by the interval's (the latest levels), elapsed_s follows the interval and interval_s
/// grows by the interval's length.
void merge(load_snapshot& total, const load_snapshot& interval);

} // namespace stompede::metrics
