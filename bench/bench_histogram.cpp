// Cost of the metrics hot path: histogram::record (per sample, on the IO thread), merge (per
// shard delta, once a second) and quantile (per report). Prints ns per operation; asserts nothing
// about time. Each measurement runs for about 0.4 s.
#include "metrics/histogram.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <random>
#include <vector>

using stompede::metrics::histogram;
using clock_type = std::chrono::steady_clock;

namespace {

volatile std::int64_t sink = 0;

template<class F>
void measure(const char* name, std::size_t ops_per_call, F&& fn) {
  for (int i = 0; i < 100; ++i)
    fn(); // warm-up
  const auto budget = std::chrono::milliseconds{400};
  std::size_t calls = 0;
  const auto start = clock_type::now();
  auto now = start;
  while (now - start < budget) {
    for (int i = 0; i < 100; ++i)
      fn();
    calls += 100;
    now = clock_type::now();
  }
  const double ns = std::chrono::duration<double, std::nano>(now - start).count();
  std::printf("%-48s %10.2f ns/op  (%zu ops)\n", name,
              ns / static_cast<double>(calls * ops_per_call), calls * ops_per_call);
}

} // namespace

int main() {
  std::printf("histogram: %zu buckets, %zu bytes of counts\n", histogram::bucket_count,
              histogram::bucket_count * sizeof(std::uint64_t));
  // Latency-like values: log-normal around 2 ms, in microseconds, pre-generated so the
  // generator is not timed.
  std::mt19937_64 rng{1};
  std::lognormal_distribution<double> latency{7.6, 1.0};
  std::vector<std::int64_t> values(1 << 16);
  for (auto& v : values)
    v = static_cast<std::int64_t>(latency(rng));
  std::uniform_int_distribution<std::int64_t> wide{0, histogram::trackable_limit - 1};
  std::vector<std::int64_t> wide_values(1 << 16);
  for (auto& v : wide_values)
    v = wide(rng);

  histogram h;
  std::size_t at = 0;
  measure("record (latency-like, 2 ms median)", 1024, [&] {
    for (int i = 0; i < 1024; ++i)
      h.record(values[(at++) & (values.size() - 1)]);
  });
  histogram w;
  measure("record (uniform over the whole range)", 1024, [&] {
    for (int i = 0; i < 1024; ++i)
      w.record(wide_values[(at++) & (wide_values.size() - 1)]);
  });

  // A one-second shard delta at latency-like values, merged into a total.
  histogram delta;
  for (std::size_t i = 0; i < 10'000; ++i)
    delta.record(values[i]);
  histogram total;
  measure("merge (1 s delta, latency-like, 10k samples)", 1, [&] { total.merge(delta); });
  histogram full_delta;
  for (std::size_t i = 0; i < 10'000; ++i)
    full_delta.record(wide_values[i]);
  measure("merge (delta spanning the whole range)", 1, [&] { total.merge(full_delta); });
  measure("reset + record 100 (shard restart of a delta)", 1, [&] {
    delta.reset();
    for (int i = 0; i < 100; ++i)
      delta.record(values[static_cast<std::size_t>(i)]);
  });
  measure("quantile(0.99) of a latency-like total", 1, [&] { sink = h.quantile(0.99); });
  measure("copy (ship a delta by value)", 1, [&] {
    histogram copy = full_delta;
    sink = copy.max();
  });
  return 0;
}
