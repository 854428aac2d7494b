#include "metrics/metrics_error.hpp"

#include <string>

namespace stompede::metrics {

namespace {

class metrics_category_impl : public std::error_category {
public:
  const char* name() const noexcept override {
    return "stompede.metrics";
  }

  std::string message(int value) const override {
    switch (static_cast<metrics_errc>(value)) {
    case metrics_errc::ok:
      return "ok";
    case metrics_errc::bind_failed:
      return "cannot listen on the metrics address";
    case metrics_errc::open_failed:
      return "cannot open report file for writing";
    case metrics_errc::write_failed:
      return "cannot write report file";
    }
    return "unknown metrics error";
  }
};

} // namespace

const std::error_category& metrics_category() noexcept {
  static const metrics_category_impl instance;
  return instance;
}

} // namespace stompede::metrics
