#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace stompede::metrics {

/// A mergeable log-linear histogram of non-negative integer values (HdrHistogram-like).
///
/// Values 0..255 get one bucket each; above that every power of two is split into 128 equal
/// sub-buckets, so a bucket is never wider than 1/128 of its lowest value. Quantiles report a
/// bucket's midpoint (clamped to the exact min and max), hence a relative error of at most
/// 1/256 (< 0.4%), well inside the 1% bound.
///
/// Trackable range: 0 .. 2^36 - 1 (about 19 hours in microseconds). Larger values are counted
/// in `overflow()` and still enter count, sum, min and max; negative values (a clock-skew
/// symptom for cross-clock latencies) are counted in `negative()` and enter nothing else.
///
/// No locks: one owner per histogram (a shard, an IO thread), merged elsewhere. Recording never
/// allocates; the bucket array (30 KB) is allocated once at construction, so moving is cheap.
class histogram {
public:
  /// Values at or above this go to the overflow count.
  static constexpr std::int64_t trackable_limit = std::int64_t{1} << 36;
  /// Number of buckets (the size of the counts array).
  static constexpr std::size_t bucket_count = 256 + (36 - 8) * 128;

  /// Creates an empty histogram.
  histogram();
  /// Copies every count (30 KB).
  histogram(const histogram&) = default;
  histogram& operator=(const histogram&) = default;
  /// Takes the bucket array; `other` is left empty and still usable (it re-allocates its
  /// buckets on its next record or merge).
  histogram(histogram&& other) noexcept;
  histogram& operator=(histogram&& other) noexcept;

  /// Records one value.
  void record(std::int64_t value) noexcept {
    record_n(value, 1);
  }

  /// Records `n` occurrences of `value`.
  void record_n(std::int64_t value, std::uint64_t n) noexcept;

  /// Adds every value recorded in `other` (as if they had been recorded here).
  void merge(const histogram& other) noexcept;

  /// Forgets every value; keeps the bucket array.
  void reset() noexcept;

  /// Same as reset(): forgets every value.
  void clear() noexcept {
    reset();
  }

  /// Number of non-negative values recorded (in range plus overflow).
  std::uint64_t count() const noexcept {
    return count_;
  }

  /// Number of values at or above `trackable_limit` (also included in count()).
  std::uint64_t overflow() const noexcept {
    return overflow_;
  }

  /// Number of negative values recorded (not included in count(), sum, min, max).
  std::uint64_t negative() const noexcept {
    return negative_;
  }

  /// The most negative value recorded, 0 when none.
  std::int64_t min_negative() const noexcept {
    return min_negative_;
  }

  /// True when no non-negative value was recorded.
  bool empty() const noexcept {
    return count_ == 0;
  }

  /// Exact sum of the non-negative values.
  std::uint64_t sum() const noexcept {
    return sum_;
  }

  /// Exact smallest non-negative value, 0 when empty.
  std::int64_t min() const noexcept {
    return count_ == 0 ? 0 : min_;
  }

  /// Exact largest non-negative value, 0 when empty.
  std::int64_t max() const noexcept {
    return max_;
  }

  /// Exact arithmetic mean of the non-negative values, 0 when empty.
  double mean() const noexcept;

  /// The value at quantile `q` in [0, 1] (nearest rank), within the error bound; q <= 0 gives
  /// min(), q >= 1 gives max(); 0 when empty. A rank among overflow values gives max().
  std::int64_t quantile(double q) const noexcept;

  /// Count in bucket `index` (< bucket_count).
  std::uint64_t bucket_value(std::size_t index) const noexcept {
    return index < counts_.size() ? counts_[index] : 0;
  }

  /// Bucket index of a value in [0, trackable_limit).
  static std::size_t index_of(std::int64_t value) noexcept;

  /// Lowest value that falls into bucket `index`.
  static std::int64_t bucket_lowest(std::size_t index) noexcept;

  /// Highest value that falls into bucket `index`.
  static std::int64_t bucket_highest(std::size_t index) noexcept;

  /// Calls `f(lowest, highest, count)` for every non-empty bucket in increasing order.
  /// Overflow values are not in any bucket (see overflow()).
  template<class F>
  void for_each_bucket(F&& f) const {
    for (std::size_t i = 0; i <= max_index_ && i < counts_.size(); ++i)
      if (counts_[i] != 0)
        f(bucket_lowest(i), bucket_highest(i), counts_[i]);
  }

  /// Same content (counts, overflow, negatives, sum, min, max).
  friend bool operator==(const histogram& a, const histogram& b) noexcept;
  friend bool operator!=(const histogram& a, const histogram& b) noexcept {
    return !(a == b);
  }

  /// Field-wise inspection for serialization frameworks (e.g. CAF 0.17's `inspect`), written
  /// without naming one so this folder stays independent of it.
  template<class Inspector>
  friend auto inspect(Inspector& f, histogram& x) {
    return f(x.counts_, x.count_, x.overflow_, x.negative_, x.min_negative_, x.sum_, x.min_, x.max_,
             x.max_index_);
  }

private:
  /// Zeroes every scalar (not the buckets).
  void reset_scalars() noexcept;
  /// Allocates the buckets of a moved-from histogram.
  void ensure_buckets();

  std::vector<std::uint64_t> counts_;
  std::uint64_t count_ = 0;
  std::uint64_t overflow_ = 0;
  std::uint64_t negative_ = 0;
  std::int64_t min_negative_ = 0;
  std::uint64_t sum_ = 0;
  std::int64_t min_ = 0;
  std::int64_t max_ = 0;
  /// Highest bucket index ever used since the last reset; bounds iteration and merging.
  std::size_t max_index_ = 0;
};

} // namespace stompede::metrics
