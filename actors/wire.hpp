#pragma once

// Field lists of what crosses a process boundary between a controller and its workers (CAF 0.17
// `inspect` overloads, written without naming CAF so the plain structs stay plain). Every type
// that travels must also be announced to the actor system (cluster/messages.cpp).

#include "actors/io_aggregate.hpp"
#include "metrics/behaviour_figures.hpp"
#include "metrics/counters.hpp"
#include "metrics/message_ledger.hpp"
#include "metrics/snapshot.hpp"

namespace stompede::metrics {

// A field added to these structs must be added to their lists below, or it does not travel.
static_assert(sizeof(load_counters) == 21 * sizeof(std::uint64_t) + sizeof(load_counters::errors),
              "load_counters changed: update inspect(load_counters&) in actors/wire.hpp");
static_assert(sizeof(load_histograms) == 8 * sizeof(histogram),
              "load_histograms changed: update inspect(load_histograms&) in actors/wire.hpp");

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, load_counters& x) {
  return f(x.messages_sent, x.messages_received, x.own_received, x.lost, x.late_sends,
           x.connect_attempts, x.connects_ok, x.stomp_connected, x.subscribed, x.reconnect_attempts,
           x.reconnect_successes, x.give_ups, x.disconnects_graceful, x.connects_abandoned, x.unresolved, x.bytes_in,
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

static_assert(sizeof(sent_record) == 32 && sizeof(delivery_record) == 16 &&
                  sizeof(session_record) == 24,
              "a ledger record changed: update its inspect() in actors/wire.hpp");
static_assert(sizeof(ledger_shard) ==
                  3 * sizeof(std::vector<sent_record>) + 3 * sizeof(std::uint64_t),
              "ledger_shard changed: update inspect(ledger_shard&) in actors/wire.hpp");

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, sent_record& x) {
  return f(x.sender, x.seq, x.room, x.t_us);
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, delivery_record& x) {
  return f(x.seq, x.sender, x.receiver, x.behind);
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, session_record& x) {
  return f(x.user, x.kind, x.room, x.t_us);
}

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, ledger_shard& x) {
  return f(x.sent, x.deliveries, x.sessions, x.server_seq_checked, x.server_seq_gaps,
           x.server_seq_regressions);
}

} // namespace stompede::metrics

namespace stompede {

template<class Inspector>
typename Inspector::result_type inspect(Inspector& f, io_delta& x) {
  return f(x.counters, x.histograms, x.open_sessions, x.subscribed_sessions, x.in_flight,
           x.behaviours, x.tls_failure, x.server_error, x.upgrade_refusal, x.ledger, x.thread, x.taken_at_us);
}

} // namespace stompede
