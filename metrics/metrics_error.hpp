#pragma once

#include <system_error>

namespace stompede::metrics {

/// Failures of the exporters and report writers.
enum class metrics_errc {
  ok = 0,
  /// The Prometheus listener could not bind its address (in use, bad address, no permission).
  bind_failed,
  /// A report file could not be opened for writing.
  open_failed,
  /// Writing or flushing a report file failed.
  write_failed,
};

/// The category of metrics_errc.
const std::error_category& metrics_category() noexcept;

/// Makes an error_code from a metrics_errc.
inline std::error_code make_error_code(metrics_errc e) noexcept {
  return {static_cast<int>(e), metrics_category()};
}

} // namespace stompede::metrics

namespace std {
template<>
struct is_error_code_enum<stompede::metrics::metrics_errc> : true_type {};
} // namespace std
