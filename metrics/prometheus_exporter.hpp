#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <system_error>

#include "metrics/snapshot.hpp"

namespace stompede::metrics {

/// Settings of the Prometheus endpoint.
struct prometheus_exporter_config {
  /// `host:port` to listen on. Loopback by default: an exporter on all interfaces is an
  /// explicit choice. A bare port ("2112") is taken as 127.0.0.1:port; port 0 picks a free port.
  std::string listen = "127.0.0.1:2112";
  /// HTTP server threads (scrapes are rare; one is enough).
  std::size_t threads = 1;
};

/// Serves `stomp_load_test_*` metrics on `/metrics`.
///
/// Owns a prometheus-cpp registry and exposer. The registry is fed only from update(), called
/// about once a second by the metrics owner, so prometheus-cpp's per-observation lock is taken
/// once per bucket batch rather than once per sample. Not thread-safe: one caller of update().
class prometheus_exporter {
public:
  /// Starts listening; returns nullptr and sets `ec` (metrics_errc::bind_failed) when the
  /// address cannot be bound. Never throws.
  static std::unique_ptr<prometheus_exporter> start(const prometheus_exporter_config& config,
                                                    std::error_code& ec);

  ~prometheus_exporter();
  prometheus_exporter(const prometheus_exporter&) = delete;
  prometheus_exporter& operator=(const prometheus_exporter&) = delete;

  /// The port actually bound (useful with port 0), 0 if unknown.
  std::uint16_t port() const;

  /// Pushes one interval: counters are incremented by `delta`'s counters, histograms observe
  /// `delta`'s histograms in bucket batches, gauges take `total`'s levels (and averages from
  /// `total`'s histograms). Never throws.
  void update(const load_snapshot& total, const load_snapshot& delta) noexcept;

private:
  struct impl;
  explicit prometheus_exporter(std::unique_ptr<impl> p);
  std::unique_ptr<impl> impl_;
};

/// The `listen` address as given to the HTTP server: a bare port becomes 127.0.0.1:port.
std::string normalize_listen_address(const std::string& listen);

} // namespace stompede::metrics
