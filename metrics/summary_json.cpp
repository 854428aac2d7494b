#include "metrics/summary_json.hpp"

#include <cstdio>
#include <fstream>

#include <nlohmann/json.hpp>

#include "metrics/metrics_error.hpp"
#include "metrics/report_figures.hpp"

namespace stompede::metrics {

namespace {

using nlohmann::json;

// A histogram as the reports show it: count, exact min/max/mean, quantiles, out-of-range counts.
json histogram_json(const histogram& h, double scale) {
  auto v = [scale](double x) { return x * scale; };
  return json{
      {"count", h.count()},
      {"min", v(static_cast<double>(h.min()))},
      {"mean", v(h.mean())},
      {"p50", v(static_cast<double>(h.quantile(0.50)))},
      {"p90", v(static_cast<double>(h.quantile(0.90)))},
      {"p95", v(static_cast<double>(h.quantile(0.95)))},
      {"p99", v(static_cast<double>(h.quantile(0.99)))},
      {"p999", v(static_cast<double>(h.quantile(0.999)))},
      {"max", v(static_cast<double>(h.max()))},
      {"overflow", h.overflow()},
      {"negative", h.negative()},
  };
}

json counters_json(const load_counters& c) {
  json errors = json::object();
  for (std::size_t i = 0; i < error_type_count; ++i) {
    auto e = static_cast<error_type>(i);
    errors[std::string{to_label(e)}] = c.error_count(e);
  }
  return json{
      {"messages_sent", c.messages_sent},
      {"messages_received", c.messages_received},
      {"round_trips", c.own_received},
      {"lost", c.lost},
      {"late_sends", c.late_sends},
      {"connect_attempts", c.connect_attempts},
      {"connects_ok", c.connects_ok},
      {"stomp_connected", c.stomp_connected},
      {"subscribed", c.subscribed},
      {"reconnect_attempts", c.reconnect_attempts},
      {"reconnect_successes", c.reconnect_successes},
      {"give_ups", c.give_ups},
      {"disconnects_graceful", c.disconnects_graceful},
      {"connects_abandoned", c.connects_abandoned},
      {"unresolved", c.unresolved},
      {"arrivals", c.arrivals},
      {"arrivals_started", c.arrivals_started},
      {"arrivals_dropped", c.arrivals_dropped},
      {"sessions_completed", c.sessions_completed},
      {"bytes_in", c.bytes_in},
      {"bytes_out", c.bytes_out},
      {"errors_total", c.errors_total()},
      {"errors", errors},
  };
}

// Latencies in ms, durations as named.
json histograms_json(const load_histograms& h) {
  return json{
      {"round_trip_ms", histogram_json(h.round_trip_intended_us, 1e-3)},
      {"round_trip_uncorrected_ms", histogram_json(h.round_trip_actual_us, 1e-3)},
      {"fanout_ms", histogram_json(h.fanout_us, 1e-3)},
      {"send_lateness_ms", histogram_json(h.send_lateness_us, 1e-3)},
      {"websocket_connect_ms", histogram_json(h.ws_connect_us, 1e-3)},
      {"stomp_connect_ms", histogram_json(h.stomp_connect_us, 1e-3)},
      {"connection_duration_s", histogram_json(h.connection_duration_ms, 1e-3)},
      {"reconnect_time_ms", histogram_json(h.reconnect_time_ms, 1.0)},
  };
}

json figures_json(const report_figures& f) {
  return json{
      {"total_workers", f.total_users},
      {"test_duration_seconds", f.duration_s},
      {"websocket_connect_avg_ms", f.ws_connect_avg_ms},
      {"message_latency_avg_ms", f.latency_avg_ms},
      {"message_latency_p50_ms", f.latency_p50_ms},
      {"message_latency_p95_ms", f.latency_p95_ms},
      {"message_latency_p99_ms", f.latency_p99_ms},
      {"message_latency_max_ms", f.latency_max_ms},
      {"message_latency_uncorrected_p99_ms", f.latency_actual_p99_ms},
      {"success_rate_pct", f.success_rate_pct},
      {"connection_retries_total", f.connection_retries},
      {"messages_sent_total", f.messages_sent},
      {"messages_received_total", f.messages_received},
      {"round_trips_total", f.round_trips},
      {"errors_total", f.errors_total},
      {"fanout_latency_avg_ms", f.fanout_avg_ms},
      {"fanout_latency_p50_ms", f.fanout_p50_ms},
      {"fanout_latency_p95_ms", f.fanout_p95_ms},
      {"fanout_latency_p99_ms", f.fanout_p99_ms},
      {"fanout_negative_samples", f.fanout_negative},
      {"websocket_connect_p95_ms", f.ws_connect_p95_ms},
      {"stomp_connect_avg_ms", f.stomp_connect_avg_ms},
      {"stomp_connect_p95_ms", f.stomp_connect_p95_ms},
      {"lost_messages", f.lost},
      {"late_sends", f.late_sends},
      {"send_lateness_p99_ms", f.send_lateness_p99_ms},
      {"reconnect_successes", f.reconnect_successes},
      {"reconnect_give_ups", f.give_ups},
      {"reconnect_time_avg_ms", f.reconnect_time_avg_ms},
      {"connection_duration_avg_s", f.connection_duration_avg_s},
      {"messages_sent_per_s", f.sent_per_s},
      {"messages_received_per_s", f.received_per_s},
  };
}

// Per behaviour: standard counts, its own counters and latencies (ms).
json behaviours_json(const std::vector<behaviour_figures>& list) {
  json out = json::array();
  for (const auto& b : list) {
    json counters = json::object();
    for (const auto& [name, n] : b.counters)
      counters[name] = n;
    json latencies = json::object();
    for (const auto& [name, h] : b.latencies)
      latencies[name + "_ms"] = histogram_json(h, 1e-3);
    out.push_back(json{
        {"label", b.label},
        {"sessions", b.sessions},
        {"messages_sent", b.messages_sent},
        {"messages_received", b.messages_received},
        {"connected_at_end", b.connected},
        {"counters", counters},
        {"latencies", latencies},
    });
  }
  return out;
}

/// Message accounting: a stable object (docs/accounting.md).
json accounting_json(const accounting_counts& a, std::uint64_t pending) {
  return json{
      {"sent", a.sent},
      {"delivered_all", a.delivered_all},
      {"delivered_some", a.delivered_some},
      {"lost", a.lost},
      {"duplicated", a.duplicated},
      {"out_of_order", a.out_of_order},
      {"missed_reconnecting", a.missed_reconnecting},
      {"in_flight", a.in_flight},
      {"pending", pending},
      {"balanced", a.classified() + pending == a.sent},
      {"server_seq_gaps", a.server_seq_gaps},
      {"server_seq_checked", a.server_seq_checked},
      {"server_seq_regressions", a.server_seq_regressions},
      {"pairs",
       json{
           {"expected", a.pairs_expected},
           {"delivered", a.pairs_delivered},
           {"lost", a.pairs_lost},
           {"missed_reconnecting", a.pairs_missed_reconnecting},
           {"left", a.pairs_left},
           {"in_flight", a.pairs_in_flight},
           {"unexpected", a.pairs_unexpected},
       }},
      {"deliveries",
       json{
           {"duplicate", a.duplicate_deliveries},
           {"out_of_order", a.out_of_order_deliveries},
           {"late", a.late_deliveries},
           {"unknown", a.unknown_deliveries},
       }},
  };
}

} // namespace

std::string summary_json_text(const load_snapshot& total, const run_info& run,
                              const std::vector<stage_report>& stages,
                              const std::vector<threshold_result>& thresholds) {
  json doc;
  doc["run"] = json{
      {"scenario", run.scenario},         {"total_users", run.total_users},
      {"duration_s", run.duration_s},     {"latency_mode", run.latency_mode},
      {"tls_verify", run.tls_verify},     {"tls_failure", run.tls_failure},
      {"server_error", run.server_error}, {"upgrade_refusal", run.upgrade_refusal},
      {"workers", run.workers},           {"lost_workers", run.lost_workers},
      {"ended", run.ended},
  };
  json warnings = json::array();
  if (!run.tls_verify)
    warnings.push_back(tls_verify_off_warning);
  doc["warnings"] = std::move(warnings);
  doc["figures"] = figures_json(compute_figures(total, run));
  doc["counters"] = counters_json(total.counters);
  doc["histograms"] = histograms_json(total.histograms);
  doc["accounting"] = accounting_json(total.accounting, total.accounting_pending);
  json stage_list = json::array();
  for (const auto& s : stages) {
    run_info stage_run = run;
    stage_run.duration_s = s.end_s - s.start_s;
    // The stage's own population, not the run's peak.
    stage_run.total_users = static_cast<std::uint64_t>(std::max<std::int64_t>(0, s.target_users));
    stage_list.push_back(json{
        {"index", s.index},
        {"name", s.name},
        {"start_s", s.start_s},
        {"end_s", s.end_s},
        {"target_users", s.target_users},
        {"figures", figures_json(compute_figures(s.snapshot, stage_run))},
        {"counters", counters_json(s.snapshot.counters)},
        {"histograms", histograms_json(s.snapshot.histograms)},
        {"behaviours", behaviours_json(s.snapshot.behaviours)},
    });
  }
  doc["stages"] = std::move(stage_list);
  doc["behaviours"] = behaviours_json(total.behaviours);
  json checks = json::array();
  for (const auto& r : thresholds)
    checks.push_back(json{
        {"expression", r.check.text},
        {"value", r.has_value ? json(r.value) : json(nullptr)},
        {"limit", r.check.limit},
        {"display", format_threshold_value(r)},
        {"pass", r.pass},
    });
  doc["thresholds"] = std::move(checks);
  doc["thresholds_passed"] = all_passed(thresholds);
  // Invalid UTF-8 in a scenario or stage name is replaced rather than thrown.
  return doc.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

std::error_code write_summary_json(const std::string& path, const load_snapshot& total,
                                   const run_info& run, const std::vector<stage_report>& stages,
                                   const std::vector<threshold_result>& thresholds) {
  std::string text;
  try {
    text = summary_json_text(total, run, stages, thresholds);
  } catch (const std::exception&) {
    return metrics_errc::write_failed;
  }
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out)
    return metrics_errc::open_failed;
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  out.flush();
  if (!out)
    return metrics_errc::write_failed;
  return {};
}

std::vector<summary_row> summary_rows(const load_snapshot& total, const run_info& run) {
  auto f = compute_figures(total, run);
  std::vector<summary_row> rows;
  auto line = [&rows](const std::string& label, const std::string& value) {
    rows.push_back(summary_row{label, value, false});
  };
  auto ms = [](double v) { return fixed(v, 2) + " ms"; };
  // A run that did not complete says so first: its figures cover only part of the plan.
  if (!run.ended.empty() && run.ended != "completed")
    line("ended", run.ended);
  line("users (peak target)", std::to_string(f.total_users));
  line("duration", fixed(f.duration_s, 1) + " s");
  line("latency mode", run.latency_mode);
  line("messages sent / received",
       std::to_string(f.messages_sent) + " / " + std::to_string(f.messages_received));
  line("rate sent / received",
       fixed(f.sent_per_s, 1) + " / " + fixed(f.received_per_s, 1) + " msg/s");
  line("round trips ok / lost", std::to_string(f.round_trips) + " / " + std::to_string(f.lost) +
                                    "  (" + fixed(f.success_rate_pct, 2) + "% ok)");
  line("round trip avg / p50", ms(f.latency_avg_ms) + " / " + ms(f.latency_p50_ms));
  line("round trip p95 / p99 / max",
       ms(f.latency_p95_ms) + " / " + ms(f.latency_p99_ms) + " / " + ms(f.latency_max_ms));
  line("round trip p99 uncorrected", ms(f.latency_actual_p99_ms));
  line("fan-out p50 / p95 / p99",
       ms(f.fanout_p50_ms) + " / " + ms(f.fanout_p95_ms) + " / " + ms(f.fanout_p99_ms));
  if (f.fanout_negative > 0)
    line("fan-out negative (clock skew)", std::to_string(f.fanout_negative));
  line("late sends / lateness p99",
       std::to_string(f.late_sends) + " / " + ms(f.send_lateness_p99_ms));
  line("websocket connect avg / p95", ms(f.ws_connect_avg_ms) + " / " + ms(f.ws_connect_p95_ms));
  line("stomp connect avg / p95", ms(f.stomp_connect_avg_ms) + " / " + ms(f.stomp_connect_p95_ms));
  if (run.reconnect)
    line("reconnects tried / ok / given up", std::to_string(f.connection_retries) + " / " +
                                                 std::to_string(f.reconnect_successes) + " / " +
                                                 std::to_string(f.give_ups));
  else
    line("reconnect", "off: " + std::to_string(f.give_ups) + " failed session(s) not restarted");
  if (const auto& c = total.counters; c.arrivals > 0) {
    line("arrivals scheduled / started / dropped", std::to_string(c.arrivals) + " / " +
                                                       std::to_string(c.arrivals_started) + " / " +
                                                       std::to_string(c.arrivals_dropped));
    line("sessions completed", std::to_string(c.sessions_completed));
  }
  if (const auto abandoned = total.counters.connects_abandoned; abandoned > 0)
    line("connects abandoned at stop", std::to_string(abandoned));
  line("errors", std::to_string(f.errors_total));
  for (std::size_t i = 0; i < error_type_count; ++i) {
    auto e = static_cast<error_type>(i);
    if (auto n = total.counters.error_count(e); n > 0)
      rows.push_back(summary_row{"  " + std::string{to_label(e)}, std::to_string(n), true});
  }
  if (!run.tls_failure.empty())
    line("last TLS failure", run.tls_failure);
  if (!run.server_error.empty())
    line("last server ERROR", run.server_error);
  if (!run.upgrade_refusal.empty())
    line("last refused upgrade", run.upgrade_refusal);
  for (const auto& b : total.behaviours)
    line("behaviour " + b.label, std::to_string(b.connected) + " users at end, " +
                                     std::to_string(b.sessions) + " sessions, sent " +
                                     std::to_string(b.messages_sent) + ", received " +
                                     std::to_string(b.messages_received));
  if (run.workers > 0)
    line("workers (lost)",
         std::to_string(run.workers) + " (" + std::to_string(run.lost_workers.size()) + ")");
  for (const auto& w : run.lost_workers)
    line("  lost", w);
  const auto& a = total.accounting;
  auto n = [](std::uint64_t v) { return std::to_string(v); };
  line("messages accounted (sent)",
       n(a.sent) + (total.accounting_pending > 0
                        ? "  (" + n(total.accounting_pending) + " not classified yet)"
                        : ""));
  line("  delivered to all / to some", n(a.delivered_all) + " / " + n(a.delivered_some));
  line("  lost / duplicated / out of order",
       n(a.lost) + " / " + n(a.duplicated) + " / " + n(a.out_of_order));
  line("  missed reconnecting / in flight", n(a.missed_reconnecting) + " / " + n(a.in_flight));
  line("server seq gaps (checked)", n(a.server_seq_gaps) + "  (" + n(a.server_seq_checked) + ")");
  return rows;
}

std::string format_summary_table(const load_snapshot& total, const run_info& run,
                                 const std::vector<stage_report>& stages) {
  std::string out;
  auto line = [&out](const std::string& label, const std::string& value) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-34s %s\n", label.c_str(), value.c_str());
    out += buf;
  };
  out += "stompede run summary";
  if (!run.scenario.empty())
    out += " (" + run.scenario + ")";
  out += "\n";
  if (!run.tls_verify)
    out += std::string("  WARNING: ") + tls_verify_off_warning + "\n";
  for (const auto& r : summary_rows(total, run))
    line(r.label, r.value);
  if (!stages.empty()) {
    out += "stages\n";
    char buf[200];
    std::snprintf(buf, sizeof buf, "  %-3s %-16s %9s %8s %10s %10s %10s %8s\n", "#", "name",
                  "seconds", "users", "sent/s", "rtt p50", "rtt p99", "lost");
    out += buf;
    for (const auto& s : stages) {
      run_info sr = run;
      sr.duration_s = s.end_s - s.start_s;
      auto sf = compute_figures(s.snapshot, sr);
      std::snprintf(buf, sizeof buf, "  %-3d %-16.16s %9.1f %8lld %10.1f %10.2f %10.2f %8llu\n",
                    s.index, s.name.c_str(), sr.duration_s, static_cast<long long>(s.target_users),
                    sf.sent_per_s, sf.latency_p50_ms, sf.latency_p99_ms,
                    static_cast<unsigned long long>(sf.lost));
      out += buf;
    }
  }
  return out;
}

} // namespace stompede::metrics
