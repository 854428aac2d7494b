#pragma once

// The target population over time. Pure: no CAF, no clock. The stage director asks it "how many
// users, in which phase, at plan time t" and turns the answers into set-target messages.
//
// Closed model: each stage ramps linearly from the previous stage's users (0 before the first
// stage) to its own `users` over `ramp`, then holds for `duration`. Open model: sessions arrive at
// a fixed rate and each lives for `session_length`; the schedule of arrivals is computed up front.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace stompede {

/// Phase of a run, as announced to metrics so samples can be tagged (warm-up vs steady state).
enum class run_phase : uint8_t {
  /// Before the plan clock starts (or while waiting for the first users to connect).
  idle,
  /// The population is changing towards a stage's users.
  ramp,
  /// The population holds at a stage's users; the figures that count.
  steady,
  /// The population goes down to zero: the last stage ramping out, or the run being stopped.
  drain,
  /// The plan is over.
  done,
};

/// Returns the lowercase name of `x` ("idle", "ramp", ...).
const char* to_string(run_phase x);

/// One stage: closed model (a population reached by a ramp, then held), or open model
/// (`arrival_rate` > 0: sessions arrive at a rate and each lives its session length).
struct stage {
  /// Name shown in reports and metrics labels.
  std::string name;
  /// Users to reach by the end of the ramp and to hold (closed); the cap of concurrent
  /// sessions (open).
  uint32_t users = 0;
  /// How long to hold `users` after the ramp (closed); how long arrivals come (open).
  std::chrono::milliseconds duration{0};
  /// How long the linear ramp from the previous target takes; 0 jumps at once. Open stages
  /// have none.
  std::chrono::milliseconds ramp{0};
  /// Open model: new sessions per second (0 = closed model).
  double arrival_rate = 0.0;
  /// Open model: each session lives a length drawn uniformly from [min, max] (max <= min: min).
  std::chrono::milliseconds session_length{0};
  std::chrono::milliseconds session_length_max{0};
  /// Closed model: hold the plan clock at the end of the ramp until every user is connected
  /// (the scenario's `wait_for = "all_subscribed"`), at most the director's `wait_timeout`.
  bool wait_for_connected = false;

  /// True for an open-model stage.
  bool is_open() const noexcept {
    return arrival_rate > 0.0;
  }
};

/// Returns every problem of a stage list as one sentence each; empty when valid.
std::vector<std::string> validate(const std::vector<stage>& stages);

/// What the plan says at one point in plan time.
struct plan_point {
  /// Users that should be running.
  uint32_t target = 0;
  /// Phase at that time.
  run_phase phase = run_phase::idle;
  /// Index of the current stage; the last stage when done, 0 when idle.
  size_t stage = 0;
};

/// A closed-model plan: a sequence of stages on one plan clock starting at 0.
class population_plan {
public:
  /// Builds the plan; `stages` should have passed `validate`.
  explicit population_plan(std::vector<stage> stages);

  /// The stages in order.
  const std::vector<stage>& stages() const noexcept {
    return stages_;
  }

  /// Total length: the sum of every stage's ramp and duration.
  std::chrono::milliseconds total() const noexcept {
    return total_;
  }

  /// Plan time at which stage `i` starts (its ramp begins); `total()` for `i` past the end.
  std::chrono::milliseconds stage_start(size_t i) const;

  /// Users the stage before `i` ends with (0 for the first stage).
  uint32_t previous_users(size_t i) const;

  /// Target, phase and stage at plan time `t`. The target is the closed-model population: 0
  /// during an open stage (whose sessions come from its arrivals). Negative times are idle with
  /// target 0; times at or after `total()` are done with the last stage's users. Ramps never
  /// overshoot: the target moves from the previous users towards the stage's users, truncated
  /// towards the former.
  plan_point at(std::chrono::milliseconds t) const;

  /// Shorthand for `at(t).target`.
  uint32_t target(std::chrono::milliseconds t) const {
    return at(t).target;
  }

  /// Largest closed-model target anywhere in the plan.
  uint32_t peak() const noexcept;

  /// The closed-model users of stage `i` (0 for an open stage).
  uint32_t closed_users(size_t i) const;

private:
  std::vector<stage> stages_;
  std::vector<std::chrono::milliseconds> starts_;
  std::chrono::milliseconds total_{0};
};

/// One open-model stage: arrivals at a fixed rate, each session living a fixed time.
struct open_stage {
  /// Name shown in reports and metrics labels.
  std::string name;
  /// New sessions per second.
  double arrival_rate = 0.0;
  /// How long each session lives.
  std::chrono::milliseconds session_length{0};
  /// How long arrivals keep coming.
  std::chrono::milliseconds duration{0};
};

/// Returns every problem of an open stage as one sentence each; empty when valid. Refuses more
/// than `max_arrivals` arrivals so a typo in the rate cannot allocate without bound.
std::vector<std::string> validate(const open_stage& x, uint64_t max_arrivals = 10'000'000);

/// Arrival times of an open stage, relative to its start: arrival k at `floor(k / rate)` seconds
/// (in ms), for every k whose time is before `duration`. Empty for a non-positive rate.
std::vector<std::chrono::milliseconds> arrival_schedule(const open_stage& x);

/// Sessions alive at `t` given sorted `arrivals`: those with `arrival <= t < arrival + length`.
uint32_t active_sessions(const std::vector<std::chrono::milliseconds>& arrivals,
                         std::chrono::milliseconds session_length, std::chrono::milliseconds t);

/// Start offsets for `count` users added at once: evenly over `window`, but never closer than
/// `min_spacing` (so a jump of k users is spread like the original tool's 10 ms spacing, and a
/// ramp step spreads over the step). The first offset is 0.
std::vector<std::chrono::milliseconds>
spread_arrivals(uint32_t count, std::chrono::milliseconds window,
                std::chrono::milliseconds min_spacing = std::chrono::milliseconds{10});

/// Splits `total` users over `shards` supervisors as evenly as possible (the first shards take
/// the remainder), each capped at `users_per_shard` (0: no cap). With `users` > 0, supervisor i
/// runs users i * users_per_shard, i * users_per_shard + 1, ... of `users` in all: the last one
/// may have fewer than `users_per_shard` users, and its share is capped there too (what it
/// cannot take goes to the others), so no supervisor is given a user that does not exist.
std::vector<uint32_t> split_target(uint32_t total, size_t shards, uint32_t users_per_shard,
                                   uint32_t users = 0);

/// Supervisors needed to hold `users` with at most `users_per_shard` each (at least 1).
size_t shards_needed(uint32_t users, uint32_t users_per_shard);

} // namespace stompede
