#include "metrics/histogram.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

using stompede::metrics::histogram;

namespace {

// Nearest-rank quantile of sorted samples, the definition histogram::quantile follows.
std::int64_t exact_quantile(const std::vector<std::int64_t>& sorted, double q) {
  if (q <= 0.0)
    return sorted.front();
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(sorted.size())));
  rank = std::clamp<std::size_t>(rank, 1, sorted.size());
  return sorted[rank - 1];
}

double relative_error(std::int64_t estimate, std::int64_t exact) {
  if (exact == 0)
    return estimate == 0 ? 0.0 : 1.0;
  return std::abs(static_cast<double>(estimate - exact)) / static_cast<double>(exact);
}

} // namespace

TEST_CASE("histogram: bucket layout is contiguous and covers the trackable range") {
  for (std::size_t i = 0; i + 1 < histogram::bucket_count; ++i) {
    REQUIRE(histogram::bucket_highest(i) + 1 == histogram::bucket_lowest(i + 1));
    REQUIRE(histogram::index_of(histogram::bucket_lowest(i)) == i);
    REQUIRE(histogram::index_of(histogram::bucket_highest(i)) == i);
  }
  CHECK(histogram::bucket_lowest(0) == 0);
  CHECK(histogram::bucket_highest(histogram::bucket_count - 1) == histogram::trackable_limit - 1);
  // One hour in microseconds is inside the range.
  CHECK(histogram::trackable_limit > std::int64_t{3'600'000'000});
  // Bucket width never exceeds 1/128 of its lowest value.
  for (std::size_t i = 256; i < histogram::bucket_count; ++i) {
    auto lo = histogram::bucket_lowest(i);
    auto width = histogram::bucket_highest(i) - lo + 1;
    REQUIRE(width * 128 <= lo);
  }
}

TEST_CASE("histogram: quantiles stay within 1% of exact sorted quantiles") {
  std::mt19937_64 rng{20240611};
  // Log-uniform over 1 us .. 1 hour, plus a cluster of small values.
  std::uniform_real_distribution<double> exponent{0.0, std::log(3.6e9)};
  std::uniform_int_distribution<std::int64_t> small{0, 300};
  std::vector<std::int64_t> values;
  histogram h;
  for (int i = 0; i < 200'000; ++i) {
    auto v = (i % 10 == 0) ? small(rng) : static_cast<std::int64_t>(std::exp(exponent(rng)));
    values.push_back(v);
    h.record(v);
  }
  std::sort(values.begin(), values.end());
  REQUIRE(h.count() == values.size());
  CHECK(h.min() == values.front());
  CHECK(h.max() == values.back());
  for (double q : {0.0, 0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.99, 0.999, 0.9999, 1.0}) {
    auto exact = exact_quantile(values, q);
    auto estimate = h.quantile(q);
    INFO("q=" << q << " exact=" << exact << " estimate=" << estimate);
    CHECK(relative_error(estimate, exact) <= 0.01);
  }
  double exact_sum = 0;
  for (auto v : values)
    exact_sum += static_cast<double>(v);
  CHECK(static_cast<double>(h.sum()) == Approx(exact_sum).epsilon(1e-12));
  CHECK(h.mean() == Approx(exact_sum / static_cast<double>(values.size())));
}

TEST_CASE("histogram: every single value is reported within 1%") {
  std::mt19937_64 rng{7};
  std::uniform_int_distribution<std::int64_t> any{0, histogram::trackable_limit - 1};
  for (int i = 0; i < 2'000; ++i) {
    histogram h;
    auto v = i < 1000 ? i : any(rng);
    // min and max are far away, so the middle rank is estimated from v's bucket alone.
    h.record(0);
    h.record(v);
    h.record(histogram::trackable_limit - 1);
    REQUIRE(relative_error(h.quantile(0.5), v) <= 0.01);
  }
}

TEST_CASE("histogram: merge equals recording everything in one") {
  std::mt19937_64 rng{42};
  std::lognormal_distribution<double> dist{8.0, 2.0};
  histogram all, a, b, c;
  for (int i = 0; i < 50'000; ++i) {
    auto v = static_cast<std::int64_t>(dist(rng));
    all.record(v);
    (i % 3 == 0 ? a : i % 3 == 1 ? b : c).record(v);
  }
  all.record(-5);
  b.record(-5);
  all.record(histogram::trackable_limit + 10);
  c.record(histogram::trackable_limit + 10);
  histogram merged;
  merged.merge(a);
  merged.merge(b);
  merged.merge(c);
  CHECK(merged == all);
  CHECK(merged.quantile(0.99) == all.quantile(0.99));
  CHECK(merged.count() == 50'001);
  CHECK(merged.negative() == 1);
  CHECK(merged.overflow() == 1);
  // Merging an empty histogram changes nothing.
  merged.merge(histogram{});
  CHECK(merged == all);
}

TEST_CASE("histogram: overflow is counted, never dropped") {
  histogram h;
  h.record(10);
  h.record_n(histogram::trackable_limit, 3);
  h.record(histogram::trackable_limit * 4);
  CHECK(h.count() == 5);
  CHECK(h.overflow() == 4);
  CHECK(h.max() == histogram::trackable_limit * 4);
  CHECK(h.min() == 10);
  // Ranks among the overflow values report the exact maximum.
  CHECK(h.quantile(0.9) == h.max());
  CHECK(h.quantile(0.1) == 10);
  std::uint64_t in_buckets = 0;
  h.for_each_bucket([&](std::int64_t, std::int64_t, std::uint64_t n) { in_buckets += n; });
  CHECK(in_buckets == 1);
}

TEST_CASE("histogram: negative values are counted apart and never clamped") {
  histogram h;
  h.record(-100);
  h.record_n(-3, 2);
  h.record(50);
  CHECK(h.negative() == 3);
  CHECK(h.min_negative() == -100);
  CHECK(h.count() == 1);
  CHECK(h.min() == 50);
  CHECK(h.max() == 50);
  CHECK(h.sum() == 50);
  CHECK(h.quantile(0.0) == 50);
}

TEST_CASE("histogram: min and max are exact, empty histogram is all zero") {
  histogram h;
  CHECK(h.empty());
  CHECK(h.quantile(0.5) == 0);
  CHECK(h.mean() == 0.0);
  h.record(123'456'789);
  h.record(1'000'003);
  h.record(999'999'999);
  CHECK(h.min() == 1'000'003);
  CHECK(h.max() == 999'999'999);
  CHECK(h.quantile(0.0) == 1'000'003);
  CHECK(h.quantile(1.0) == 999'999'999);
}

TEST_CASE("histogram: reset and clear forget everything, moved-from stays usable") {
  histogram h;
  h.record_n(5000, 10);
  h.record(-1);
  h.reset();
  CHECK(h == histogram{});
  h.record(7);
  h.clear();
  CHECK(h.empty());

  histogram src;
  src.record(900);
  histogram dst = std::move(src);
  CHECK(dst.count() == 1);
  CHECK(src == histogram{}); // NOLINT(bugprone-use-after-move): documented as usable
  src.record(42);
  CHECK(src.count() == 1);
  CHECK(src.quantile(0.5) == 42);
  histogram into;
  into.merge(dst);
  into.merge(src);
  CHECK(into.count() == 2);
}

TEST_CASE("histogram: record_n equals n records, iteration is ordered and complete") {
  histogram a, b;
  a.record_n(777, 5);
  a.record_n(3, 0);
  for (int i = 0; i < 5; ++i)
    b.record(777);
  CHECK(a == b);
  a.record(1);
  a.record(1 << 20);
  std::vector<std::int64_t> lows;
  std::uint64_t total = 0;
  a.for_each_bucket([&](std::int64_t lo, std::int64_t hi, std::uint64_t n) {
    CHECK(lo <= hi);
    lows.push_back(lo);
    total += n;
  });
  CHECK(std::is_sorted(lows.begin(), lows.end()));
  CHECK(lows.size() == 3);
  CHECK(total == a.count());
}
