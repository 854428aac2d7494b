#include "cluster/agent.hpp"

#include "actors/atoms.hpp"
#include "actors/io_aggregate.hpp"
#include "actors/io_pool.hpp"
#include "actors/login.hpp"
#include "actors/metrics_actor.hpp"
#include "actors/population_plan.hpp"
#include "actors/supervisor.hpp"
#include "actors/user_actor.hpp"
#include "actors/user_plan.hpp"
#include "cluster/messages.hpp"
#include "config/loader.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <pthread.h>
#include <sys/resource.h>
#include <thread>

namespace stompede::cluster {

std::uint32_t slice_size(std::uint32_t peak, std::uint32_t index, std::uint32_t count) {
  if (count == 0 || peak <= index)
    return 0;
  return (peak - index + count - 1) / count;
}

namespace {

/// What a worker holds for its slice: the IO threads, the identities, the settings. Built on a
/// thread of its own (logins block), torn down after the actor system is gone.
struct worker_runtime {
  config::scenario sc;
  std::uint32_t index = 0;
  std::uint32_t count = 1;
  std::unique_ptr<io_pool> pool;
  std::vector<io_aggregate> aggregates;
  std::shared_ptr<const session_settings> settings;
  std::shared_ptr<const std::vector<user_identity>> ids;
  std::thread preparing;

  ~worker_runtime() {
    if (preparing.joinable())
      preparing.join();
    if (pool)
      pool->stop(); // before the aggregates the sessions record into go away
  }
};

/// Builds the slice: scenario, identities of this worker's users, IO threads, logins.
bool prepare(worker_runtime& rt, const worker_plan& plan, std::string& why) {
  auto loaded = config::load_scenario_text(plan.scenario_toml, "worker plan", {}, {});
  if (!loaded.ok()) {
    why = "the scenario from the controller does not load here: " +
          (loaded.problems.empty() ? std::string{"?"} : loaded.problems.front().to_string());
    return false;
  }
  rt.sc = std::move(*loaded.value);
  rt.index = plan.index;
  rt.count = std::max<std::uint32_t>(1, plan.count);
  if (!plan.source_address.empty())
    rt.sc.target.source_addresses = {plan.source_address};
  if (!plan.target_url.empty())
    rt.sc.target.url = plan.target_url;
  auto peak = config::peak_users(rt.sc);
  auto users = slice_size(peak, rt.index, rt.count);
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  if (static_cast<rlim_t>(users) + 64 > rl.rlim_cur) {
    why = std::to_string(users) + " users need " + std::to_string(users + 64) +
          " open files but this process may open " + std::to_string(rl.rlim_cur) +
          "; use more workers";
    return false;
  }
  // The identities a single process would give these users (member id, room, behaviour).
  auto all = make_identities(rt.sc, peak);
  std::vector<user_identity> mine;
  mine.reserve(users);
  for (std::uint32_t j = 0; j < users; ++j)
    mine.push_back(std::move(all[global_index(j, rt.index, rt.count)]));
  rt.pool = std::make_unique<io_pool>(rt.sc.run.io_threads);
  rt.aggregates = std::vector<io_aggregate>(rt.pool->size());
  auto session_cfg = make_session_settings(rt.sc);
  session_cfg.sending_paused = std::make_shared<std::atomic<bool>>(false);
  // Keys carry the global user index (as one process would number the user).
  session_cfg.keys = std::make_shared<key_sequences>(peak);
  rt.settings = std::make_shared<const session_settings>(std::move(session_cfg));
  std::int64_t created_room = 0;
  if (!prepare_users(*rt.pool, rt.sc, mine, created_room, why))
    return false;
  rt.ids = std::make_shared<const std::vector<user_identity>>(std::move(mine));
  return true;
}

// -- the slice actor: the worker's supervisors and IO threads behind one handle ---------------

std::int64_t wall_now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

/// Adds `from`'s records to `into`.
void append(metrics::ledger_shard& into, metrics::ledger_shard&& from) {
  if (into.sent.empty())
    into.sent = std::move(from.sent);
  else
    into.sent.insert(into.sent.end(), from.sent.begin(), from.sent.end());
  if (into.deliveries.empty())
    into.deliveries = std::move(from.deliveries);
  else
    into.deliveries.insert(into.deliveries.end(), from.deliveries.begin(), from.deliveries.end());
  if (into.sessions.empty())
    into.sessions = std::move(from.sessions);
  else
    into.sessions.insert(into.sessions.end(), from.sessions.begin(), from.sessions.end());
  into.server_seq_checked += from.server_seq_checked;
  into.server_seq_gaps += from.server_seq_gaps;
  into.server_seq_regressions += from.server_seq_regressions;
}

/// One (get_atom, delta_atom) being answered.
struct collection {
  caf::response_promise promise;
  std::size_t pending = 0;
  worker_delta delta;
};

struct slice_state {
  static inline const char* name = "slice";
  worker_runtime* rt = nullptr;
  std::vector<supervisor_actor> supervisors;
  std::uint32_t per_shard = 1000;
  std::vector<std::uint32_t> targets;
  /// Latest stats per supervisor (a supervisor quits after shutdown: its last word stays).
  std::vector<supervisor_stats> last;
  /// Restart counts already shipped.
  std::uint64_t counted_attempts = 0;
  std::uint64_t counted_successes = 0;
  std::uint64_t counted_give_ups = 0;
  supervisor_stats counted_arrivals;
  /// Round-robin position for open-model arrivals over the worker's supervisors.
  std::size_t next_shard = 0;
  std::map<std::uint64_t, std::shared_ptr<collection>> collecting;
  std::uint64_t next_id = 0;
};

using slice_ptr = caf::stateful_actor<slice_state>*;

supervisor_stats sum(const std::vector<supervisor_stats>& xs) {
  supervisor_stats total;
  for (auto& x : xs)
    total += x;
  return total;
}

void one_part_done(slice_ptr self, std::uint64_t id) {
  auto& st = self->state;
  auto it = st.collecting.find(id);
  if (it == st.collecting.end() || --it->second->pending > 0)
    return;
  auto c = it->second;
  st.collecting.erase(it);
  auto total = sum(st.last);
  auto& counters = c->delta.io.counters;
  counters.reconnect_attempts += total.attempts - std::min(total.attempts, st.counted_attempts);
  counters.reconnect_successes += total.successes - std::min(total.successes, st.counted_successes);
  counters.give_ups += total.give_ups - std::min(total.give_ups, st.counted_give_ups);
  st.counted_attempts = std::max(st.counted_attempts, total.attempts);
  st.counted_successes = std::max(st.counted_successes, total.successes);
  st.counted_give_ups = std::max(st.counted_give_ups, total.give_ups);
  // Open-model counts, kept by the supervisors like the restart counts.
  auto grow = [](std::uint64_t now, std::uint64_t& counted) {
    auto d = now - std::min(now, counted);
    counted = std::max(counted, now);
    return d;
  };
  counters.arrivals += grow(total.arrivals, st.counted_arrivals.arrivals);
  counters.arrivals_started += grow(total.arrivals_started, st.counted_arrivals.arrivals_started);
  counters.arrivals_dropped += grow(total.arrivals_dropped, st.counted_arrivals.arrivals_dropped);
  counters.sessions_completed +=
      grow(total.sessions_completed, st.counted_arrivals.sessions_completed);
  c->delta.target_users = total.target;
  c->delta.reconnecting = total.reconnecting;
  c->promise.deliver(std::move(c->delta));
}

caf::behavior slice_actor(slice_ptr self, worker_runtime* rt) {
  auto& st = self->state;
  st.rt = rt;
  auto& sc = rt->sc;
  auto users = static_cast<std::uint32_t>(rt->ids->size());
  st.per_shard = sc.run.users_per_shard;
  auto shards = users == 0 ? 0 : shards_needed(users, sc.run.users_per_shard);
  user_deps deps{rt->pool.get(), rt->aggregates.data(), rt->settings};
  user_factory factory = [deps](caf::local_actor* owner, const user_identity& id) {
    return owner->spawn(user_actor, deps, id, caf::actor_cast<caf::actor>(owner));
  };
  auto ids = rt->ids;
  identity_fn identity = [ids](std::uint32_t local) {
    return (*ids)[std::min<std::size_t>(local, ids->size() - 1)];
  };
  for (std::size_t s = 0; s < shards; ++s) {
    // The same jitter seeds as one process would not matter; distinct per worker and shard do.
    auto cfg = make_supervisor_config(sc, static_cast<std::uint32_t>(s * sc.run.users_per_shard),
                                      sc.run.random_seed + rt->index * 1000003ULL + s);
    st.supervisors.push_back(self->spawn<caf::linked>(supervisor, cfg, factory, identity));
  }
  st.last.resize(st.supervisors.size());
  st.targets.assign(st.supervisors.size(), 0);
  return {
      [self](target_atom, std::uint32_t total) {
        auto& st = self->state;
        auto split = split_target(total, st.supervisors.size(), st.per_shard,
                                  static_cast<std::uint32_t>(st.rt->ids->size()));
        for (std::size_t k = 0; k < split.size(); ++k)
          if (split[k] != st.targets[k])
            self->send(st.supervisors[k], target_atom::value, split[k]);
        st.targets = std::move(split);
      },
      [self](arrive_atom, std::uint32_t count, std::uint32_t min_ms, std::uint32_t max_ms,
             std::uint32_t cap) {
        // Open model: this worker's share of the arrivals and of the cap, dealt round robin
        // over its supervisors as the director deals them over workers.
        auto& st = self->state;
        auto n = st.supervisors.size();
        if (n == 0)
          return;
        auto caps =
            split_target(cap, n, st.per_shard, static_cast<std::uint32_t>(st.rt->ids->size()));
        std::vector<std::uint32_t> counts(n, 0);
        for (std::uint32_t i = 0; i < count; ++i) {
          auto k = st.next_shard % n;
          for (std::size_t tries = 1; caps[k] == 0 && tries < n; ++tries)
            k = (k + 1) % n;
          ++counts[k];
          st.next_shard = k + 1;
        }
        for (std::size_t k = 0; k < n; ++k)
          if (counts[k] > 0)
            self->send(st.supervisors[k], arrive_atom::value, counts[k], min_ms, max_ms, caps[k]);
      },
      [self](stage_atom, std::uint32_t stage) {
        for (auto& sup : self->state.supervisors)
          self->send(sup, stage_atom::value, stage);
      },
      [self](get_atom, stats_atom) {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        if (st.supervisors.empty()) {
          rp.deliver(supervisor_stats{});
          return;
        }
        auto left = std::make_shared<std::size_t>(st.supervisors.size());
        for (std::size_t i = 0; i < st.supervisors.size(); ++i) {
          auto done = [self, rp, left]() mutable {
            if (--*left == 0)
              rp.deliver(sum(self->state.last));
          };
          self->request(st.supervisors[i], std::chrono::seconds(1), get_atom::value,
                        stats_atom::value)
              .then(
                  [self, i, done](const supervisor_stats& s) mutable {
                    self->state.last[i] = s;
                    done();
                  },
                  [done](caf::error&) mutable { done(); });
        }
      },
      [self](shutdown_atom) {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        if (st.supervisors.empty()) {
          rp.deliver(done_atom::value, supervisor_stats{});
          return;
        }
        auto left = std::make_shared<std::size_t>(st.supervisors.size());
        for (std::size_t i = 0; i < st.supervisors.size(); ++i) {
          auto done = [self, rp, left]() mutable {
            if (--*left == 0)
              rp.deliver(done_atom::value, sum(self->state.last));
          };
          self->request(st.supervisors[i], std::chrono::seconds(60), shutdown_atom::value)
              .then(
                  [self, i, done](done_atom, const supervisor_stats& s) mutable {
                    self->state.last[i] = s;
                    done();
                  },
                  [done](caf::error&) mutable { done(); });
        }
      },
      [self](get_atom, delta_atom) {
        auto& st = self->state;
        auto id = ++st.next_id;
        auto c = std::make_shared<collection>();
        c->promise = self->make_response_promise();
        c->pending = st.rt->pool->size() + 2 * st.supervisors.size() + 1;
        st.collecting.emplace(id, c);
        caf::actor me = caf::actor_cast<caf::actor>(self);
        for (std::size_t i = 0; i < st.rt->pool->size(); ++i) {
          auto* agg = &st.rt->aggregates[i];
          st.rt->pool->post(i, [me, agg, id] {
            auto d = take_delta(*agg);
            d.taken_at_us = wall_now_us();
            caf::anon_send(me, delta_atom::value, std::move(d), id);
          });
        }
        for (std::size_t i = 0; i < st.supervisors.size(); ++i) {
          self->request(st.supervisors[i], std::chrono::seconds(2), get_atom::value,
                        stats_atom::value)
              .then(
                  [self, i, id](const supervisor_stats& s) {
                    self->state.last[i] = s;
                    one_part_done(self, id);
                  },
                  [self, id](caf::error&) { one_part_done(self, id); });
          self->request(st.supervisors[i], std::chrono::seconds(2), get_atom::value,
                        reconnect_atom::value)
              .then(
                  [self, c, id](const std::vector<std::int64_t>& samples) {
                    for (auto ms : samples)
                      c->delta.io.histograms.reconnect_time_ms.record(ms);
                    one_part_done(self, id);
                  },
                  [self, id](caf::error&) { one_part_done(self, id); });
        }
        one_part_done(self, id); // the "+ 1": nothing to wait for when the slice is empty
      },
      [self](control_atom, bool paused) {
        // Live control's pause/resume: the flag every session checks before a chat send.
        self->state.rt->settings->sending_paused->store(paused);
      },
      [self](delta_atom, io_delta& d, std::uint64_t id) {
        auto& st = self->state;
        auto it = st.collecting.find(id);
        if (it == st.collecting.end())
          return;
        auto& acc = it->second->delta.io;
        acc.counters += d.counters;
        acc.histograms.merge(d.histograms);
        acc.open_sessions += d.open_sessions;
        acc.subscribed_sessions += d.subscribed_sessions;
        acc.in_flight += d.in_flight;
        metrics::merge(acc.behaviours, d.behaviours);
        if (!d.tls_failure.empty())
          acc.tls_failure = std::move(d.tls_failure);
        if (!d.server_error.empty())
          acc.server_error = std::move(d.server_error);
        // Message accounting: the controller's ledger merges every worker's records (keys carry
        // the global user index, so a message sent here and received on another worker is
        // matched there). This worker's mark is its oldest IO thread's.
        append(acc.ledger, std::move(d.ledger));
        acc.taken_at_us =
            acc.taken_at_us == 0 ? d.taken_at_us : std::min(acc.taken_at_us, d.taken_at_us);
        one_part_done(self, id);
      },
  };
}

// -- the agent actor: the published face of the process --------------------------------------

struct agent_state {
  static inline const char* name = "agent";
  std::shared_ptr<worker_runtime> rt;
  caf::actor listener;
  caf::actor controller;
  caf::actor slice;
  std::uint32_t index = 0;
  bool busy = false;
  bool preparing = false;
  /// The run whose slice this agent runs (worker_plan::run_id).
  std::uint64_t run_id = 0;
  bool ending = false;
  bool quiet = false;
  /// Callers of (stop_atom) waiting for the end.
  std::vector<caf::response_promise> waiting;
};

using agent_ptr = caf::stateful_actor<agent_state>*;

/// Tags a stop that comes from this process's own signals, not from a controller.
using local_atom = caf::atom_constant<caf::atom("local")>;

void finish(agent_ptr self) {
  auto& st = self->state;
  for (auto& rp : st.waiting)
    rp.deliver(done_atom::value);
  st.waiting.clear();
  if (st.slice)
    self->send_exit(st.slice, caf::exit_reason::user_shutdown);
  caf::anon_send(st.listener, done_atom::value);
  self->quit();
}

/// Stops every user of the slice (graceful DISCONNECTs), then ends the agent. `resume`: the
/// logins that were going on when the end was asked for are over now.
void wind_down(agent_ptr self, bool resume = false) {
  auto& st = self->state;
  if (st.ending && !resume)
    return;
  st.ending = true;
  if (st.preparing)
    return; // the logins finish first; their ready message resumes this
  if (!st.slice) {
    finish(self);
    return;
  }
  self->request(st.slice, std::chrono::seconds(90), shutdown_atom::value)
      .then([self](done_atom, const supervisor_stats&) { finish(self); },
            [self](caf::error&) { finish(self); });
}

caf::behavior agent_actor(agent_ptr self, std::shared_ptr<worker_runtime> rt, caf::actor listener,
                          bool quiet) {
  self->state.rt = std::move(rt);
  self->state.listener = std::move(listener);
  self->state.quiet = quiet;
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    if (st.controller && dm.source == st.controller.address()) {
      if (!st.quiet)
        std::fprintf(stderr, "stompede agent: the controller went away; stopping the users\n");
      wind_down(self);
    }
  });
  return {
      [self](assign_atom, worker_plan& plan) {
        auto& st = self->state;
        auto sender = caf::actor_cast<caf::actor>(self->current_sender());
        if (st.busy) {
          if (sender)
            self->send(sender, ready_atom::value, plan.index,
                       std::string{"this agent already runs a slice of another run"});
          return;
        }
        st.busy = true;
        st.preparing = true;
        st.index = plan.index;
        st.run_id = plan.run_id;
        st.controller = sender;
        if (sender)
          self->monitor(sender);
        if (!st.quiet)
          std::fprintf(stderr, "stompede agent: worker %u of %u, logging in its users\n",
                       plan.index, plan.count);
        caf::actor me = caf::actor_cast<caf::actor>(self);
        auto* runtime = st.rt.get();
        st.rt->preparing = std::thread([runtime, plan = std::move(plan), me] {
          std::string why;
          bool ok = prepare(*runtime, plan, why);
          caf::anon_send(me, ready_atom::value, ok, why);
        });
      },
      [self](ready_atom, bool ok, std::string& why) {
        auto& st = self->state;
        st.preparing = false;
        if (ok)
          st.slice = self->spawn(slice_actor, st.rt.get());
        if (st.ending) {
          wind_down(self, true);
          return;
        }
        if (!ok) {
          std::fprintf(stderr, "stompede agent: %s\n", why.c_str());
          if (st.controller)
            self->send(st.controller, ready_atom::value, st.index, why);
          finish(self);
          return;
        }
        if (st.controller)
          self->send(st.controller, ready_atom::value, st.index, st.slice);
      },
      [self](stop_atom, std::uint64_t run_id) {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        // Only this slice's controller ends it. Another controller (one this agent refused: it
        // runs another run's slice) stops what it started, which is nothing here.
        if (st.busy && run_id != st.run_id) {
          if (!st.quiet)
            std::fprintf(stderr, "stompede agent: a stop from another run's controller is "
                                 "ignored\n");
          rp.deliver(done_atom::value);
          return;
        }
        st.waiting.push_back(std::move(rp));
        wind_down(self);
      },
      [self](stop_atom, local_atom) {
        // SIGINT/SIGTERM on the agent's own process.
        wind_down(self);
      },
  };
}

/// SIGINT/SIGTERM -> (stop_atom) to the agent; a second signal ends the process at once.
class agent_signals {
public:
  explicit agent_signals(caf::actor agent) : agent_(std::move(agent)) {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR2);
    thread_ = std::thread([this] {
      bool first = true;
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0)
          continue;
        if (sig == SIGUSR2)
          return;
        if (!first)
          std::_Exit(sig == SIGTERM ? 143 : 130);
        first = false;
        caf::anon_send(agent_, stop_atom::value, local_atom::value);
      }
    });
  }
  ~agent_signals() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
  }

private:
  caf::actor agent_;
  sigset_t set_{};
  std::thread thread_;
};

} // namespace

int run_agent(const agent_options& opts) {
  auto colon = opts.listen.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    std::fprintf(stderr, "--listen: expected host:port, got '%s'\n", opts.listen.c_str());
    return 2;
  }
  auto host = opts.listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  unsigned long port = 0;
  try {
    std::size_t used = 0;
    port = std::stoul(opts.listen.substr(colon + 1), &used);
    if (used != opts.listen.size() - colon - 1 || port > 65535)
      throw std::out_of_range("port");
  } catch (const std::exception&) {
    std::fprintf(stderr, "--listen: expected a port number 0-65535 in '%s'\n", opts.listen.c_str());
    return 2;
  }
  // Block the stop signals in every thread started from here on; one thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  auto rt = std::make_shared<worker_runtime>();
  int code = 0;
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    cfg.set("scheduler.policy", caf::atom("sharing"));
    configure_link(cfg);
    caf::actor_system sys{cfg};
    caf::scoped_actor self{sys};
    auto agent = sys.spawn(agent_actor, rt, caf::actor_cast<caf::actor>(self), opts.quiet);
    auto bound = sys.middleman().publish(agent, static_cast<std::uint16_t>(port), host.c_str());
    if (!bound) {
      std::fprintf(stderr, "stompede agent: cannot listen on %s: %s\n", opts.listen.c_str(),
                   sys.render(bound.error()).c_str());
      self->send_exit(agent, caf::exit_reason::user_shutdown);
      return 1;
    }
    std::printf("stompede agent: listening on %s:%u\n", host.c_str(),
                static_cast<unsigned>(*bound));
    std::fflush(stdout);
    agent_signals signals{agent};
    self->receive([](done_atom) {});
  }
  rt.reset(); // the IO threads stop after every user actor is gone
  return code;
}

} // namespace stompede::cluster
