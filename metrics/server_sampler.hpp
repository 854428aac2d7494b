#pragma once

// The server under test, sampled beside the load once a second on a thread of its own: a local
// process's CPU and resident memory from /proc, and/or chosen series of the server's own
// Prometheus endpoint (plain http://). Samples go to server_metrics.csv as they come and to the
// report at the end. A process that exits or an endpoint that fails never stops the run: the
// first failure is printed once, and sampling goes on with what still answers.

#include "metrics/html_report.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace stompede::metrics {

struct server_sampler_config {
  /// Process to sample (0 = none).
  std::int64_t pid = 0;
  /// http://host:port/path of a Prometheus text endpoint ("" = none).
  std::string prometheus_url;
  /// Series to keep: metric names ("chat_sessions") or full series ("x{a=\"b\"}"); empty = every
  /// gauge, counter and untyped sample without labels, at most `max_auto_series`.
  std::vector<std::string> names;
  std::size_t max_auto_series = 12;
  std::chrono::milliseconds interval{1000};
  /// Long-format CSV (elapsed_s,series,value); "" = none.
  std::string csv_path;
};

/// CPU time (user + system, seconds) and resident memory (bytes) of a process; false when it
/// cannot be read (gone, or not ours to read).
bool read_process_usage(std::int64_t pid, double& cpu_seconds, double& rss_bytes);

/// One sample of a Prometheus text exposition.
struct prometheus_sample {
  /// Metric name and labels as written: `name` or `name{a="b"}`.
  std::string series;
  std::string name;
  bool has_labels = false;
  /// From `# TYPE`: "counter", "gauge", "histogram", ... or "untyped".
  std::string type;
  double value = 0.0;
};

/// Parses Prometheus text format 0.0.4 (comments, TYPE lines, samples with optional labels and
/// timestamps); lines that are not samples are skipped.
std::vector<prometheus_sample> parse_prometheus_text(std::string_view text);

class server_sampler {
public:
  /// Starts sampling at once (t = 0 is now); nullptr when there is nothing to sample.
  static std::unique_ptr<server_sampler> start(server_sampler_config cfg);
  ~server_sampler();
  server_sampler(const server_sampler&) = delete;
  server_sampler& operator=(const server_sampler&) = delete;

  /// Stops the thread (also done by the destructor).
  void stop();

  /// Every series sampled so far.
  std::vector<report_series> series() const;

private:
  explicit server_sampler(server_sampler_config cfg);
  void run();
  void sample(double t);
  void add(const std::string& name, const std::string& unit, double t, double v);

  server_sampler_config cfg_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  mutable std::mutex mutex_;
  std::vector<report_series> series_;
  std::FILE* csv_ = nullptr;
  // Previous readings for rates.
  double last_t_ = -1.0;
  double last_cpu_ = -1.0;
  bool pid_failed_ = false;
  bool scrape_failed_ = false;
  std::map<std::string, double> last_counter_;
  std::vector<std::string> auto_series_;
  bool auto_chosen_ = false;
};

} // namespace stompede::metrics
