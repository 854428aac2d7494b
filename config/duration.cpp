#include "config/duration.hpp"

#include <cctype>
#include <cmath>

namespace stompede::config {

namespace {

bool fail(std::string* why, std::string text) {
  if (why != nullptr)
    *why = std::move(text);
  return false;
}

bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

/// Reads "123" or "1.5" at `i`; false when there is no number there.
bool read_number(std::string_view s, std::size_t& i, double& out) {
  std::size_t start = i;
  while (i < s.size() && is_digit(s[i]))
    ++i;
  if (i < s.size() && s[i] == '.') {
    ++i;
    std::size_t frac = i;
    while (i < s.size() && is_digit(s[i]))
      ++i;
    if (frac == i)
      return false;
  }
  if (start == i)
    return false;
  out = std::stod(std::string{s.substr(start, i - start)});
  return true;
}

/// True when the number `digits` ("1", "0.25") times `factor` milliseconds is a whole number of
/// milliseconds, decided on the decimal digits (a double would make "1.001s" 1000.999...).
bool whole_milliseconds(std::string_view digits, std::int64_t factor) {
  auto dot = digits.find('.');
  if (dot == std::string_view::npos)
    return true;
  std::string_view fraction = digits.substr(dot + 1);
  while (!fraction.empty() && fraction.back() == '0')
    fraction.remove_suffix(1);
  // A fraction ending in a non-zero digit lacks a factor 2 or 5, which then has to come from
  // `factor` (at most 2^7 and 5^5 in an hour's 3,600,000 ms) once per digit.
  if (fraction.size() > 7)
    return false;
  std::int64_t f = 0, scale = 1;
  for (char c : fraction) {
    f = f * 10 + (c - '0');
    scale *= 10;
  }
  return f * factor % scale == 0;
}

// Past this, milliseconds lose exactness in a double and nobody meant it anyway (~31,000 years).
constexpr double max_ms = 1e15;

} // namespace

std::optional<std::chrono::milliseconds> parse_duration(std::string_view s, std::string* why) {
  const char* expected =
      "expected a duration such as \"500ms\", \"10s\", \"5m\", \"1h\" or \"1m30s\"";
  if (!s.empty() && s.front() == '-') {
    fail(why, "a duration must not be negative");
    return std::nullopt;
  }
  if (s.empty()) {
    fail(why, std::string{expected} + ", got an empty string");
    return std::nullopt;
  }
  double total = 0;
  std::size_t i = 0;
  while (i < s.size()) {
    double n = 0;
    const std::size_t number_start = i;
    if (!read_number(s, i, n)) {
      fail(why, expected);
      return std::nullopt;
    }
    std::size_t unit_start = i;
    while (i < s.size() && std::isalpha(static_cast<unsigned char>(s[i])))
      ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    std::int64_t factor = 0;
    if (unit == "ms")
      factor = 1;
    else if (unit == "s")
      factor = 1000;
    else if (unit == "m")
      factor = 60'000;
    else if (unit == "h")
      factor = 3'600'000;
    else if (unit.empty()) {
      fail(why, std::string{expected} + " (a unit is required)");
      return std::nullopt;
    } else {
      fail(why, std::string{expected} + " (unknown unit \"" + std::string{unit} + "\")");
      return std::nullopt;
    }
    // Durations are whole milliseconds: "0.4ms" would silently become 0 and "1.5ms" 2.
    if (!whole_milliseconds(s.substr(number_start, unit_start - number_start), factor)) {
      const auto part = s.substr(number_start, i - number_start);
      fail(why, (part.size() == s.size() ? std::string{} : "\"" + std::string{part} + "\" is ") +
                    "finer than the 1 ms resolution of durations (give whole milliseconds)");
      return std::nullopt;
    }
    total += n * static_cast<double>(factor);
  }
  if (total > max_ms) {
    fail(why, "duration too large");
    return std::nullopt;
  }
  return std::chrono::milliseconds{static_cast<std::int64_t>(std::llround(total))};
}

std::string format_duration(std::chrono::milliseconds d) {
  auto ms = d.count();
  if (ms == 0)
    return "0s";
  std::string out;
  if (ms < 0) {
    out += '-';
    ms = -ms;
  }
  const std::int64_t h = ms / 3'600'000;
  const std::int64_t m = ms / 60'000 % 60;
  const std::int64_t s = ms / 1000 % 60;
  const std::int64_t rest = ms % 1000;
  if (h != 0)
    out += std::to_string(h) + "h";
  if (m != 0)
    out += std::to_string(m) + "m";
  if (s != 0)
    out += std::to_string(s) + "s";
  if (rest != 0)
    out += std::to_string(rest) + "ms";
  return out;
}

std::optional<std::uint64_t> parse_size(std::string_view s, std::string* why) {
  const char* expected = "expected a size such as \"512KiB\", \"1MiB\", \"4KB\" or \"100B\"";
  if (!s.empty() && s.front() == '-') {
    fail(why, "a size must not be negative");
    return std::nullopt;
  }
  std::size_t i = 0;
  double n = 0;
  if (!read_number(s, i, n)) {
    fail(why, expected);
    return std::nullopt;
  }
  std::string_view unit = s.substr(i);
  double factor = 0;
  if (unit == "B")
    factor = 1;
  else if (unit == "KB")
    factor = 1e3;
  else if (unit == "MB")
    factor = 1e6;
  else if (unit == "GB")
    factor = 1e9;
  else if (unit == "KiB")
    factor = 1024.0;
  else if (unit == "MiB")
    factor = 1024.0 * 1024;
  else if (unit == "GiB")
    factor = 1024.0 * 1024 * 1024;
  else {
    fail(why,
         std::string{expected} + (unit.empty() ? " (a unit is required)"
                                               : " (unknown unit \"" + std::string{unit} + "\")"));
    return std::nullopt;
  }
  const double bytes = n * factor;
  if (bytes > 1e18) {
    fail(why, "size too large");
    return std::nullopt;
  }
  return static_cast<std::uint64_t>(std::llround(bytes));
}

std::string format_size(std::uint64_t bytes) {
  if (bytes != 0) {
    const char* units[] = {"GiB", "MiB", "KiB"};
    std::uint64_t factors[] = {1ull << 30, 1ull << 20, 1ull << 10};
    for (int i = 0; i < 3; ++i)
      if (bytes % factors[i] == 0)
        return std::to_string(bytes / factors[i]) + units[i];
  }
  return std::to_string(bytes) + "B";
}

} // namespace stompede::config
