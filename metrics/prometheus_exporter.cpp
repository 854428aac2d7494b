#include "metrics/prometheus_exporter.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <map>
#include <utility>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "metrics/metrics_error.hpp"

namespace stompede::metrics {

namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;
using prometheus::Counter;
using prometheus::Gauge;
using prometheus::Histogram;
using prometheus::Registry;

// Bucket bounds (Prometheus `le`, in the metric's unit).
const Histogram::BucketBoundaries latency_ms_buckets = {
    0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};
const Histogram::BucketBoundaries connect_ms_buckets = {1,   2.5, 5,    10,   25,   50,    100,
                                                        250, 500, 1000, 2500, 5000, 10000, 30000};
const Histogram::BucketBoundaries duration_s_buckets = {1,   5,   10,   30,   60,   120,
                                                        300, 600, 1800, 3600, 7200, 14400};
const Histogram::BucketBoundaries reconnect_ms_buckets = {
    10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000};

// One of our histograms exported as one Prometheus histogram.
struct histogram_binding {
  const char* name;
  const char* help;
  histogram load_histograms::*source;
  /// Multiplier from our unit to the exported unit.
  double scale;
  const Histogram::BucketBoundaries* bounds;
  Histogram* metric = nullptr;
  Counter* negative = nullptr;
};

struct counter_binding {
  const char* name;
  const char* help;
  std::uint64_t load_counters::*source;
  Counter* metric = nullptr;
};

} // namespace

struct prometheus_exporter::impl {
  std::shared_ptr<Registry> registry = std::make_shared<Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;

  std::vector<counter_binding> counters = {
      {"stomp_load_test_messages_sent_total", "Chat messages sent (SEND frames)",
       &load_counters::messages_sent},
      {"stomp_load_test_messages_received_total", "MESSAGE frames received (own and others')",
       &load_counters::messages_received},
      {"stomp_load_test_connection_retries_total", "Reconnect attempts after a failure",
       &load_counters::reconnect_attempts},
      {"stomp_load_test_messages_lost_total",
       "Own messages not seen back within the round-trip timeout", &load_counters::lost},
      {"stomp_load_test_round_trips_total", "Own messages seen back (completed round trips)",
       &load_counters::own_received},
      {"stomp_load_test_late_sends_total", "Sends issued later than their intended time",
       &load_counters::late_sends},
      {"stomp_load_test_connect_attempts_total", "TCP connects started",
       &load_counters::connect_attempts},
      {"stomp_load_test_connections_established_total",
       "WebSocket sessions established (TCP, TLS, upgrade)", &load_counters::connects_ok},
      {"stomp_load_test_stomp_connected_total", "STOMP CONNECTED frames received",
       &load_counters::stomp_connected},
      {"stomp_load_test_subscriptions_total", "Subscriptions made", &load_counters::subscribed},
      {"stomp_load_test_reconnect_successes_total", "Reconnects that subscribed again",
       &load_counters::reconnect_successes},
      {"stomp_load_test_reconnect_give_ups_total", "Users given up after max attempts",
       &load_counters::give_ups},
      {"stomp_load_test_disconnects_graceful_total", "Sessions ended by a STOMP DISCONNECT",
       &load_counters::disconnects_graceful},
      {"stomp_load_test_connects_abandoned_total",
       "Connection attempts still under way when their user was stopped",
       &load_counters::connects_abandoned},
      {"stomp_load_test_messages_unresolved_total",
       "Own messages whose session ended before their round trip completed or timed out",
       &load_counters::unresolved},
      {"stomp_load_test_arrivals_total", "Open model: arrivals the plan made due",
       &load_counters::arrivals},
      {"stomp_load_test_arrivals_started_total", "Open model: arrivals that started a session",
       &load_counters::arrivals_started},
      {"stomp_load_test_arrivals_dropped_total",
       "Open model: arrivals dropped because the stage's cap of concurrent sessions was reached",
       &load_counters::arrivals_dropped},
      {"stomp_load_test_sessions_completed_total",
       "Open model: sessions that lived their length (or ended themselves)",
       &load_counters::sessions_completed},
      {"stomp_load_test_received_bytes_total", "WebSocket payload bytes received",
       &load_counters::bytes_in},
      {"stomp_load_test_sent_bytes_total", "WebSocket payload bytes sent",
       &load_counters::bytes_out},
  };

  std::vector<histogram_binding> histograms = {
      {"stomp_load_test_message_latency_ms",
       "Round trip of own messages from the intended send time (corrected), ms",
       &load_histograms::round_trip_intended_us, 1e-3, &latency_ms_buckets},
      {"stomp_load_test_message_latency_uncorrected_ms",
       "Round trip of own messages from the actual send time, ms",
       &load_histograms::round_trip_actual_us, 1e-3, &latency_ms_buckets},
      {"stomp_load_test_fanout_latency_ms",
       "Delivery latency of others' messages from their embedded send time, ms",
       &load_histograms::fanout_us, 1e-3, &latency_ms_buckets},
      {"stomp_load_test_send_lateness_ms", "How late sends went out after their intended time, ms",
       &load_histograms::send_lateness_us, 1e-3, &latency_ms_buckets},
      {"stomp_load_test_websocket_connect_ms", "TCP connect + TLS + WebSocket upgrade time, ms",
       &load_histograms::ws_connect_us, 1e-3, &connect_ms_buckets},
      {"stomp_load_test_stomp_connect_ms", "STOMP CONNECT to CONNECTED time, ms",
       &load_histograms::stomp_connect_us, 1e-3, &connect_ms_buckets},
      {"stomp_load_test_websocket_duration_seconds", "How long sessions stayed connected, s",
       &load_histograms::connection_duration_ms, 1e-3, &duration_s_buckets},
      {"stomp_load_test_reconnection_time_ms", "From a session failure to subscribed again, ms",
       &load_histograms::reconnect_time_ms, 1.0, &reconnect_ms_buckets},
  };

  std::array<Counter*, error_type_count> errors{};
  // Message accounting: one series per outcome, all present from the start.
  std::vector<std::pair<Counter*, std::uint64_t accounting_counts::*>> accounting;
  Gauge* accounting_pending = nullptr;
  Gauge* active_connections = nullptr;
  Gauge* active_reconnections = nullptr;
  Gauge* avg_connection_duration = nullptr;
  Gauge* target_users = nullptr;
  Gauge* connected_users = nullptr;
  Gauge* actors = nullptr;
  prometheus::Family<Gauge>* stage_family = nullptr;
  prometheus::Family<Gauge>* phase_family = nullptr;
  Gauge* stage = nullptr;
  std::string stage_name;
  Gauge* phase = nullptr;
  std::string phase_name;

  // Per behaviour (label `behaviour`): series are added as labels and names first appear.
  struct behaviour_series {
    std::string label;
    Gauge* users = nullptr;
    Counter* sessions = nullptr;
    Counter* sent = nullptr;
    Counter* received = nullptr;
    std::vector<std::pair<std::string, Counter*>> events;
    std::vector<std::pair<std::string, Histogram*>> latencies;
  };
  prometheus::Family<Gauge>* behaviour_users = nullptr;
  prometheus::Family<Counter>* behaviour_sessions = nullptr;
  prometheus::Family<Counter>* behaviour_sent = nullptr;
  prometheus::Family<Counter>* behaviour_received = nullptr;
  prometheus::Family<Counter>* behaviour_events = nullptr;
  prometheus::Family<Histogram>* behaviour_latency = nullptr;
  std::vector<behaviour_series> behaviours;

  impl() {
    auto& r = *registry;
    for (auto& c : counters)
      c.metric = &BuildCounter().Name(c.name).Help(c.help).Register(r).Add({});
    auto& error_family =
        BuildCounter().Name("stomp_load_test_errors_total").Help("Errors by type").Register(r);
    // Every type exists from the start, so rate() works on the first error too.
    for (std::size_t i = 0; i < error_type_count; ++i)
      errors[i] = &error_family.Add({{"type", std::string{to_label(static_cast<error_type>(i))}}});
    auto& negative_family = BuildCounter()
                                .Name("stomp_load_test_negative_latency_samples_total")
                                .Help("Latency samples below zero (clock skew), by histogram")
                                .Register(r);
    for (auto& h : histograms) {
      h.metric = &BuildHistogram().Name(h.name).Help(h.help).Register(r).Add({}, *h.bounds);
      h.negative = &negative_family.Add({{"histogram", h.name}});
    }
    auto gauge = [&r](const char* name, const char* help) {
      return &BuildGauge().Name(name).Help(help).Register(r).Add({});
    };
    using ac = accounting_counts;
    auto& messages = BuildCounter()
                         .Name("stomp_load_test_accounted_messages_total")
                         .Help("Keyed messages classified, by outcome (they add up to those sent)")
                         .Register(r);
    for (auto [label, field] : std::initializer_list<std::pair<const char*, std::uint64_t ac::*>>{
             {"delivered_all", &ac::delivered_all},
             {"delivered_some", &ac::delivered_some},
             {"lost", &ac::lost},
             {"duplicated", &ac::duplicated},
             {"out_of_order", &ac::out_of_order},
             {"missed_reconnecting", &ac::missed_reconnecting},
             {"in_flight", &ac::in_flight}})
      accounting.emplace_back(&messages.Add({{"outcome", label}}), field);
    auto& pairs = BuildCounter()
                      .Name("stomp_load_test_accounted_pairs_total")
                      .Help("(message, room member) pairs of classified messages, by outcome")
                      .Register(r);
    for (auto [label, field] : std::initializer_list<std::pair<const char*, std::uint64_t ac::*>>{
             {"expected", &ac::pairs_expected},
             {"delivered", &ac::pairs_delivered},
             {"lost", &ac::pairs_lost},
             {"missed_reconnecting", &ac::pairs_missed_reconnecting},
             {"left", &ac::pairs_left},
             {"in_flight", &ac::pairs_in_flight},
             {"unexpected", &ac::pairs_unexpected}})
      accounting.emplace_back(&pairs.Add({{"outcome", label}}), field);
    auto& deliveries = BuildCounter()
                           .Name("stomp_load_test_accounted_deliveries_total")
                           .Help("Receipts of keyed messages that were not a first delivery")
                           .Register(r);
    for (auto [label, field] : std::initializer_list<std::pair<const char*, std::uint64_t ac::*>>{
             {"duplicate", &ac::duplicate_deliveries},
             {"out_of_order", &ac::out_of_order_deliveries},
             {"late", &ac::late_deliveries},
             {"unknown", &ac::unknown_deliveries}})
      accounting.emplace_back(&deliveries.Add({{"kind", label}}), field);
    accounting.emplace_back(&BuildCounter()
                                 .Name("stomp_load_test_server_seq_gaps_total")
                                 .Help("Server per-room seq numbers skipped while subscribed")
                                 .Register(r)
                                 .Add({}),
                            &ac::server_seq_gaps);
    accounting.emplace_back(&BuildCounter()
                                 .Name("stomp_load_test_server_seq_checked_total")
                                 .Help("Room MESSAGEs that carried the server's per-room seq")
                                 .Register(r)
                                 .Add({}),
                            &ac::server_seq_checked);
    accounting_pending = gauge("stomp_load_test_accounting_pending_messages",
                               "Keyed messages sent and not classified yet");
    active_connections = gauge("stomp_load_test_active_connections", "Open sessions");
    active_reconnections =
        gauge("stomp_load_test_active_reconnections", "Users waiting for or running a reconnect");
    avg_connection_duration = gauge("stomp_load_test_avg_connection_duration_seconds",
                                    "Mean duration of ended sessions, s");
    target_users = gauge("stomp_load_test_target_users", "Users the scenario wants running now");
    actors = gauge("stompede_actors_running", "CAF actors running in the engine");
    connected_users = gauge("stomp_load_test_connected_users", "Users subscribed now");
    stage_family = &BuildGauge()
                        .Name("stomp_load_test_stage")
                        .Help("Current stage: value is its 0-based index, label its name")
                        .Register(r);
    phase_family = &BuildGauge()
                        .Name("stomp_load_test_phase")
                        .Help("Current phase of the run (value 1, label its name)")
                        .Register(r);
    // Before the first interval (logins, room creation) the run is idle.
    relabel(*phase_family, phase, phase_name, "idle");
    phase->Set(1.0);
    behaviour_users = &BuildGauge()
                           .Name("stomp_load_test_behaviour_users")
                           .Help("Users subscribed now, by behaviour")
                           .Register(r);
    behaviour_sessions = &BuildCounter()
                              .Name("stomp_load_test_behaviour_sessions_total")
                              .Help("Sessions that connected and subscribed, by behaviour")
                              .Register(r);
    behaviour_sent = &BuildCounter()
                          .Name("stomp_load_test_behaviour_messages_sent_total")
                          .Help("Frames sent by the behaviour (chat messages and SENDs)")
                          .Register(r);
    behaviour_received = &BuildCounter()
                              .Name("stomp_load_test_behaviour_messages_received_total")
                              .Help("MESSAGE frames received by the behaviour's sessions")
                              .Register(r);
    behaviour_events = &BuildCounter()
                            .Name("stomp_load_test_behaviour_events_total")
                            .Help("The behaviour's own counters, by behaviour and name")
                            .Register(r);
    behaviour_latency = &BuildHistogram()
                             .Name("stomp_load_test_behaviour_latency_ms")
                             .Help("The behaviour's own latency samples, by behaviour and name, ms")
                             .Register(r);
  }

  behaviour_series& series_of(const behaviour_figures& f, std::size_t i) {
    while (behaviours.size() <= i) {
      behaviour_series b;
      b.label = f.label;
      std::map<std::string, std::string> l{{"behaviour", f.label}};
      b.users = &behaviour_users->Add(l);
      b.sessions = &behaviour_sessions->Add(l);
      b.sent = &behaviour_sent->Add(l);
      b.received = &behaviour_received->Add(l);
      behaviours.push_back(std::move(b));
    }
    return behaviours[i];
  }

  void update_behaviours(const load_snapshot& total, const load_snapshot& delta) {
    for (std::size_t i = 0; i < delta.behaviours.size(); ++i) {
      const auto& f = delta.behaviours[i];
      auto& b = series_of(f, i);
      if (f.sessions > 0)
        b.sessions->Increment(static_cast<double>(f.sessions));
      if (f.messages_sent > 0)
        b.sent->Increment(static_cast<double>(f.messages_sent));
      if (f.messages_received > 0)
        b.received->Increment(static_cast<double>(f.messages_received));
      for (auto& [name, n] : f.counters) {
        // A named copy: lambdas may not capture structured bindings before C++20 (clang).
        const auto& key = name;
        auto it =
            std::find_if(b.events.begin(), b.events.end(), [&](auto& e) { return e.first == key; });
        if (it == b.events.end()) {
          b.events.emplace_back(name,
                                &behaviour_events->Add({{"behaviour", f.label}, {"name", name}}));
          it = b.events.end() - 1;
        }
        if (n > 0)
          it->second->Increment(static_cast<double>(n));
      }
      for (auto& [name, h] : f.latencies) {
        const auto& key = name;
        auto it = std::find_if(b.latencies.begin(), b.latencies.end(),
                               [&](auto& e) { return e.first == key; });
        if (it == b.latencies.end()) {
          b.latencies.emplace_back(name,
                                   &behaviour_latency->Add({{"behaviour", f.label}, {"name", name}},
                                                           latency_ms_buckets));
          it = b.latencies.end() - 1;
        }
        observe_into(*it->second, latency_ms_buckets, 1e-3, h);
      }
    }
    for (std::size_t i = 0; i < total.behaviours.size(); ++i)
      series_of(total.behaviours[i], i)
          .users->Set(static_cast<double>(total.behaviours[i].connected));
  }

  static void observe_into(Histogram& metric, const Histogram::BucketBoundaries& bounds,
                           double scale, const histogram& h) {
    if (h.empty())
      return;
    std::vector<double> increments(bounds.size() + 1, 0.0);
    h.for_each_bucket([&](std::int64_t lowest, std::int64_t, std::uint64_t n) {
      auto v = static_cast<double>(lowest) * scale;
      auto i = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) -
                                        bounds.begin());
      increments[i] += static_cast<double>(n);
    });
    increments.back() += static_cast<double>(h.overflow());
    metric.ObserveMultiple(increments, static_cast<double>(h.sum()) * scale);
  }

  // Replaces the one series of an info-style gauge family when its label changes, so the family
  // always holds exactly the current stage (bounded cardinality).
  static void relabel(prometheus::Family<Gauge>& family, Gauge*& current, std::string& name,
                      const std::string& wanted) {
    if (current != nullptr && name == wanted)
      return;
    if (current != nullptr)
      family.Remove(current);
    current = &family.Add({{"name", wanted}});
    name = wanted;
  }

  void observe(histogram_binding& b, const histogram& h) {
    if (h.negative() > 0)
      b.negative->Increment(static_cast<double>(h.negative()));
    if (h.empty())
      return;
    const auto& bounds = *b.bounds;
    // One batch per histogram per update: prometheus-cpp takes its lock once here.
    std::vector<double> increments(bounds.size() + 1, 0.0);
    h.for_each_bucket([&](std::int64_t lowest, std::int64_t, std::uint64_t n) {
      // A bucket goes where its lowest value goes: values on a round boundary (1000 us) land in
      // the `le` bucket they belong to; the rest is within our bucket width (< 1%).
      auto v = static_cast<double>(lowest) * b.scale;
      auto i = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) -
                                        bounds.begin());
      increments[i] += static_cast<double>(n);
    });
    // Overflow values lie above every bound.
    increments.back() += static_cast<double>(h.overflow());
    b.metric->ObserveMultiple(increments, static_cast<double>(h.sum()) * b.scale);
  }

  void update(const load_snapshot& total, const load_snapshot& delta) {
    for (auto& c : counters)
      if (auto n = delta.counters.*(c.source); n > 0)
        c.metric->Increment(static_cast<double>(n));
    for (std::size_t i = 0; i < error_type_count; ++i)
      if (auto n = delta.counters.errors[i]; n > 0)
        errors[i]->Increment(static_cast<double>(n));
    for (auto& b : histograms)
      observe(b, delta.histograms.*(b.source));
    for (auto& [metric, field] : accounting)
      if (auto n = delta.accounting.*field; n > 0)
        metric->Increment(static_cast<double>(n));
    accounting_pending->Set(static_cast<double>(total.accounting_pending));
    const auto& g = total.gauges;
    active_connections->Set(static_cast<double>(g.active_connections));
    active_reconnections->Set(static_cast<double>(g.active_reconnections));
    avg_connection_duration->Set(total.histograms.connection_duration_ms.mean() / 1000.0);
    target_users->Set(static_cast<double>(g.target_users));
    connected_users->Set(static_cast<double>(g.connected_users));
    actors->Set(static_cast<double>(g.actors));
    if (g.stage_index >= 0 || !g.stage_name.empty()) {
      relabel(*stage_family, stage, stage_name, g.stage_name);
      stage->Set(static_cast<double>(g.stage_index));
    }
    if (!g.phase_name.empty()) {
      relabel(*phase_family, phase, phase_name, g.phase_name);
      phase->Set(1.0);
    }
    update_behaviours(total, delta);
  }
};

std::string normalize_listen_address(const std::string& listen) {
  if (!listen.empty() && std::all_of(listen.begin(), listen.end(),
                                     [](unsigned char c) { return std::isdigit(c) != 0; }))
    return "127.0.0.1:" + listen;
  if (listen.rfind("localhost:", 0) == 0)
    return "127.0.0.1:" + listen.substr(10);
  return listen;
}

std::unique_ptr<prometheus_exporter>
prometheus_exporter::start(const prometheus_exporter_config& config, std::error_code& ec) {
  ec.clear();
  try {
    auto p = std::make_unique<impl>();
    auto threads = std::to_string(std::max<std::size_t>(1, config.threads));
    p->exposer = std::make_unique<prometheus::Exposer>(std::vector<std::string>{
        "listening_ports", normalize_listen_address(config.listen), "num_threads", threads});
    p->exposer->RegisterCollectable(p->registry);
    return std::unique_ptr<prometheus_exporter>(new prometheus_exporter(std::move(p)));
  } catch (const std::exception&) {
    // civetweb throws when it cannot bind (address in use, bad address, no permission).
    ec = metrics_errc::bind_failed;
    return nullptr;
  }
}

prometheus_exporter::prometheus_exporter(std::unique_ptr<impl> p) : impl_(std::move(p)) {
  // the exposer already serves the registry
}

prometheus_exporter::~prometheus_exporter() = default;

std::uint16_t prometheus_exporter::port() const {
  auto ports = impl_->exposer->GetListeningPorts();
  return ports.empty() ? 0 : static_cast<std::uint16_t>(ports.front());
}

void prometheus_exporter::update(const load_snapshot& total, const load_snapshot& delta) noexcept {
  try {
    impl_->update(total, delta);
  } catch (const std::exception&) {
    // A failed update loses one interval of exported metrics, never the run.
  }
}

} // namespace stompede::metrics
