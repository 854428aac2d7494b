#include "metrics/histogram.hpp"

#include <algorithm>
#include <cmath>

namespace stompede::metrics {

namespace {

// Layout: indices 0..255 hold the values 0..255 one by one. Above, the values [2^k, 2^(k+1))
// for k >= 8 take 128 buckets of width 2^(k-7): index = 256 + (k-8)*128 + (v >> (k-7)) - 128.
constexpr unsigned linear_bits = 8; // 256 unit-width buckets
constexpr std::size_t linear_count = 1u << linear_bits;
constexpr unsigned sub_bits = 7; // 128 sub-buckets per power of two
constexpr std::size_t sub_count = 1u << sub_bits;

} // namespace

histogram::histogram() : counts_(bucket_count, 0) {
  // nothing else: every scalar has its default
}

histogram::histogram(histogram&& other) noexcept
    : counts_(std::move(other.counts_)), count_(other.count_), overflow_(other.overflow_),
      negative_(other.negative_), min_negative_(other.min_negative_), sum_(other.sum_),
      min_(other.min_), max_(other.max_), max_index_(other.max_index_) {
  other.counts_.clear();
  other.reset_scalars();
}

histogram& histogram::operator=(histogram&& other) noexcept {
  if (this != &other) {
    counts_ = std::move(other.counts_);
    count_ = other.count_;
    overflow_ = other.overflow_;
    negative_ = other.negative_;
    min_negative_ = other.min_negative_;
    sum_ = other.sum_;
    min_ = other.min_;
    max_ = other.max_;
    max_index_ = other.max_index_;
    other.counts_.clear();
    other.reset_scalars();
  }
  return *this;
}

void histogram::reset_scalars() noexcept {
  count_ = 0;
  overflow_ = 0;
  negative_ = 0;
  min_negative_ = 0;
  sum_ = 0;
  min_ = 0;
  max_ = 0;
  max_index_ = 0;
}

void histogram::ensure_buckets() {
  // Only a moved-from histogram lacks buckets; this is its one allocation.
  if (counts_.size() != bucket_count)
    counts_.assign(bucket_count, 0);
}

std::size_t histogram::index_of(std::int64_t value) noexcept {
  auto v = static_cast<std::uint64_t>(value);
  if (v < linear_count)
    return static_cast<std::size_t>(v);
  auto msb = 63u - static_cast<unsigned>(__builtin_clzll(v));
  auto shift = msb - sub_bits;
  return linear_count + (msb - linear_bits) * sub_count + ((v >> shift) - sub_count);
}

std::int64_t histogram::bucket_lowest(std::size_t index) noexcept {
  if (index < linear_count)
    return static_cast<std::int64_t>(index);
  auto j = index - linear_count;
  auto shift = j / sub_count + 1;
  auto sub = j % sub_count + sub_count;
  return static_cast<std::int64_t>(static_cast<std::uint64_t>(sub) << shift);
}

std::int64_t histogram::bucket_highest(std::size_t index) noexcept {
  if (index < linear_count)
    return static_cast<std::int64_t>(index);
  auto shift = (index - linear_count) / sub_count + 1;
  return bucket_lowest(index) + (std::int64_t{1} << shift) - 1;
}

void histogram::record_n(std::int64_t value, std::uint64_t n) noexcept {
  if (n == 0)
    return;
  if (value < 0) {
    negative_ += n;
    min_negative_ = std::min(min_negative_, value);
    return;
  }
  if (count_ == 0 || value < min_)
    min_ = value;
  if (value > max_)
    max_ = value;
  count_ += n;
  sum_ += static_cast<std::uint64_t>(value) * n;
  if (value >= trackable_limit) {
    overflow_ += n;
    return;
  }
  auto i = index_of(value);
  if (__builtin_expect(counts_.size() != bucket_count, 0))
    ensure_buckets();
  counts_[i] += n;
  if (i > max_index_)
    max_index_ = i;
}

void histogram::merge(const histogram& other) noexcept {
  negative_ += other.negative_;
  min_negative_ = std::min(min_negative_, other.min_negative_);
  if (other.count_ == 0)
    return;
  if (count_ == 0 || other.min_ < min_)
    min_ = other.min_;
  max_ = std::max(max_, other.max_);
  count_ += other.count_;
  sum_ += other.sum_;
  overflow_ += other.overflow_;
  if (other.counts_.empty())
    return;
  ensure_buckets();
  // Only up to the other's highest used bucket: most histograms hold small values.
  auto n = std::min(other.max_index_ + 1, other.counts_.size());
  for (std::size_t i = 0; i < n; ++i)
    counts_[i] += other.counts_[i];
  max_index_ = std::max(max_index_, other.max_index_);
}

void histogram::reset() noexcept {
  auto n = std::min(max_index_ + 1, counts_.size());
  std::fill(counts_.begin(), counts_.begin() + static_cast<std::ptrdiff_t>(n), 0);
  reset_scalars();
}

double histogram::mean() const noexcept {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

std::int64_t histogram::quantile(double q) const noexcept {
  if (count_ == 0)
    return 0;
  if (!(q > 0.0))
    return min_;
  if (q >= 1.0)
    return max_;
  // Nearest rank: the smallest value with at least ceil(q * count) values at or below it.
  auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(count_)));
  rank = std::clamp<std::uint64_t>(rank, 1, count_);
  if (rank == 1)
    return min_;
  if (rank == count_)
    return max_;
  std::uint64_t seen = 0;
  auto n = std::min(max_index_ + 1, counts_.size());
  for (std::size_t i = 0; i < n; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      auto lo = bucket_lowest(i);
      auto hi = bucket_highest(i);
      auto mid = lo + (hi - lo) / 2;
      return std::clamp(mid, min_, max_);
    }
  }
  // The rank lies among the overflow values: all we know exactly is the maximum.
  return max_;
}

bool operator==(const histogram& a, const histogram& b) noexcept {
  if (a.count_ != b.count_ || a.overflow_ != b.overflow_ || a.negative_ != b.negative_ ||
      a.min_negative_ != b.min_negative_ || a.sum_ != b.sum_ || a.min() != b.min() ||
      a.max_ != b.max_)
    return false;
  // Compare bucket by bucket: a moved-from histogram has no array but equals an empty one.
  auto n = std::max(a.max_index_, b.max_index_) + 1;
  for (std::size_t i = 0; i < n && i < histogram::bucket_count; ++i)
    if (a.bucket_value(i) != b.bucket_value(i))
      return false;
  return true;
}

} // namespace stompede::metrics
