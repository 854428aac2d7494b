#pragma once

// Capped exponential backoff with jitter for restarting failed users. Pure: no CAF, no clock;
// the caller supplies the randomness, so a fixed generator gives a fixed schedule in tests.

#include <chrono>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace stompede {

/// How the jitter spreads a delay `d` (the capped exponential value).
enum class jitter_mode : uint8_t {
  /// Uniform in `[d·(1-jitter), d·(1+jitter)]` (the original tool's ±50%).
  proportional,
  /// Uniform in `[0, d]` ("full jitter"): the widest spread against reconnect storms.
  full,
};

/// Restart policy of a supervisor: `min(max, initial·multiplier^n)` scaled by jitter.
struct backoff_policy {
  /// Delay before the first restart (attempt 0), before jitter.
  std::chrono::milliseconds initial{1000};
  /// Cap of the exponential part, before jitter.
  std::chrono::milliseconds max{30000};
  /// Growth factor per attempt; at least 1.
  double multiplier = 2.0;
  /// Fraction of the delay by which the proportional mode spreads it either way, in [0, 1].
  double jitter = 0.5;
  /// Proportional (±jitter) or full jitter.
  jitter_mode mode = jitter_mode::proportional;
  /// Consecutive failed attempts allowed before a user is given up; 0 disables restarts.
  uint32_t max_attempts = 10;
  /// Time a user must stay connected before its attempt count goes back to zero.
  std::chrono::milliseconds healthy_reset{10000};
};

/// Returns every problem of `policy` as one sentence each; empty when valid.
std::vector<std::string> validate(const backoff_policy& policy);

/// The capped exponential delay for `attempt` (0-based) without jitter. Never overflows: any
/// attempt whose exponential value exceeds the cap yields the cap.
std::chrono::milliseconds base_delay(const backoff_policy& policy, uint32_t attempt);

/// The jittered delay for `attempt`, with `unit` a uniform random number in [0, 1) (values
/// outside are clamped). Never negative, never above `max·(1+jitter)` (`max` in full mode).
std::chrono::milliseconds delay(const backoff_policy& policy, uint32_t attempt, double unit);

/// The jittered delay for `attempt`, drawing from the uniform random bit generator `rng`.
template<class Rng>
std::chrono::milliseconds delay(const backoff_policy& policy, uint32_t attempt, Rng& rng) {
  std::uniform_real_distribution<double> dist{0.0, 1.0};
  return delay(policy, attempt, dist(rng));
}

/// The largest delay `delay()` can return for `policy`.
std::chrono::milliseconds max_delay(const backoff_policy& policy);

} // namespace stompede
