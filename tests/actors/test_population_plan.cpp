#include "actors/population_plan.hpp"

#include <catch2/catch.hpp>

using namespace stompede;
using std::chrono::milliseconds;

namespace {

std::vector<stage> three_stages() {
  return {
      {"warm", 10, milliseconds{1000}, milliseconds{1000}},
      {"peak", 30, milliseconds{2000}, milliseconds{1000}},
      {"cool", 0, milliseconds{0}, milliseconds{1000}},
  };
}

} // namespace

TEST_CASE("plan length and stage starts add ramps and holds", "[plan]") {
  population_plan plan{three_stages()};
  CHECK(plan.total() == milliseconds{6000});
  CHECK(plan.stage_start(0) == milliseconds{0});
  CHECK(plan.stage_start(1) == milliseconds{2000});
  CHECK(plan.stage_start(2) == milliseconds{5000});
  CHECK(plan.stage_start(3) == milliseconds{6000});
  CHECK(plan.peak() == 30);
  CHECK(plan.previous_users(0) == 0);
  CHECK(plan.previous_users(2) == 30);
}

TEST_CASE("plan ramps up linearly, holds, ramps down and drains", "[plan]") {
  population_plan plan{three_stages()};
  CHECK(plan.target(milliseconds{0}) == 0);
  CHECK(plan.target(milliseconds{100}) == 1);
  CHECK(plan.target(milliseconds{550}) == 5);
  CHECK(plan.target(milliseconds{999}) == 9);
  CHECK(plan.target(milliseconds{1000}) == 10);
  CHECK(plan.target(milliseconds{1999}) == 10);
  CHECK(plan.target(milliseconds{2500}) == 20);
  CHECK(plan.target(milliseconds{3000}) == 30);
  CHECK(plan.target(milliseconds{4999}) == 30);
  // Ramping down truncates towards the previous users: never below the line.
  CHECK(plan.target(milliseconds{5001}) == 30);
  CHECK(plan.target(milliseconds{5500}) == 15);
  CHECK(plan.target(milliseconds{5999}) == 1);
  CHECK(plan.target(milliseconds{6000}) == 0);
  CHECK(plan.target(milliseconds{100000}) == 0);
}

TEST_CASE("plan phases and stage indices", "[plan]") {
  population_plan plan{three_stages()};
  auto check = [&](int64_t ms, run_phase phase, size_t index) {
    auto p = plan.at(milliseconds{ms});
    INFO("t=" << ms << " got " << to_string(p.phase) << " stage " << p.stage);
    CHECK(p.phase == phase);
    CHECK(p.stage == index);
  };
  check(-1, run_phase::idle, 0);
  check(0, run_phase::ramp, 0);
  check(999, run_phase::ramp, 0);
  check(1000, run_phase::steady, 0);
  check(2000, run_phase::ramp, 1);
  check(3500, run_phase::steady, 1);
  check(5000, run_phase::drain, 2);
  check(6000, run_phase::done, 2);
  CHECK(std::string{to_string(run_phase::steady)} == "steady");
}

TEST_CASE("plan jumps at once without a ramp and skips empty stages", "[plan]") {
  population_plan plan{{
      {"jump", 100, milliseconds{500}, milliseconds{0}},
      {"nothing", 40, milliseconds{0}, milliseconds{0}},
      {"down", 40, milliseconds{500}, milliseconds{0}},
  }};
  CHECK(plan.at(milliseconds{0}).target == 100);
  CHECK(plan.at(milliseconds{0}).phase == run_phase::steady);
  CHECK(plan.at(milliseconds{500}).target == 40);
  CHECK(plan.at(milliseconds{500}).stage == 2);
  CHECK(plan.total() == milliseconds{1000});
}

TEST_CASE("plan validation", "[plan]") {
  CHECK(validate(three_stages()).empty());
  CHECK(validate(std::vector<stage>{}).size() == 1);
  std::vector<stage> bad{{"x", 1, milliseconds{-1}, milliseconds{-1}}};
  CHECK(validate(bad).size() == 2);
}

TEST_CASE("open model arrivals follow the rate", "[plan]") {
  open_stage s{"open", 4.0, milliseconds{1000}, milliseconds{2000}};
  CHECK(validate(s).empty());
  auto arrivals = arrival_schedule(s);
  REQUIRE(arrivals.size() == 8);
  CHECK(arrivals.front() == milliseconds{0});
  CHECK(arrivals[1] == milliseconds{250});
  CHECK(arrivals.back() == milliseconds{1750});
  // Each session lives 1 s: at most 4 overlap, and they drain after the last arrival.
  CHECK(active_sessions(arrivals, s.session_length, milliseconds{0}) == 1);
  CHECK(active_sessions(arrivals, s.session_length, milliseconds{999}) == 4);
  CHECK(active_sessions(arrivals, s.session_length, milliseconds{1000}) == 4);
  CHECK(active_sessions(arrivals, s.session_length, milliseconds{2500}) == 1);
  CHECK(active_sessions(arrivals, s.session_length, milliseconds{2750}) == 0);
  // Fractional rates do not drift: 3 per second over 10 s is 30 arrivals.
  open_stage thirds{"thirds", 3.0, milliseconds{1}, milliseconds{10000}};
  CHECK(arrival_schedule(thirds).size() == 30);
  CHECK(arrival_schedule(open_stage{"none", 0.0, milliseconds{1}, milliseconds{1000}}).empty());
  CHECK_FALSE(validate(open_stage{"huge", 1e9, milliseconds{1}, milliseconds{100000}}).empty());
}

TEST_CASE("arrival spreading keeps the minimum spacing", "[plan]") {
  auto burst = spread_arrivals(5, milliseconds{0});
  REQUIRE(burst.size() == 5);
  CHECK(burst[0] == milliseconds{0});
  CHECK(burst[4] == milliseconds{40});
  auto wide = spread_arrivals(4, milliseconds{1000});
  CHECK(wide[1] == milliseconds{250});
  CHECK(wide[3] == milliseconds{750});
  // A window too short for the spacing: the spacing wins.
  auto tight = spread_arrivals(10, milliseconds{50}, milliseconds{10});
  CHECK(tight[9] == milliseconds{90});
  CHECK(spread_arrivals(0, milliseconds{100}).empty());
}

TEST_CASE("targets split evenly over shards with a cap", "[plan]") {
  CHECK(split_target(10, 3, 1000) == std::vector<uint32_t>{4, 3, 3});
  CHECK(split_target(0, 2, 1000) == std::vector<uint32_t>{0, 0});
  CHECK(split_target(5000, 2, 1000) == std::vector<uint32_t>{1000, 1000});
  CHECK(split_target(7, 2, 0) == std::vector<uint32_t>{4, 3});
  CHECK(split_target(7, 0, 10).empty());
  // 8,333 users in shards of 1,000: the ninth runs users 8,000..8,332 only.
  CHECK(split_target(8333, 9, 1000, 8333) ==
        std::vector<uint32_t>{1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 333});
  auto part = split_target(5000, 9, 1000, 8333);
  CHECK(part.back() <= 333);
  std::uint32_t sum = 0;
  for (auto n : part) {
    CHECK(n <= 1000);
    sum += n;
  }
  CHECK(sum == 5000);
  CHECK(shards_needed(2500, 1000) == 3);
  CHECK(shards_needed(0, 1000) == 1);
}
