#include "actors/backoff.hpp"

#include <catch2/catch.hpp>

#include <random>

using namespace stompede;
using std::chrono::milliseconds;

TEST_CASE("backoff base delay doubles up to the cap", "[backoff]") {
  backoff_policy p;
  p.initial = milliseconds{100};
  p.max = milliseconds{1000};
  CHECK(base_delay(p, 0) == milliseconds{100});
  CHECK(base_delay(p, 1) == milliseconds{200});
  CHECK(base_delay(p, 2) == milliseconds{400});
  CHECK(base_delay(p, 3) == milliseconds{800});
  CHECK(base_delay(p, 4) == milliseconds{1000});
  CHECK(base_delay(p, 30) == milliseconds{1000});
}

TEST_CASE("backoff jitter maps the random unit onto +-jitter", "[backoff]") {
  backoff_policy p;
  p.initial = milliseconds{1000};
  p.max = milliseconds{10000};
  p.jitter = 0.5;
  CHECK(delay(p, 0, 0.0) == milliseconds{500});
  CHECK(delay(p, 0, 0.5) == milliseconds{1000});
  CHECK(delay(p, 0, 1.0) == milliseconds{1500});
  CHECK(delay(p, 1, 0.25) == milliseconds{1500});
  // Out-of-range and NaN units are clamped rather than trusted.
  CHECK(delay(p, 0, -3.0) == milliseconds{500});
  CHECK(delay(p, 0, 7.0) == milliseconds{1500});
  CHECK(delay(p, 0, std::nan("")) == milliseconds{500});
  p.mode = jitter_mode::full;
  CHECK(delay(p, 0, 0.0) == milliseconds{0});
  CHECK(delay(p, 0, 0.5) == milliseconds{500});
  CHECK(delay(p, 5, 1.0) == milliseconds{10000});
}

TEST_CASE("backoff schedule is reproducible for a fixed generator", "[backoff]") {
  backoff_policy p;
  p.initial = milliseconds{100};
  p.max = milliseconds{5000};
  std::mt19937_64 a{42};
  std::mt19937_64 b{42};
  std::vector<milliseconds> first;
  std::vector<milliseconds> second;
  for (uint32_t n = 0; n < 10; ++n) {
    first.push_back(delay(p, n, a));
    second.push_back(delay(p, n, b));
  }
  CHECK(first == second);
  for (uint32_t n = 0; n < 10; ++n) {
    auto base = base_delay(p, n);
    CHECK(first[n] >= base / 2);
    CHECK(first[n] <= base + base / 2);
  }
  // A different seed gives a different schedule: the jitter is really drawn.
  std::mt19937_64 c{43};
  std::vector<milliseconds> third;
  for (uint32_t n = 0; n < 10; ++n)
    third.push_back(delay(p, n, c));
  CHECK(third != first);
}

TEST_CASE("backoff jitter stays within bounds over many draws", "[backoff]") {
  backoff_policy p;
  p.initial = milliseconds{50};
  p.max = milliseconds{2000};
  p.jitter = 0.5;
  std::mt19937_64 rng{7};
  auto lowest = milliseconds::max();
  auto highest = milliseconds::min();
  for (int i = 0; i < 20000; ++i) {
    auto n = static_cast<uint32_t>(i % 40);
    auto d = delay(p, n, rng);
    REQUIRE(d >= milliseconds{0});
    REQUIRE(d <= max_delay(p));
    REQUIRE(d <= milliseconds{3000});
    if (n >= 6) { // capped region: spread over [1000, 3000]
      lowest = std::min(lowest, d);
      highest = std::max(highest, d);
    }
  }
  // The draws use the whole window, not a point in it (no lockstep reconnects).
  CHECK(lowest < milliseconds{1100});
  CHECK(highest > milliseconds{2900});
  p.mode = jitter_mode::full;
  for (int i = 0; i < 5000; ++i) {
    auto d = delay(p, static_cast<uint32_t>(i % 40), rng);
    REQUIRE(d >= milliseconds{0});
    REQUIRE(d <= milliseconds{2000});
  }
}

TEST_CASE("backoff is overflow safe for huge attempts and values", "[backoff]") {
  backoff_policy p;
  p.initial = milliseconds{1000};
  p.max = milliseconds{60000};
  p.multiplier = 10.0;
  for (uint32_t n : {64u, 1000u, 100000u, 0xffffffffu}) {
    CHECK(base_delay(p, n) == milliseconds{60000});
    CHECK(delay(p, n, 1.0) == milliseconds{90000});
    CHECK(delay(p, n, 0.0) == milliseconds{30000});
  }
  p.max = milliseconds::max();
  p.jitter = 1.0;
  auto d = delay(p, 0xffffffffu, 1.0);
  CHECK(d > milliseconds{0});
  CHECK(d <= max_delay(p));
}

TEST_CASE("backoff validation names each problem", "[backoff]") {
  backoff_policy p;
  CHECK(validate(p).empty());
  p.initial = milliseconds{-1};
  p.max = milliseconds{-2};
  p.multiplier = 0.5;
  p.jitter = 1.5;
  CHECK(validate(p).size() == 4);
}
