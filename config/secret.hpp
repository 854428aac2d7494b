#pragma once

#include <ostream>
#include <string>
#include <utility>

namespace stompede::config {

/// A value that must never be printed: tokens, passwords, passcodes, `Authorization` headers.
///
/// Every way of turning it into text gives `***` (or "" when it is empty, so that "not set" is
/// still visible); the plain value is only available through `reveal()`, which is meant for the
/// one place that puts it on the wire.
class secret {
public:
  secret() = default;
  /// Wraps `value`.
  explicit secret(std::string value) : value_(std::move(value)) {}

  /// The plain value; call it only where the value goes onto the wire.
  const std::string& reveal() const noexcept {
    return value_;
  }
  /// True when no value is held.
  bool empty() const noexcept {
    return value_.empty();
  }
  /// `***` when a value is held, "" otherwise.
  std::string redacted() const {
    return value_.empty() ? std::string{} : std::string{"***"};
  }

  friend bool operator==(const secret& a, const secret& b) noexcept {
    return a.value_ == b.value_;
  }
  friend bool operator!=(const secret& a, const secret& b) noexcept {
    return !(a == b);
  }

private:
  std::string value_;
};

/// Same as `s.redacted()`: a secret never turns into its value by accident.
inline std::string to_string(const secret& s) {
  return s.redacted();
}

/// Writes `***` (or nothing for an empty secret).
inline std::ostream& operator<<(std::ostream& os, const secret& s) {
  return os << s.redacted();
}

} // namespace stompede::config
