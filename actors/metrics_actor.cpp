#include "actors/metrics_actor.hpp"

#include "actors/atoms.hpp"
#include "actors/fault_injector.hpp"
#include "actors/io_pool.hpp"
#include "actors/population_plan.hpp"
#include "actors/stage_director.hpp"
#include "actors/supervisor.hpp"
#include "metrics/experiment.hpp"
#include "metrics/prometheus_exporter.hpp"
#include "metrics/timeseries.hpp"

#include <caf/all.hpp>

#include <algorithm>
#include <cinttypes>
#include <limits>

namespace stompede {

namespace {

using clock_type = std::chrono::steady_clock;

double seconds_since(clock_type::time_point t0, clock_type::time_point t) {
  return std::chrono::duration<double>(t - t0).count();
}

std::int64_t wall_now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

void absorb(caf::stateful_actor<metrics_state>* self, io_delta& d, std::uint64_t tick);
void finish_collection(caf::stateful_actor<metrics_state>* self);

/// IO threads and workers answering one collection (a lost worker is asked no more).
std::size_t sources(const metrics_state& st) {
  std::size_t live = 0;
  for (bool gone : st.worker_gone)
    live += gone ? 0 : 1;
  return st.pool->size() + live;
}

/// Worker `k`'s answer (or failure) for collection `tick`; a second word for one tick (the
/// worker was declared lost meanwhile) counts its events only.
void absorb_worker(caf::stateful_actor<metrics_state>* self, std::size_t k, worker_delta& wd,
                   std::uint64_t tick) {
  auto& st = self->state;
  if (st.answered[k] == tick)
    tick = 0;
  else
    st.answered[k] = tick;
  if (tick == st.tick && !st.worker_gone[k] && wd.target_users > 0)
    st.worker_last_target[k] = wd.target_users;
  if (tick == st.tick) {
    st.worker_target += wd.target_users;
    st.worker_reconnecting += wd.reconnecting;
  }
  // The worker's ledger records and watermark take the place after the IO threads' own.
  wd.io.thread = static_cast<std::uint32_t>(st.pool->size() + k);
  auto& ledger = wd.io.ledger;
  if (auto servers = st.config.worker_servers; servers > 1) {
    // Workers on different servers: a room's members on another server never get its messages,
    // so the ledger sees room R on server s as a room of its own.
    auto s = static_cast<std::int64_t>(k % servers);
    for (auto& r : ledger.sent)
      r.room = r.room * servers + s;
    for (auto& r : ledger.sessions)
      r.room = r.room * servers + s;
  }
  // Records of one user's sessions may come from several IO threads: the latest one counts.
  auto& latest = st.worker_sessions[k];
  for (auto& r : ledger.sessions) {
    auto [it, fresh] = latest.try_emplace(r.user, r);
    if (!fresh && r.t_us >= it->second.t_us)
      it->second = r;
  }
  absorb(self, wd.io, tick);
}

/// Asks every IO thread for its delta; each answers with (io_delta, tick). Workers answer a
/// request with their whole process's delta.
void collect(caf::stateful_actor<metrics_state>* self) {
  auto& st = self->state;
  st.tick++;
  st.pending = sources(st);
  st.collect_started_at = self->clock().now();
  st.worker_target = 0;
  st.worker_reconnecting = 0;
  for (std::size_t k = 0; k < st.config.workers.size(); ++k) {
    if (st.worker_gone[k])
      continue;
    auto tick = st.tick;
    self->request(st.config.workers[k], st.config.worker_timeout, get_atom::value,
                  delta_atom::value)
        .then(
            [self, k, tick](worker_delta& wd) {
              self->state.worker_missed[k] = 0;
              absorb_worker(self, k, wd, tick);
            },
            [self, k, tick](caf::error&) {
              // Gone or too slow: nothing from it this interval.
              self->state.worker_missed[k]++;
              worker_delta none;
              absorb_worker(self, k, none, tick);
            });
  }
  caf::actor me = caf::actor_cast<caf::actor>(self);
  for (std::size_t i = 0; i < st.pool->size(); ++i) {
    auto* agg = &st.aggregates[i];
    auto tick = st.tick;
    auto thread = static_cast<std::uint32_t>(i);
    st.pool->post(i, [me, agg, tick, thread] {
      auto d = take_delta(*agg);
      d.thread = thread;
      d.taken_at_us = wall_now_us();
      caf::anon_send(me, std::move(d), tick);
    });
  }
  // Supervisors own the restart counts and the levels; the interval waits for their answers
  // (at most one interval: a supervisor too busy to answer leaves its last levels in place).
  st.sup_pending = st.sup_final ? 0 : st.supervisors.size();
  auto sup_answered = [self, tick = st.tick] {
    auto& s = self->state;
    if (tick != s.tick || s.sup_pending == 0)
      return;
    if (--s.sup_pending == 0 && s.pending == 0)
      finish_collection(self);
  };
  const auto sup_timeout = std::max(st.config.interval, std::chrono::milliseconds{1});
  for (std::size_t i = 0; i < st.supervisors.size() && !st.sup_final; ++i) {
    self->request(st.supervisors[i], sup_timeout, get_atom::value, stats_atom::value)
        .then(
            [self, i, sup_answered](const supervisor_stats& s) {
              if (self->state.sup_final) {
                sup_answered(); // the director's final counts replace these
                return;
              }
              auto& c = self->state.sup_now[i];
              c.reconnect_attempts = s.attempts;
              c.reconnect_successes = s.successes;
              c.give_ups = s.give_ups;
              c.arrivals = s.arrivals;
              c.arrivals_started = s.arrivals_started;
              c.arrivals_dropped = s.arrivals_dropped;
              c.sessions_completed = s.sessions_completed;
              auto& t = self->state.sup_levels[i];
              t.target = s.target;
              t.reconnecting = s.reconnecting;
              sup_answered();
            },
            [sup_answered](caf::error&) {
              // A supervisor that ended already (or is too busy) has nothing new to say.
              sup_answered();
            });
    self->request(st.supervisors[i], std::chrono::seconds(5), get_atom::value,
                  reconnect_atom::value)
        .then(
            [self](const std::vector<std::int64_t>& samples) {
              for (auto ms : samples)
                self->state.interval.histograms.reconnect_time_ms.record(ms);
            },
            [](caf::error&) {});
  }
}

void print_progress(metrics_state& st, const metrics::load_snapshot& d) {
  if (!st.config.progress || st.config.progress_out == nullptr)
    return;
  auto& g = d.gauges;
  auto secs = d.interval_s > 0 ? d.interval_s : 1.0;
  double p95 =
      d.histograms.round_trip_intended_us.empty()
          ? 0.0
          : static_cast<double>(d.histograms.round_trip_intended_us.quantile(0.95)) / 1000.0;
  char line[512];
  std::snprintf(
      line, sizeof(line),
      "[%5.0fs] %-10.10s %-6s users %" PRId64 "/%" PRId64
      " | sent %.0f/s recv %.0f/s | p95 rtt %.1f ms | errors %" PRIu64 " (total %" PRIu64
      ") | reconnecting %" PRId64 " | lost %" PRIu64,
      d.elapsed_s, g.stage_name.empty() ? "-" : g.stage_name.c_str(), g.phase_name.c_str(),
      g.connected_users, g.target_users, static_cast<double>(d.counters.messages_sent) / secs,
      static_cast<double>(d.counters.messages_received) / secs, p95, d.counters.errors_total(),
      st.total.counters.errors_total(), g.active_reconnections, st.total.counters.lost);
  if (st.config.progress_in_place)
    std::fprintf(st.config.progress_out, "\r\033[K%s", line);
  else
    std::fprintf(st.config.progress_out, "%s\n", line);
  std::fflush(st.config.progress_out);
}

/// Closes the interval in progress: adds it to the totals and exports it.
void emit(caf::stateful_actor<metrics_state>* self) {
  auto& st = self->state;
  auto now = clock_type::now();
  auto& d = st.interval;
  d.elapsed_s = seconds_since(st.started, now);
  d.interval_s = seconds_since(st.last_emit, now);
  st.last_emit = now;
  st.last_emit_at = self->clock().now();
  // Restart counts: the supervisors' cumulative figures minus what was counted before.
  metrics::load_counters sup_total;
  for (auto& c : st.sup_now)
    sup_total += c;
  auto sup_delta = sup_total - st.sup_counted;
  st.sup_counted = sup_total;
  d.counters.reconnect_attempts += sup_delta.reconnect_attempts;
  d.counters.reconnect_successes += sup_delta.reconnect_successes;
  d.counters.give_ups += sup_delta.give_ups;
  d.counters.arrivals += sup_delta.arrivals;
  d.counters.arrivals_started += sup_delta.arrivals_started;
  d.counters.arrivals_dropped += sup_delta.arrivals_dropped;
  d.counters.sessions_completed += sup_delta.sessions_completed;
  // Levels the supervisors know: the plan's target and users recovering from a failure.
  std::int64_t target = 0, reconnecting = 0;
  for (auto& l : st.sup_levels) {
    target += l.target;
    reconnecting += l.reconnecting;
  }
  std::int64_t lost_target = 0;
  for (std::size_t k = 0; k < st.worker_gone.size(); ++k)
    if (st.worker_gone[k])
      lost_target += st.worker_last_target[k];
  // Past the plan's end (drain, done) nobody is wanted any more, lost workers' users included.
  if (st.phase == run_phase::drain || st.phase == run_phase::done)
    lost_target = 0;
  d.gauges.target_users = target + st.worker_target + lost_target;
  d.gauges.active_reconnections = reconnecting + st.worker_reconnecting;
  d.gauges.actors = static_cast<std::int64_t>(self->system().registry().running());
  // Message accounting: classify what every IO thread has reported far enough.
  if (!st.ledger_marks.empty()) {
    auto mark = *std::min_element(st.ledger_marks.begin(), st.ledger_marks.end());
    if (!st.finishing.empty() && st.tick >= st.final_tick)
      st.ledger->finish(mark); // a collection begun after the end: every session has ended
    else
      st.ledger->advance(mark);
  }
  d.accounting += st.ledger->take();
  d.accounting_pending = st.ledger->pending();
  if (!st.stages.empty()) {
    auto& sr = st.stages.back();
    const auto index = static_cast<std::size_t>(sr.index);
    const auto& open = st.config.open_stages;
    // The interval that closes a stage is collected after the director set the next stage's
    // targets: the stage's own is the one of the interval before.
    const auto target =
        st.next_stages.empty() ? d.gauges.target_users : st.total.gauges.target_users;
    if (open.empty() || (index < open.size() && open[index]))
      sr.target_users = std::max(sr.target_users, target);
    else if (st.phase == run_phase::ramp || st.phase == run_phase::steady)
      sr.target_users = target; // a ramp down ends below where it started
  }
  st.total.counters += d.counters;
  st.total.histograms.merge(d.histograms);
  st.total.accounting += d.accounting;
  st.total.accounting_pending = d.accounting_pending;
  st.total.gauges = d.gauges;
  metrics::merge_interval(st.total.behaviours, d.behaviours);
  st.total.elapsed_s = d.elapsed_s;
  st.total.interval_s = d.elapsed_s;
  if (d.gauges.stage_index >= 0 && !st.stages.empty()) {
    auto& sr = st.stages.back();
    sr.end_s = d.elapsed_s;
    sr.snapshot.counters += d.counters;
    sr.snapshot.accounting += d.accounting;
    sr.snapshot.histograms.merge(d.histograms);
    metrics::merge_interval(sr.snapshot.behaviours, d.behaviours);
    sr.snapshot.gauges = d.gauges;
    sr.snapshot.elapsed_s = d.elapsed_s;
    sr.snapshot.interval_s = sr.end_s - sr.start_s;
  }
  if (st.exporter)
    st.exporter->update(st.total, d);
  auto* experiment = st.config.experiment.get();
  if (experiment)
    experiment->on_interval(d);
  if (st.timeseries) {
    auto row = metrics::make_timeseries_row(d);
    row.events = std::move(st.events);
    st.events.clear();
    if (experiment)
      row.faults = experiment->take_interval_names();
    st.timeseries->write(row);
  }
  print_progress(st, d);
  d.reset_events();
}

metrics_result make_result(const metrics_state& st) {
  metrics_result r{st.total, st.stages, st.tls_failure, st.server_error, st.upgrade_refusal, {}};
  for (std::size_t k = 0; k < st.worker_missed.size(); ++k)
    if (!st.worker_gone[k] && st.worker_missed[k] >= silent_collections)
      r.silent_workers.push_back(static_cast<std::uint32_t>(k));
  return r;
}

void absorb(caf::stateful_actor<metrics_state>* self, io_delta& d, std::uint64_t tick) {
  auto& st = self->state;
  auto& iv = st.interval;
  iv.counters += d.counters;
  iv.histograms.merge(d.histograms);
  // Per behaviour: counts always, levels (connected users) like the gauges below.
  std::vector<std::int64_t> levels;
  for (auto& b : d.behaviours) {
    levels.push_back(b.connected);
    b.connected = 0;
  }
  metrics::merge(iv.behaviours, d.behaviours);
  if (!d.tls_failure.empty())
    st.tls_failure = std::move(d.tls_failure);
  if (!d.server_error.empty())
    st.server_error = std::move(d.server_error);
  if (!d.upgrade_refusal.empty())
    st.upgrade_refusal = std::move(d.upgrade_refusal);
  st.ledger->apply(std::move(d.ledger));
  if (d.thread < st.ledger_marks.size())
    st.ledger_marks[d.thread] = std::max(st.ledger_marks[d.thread], d.taken_at_us);
  if (tick != st.tick || st.pending == 0)
    return; // a straggler of an earlier collection: its events count, its levels not
  if (st.pending == sources(st)) {
    iv.gauges.active_connections = 0;
    iv.gauges.connected_users = 0;
    for (auto& b : iv.behaviours)
      b.connected = 0;
  }
  iv.gauges.active_connections += d.open_sessions;
  iv.gauges.connected_users += d.subscribed_sessions;
  for (std::size_t i = 0; i < levels.size(); ++i)
    iv.behaviours[i].connected += levels[i];
  if (--st.pending == 0 && st.sup_pending == 0)
    finish_collection(self);
}

/// Rows of the time series shorter than this are not made: a quarter of the interval.
caf::actor_clock::duration_type short_interval(const metrics_state& st) {
  return std::chrono::duration_cast<caf::actor_clock::duration_type>(st.config.interval) / 4;
}

/// Makes (stage, phase) the current one; a new stage starts its report where the one before
/// ended.
void apply_phase(metrics_state& st, std::uint32_t stage, std::string name, run_phase phase) {
  auto& g = st.interval.gauges;
  if (g.stage_index != static_cast<std::int32_t>(stage) || st.stages.empty()) {
    metrics::stage_report sr;
    sr.index = static_cast<int>(stage);
    sr.name = name;
    sr.start_s = sr.end_s =
        st.stages.empty() ? seconds_since(st.started, clock_type::now()) : st.stages.back().end_s;
    st.stages.push_back(std::move(sr));
  }
  g.stage_index = static_cast<std::int32_t>(stage);
  g.stage_name = std::move(name);
  g.phase_name = to_string(phase);
  st.phase = phase;
}

/// Every source answered the collection in progress: the interval is complete.
void finish_collection(caf::stateful_actor<metrics_state>* self) {
  auto& st = self->state;
  emit(self);
  if (!st.next_stages.empty()) {
    auto next = std::move(st.next_stages.front());
    st.next_stages.erase(st.next_stages.begin());
    apply_phase(st, next.stage, std::move(next.name), next.phase);
    if (!st.next_stages.empty() && st.finishing.empty()) {
      collect(self); // the next change closes this (short) stage's interval in turn
      return;
    }
  }
  if (!st.finishing.empty() && st.tick < st.final_tick) {
    collect(self); // the final collection must begin after the end
  } else if (!st.finishing.empty()) {
    st.done = true;
    for (auto& rp : st.finishing)
      rp.deliver(make_result(st));
    st.finishing.clear();
  }
}

} // namespace

caf::behavior metrics_actor(caf::stateful_actor<metrics_state>* self, metrics_config cfg,
                            io_pool* pool, io_aggregate* aggregates,
                            std::vector<caf::actor> supervisors,
                            std::shared_ptr<metrics::prometheus_exporter> exporter,
                            std::shared_ptr<metrics::timeseries_writer> timeseries) {
  auto& st = self->state;
  st.config = std::move(cfg);
  st.pool = pool;
  st.aggregates = aggregates;
  st.supervisors = std::move(supervisors);
  st.sup_now.resize(st.supervisors.size());
  st.sup_levels.resize(st.supervisors.size());
  st.worker_gone.assign(st.config.workers.size(), false);
  st.worker_missed.assign(st.config.workers.size(), 0);
  st.worker_last_target.assign(st.config.workers.size(), 0);
  st.answered.assign(st.config.workers.size(), 0);
  st.worker_sessions.resize(st.config.workers.size());
  st.exporter = std::move(exporter);
  st.timeseries = std::move(timeseries);
  st.ledger = std::make_unique<metrics::message_ledger>(st.config.ledger);
  st.ledger_marks.assign(pool->size() + st.config.workers.size(), 0);
  st.started = st.last_emit = clock_type::now();
  st.last_emit_at = self->clock().now();
  st.interval.gauges.phase_name = "idle";
  self->send(self, tick_atom::value);
  return {
      [=](tick_atom) {
        auto& st = self->state;
        if (st.done)
          return;
        // Just after a collection out of turn (a stage change late in an interval): this
        // interval goes on to the next tick rather than emitting a row of a few milliseconds.
        const auto now = self->clock().now();
        const bool unfinished = st.pending != 0 || st.sup_pending != 0;
        // A collection still waiting for a worker's delta goes on waiting until that request
        // times out (worker_timeout): starting over at every tick would drop its answers for
        // good, and with a worker that does not answer no collection would ever end.
        // (Without workers a collection that did not end in its interval starts over, as
        // before: the late IO-thread answers still count their events.)
        const bool waiting =
            unfinished && !st.config.workers.empty() &&
            now - st.collect_started_at <
                std::chrono::duration_cast<caf::actor_clock::duration_type>(
                    st.config.worker_timeout + st.config.interval);
        if (!waiting && (unfinished || now - st.last_emit_at >= short_interval(st)))
          collect(self);
        self->delayed_send(self, st.config.interval, tick_atom::value);
      },
      [=](io_delta& d, std::uint64_t tick) { absorb(self, d, tick); },
      [=](phase_atom, std::uint32_t stage, std::string& name, run_phase phase) {
        auto& st = self->state;
        auto& pending = st.next_stages;
        if (!pending.empty() && pending.back().stage == stage) {
          pending.back().name = std::move(name); // a phase of a stage not switched to yet
          pending.back().phase = phase;
          return;
        }
        const bool new_stage = st.interval.gauges.stage_index != static_cast<std::int32_t>(stage);
        // A stage that starts just after a collection (the director's and this actor's clocks
        // both count whole intervals from the start, so it usually does) takes over the
        // interval in progress: closing it out of turn would emit a row of a few milliseconds,
        // whose rates mean nothing. Its first milliseconds belonged to the stage before.
        if (pending.empty() && new_stage && !st.stages.empty() && !st.done &&
            st.pending == 0 && st.sup_pending == 0 &&
            self->clock().now() - st.last_emit_at < short_interval(st)) {
          apply_phase(st, stage, std::move(name), phase);
          return;
        }
        if (!pending.empty() || (new_stage && !st.stages.empty() && !st.done)) {
          // The interval in progress belongs to the stage before: close it now (a collection
          // out of turn), and switch once it is emitted.
          pending.push_back(metrics_state::stage_change{stage, std::move(name), phase});
          if (pending.size() == 1 && st.finishing.empty())
            collect(self);
          return;
        }
        apply_phase(st, stage, std::move(name), phase);
      },
      [=](done_atom) -> caf::result<metrics_result> {
        auto& st = self->state;
        if (st.done)
          return make_result(st);
        auto rp = self->make_response_promise<metrics_result>();
        st.finishing.push_back(rp);
        st.final_tick = st.tick + 1;
        if (st.pending == 0 && st.sup_pending == 0)
          collect(self); // otherwise the collection in progress starts the final one
        return rp;
      },
      [=](get_atom) -> metrics_result { return make_result(self->state); },
      [=](fault_atom, metrics::fault_record& r, bool ended) {
        auto& st = self->state;
        auto now = seconds_since(st.started, clock_type::now());
        std::string what = "fault " + r.name + (ended ? " off" : " on");
        if (!ended && r.hit >= 0)
          what += " (" + std::to_string(r.hit) + " hit)";
        if (!r.error.empty())
          what += " (" + r.error + ")";
        auto& ev = st.events;
        ev += (ev.empty() ? "" : "; ") + what;
        auto* experiment = st.config.experiment.get();
        if (experiment == nullptr)
          return;
        if (ended) {
          experiment->fault_ended(r.id, now, r.ended_by, r.error, r.hit);
        } else {
          r.start_s = now;
          r.end_s = -1.0;
          experiment->fault_started(std::move(r));
        }
      },
      [=](fault_atom, uint32_t id, int64_t hit) {
        // What an instant server fault hit, counted once its effects landed.
        if (auto* experiment = self->state.config.experiment.get())
          experiment->fault_hit(id, hit);
      },
      [=](stats_atom, const supervisor_stats& last) {
        // The supervisors' final counts (they have quit and answer no more): the next emit
        // counts what they did since the last ask. Never below what was seen already (a
        // supervisor that did not answer its shutdown in time is missing from `last`).
        auto& st = self->state;
        metrics::load_counters seen;
        for (auto& c : st.sup_now)
          seen += c;
        auto keep = [](std::uint64_t& field, std::uint64_t final_value) {
          field = std::max(field, final_value);
        };
        keep(seen.reconnect_attempts, last.attempts);
        keep(seen.reconnect_successes, last.successes);
        keep(seen.give_ups, last.give_ups);
        keep(seen.arrivals, last.arrivals);
        keep(seen.arrivals_started, last.arrivals_started);
        keep(seen.arrivals_dropped, last.arrivals_dropped);
        keep(seen.sessions_completed, last.sessions_completed);
        std::fill(st.sup_now.begin(), st.sup_now.end(), metrics::load_counters{});
        if (!st.sup_now.empty())
          st.sup_now[0] = seen;
        st.sup_final = true;
      },
      [=](lost_atom, std::uint32_t k) {
        // A worker is gone (the controller saw its process or link end): stop waiting for it.
        auto& st = self->state;
        if (k >= st.worker_gone.size() || st.worker_gone[k])
          return;
        st.worker_gone[k] = true;
        // Its records stop here. Its users' open sessions end in the ledger as failed at its
        // last delta (what they missed since is missed while reconnecting, not lost), and the
        // ledger no longer waits for its records.
        auto& mark = st.ledger_marks[st.pool->size() + k];
        metrics::ledger_shard cut;
        for (auto& [user, r] : st.worker_sessions[k])
          if (r.kind == metrics::session_record::confirmed)
            cut.sessions.push_back({user, metrics::session_record::ended_failed, r.room,
                                    std::max(r.t_us, mark > 0 ? mark : wall_now_us())});
        st.worker_sessions[k].clear();
        st.ledger->apply(std::move(cut));
        mark = std::numeric_limits<std::int64_t>::max();
        if (st.pending > 0 && st.answered[k] != st.tick) {
          st.answered[k] = st.tick;
          io_delta none;
          absorb(self, none, st.tick);
        }
      },
      [=](control_atom, std::string& what) {
        auto& ev = self->state.events;
        ev += (ev.empty() ? "" : "; ") + what;
      },
  };
}

} // namespace stompede
