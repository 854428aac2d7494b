#include "actors/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace stompede {

namespace {

// Milliseconds as double are exact far beyond any sensible delay; clamping in double before the
// conversion keeps the integer cast defined for absurd inputs.
constexpr double max_ms = 9.0e15;

std::chrono::milliseconds to_ms(double ms) {
  if (!(ms > 0.0)) // also catches NaN
    return std::chrono::milliseconds{0};
  return std::chrono::milliseconds{std::llround(std::min(ms, max_ms))};
}

double capped_exponential(const backoff_policy& policy, uint32_t attempt) {
  auto initial = static_cast<double>(std::max<int64_t>(policy.initial.count(), 0));
  auto cap = static_cast<double>(std::max<int64_t>(policy.max.count(), 0));
  auto mult = std::max(policy.multiplier, 1.0);
  // pow may reach infinity for large attempts; the comparison below turns that into the cap.
  auto value = initial * std::pow(mult, static_cast<double>(attempt));
  if (!(value < cap))
    return cap;
  return value;
}

double clamped_jitter(const backoff_policy& policy) {
  if (!(policy.jitter > 0.0))
    return 0.0;
  return std::min(policy.jitter, 1.0);
}

} // namespace

std::vector<std::string> validate(const backoff_policy& policy) {
  std::vector<std::string> problems;
  if (policy.initial.count() < 0)
    problems.emplace_back("backoff initial delay must not be negative");
  if (policy.max < policy.initial)
    problems.emplace_back("backoff max delay must be at least the initial delay");
  if (!(policy.multiplier >= 1.0))
    problems.emplace_back("backoff multiplier must be at least 1");
  if (!(policy.jitter >= 0.0 && policy.jitter <= 1.0))
    problems.emplace_back("backoff jitter must be a fraction in [0, 1]");
  if (policy.healthy_reset.count() < 0)
    problems.emplace_back("backoff healthy reset period must not be negative");
  return problems;
}

std::chrono::milliseconds base_delay(const backoff_policy& policy, uint32_t attempt) {
  return to_ms(capped_exponential(policy, attempt));
}

std::chrono::milliseconds delay(const backoff_policy& policy, uint32_t attempt, double unit) {
  if (!(unit >= 0.0)) // NaN too
    unit = 0.0;
  unit = std::min(unit, 1.0);
  auto d = capped_exponential(policy, attempt);
  if (policy.mode == jitter_mode::full)
    return to_ms(d * unit);
  auto j = clamped_jitter(policy);
  return to_ms(d * (1.0 - j + 2.0 * j * unit));
}

std::chrono::milliseconds max_delay(const backoff_policy& policy) {
  auto cap = static_cast<double>(std::max<int64_t>(policy.max.count(), 0));
  if (policy.mode == jitter_mode::full)
    return to_ms(cap);
  return to_ms(cap * (1.0 + clamped_jitter(policy)));
}

} // namespace stompede
