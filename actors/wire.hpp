#pragma once

// Field lists of what crosses a process boundary between a controller and its workers (CAF 0.17
// `inspect` overloads, written without naming CAF so the plain structs stay plain). Every type
// that travels must also be announced to the actor system (cluster/messages.cpp).

#include "actors/io_aggregate.hpp"
#include "metrics/behaviour_figures.hpp"
#include "metrics/counters.hpp"
#include "metrics/snapshot.hpp"

namespace stompede::metrics {

// A field added to these structs must be added to their lists below, or it does not travel.
static_assert(sizeof(load_counters) == 20 * sizeof(std::uint64_t) + sizeof(load_counters::errors),
              "load_counters changed: update inspect(load_counters&) in actors/wire.hpp");
static_assert(sizeof(load_histograms) == 8 * sizeof(histogram),
              "load_histograms changed: update inspect(load_histograms&) in actors/wire.hpp");

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, load_counters& x) {
  return f(x.messages_sent, x.messages_received, x.own_received, x.lost, x.late_sends,
           x.connect_attempts, x.connects_ok, x.stomp_connected, x.subscribed, x.reconnect_attempts,
           x.reconnect_successes, x.give_ups, x.disconnects_graceful, x.unresolved, x.bytes_in,
           x.bytes_out, x.errors);
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, load_histograms& x) {
  return f(x.round_trip_intended_us, x.round_trip_actual_us, x.fanout_us, x.send_lateness_us,
           x.ws_connect_us, x.stomp_connect_us, x.connection_duration_ms, x.reconnect_time_ms);
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, behaviour_figures& x) {
  return f(x.label, x.sessions, x.messages_sent, x.messages_received, x.connected, x.counters,
           x.latencies);
}

} // namespace stompede::metrics

namespace stompede {

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, io_delta& x) {
  return f(x.counters, x.histograms, x.open_sessions, x.subscribed_sessions, x.in_flight,
           x.behaviours, x.tls_failure);
}

} // namespace stompede
