#include "metrics/timeseries.hpp"

#include <cerrno>
#include <utility>

#include "metrics/csv_report.hpp"
#include "metrics/metrics_error.hpp"
#include "metrics/report_figures.hpp"

namespace stompede::metrics {

timeseries_row make_timeseries_row(const load_snapshot& interval) {
  const auto& c = interval.counters;
  const auto& rtt = interval.histograms.round_trip_intended_us;
  auto seconds = interval.interval_s > 0.0 ? interval.interval_s : 1.0;
  auto per_s = [seconds](std::uint64_t n) { return static_cast<double>(n) / seconds; };
  timeseries_row r;
  r.elapsed_s = interval.elapsed_s;
  r.stage = interval.gauges.stage_name;
  r.phase = interval.gauges.phase_name;
  r.target_users = interval.gauges.target_users;
  r.connected = interval.gauges.connected_users;
  r.sent_per_s = per_s(c.messages_sent);
  r.received_per_s = per_s(c.messages_received);
  r.rtt_p50_ms = us_to_ms(static_cast<double>(rtt.quantile(0.50)));
  r.rtt_p95_ms = us_to_ms(static_cast<double>(rtt.quantile(0.95)));
  r.rtt_p99_ms = us_to_ms(static_cast<double>(rtt.quantile(0.99)));
  r.errors_per_s = per_s(c.errors_total());
  r.reconnects_per_s = per_s(c.reconnect_attempts);
  r.lost = c.lost;
  const auto& fan = interval.histograms.fanout_us;
  r.fanout_p50_ms = us_to_ms(static_cast<double>(fan.quantile(0.50)));
  r.fanout_p95_ms = us_to_ms(static_cast<double>(fan.quantile(0.95)));
  r.fanout_p99_ms = us_to_ms(static_cast<double>(fan.quantile(0.99)));
  r.reconnecting = interval.gauges.active_reconnections;
  r.errors = c.errors;
  r.arrivals = c.arrivals;
  r.arrivals_dropped = c.arrivals_dropped;
  r.sessions_completed = c.sessions_completed;
  for (const auto& b : interval.behaviours) {
    behaviour_point p;
    p.label = b.label;
    p.users = b.connected;
    p.sent_per_s = per_s(b.messages_sent);
    p.received_per_s = per_s(b.messages_received);
    for (const auto& [name, n] : b.counters)
      if (n > 0)
        p.counters.emplace_back(name, n);
    for (const auto& [name, h] : b.latencies)
      if (!h.empty())
        p.p95_ms.emplace_back(name, us_to_ms(static_cast<double>(h.quantile(0.95))));
    r.behaviours.push_back(std::move(p));
  }
  return r;
}

std::string behaviour_token(std::string_view name) {
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(name.size());
  for (const char ch : name) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '%' || c == ';' || c == '=' || c <= ' ' || c == 0x7f) {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 0xf];
    } else {
      out += ch;
    }
  }
  return out;
}

std::string behaviours_text(const timeseries_row& r) {
  std::string out;
  char buf[64];
  for (const auto& b : r.behaviours) {
    if (!out.empty())
      out += "; ";
    out += behaviour_token(b.label);
    out += " users=" + std::to_string(b.users);
    std::snprintf(buf, sizeof buf, " sent/s=%.1f received/s=%.1f", b.sent_per_s, b.received_per_s);
    out += buf;
    for (const auto& [name, n] : b.counters)
      out += " " + behaviour_token(name) + "=" + std::to_string(n);
    for (const auto& [name, ms] : b.p95_ms) {
      std::snprintf(buf, sizeof buf, "_p95_ms=%.2f", ms);
      out += " " + behaviour_token(name) + buf;
    }
  }
  return out;
}

timeseries_writer::~timeseries_writer() {
  close();
}

timeseries_writer::timeseries_writer(timeseries_writer&& other) noexcept
    : file_(std::exchange(other.file_, nullptr)), rows_(std::move(other.rows_)) {}

timeseries_writer& timeseries_writer::operator=(timeseries_writer&& other) noexcept {
  if (this != &other) {
    close();
    file_ = std::exchange(other.file_, nullptr);
    rows_ = std::move(other.rows_);
  }
  return *this;
}

const char* timeseries_writer::header() noexcept {
  return "elapsed_s,stage,phase,target_users,connected,sent_per_s,received_per_s,"
         "rtt_p50_ms,rtt_p95_ms,rtt_p99_ms,errors_per_s,reconnects_per_s,lost,"
         "fanout_p50_ms,fanout_p95_ms,fanout_p99_ms,reconnecting,errors_by_type,events,"
         "arrivals,arrivals_dropped,sessions_completed,behaviours,faults";
}

std::error_code timeseries_writer::open(const std::string& path) {
  close();
  file_ = std::fopen(path.c_str(), "wb");
  if (file_ == nullptr)
    return metrics_errc::open_failed;
  if (std::fprintf(file_, "%s\n", header()) < 0 || std::fflush(file_) != 0)
    return metrics_errc::write_failed;
  return {};
}

std::string errors_by_type_text(const timeseries_row& r) {
  std::string out;
  for (std::size_t i = 0; i < r.errors.size(); ++i) {
    if (r.errors[i] == 0)
      continue;
    if (!out.empty())
      out += ' ';
    out += to_label(static_cast<error_type>(i));
    out += '=';
    out += std::to_string(r.errors[i]);
  }
  return out;
}

std::error_code timeseries_writer::write(const timeseries_row& r) {
  rows_.push_back(r);
  if (file_ == nullptr)
    return metrics_errc::open_failed;
  auto stage = csv_field(r.stage);
  auto phase = csv_field(r.phase);
  auto errors = csv_field(errors_by_type_text(r));
  auto events = csv_field(r.events);
  auto behaviours = csv_field(behaviours_text(r));
  auto faults = csv_field(r.faults);
  int n = std::fprintf(
      file_,
      "%.3f,%s,%s,%lld,%lld,%.2f,%.2f,%.3f,%.3f,%.3f,%.2f,%.2f,%llu,%.3f,%.3f,%.3f,%lld,%s,%s,%llu,"
      "%llu,%llu,%s,%s\n",
      r.elapsed_s, stage.c_str(), phase.c_str(), static_cast<long long>(r.target_users),
      static_cast<long long>(r.connected), r.sent_per_s, r.received_per_s, r.rtt_p50_ms,
      r.rtt_p95_ms, r.rtt_p99_ms, r.errors_per_s, r.reconnects_per_s,
      static_cast<unsigned long long>(r.lost), r.fanout_p50_ms, r.fanout_p95_ms, r.fanout_p99_ms,
      static_cast<long long>(r.reconnecting), errors.c_str(), events.c_str(),
      static_cast<unsigned long long>(r.arrivals),
      static_cast<unsigned long long>(r.arrivals_dropped),
      static_cast<unsigned long long>(r.sessions_completed), behaviours.c_str(), faults.c_str());
  // Flushed per row: a run killed half-way keeps every second it reported.
  if (n < 0 || std::fflush(file_) != 0)
    return metrics_errc::write_failed;
  return {};
}

std::error_code timeseries_writer::close() {
  if (file_ == nullptr)
    return {};
  auto rc = std::fclose(file_);
  file_ = nullptr;
  return rc == 0 ? std::error_code{} : make_error_code(metrics_errc::write_failed);
}

} // namespace stompede::metrics
