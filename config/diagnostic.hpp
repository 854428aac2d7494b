#pragma once

#include <cstdint>
#include <string>

namespace stompede::config {

/// One problem with a scenario: where it is, which key, and what was expected.
struct diagnostic {
  /// Scenario file, ".env" file, "--set" or "env"; empty when unknown.
  std::string file;
  /// 1-based; 0 when unknown.
  std::uint32_t line = 0;
  /// 1-based; 0 when unknown.
  std::uint32_t column = 0;
  /// Dotted key ("target.url", "stage[1].users"); empty for file-level problems.
  std::string key;
  std::string message;

  /// `file:line:column: key: message`, leaving out the parts that are unknown.
  std::string to_string() const;
};

} // namespace stompede::config
