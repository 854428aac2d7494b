#include "actors/population_plan.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>

namespace stompede {

using std::chrono::milliseconds;

const char* to_string(run_phase x) {
  switch (x) {
  case run_phase::idle:
    return "idle";
  case run_phase::ramp:
    return "ramp";
  case run_phase::steady:
    return "steady";
  case run_phase::drain:
    return "drain";
  case run_phase::done:
    return "done";
  }
  return "unknown";
}

std::vector<std::string> validate(const std::vector<stage>& stages) {
  std::vector<std::string> problems;
  if (stages.empty())
    problems.emplace_back("the plan needs at least one stage");
  for (size_t i = 0; i < stages.size(); ++i) {
    const auto& s = stages[i];
    auto who = "stage " + std::to_string(i + 1) + (s.name.empty() ? "" : " (" + s.name + ")");
    if (s.duration.count() < 0)
      problems.emplace_back(who + ": duration must not be negative");
    if (s.ramp.count() < 0)
      problems.emplace_back(who + ": ramp must not be negative");
    if (s.is_open()) {
      for (auto& p : validate(open_stage{s.name, s.arrival_rate, s.session_length, s.duration}))
        problems.push_back(who + ": " + p);
      if (s.session_length.count() <= 0)
        problems.emplace_back(who + ": an open stage needs a session length above 0");
    }
  }
  return problems;
}

population_plan::population_plan(std::vector<stage> stages) : stages_(std::move(stages)) {
  starts_.reserve(stages_.size());
  auto t = milliseconds{0};
  for (auto& s : stages_) {
    // Negative lengths are validation errors; treat them as zero rather than run time backwards.
    s.ramp = std::max(s.ramp, milliseconds{0});
    s.duration = std::max(s.duration, milliseconds{0});
    if (s.is_open())
      s.ramp = milliseconds{0}; // arrivals start at once
    starts_.push_back(t);
    t += s.ramp + s.duration;
  }
  total_ = t;
}

milliseconds population_plan::stage_start(size_t i) const {
  return i < starts_.size() ? starts_[i] : total_;
}

uint32_t population_plan::previous_users(size_t i) const {
  if (i == 0 || stages_.empty())
    return 0;
  return closed_users(std::min(i, stages_.size()) - 1);
}

uint32_t population_plan::closed_users(size_t i) const {
  if (i >= stages_.size() || stages_[i].is_open())
    return 0;
  return stages_[i].users;
}

plan_point population_plan::at(milliseconds t) const {
  if (t.count() < 0 || stages_.empty())
    return {0, stages_.empty() ? run_phase::done : run_phase::idle, 0};
  if (t >= total_)
    return {closed_users(stages_.size() - 1), run_phase::done, stages_.size() - 1};
  // Last stage whose start is <= t; zero-length stages before it are skipped this way.
  auto i =
      static_cast<size_t>(std::upper_bound(starts_.begin(), starts_.end(), t) - starts_.begin()) -
      1;
  const auto& s = stages_[i];
  auto users = closed_users(i);
  auto from = previous_users(i);
  auto elapsed = t - starts_[i];
  if (elapsed >= s.ramp || from == users)
    return {users, run_phase::steady, i};
  auto frac = static_cast<double>(elapsed.count()) / static_cast<double>(s.ramp.count());
  auto delta = static_cast<double>(users) - static_cast<double>(from);
  // Truncation moves towards `from`: a ramp never overshoots its stage's users.
  auto step = static_cast<int64_t>(std::trunc(delta * frac));
  auto target = static_cast<uint32_t>(static_cast<int64_t>(from) + step);
  auto phase = users == 0 ? run_phase::drain : run_phase::ramp;
  return {target, phase, i};
}

uint32_t population_plan::peak() const noexcept {
  uint32_t result = 0;
  for (size_t i = 0; i < stages_.size(); ++i)
    result = std::max(result, closed_users(i));
  return result;
}

std::vector<std::string> validate(const open_stage& x, uint64_t max_arrivals) {
  std::vector<std::string> problems;
  auto who = "open stage" + (x.name.empty() ? std::string{} : " (" + x.name + ")");
  if (!(x.arrival_rate >= 0.0) || std::isinf(x.arrival_rate))
    problems.emplace_back(who + ": arrival rate must be a finite number >= 0");
  if (x.session_length.count() < 0)
    problems.emplace_back(who + ": session length must not be negative");
  if (x.duration.count() < 0)
    problems.emplace_back(who + ": duration must not be negative");
  if (problems.empty()) {
    auto n = x.arrival_rate * static_cast<double>(x.duration.count()) / 1000.0;
    if (n > static_cast<double>(max_arrivals))
      problems.emplace_back(who + ": more than " + std::to_string(max_arrivals) +
                            " arrivals; lower the rate or the duration");
  }
  return problems;
}

std::vector<milliseconds> arrival_schedule(const open_stage& x) {
  std::vector<milliseconds> result;
  if (!(x.arrival_rate > 0.0) || std::isinf(x.arrival_rate) || x.duration.count() <= 0)
    return result;
  auto period_ms = 1000.0 / x.arrival_rate;
  result.reserve(static_cast<size_t>(
      std::min(x.arrival_rate * static_cast<double>(x.duration.count()) / 1000.0 + 1.0, 1e7)));
  for (uint64_t k = 0;; ++k) {
    // Multiply rather than accumulate: no drift over many arrivals.
    auto t = milliseconds{static_cast<int64_t>(std::floor(static_cast<double>(k) * period_ms))};
    if (t >= x.duration)
      break;
    result.push_back(t);
  }
  return result;
}

uint32_t active_sessions(const std::vector<milliseconds>& arrivals, milliseconds session_length,
                         milliseconds t) {
  // Alive at t: arrival <= t and arrival > t - length.
  auto hi = std::upper_bound(arrivals.begin(), arrivals.end(), t);
  auto lo = std::upper_bound(arrivals.begin(), hi, t - session_length);
  return static_cast<uint32_t>(hi - lo);
}

std::vector<milliseconds> spread_arrivals(uint32_t count, milliseconds window,
                                          milliseconds min_spacing) {
  std::vector<milliseconds> result;
  if (count == 0)
    return result;
  result.reserve(count);
  auto spacing = std::max(min_spacing, milliseconds{0});
  if (window.count() > 0)
    spacing = std::max(spacing, window / count);
  for (uint32_t i = 0; i < count; ++i)
    result.push_back(spacing * i);
  return result;
}

std::vector<uint32_t> split_target(uint32_t total, size_t shards, uint32_t users_per_shard,
                                   uint32_t users) {
  std::vector<uint32_t> result(shards, 0);
  if (shards == 0)
    return result;
  // From the last supervisor (the one with the fewest users of its own) to the first: an even
  // share of what is left, capped by what the supervisor has. Without caps this is the plain
  // even split, the first shards taking the remainder.
  std::uint64_t left = total;
  for (size_t i = shards; i-- > 0;) {
    std::uint64_t cap = users_per_shard > 0 ? users_per_shard : UINT32_MAX;
    if (users > 0 && users_per_shard > 0) {
      std::uint64_t first = static_cast<std::uint64_t>(i) * users_per_shard;
      cap = std::min<std::uint64_t>(cap, users > first ? users - first : 0);
    }
    auto k = static_cast<std::uint64_t>(i) + 1;
    auto n = left / k + (i < left % k ? 1 : 0);
    result[i] = static_cast<uint32_t>(std::min(n, cap));
    left -= result[i];
  }
  return result;
}

size_t shards_needed(uint32_t users, uint32_t users_per_shard) {
  if (users_per_shard == 0 || users == 0)
    return 1;
  return (static_cast<size_t>(users) + users_per_shard - 1) / users_per_shard;
}

} // namespace stompede
