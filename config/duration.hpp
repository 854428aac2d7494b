#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace stompede::config {

/// Parses "500ms", "10s", "5m", "1h", "1m30s", "1.5s" into milliseconds.
/// A bare number, a negative value, an unknown unit, a part that is not a whole number of
/// milliseconds ("0.4ms", "1.0005s": the resolution is 1 ms) or a value that does not fit is an
/// error: nullopt with `why` saying what was expected.
std::optional<std::chrono::milliseconds> parse_duration(std::string_view text,
                                                        std::string* why = nullptr);

/// Formats a duration the way parse_duration reads it back ("1m30s", "500ms", "0s").
std::string format_duration(std::chrono::milliseconds d);

/// Parses "512KiB", "1MiB", "4KB", "100B", "2GiB" (KB/MB/GB are powers of 1000, KiB/MiB/GiB of
/// 1024) into bytes; nullopt with `why` on error.
std::optional<std::uint64_t> parse_size(std::string_view text, std::string* why = nullptr);

/// Formats a byte count exactly, in the largest binary unit that divides it ("1MiB", "1000B").
std::string format_size(std::uint64_t bytes);

} // namespace stompede::config
