#include "actors/stage_director.hpp"

#include <caf/actor_cast.hpp>
#include <caf/error.hpp>

#include <algorithm>
#include <cstdio>
#include <utility>

namespace stompede {

namespace {

using std::chrono::milliseconds;
using self_ptr = stage_director_actor::stateful_pointer<stage_director_state>;

milliseconds plan_time(self_ptr self) {
  auto& st = self->state;
  return std::chrono::duration_cast<milliseconds>(self->clock().now() - st.start - st.paused);
}

void announce(self_ptr self, run_phase phase, size_t stage) {
  auto& st = self->state;
  if (st.announced && st.phase == phase && st.stage == stage)
    return;
  if (!st.announced || st.stage != stage)
    for (auto& sup : st.supervisors)
      self->send(sup, stage_atom::value, static_cast<uint32_t>(stage));
  st.announced = true;
  st.phase = phase;
  st.stage = stage;
  if (!st.metrics)
    return;
  auto& stages = st.plan.stages();
  auto name = stage < stages.size() ? stages[stage].name : std::string{};
  caf::anon_send(st.metrics, phase_atom::value, static_cast<uint32_t>(stage), std::move(name),
                 phase);
}

void arm_timer(self_ptr self, milliseconds wait) {
  auto& st = self->state;
  ++st.timer;
  wait = std::max(wait, milliseconds{1});
  self->delayed_send(caf::actor_cast<stage_director_actor>(self), wait, tick_atom::value, st.timer);
}

void send_targets(self_ptr self, uint32_t total) {
  auto& st = self->state;
  auto split =
      split_target(total, st.supervisors.size(), st.config.users_per_shard, st.config.users);
  for (size_t k = 0; k < split.size(); ++k)
    if (!st.sent || split[k] != st.targets[k])
      self->send(st.supervisors[k], target_atom::value, split[k]);
  st.targets = std::move(split);
  st.sent = true;
}

// Open model: sends the arrivals of open stage `stage` due by `rel` (time since its start),
// dealt round robin over the supervisors that have a share of the stage's cap.
void send_arrivals(self_ptr self, size_t stage, milliseconds rel) {
  auto& st = self->state;
  const auto& s = st.plan.stages()[stage];
  if (st.arrivals_stage != stage) {
    st.arrivals =
        arrival_schedule(open_stage{s.name, s.arrival_rate, s.session_length, s.duration});
    st.next_arrival = 0;
    st.arrivals_stage = stage;
  }
  auto n = st.supervisors.size();
  if (n == 0)
    return;
  auto caps = split_target(s.users, n, st.config.users_per_shard, st.config.users);
  std::vector<uint32_t> counts(n, 0);
  while (st.next_arrival < st.arrivals.size() && st.arrivals[st.next_arrival] <= rel) {
    auto k = st.next_shard % n;
    for (size_t tries = 1; caps[k] == 0 && tries < n; ++tries)
      k = (k + 1) % n;
    ++counts[k];
    st.next_shard = k + 1;
    ++st.next_arrival;
    ++st.arrivals_sent;
  }
  auto min_ms = static_cast<uint32_t>(s.session_length.count());
  auto max_ms = static_cast<uint32_t>(std::max(s.session_length_max, s.session_length).count());
  for (size_t k = 0; k < n; ++k)
    if (counts[k] > 0)
      self->send(st.supervisors[k], arrive_atom::value, counts[k], min_ms, max_ms, caps[k]);
}

void finish(self_ptr self) {
  auto& st = self->state;
  announce(self, run_phase::done, st.stage);
  // The supervisors are gone now: their final counts reach metrics from here.
  if (st.metrics)
    caf::anon_send(st.metrics, stats_atom::value, st.totals);
  if (st.listener)
    caf::anon_send(st.listener, done_atom::value);
  self->quit();
}

void shut_down_supervisors(self_ptr self);

void begin_drain(self_ptr self) {
  auto& st = self->state;
  if (st.draining)
    return;
  st.draining = true;
  ++st.timer; // no step runs after this
  st.waiting = false;
  announce(self, run_phase::drain, st.stage);
  if (st.config.injector) {
    // Faults first: users drain against a server (and a network) without faults.
    auto injector = std::exchange(st.config.injector, fault_injector_actor{});
    self->request(injector, st.config.injector_timeout, stop_atom::value)
        .then([self](done_atom) { shut_down_supervisors(self); },
              [self](const caf::error&) { shut_down_supervisors(self); });
    return;
  }
  shut_down_supervisors(self);
}

void shut_down_supervisors(self_ptr self) {
  auto& st = self->state;
  st.pending_done = st.supervisors.size();
  if (st.pending_done == 0) {
    finish(self);
    return;
  }
  auto one_done = [self] {
    if (--self->state.pending_done == 0)
      finish(self);
  };
  for (auto& sup : st.supervisors)
    self->request(sup, st.config.shutdown_timeout, shutdown_atom::value)
        .then(
            [self, one_done](done_atom, const supervisor_stats& s) {
              self->state.totals += s;
              one_done();
            },
            [one_done](const caf::error&) { one_done(); });
}

void step(self_ptr self);

// A stage's wait for its users ended by timeout: said where people look (stderr through the
// listener, the time series' events through metrics), with how many were up at the last poll.
void note_wait_timeout(self_ptr self) {
  auto& st = self->state;
  const auto& stages = st.plan.stages();
  const auto secs = std::chrono::duration<double>(st.config.wait_timeout).count();
  char line[256];
  std::snprintf(line, sizeof line,
                "stage \"%s\": %llu of %llu users connected after waiting %gs for all of them; "
                "its clock starts anyway",
                st.stage < stages.size() ? stages[st.stage].name.c_str() : "",
                static_cast<unsigned long long>(st.wait_connected),
                static_cast<unsigned long long>(st.wait_wanted), secs);
  if (st.metrics)
    caf::anon_send(st.metrics, control_atom::value, std::string{line});
  if (st.listener)
    caf::anon_send(st.listener, control_atom::value, std::string{line});
}

// Asks every supervisor how many users are connected; resumes the plan clock once all are.
void poll_connected(self_ptr self, uint64_t timer) {
  auto& st = self->state;
  auto remaining = std::make_shared<size_t>(st.supervisors.size());
  auto connected = std::make_shared<uint64_t>(0);
  auto on_all = [self, timer, remaining, connected] {
    auto& st = self->state;
    if (--*remaining > 0 || !st.waiting || st.timer != timer)
      return;
    uint64_t want = 0;
    for (auto t : st.targets)
      want += t;
    st.wait_connected = *connected;
    st.wait_wanted = want;
    if (*connected < want)
      return;
    // Everyone is up: resume the plan clock from the frozen ramp end.
    st.waiting = false;
    ++st.confirmed;
    st.paused = self->clock().now() - st.start - st.frozen_at;
    step(self);
  };
  for (auto& sup : st.supervisors)
    self->request(sup, st.config.stats_timeout, get_atom::value, stats_atom::value)
        .then(
            [connected, on_all](const supervisor_stats& s) {
              *connected += s.connected;
              on_all();
            },
            [on_all](const caf::error&) { on_all(); });
}

void step(self_ptr self) {
  auto& st = self->state;
  if (st.draining)
    return;
  auto now = self->clock().now();
  if (st.waiting) {
    if (now - st.wait_started >= st.config.wait_timeout) {
      ++st.wait_timeouts;
      ++st.confirmed;
      st.waiting = false;
      note_wait_timeout(self);
    }
    // Either way the plan clock stood still at the ramp end until now.
    st.paused = now - st.start - st.frozen_at;
  }
  auto t = plan_time(self);
  auto p = st.plan.at(t);
  if (p.phase == run_phase::done) {
    send_targets(self, p.target);
    begin_drain(self);
    return;
  }
  const auto& stages = st.plan.stages();
  if (stages[p.stage].is_open()) {
    // No closed population (and no live target) during an open stage: its arrivals are it.
    st.overridden = false;
    send_targets(self, 0);
    announce(self, run_phase::steady, p.stage);
    auto start = st.plan.stage_start(p.stage);
    send_arrivals(self, p.stage, t - start);
    auto wait = st.plan.stage_start(p.stage + 1) - t;
    if (st.next_arrival < st.arrivals.size())
      wait = std::min(wait, std::max(st.config.tick, st.arrivals[st.next_arrival] - (t - start)));
    arm_timer(self, wait);
    return;
  }
  auto ramp_end = st.plan.stage_start(p.stage) + stages[p.stage].ramp;
  if (stages[p.stage].wait_for_connected && !st.waiting && st.confirmed <= p.stage &&
      t >= ramp_end) {
    // Stages overrun without a wait (zero-length holds) count as confirmed.
    st.confirmed = p.stage;
    if (p.target == 0 || st.supervisors.empty()) {
      ++st.confirmed;
    } else {
      st.waiting = true;
      st.wait_started = now;
      st.wait_connected = 0;
      st.wait_wanted = p.target;
      st.frozen_at = ramp_end;
      st.paused = now - st.start - ramp_end;
      t = ramp_end;
    }
  }
  if (st.overridden && p.stage != st.override_stage)
    st.overridden = false; // a new stage: the plan takes over again
  if (st.overridden)
    p.target = st.override_target;
  send_targets(self, p.target);
  if (st.waiting) {
    // Still ramping as far as the figures are concerned: the population is not all up.
    announce(self, run_phase::ramp, p.stage);
    arm_timer(self, st.config.tick);
    poll_connected(self, st.timer);
    return;
  }
  announce(self, p.phase, p.stage);
  milliseconds wait;
  if (t < ramp_end)
    wait = std::min(st.config.tick, ramp_end - t);
  else
    wait = st.plan.stage_start(p.stage + 1) - t; // one timer for the whole hold
  arm_timer(self, wait);
}

} // namespace

std::vector<std::string> validate(const stage_director_config& config) {
  auto problems = validate(config.stages);
  if (config.tick.count() <= 0)
    problems.emplace_back("director tick must be positive");
  if (config.users_per_shard == 0)
    problems.emplace_back("users per shard must be at least 1");
  const bool waits = std::any_of(config.stages.begin(), config.stages.end(),
                                 [](const stage& s) { return s.wait_for_connected; });
  if (waits && config.wait_timeout.count() <= 0)
    problems.emplace_back("wait timeout must be positive when waiting for users to connect");
  if (config.stats_timeout.count() <= 0)
    problems.emplace_back("stats timeout must be positive");
  if (config.shutdown_timeout.count() <= 0)
    problems.emplace_back("shutdown timeout must be positive");
  return problems;
}

stage_director_actor::behavior_type
stage_director(stage_director_actor::stateful_pointer<stage_director_state> self,
               stage_director_config config, std::vector<supervisor_actor> supervisors,
               caf::actor metrics, caf::actor listener) {
  auto& st = self->state;
  st.plan = population_plan{config.stages};
  st.config = std::move(config);
  st.supervisors = std::move(supervisors);
  st.metrics = std::move(metrics);
  st.listener = std::move(listener);
  st.start = self->clock().now();
  ++st.timer;
  self->send(caf::actor_cast<stage_director_actor>(self), tick_atom::value, st.timer);
  return {
      [self](tick_atom, uint64_t timer) {
        if (timer == self->state.timer)
          step(self);
      },
      [self](stop_atom) { begin_drain(self); },
      [self](target_atom, uint32_t users) {
        auto& st = self->state;
        if (st.draining)
          return;
        auto p = st.plan.at(plan_time(self));
        st.overridden = true;
        st.override_target = std::min(users, st.plan.peak());
        st.override_stage = p.stage;
        // A population set by hand is not waited for.
        if (st.waiting) {
          st.waiting = false;
          st.confirmed = p.stage + 1;
        }
        step(self);
      },
      [self](skip_atom) {
        auto& st = self->state;
        if (st.draining)
          return;
        auto p = st.plan.at(plan_time(self));
        st.waiting = false;
        st.confirmed = p.stage + 1;
        auto next = st.plan.stage_start(p.stage + 1);
        // Move the plan clock forward to the next stage's start.
        st.paused = self->clock().now() - st.start - next;
        step(self);
      },
  };
}

} // namespace stompede
