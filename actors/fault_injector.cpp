#include "actors/fault_injector.hpp"

#include <caf/actor_cast.hpp>
#include <caf/error.hpp>

#include <algorithm>
#include <memory>

namespace stompede {

namespace {

using self_ptr = fault_injector_actor::stateful_pointer<fault_injector_state>;

fault_injector_actor handle_of(self_ptr self) {
  return caf::actor_cast<fault_injector_actor>(self);
}

/// Tells the metrics actor (which stamps the time and keeps the journal).
void report(self_ptr self, metrics::fault_record r, bool ended) {
  if (self->state.metrics)
    caf::anon_send(self->state.metrics, fault_atom::value, std::move(r), ended);
}

metrics::fault_record record_of(self_ptr self, const active_fault& a) {
  const auto& spec = self->state.config.faults[a.entry];
  metrics::fault_record r;
  r.id = a.id;
  r.name = spec.name;
  r.kind = spec.kind;
  r.entry = a.entry;
  r.target = spec.target;
  r.hit = a.hit;
  return r;
}

/// Makes every call (all of them, also after a failure); the first failure's line.
std::string call_server(const server_fault_port& port, const std::vector<server_fault_call>& cs) {
  std::string first;
  for (auto& c : cs) {
    auto e = port ? port(c)
                  : std::string{"no server fault interface: the target is neither embedded nor "
                                "given an admin endpoint"};
    if (first.empty())
      first = std::move(e);
  }
  return first;
}

/// The server's tally now, when the port can read it.
std::optional<server_fault_tally> read_tally(const server_fault_port& port) {
  server_fault_tally t;
  if (!port.tally || !port.tally(t).empty())
    return std::nullopt;
  return t;
}

/// What a server fault hit between `before` and now (-1 when unknown).
std::int64_t server_hits(const server_fault_port& port, const fault_spec& spec,
                         const server_fault_tally& before) {
  auto after = read_tally(port);
  if (!after || spec.hit_counter == nullptr)
    return -1;
  return std::max<std::int64_t>(0, (*after).*(spec.hit_counter) - before.*(spec.hit_counter));
}

/// Undoes the proxy side of an occurrence; "" or why not. `affected` gets the connections.
std::string proxy_rollback(const proxy_fault_port& port, const fault_spec& spec,
                           const active_fault& a, std::int64_t& affected) {
  if (!port)
    return {};
  if (spec.proxy_refuse)
    return port.refuse(a.entry, false);
  if (a.has_toxic)
    return port.remove(a.toxic_id, affected);
  return {};
}

/// Rolls fault `id` back (if it is active) and reports its end.
void end_fault(self_ptr self, uint32_t id, const std::string& ended_by) {
  auto& st = self->state;
  auto it = std::find_if(st.active.begin(), st.active.end(),
                         [id](const active_fault& a) { return a.id == id; });
  if (it == st.active.end())
    return;
  auto a = *it;
  st.active.erase(it);
  const auto& spec = st.config.faults[a.entry];
  std::string error;
  if (spec.user) {
    auto order = *spec.user;
    order.fault_id = a.id;
    order.on = false;
    // Fire and forget: a supervisor that is gone has no user left to roll back.
    for (auto& sup : st.supervisors)
      caf::anon_send(sup, fault_atom::value, order);
  }
  if (!spec.rollback.empty())
    error = call_server(st.server, spec.rollback);
  std::int64_t affected = -1;
  if (auto e = proxy_rollback(st.proxy, spec, a, affected); error.empty())
    error = e;
  if (affected >= 0)
    a.hit = affected;
  if (a.before) {
    // A lasting fault's effects are counted as they happen; an instant one (sessions closed
    // on the server's IO threads) is read once they have landed, unless the run is ending.
    if (spec.duration.count() > 0 || st.stopped) {
      a.hit = server_hits(st.server, spec, *a.before);
    } else {
      st.settling.push_back(a);
      self->delayed_send(handle_of(self), st.settle, tally_atom::value, a.id);
    }
  }
  if (!error.empty())
    error = "rollback failed: " + error;
  auto r = record_of(self, a);
  r.ended_by = ended_by;
  r.error = error;
  report(self, std::move(r), true);
}

/// Starts occurrence `occurrence` of entry `entry`.
void start_fault(self_ptr self, uint32_t entry, uint32_t occurrence) {
  auto& st = self->state;
  if (st.stopped || entry >= st.config.faults.size())
    return;
  const auto& spec = st.config.faults[entry];
  // The next occurrence first, so a slow apply does not shift the schedule.
  if (spec.every.count() > 0 && (spec.times == 0 || occurrence < spec.times))
    self->delayed_send(handle_of(self), spec.every, start_atom::value, entry, occurrence + 1);
  active_fault a;
  a.id = st.next_id++;
  a.entry = entry;
  st.active.push_back(a);
  auto finish_start = [self, entry, occurrence](active_fault a, std::string error) {
    auto& st = self->state;
    const auto& spec = st.config.faults[entry];
    for (auto& x : st.active)
      if (x.id == a.id)
        x.hit = a.hit;
    auto r = record_of(self, a);
    r.occurrence = occurrence;
    r.error = error;
    report(self, r, false);
    bool still = std::any_of(st.active.begin(), st.active.end(),
                             [&a](const active_fault& x) { return x.id == a.id; });
    if (!still)
      return; // stopped meanwhile: end_fault reported it already
    if (!error.empty() || spec.duration.count() <= 0)
      end_fault(self, a.id, error.empty() ? "instant" : "failed");
    else
      self->delayed_send(handle_of(self), spec.duration, end_atom::value, a.id);
  };
  if (!spec.apply.empty()) {
    if (spec.hit_counter != nullptr) {
      a.before = read_tally(st.server);
      for (auto& x : st.active)
        if (x.id == a.id)
          x.before = a.before;
    }
    auto error = call_server(st.server, spec.apply);
    if (!error.empty() && !spec.rollback.empty())
      call_server(st.server, spec.rollback); // half applied: undo what took
    finish_start(a, error);
    return;
  }
  if (!spec.toxic.empty() || spec.proxy_refuse) {
    std::string error;
    if (!st.proxy)
      error = "no fault proxy in this run";
    else if (spec.proxy_refuse)
      error = st.proxy.refuse(entry, true);
    else
      error = st.proxy.add(entry, spec.toxic, spec.toxicity, a.toxic_id);
    a.has_toxic = error.empty() && !spec.proxy_refuse;
    for (auto& x : st.active)
      if (x.id == a.id) {
        x.toxic_id = a.toxic_id;
        x.has_toxic = a.has_toxic;
      }
    finish_start(a, error);
    return;
  }
  if (!spec.user) {
    finish_start(a, "nothing to apply");
    return;
  }
  auto order = *spec.user;
  order.fault_id = a.id;
  order.on = true;
  if (st.supervisors.empty()) {
    a.hit = 0;
    finish_start(a, {});
    return;
  }
  struct tally {
    std::size_t remaining = 0;
    std::int64_t hit = 0;
  };
  auto t = std::make_shared<tally>();
  t->remaining = st.supervisors.size();
  auto one = [t, a, finish_start](uint32_t n) mutable {
    t->hit += n;
    if (--t->remaining == 0) {
      a.hit = t->hit;
      finish_start(a, {});
    }
  };
  for (auto& sup : st.supervisors)
    self->request(sup, st.config.reply_timeout, fault_atom::value, order)
        .then([one](uint32_t n) mutable { one(n); }, [one](const caf::error&) mutable { one(0); });
}

/// Rolls back every active fault (stop, end of run, the actor going down).
void stop_all(self_ptr self, const std::string& ended_by) {
  auto& st = self->state;
  st.stopped = true;
  std::vector<uint32_t> ids;
  for (auto& a : st.active)
    ids.push_back(a.id);
  for (auto id : ids)
    end_fault(self, id, ended_by);
  // Instant server faults still settling: read their hits now, the run is ending.
  for (auto& a : st.settling) {
    auto hit = server_hits(st.server, st.config.faults[a.entry], *a.before);
    if (hit >= 0 && st.metrics)
      caf::anon_send(st.metrics, fault_atom::value, a.id, hit);
  }
  st.settling.clear();
}

} // namespace

fault_injector_state::~fault_injector_state() {
  for (auto& a : active) {
    const auto& spec = config.faults[a.entry];
    if (spec.user) {
      auto order = *spec.user;
      order.fault_id = a.id;
      order.on = false;
      for (auto& sup : supervisors)
        caf::anon_send(sup, fault_atom::value, order);
    }
    std::string error;
    if (!spec.rollback.empty())
      error = call_server(server, spec.rollback);
    std::int64_t affected = -1;
    if (auto e = proxy_rollback(proxy, spec, a, affected); error.empty())
      error = e;
    if (metrics) {
      metrics::fault_record r;
      r.id = a.id;
      r.name = spec.name;
      r.kind = spec.kind;
      r.entry = a.entry;
      r.target = spec.target;
      r.hit = a.hit;
      r.ended_by = "end of run";
      if (!error.empty())
        r.error = "rollback failed: " + error;
      caf::anon_send(metrics, fault_atom::value, std::move(r), true);
    }
  }
}

fault_injector_actor::behavior_type
fault_injector(fault_injector_actor::stateful_pointer<fault_injector_state> self,
               fault_injector_config config, std::vector<supervisor_actor> supervisors,
               caf::actor metrics, server_fault_port server, proxy_fault_port proxy) {
  auto& st = self->state;
  st.config = std::move(config);
  st.supervisors = std::move(supervisors);
  st.metrics = std::move(metrics);
  st.server = std::move(server);
  st.proxy = std::move(proxy);
  for (uint32_t i = 0; i < st.config.faults.size(); ++i) {
    auto at = st.config.faults[i].at;
    if (at.count() <= 0)
      self->send(handle_of(self), start_atom::value, i, uint32_t{1});
    else
      self->delayed_send(handle_of(self), at, start_atom::value, i, uint32_t{1});
  }
  return {
      [self](start_atom, uint32_t entry, uint32_t occurrence) {
        start_fault(self, entry, occurrence);
      },
      [self](end_atom, uint32_t id) { end_fault(self, id, "schedule"); },
      [self](tally_atom, uint32_t id) {
        auto& st = self->state;
        auto it = std::find_if(st.settling.begin(), st.settling.end(),
                               [id](const active_fault& a) { return a.id == id; });
        if (it == st.settling.end())
          return;
        auto a = *it;
        st.settling.erase(it);
        auto hit = server_hits(st.server, st.config.faults[a.entry], *a.before);
        if (hit >= 0 && st.metrics)
          caf::anon_send(st.metrics, fault_atom::value, id, hit);
      },
      [self](stop_atom) -> done_atom {
        stop_all(self, "stop");
        return done_atom::value;
      },
  };
}

} // namespace stompede
