#include "cluster/controller.hpp"

#include "actors/atoms.hpp"
#include "actors/supervisor.hpp"
#include "cluster/agent.hpp"
#include "cluster/messages.hpp"
#include "config/print.hpp"
#include "protocol/url.hpp"

#include <caf/all.hpp>
#include <caf/io/middleman.hpp>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <mutex>
#include <optional>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <random>
#include <thread>
#include <unistd.h>

namespace stompede::cluster {

namespace {

using clock_type = std::chrono::steady_clock;

/// Workers lost as the link actor saw them (the engine's thread reads them).
struct loss_log {
  std::mutex m;
  std::vector<std::pair<std::uint32_t, std::string>> entries;
};

// -- the link actor: this process's end of the controller-worker link ------------------------

struct link_state {
  static inline const char* name = "controller_link";
  std::vector<caf::actor> agents;
  std::vector<worker_plan> plans;
  std::vector<caf::actor> slices;
  std::vector<bool> alive;
  std::size_t ready = 0;
  std::optional<caf::response_promise> starting;
  std::shared_ptr<loss_log> losses;
};

using link_ptr = caf::stateful_actor<link_state>*;

void fail_start(link_ptr self, const std::string& why) {
  auto& st = self->state;
  if (!st.starting)
    return;
  st.starting->deliver(caf::make_error(caf::sec::runtime_error, why));
  st.starting.reset();
}

caf::behavior link_actor(link_ptr self, std::vector<caf::actor> agents,
                         std::vector<worker_plan> plans, std::shared_ptr<loss_log> losses) {
  auto& st = self->state;
  st.agents = std::move(agents);
  st.plans = std::move(plans);
  st.slices.resize(st.agents.size());
  st.alive.assign(st.agents.size(), true);
  st.losses = std::move(losses);
  self->set_down_handler([self](caf::down_msg& dm) {
    auto& st = self->state;
    for (std::size_t k = 0; k < st.agents.size(); ++k) {
      if (!st.alive[k] || dm.source != st.agents[k].address())
        continue;
      st.alive[k] = false;
      auto reason = dm.reason ? self->system().render(dm.reason) : std::string{"ended"};
      {
        std::lock_guard<std::mutex> guard(st.losses->m);
        st.losses->entries.emplace_back(static_cast<std::uint32_t>(k),
                                        "its link closed (" + reason + ")");
      }
      fail_start(self, "worker " + std::to_string(k) + " went away before its users were ready");
    }
  });
  return {
      [self](assign_atom) {
        auto& st = self->state;
        st.starting = self->make_response_promise();
        for (std::size_t k = 0; k < st.agents.size(); ++k) {
          self->monitor(st.agents[k]);
          self->send(st.agents[k], assign_atom::value, st.plans[k]);
        }
      },
      [self](ready_atom, std::uint32_t k, caf::actor slice) {
        auto& st = self->state;
        if (k >= st.slices.size() || !st.starting)
          return;
        st.slices[k] = std::move(slice);
        if (++st.ready == st.slices.size()) {
          st.starting->deliver(st.slices);
          st.starting.reset();
        }
      },
      [self](ready_atom, std::uint32_t k, std::string& why) {
        fail_start(self, "worker " + std::to_string(k) + ": " + why);
      },
      [self](lost_atom, std::uint32_t k) {
        // Declared lost by the controller (it stopped answering): no stop is sent to it.
        if (k < self->state.alive.size())
          self->state.alive[k] = false;
      },
      [self](stop_atom) {
        auto& st = self->state;
        auto rp = self->make_response_promise();
        auto left = std::make_shared<std::size_t>(0);
        for (std::size_t k = 0; k < st.agents.size(); ++k)
          if (st.alive[k])
            ++*left;
        if (*left == 0) {
          rp.deliver(done_atom::value);
          return;
        }
        for (std::size_t k = 0; k < st.agents.size(); ++k) {
          if (!st.alive[k])
            continue;
          auto one = [self, rp, left, k]() mutable {
            self->state.alive[k] = false; // an end asked for is no loss
            if (--*left == 0)
              rp.deliver(done_atom::value);
          };
          self->request(st.agents[k], std::chrono::seconds(30), stop_atom::value,
                        st.plans[k].run_id)
              .then([one](done_atom) mutable { one(); }, [one](caf::error&) mutable { one(); });
        }
      },
  };
}

// -- the local stand-in of a worker's slice -------------------------------------------------

/// What the stage director and the metrics actor hold for a worker: forwards everything to the
/// worker's slice (`delegate`: the answer goes straight back to the asker) until the worker is
/// declared lost; from then on it answers at once (no users, no figures) instead of leaving the
/// director's shutdown or a metrics collection waiting for their timeouts.
caf::behavior slice_stub(caf::event_based_actor* self, caf::actor remote) {
  auto lost = std::make_shared<bool>(false);
  return {
      [=](lost_atom) { *lost = true; },
      [=](target_atom, std::uint32_t n) {
        if (!*lost)
          self->send(remote, target_atom::value, n);
      },
      [=](arrive_atom, std::uint32_t count, std::uint32_t min_ms, std::uint32_t max_ms,
          std::uint32_t cap) {
        if (!*lost)
          self->send(remote, arrive_atom::value, count, min_ms, max_ms, cap);
      },
      [=](stage_atom, std::uint32_t stage) {
        if (!*lost)
          self->send(remote, stage_atom::value, stage);
      },
      [=](control_atom, bool paused) {
        if (!*lost)
          self->send(remote, control_atom::value, paused);
      },
      [=](get_atom, stats_atom) {
        if (*lost)
          self->make_response_promise().deliver(supervisor_stats{});
        else
          self->delegate(remote, get_atom::value, stats_atom::value);
      },
      [=](shutdown_atom) {
        if (*lost)
          self->make_response_promise().deliver(done_atom::value, supervisor_stats{});
        else
          self->delegate(remote, shutdown_atom::value);
      },
      [=](get_atom, delta_atom) {
        if (*lost)
          self->make_response_promise().deliver(caf::make_error(caf::sec::request_receiver_down));
        else
          self->delegate(remote, get_atom::value, delta_atom::value);
      },
  };
}

// -- worker processes ---------------------------------------------------------------------

struct child {
  pid_t pid = -1;
  int out = -1; // read end of its stdout
  bool reaped = false;
  int status = 0;
};

std::string describe_status(int status) {
  if (WIFEXITED(status))
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status))
    return std::string{"killed by signal "} + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
  return "ended";
}

/// Starts `program agent --listen 127.0.0.1:0 --quiet` with its stdout on a pipe, in a process
/// group of its own (a terminal's Ctrl-C reaches the controller only, which drains the run),
/// ending with the controller (PR_SET_PDEATHSIG).
bool spawn_worker(const std::string& program, child& c, std::string& why) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    why = std::string{"pipe: "} + std::strerror(errno);
    return false;
  }
  std::vector<std::string> args{program, "agent", "--listen", "127.0.0.1:0", "--quiet"};
  std::vector<char*> argv;
  for (auto& a : args)
    argv.push_back(a.data());
  argv.push_back(nullptr);
  auto parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    why = std::string{"fork: "} + std::strerror(errno);
    ::close(fds[0]);
    ::close(fds[1]);
    return false;
  }
  if (pid == 0) {
    // Only async-signal-safe calls until exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
      _exit(127);
    dup2(fds[1], STDOUT_FILENO);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  ::close(fds[1]);
  c.pid = pid;
  c.out = fds[0];
  return true;
}

/// Reads the worker's "listening on HOST:PORT" line; 0 when it does not come in time.
std::uint16_t read_port(child& c, clock_type::time_point deadline, std::string& why) {
  std::string line;
  while (clock_type::now() < deadline) {
    pollfd p{c.out, POLLIN, 0};
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock_type::now());
    int r = ::poll(&p, 1, static_cast<int>(std::max<std::int64_t>(1, left.count())));
    if (r <= 0)
      continue;
    char ch;
    auto n = ::read(c.out, &ch, 1);
    if (n <= 0) {
      why = "it ended before listening";
      return 0;
    }
    if (ch != '\n') {
      line += ch;
      continue;
    }
    auto colon = line.rfind(':');
    if (line.find("listening on") != std::string::npos && colon != std::string::npos)
      return static_cast<std::uint16_t>(std::atoi(line.c_str() + colon + 1));
    line.clear();
  }
  why = "it did not listen within the time allowed";
  return 0;
}

bool is_loopback(const std::string& url) {
  auto u = net::parse_url(url);
  if (!u)
    return false;
  return u->host == "localhost" || u->host.rfind("127.", 0) == 0;
}

/// The scenario a worker runs: the same users, rooms and behaviour; no server, listeners or
/// reports of its own (the controller has those).
config::scenario worker_scenario(config::scenario sc) {
  sc.target.embedded = false;
  sc.target.embedded_cert_file.clear();
  sc.target.embedded_key_file.clear();
  sc.output.prometheus.clear();
  sc.output.csv = false;
  sc.output.html = false;
  sc.control.listen.clear();
  sc.control.keys = false;
  sc.server_metrics = {};
  sc.thresholds = {};
  // Faults are applied by the controller (server faults) and refused for workers otherwise
  // (user and proxy faults): a worker's plan carries none, and no experiment to check (an
  // embedded target's server faults would otherwise ask the worker for an admin token).
  sc.experiment = {};
  sc.faults.clear();
  return sc;
}

class controller_impl final : public controller {
public:
  controller_impl(const config::scenario& sc, controller_options opts)
      : sc_(sc), opts_(std::move(opts)), losses_(std::make_shared<loss_log>()) {
    if (opts_.program.empty())
      opts_.program = "/proc/self/exe";
  }

  ~controller_impl() override {
    kill_children();
  }

  void configure(caf::actor_system_config& cfg) override {
    configure_link(cfg);
  }

  std::vector<caf::actor> start(caf::actor_system& sys, std::string& why) override {
    sys_ = &sys;
    started_ = clock_type::now();
    const auto count = worker_count();
    // Where every worker listens: local ones tell us on their stdout.
    std::vector<std::pair<std::string, std::uint16_t>> where;
    for (std::uint32_t k = 0; k < opts_.workers; ++k) {
      child c;
      if (!spawn_worker(opts_.program, c, why)) {
        why = "cannot start worker " + std::to_string(k) + ": " + why;
        return {};
      }
      children_.push_back(c);
    }
    auto deadline = clock_type::now() + std::chrono::seconds(20);
    for (std::uint32_t k = 0; k < opts_.workers; ++k) {
      std::string problem;
      auto port = read_port(children_[k], deadline, problem);
      if (port == 0) {
        why = "worker " + std::to_string(k) + " (" + opts_.program + " agent): " + problem;
        return {};
      }
      where.emplace_back("127.0.0.1", port);
    }
    for (auto& a : opts_.agents) {
      auto colon = a.rfind(':');
      where.emplace_back(a.substr(0, colon),
                         static_cast<std::uint16_t>(std::atoi(a.c_str() + colon + 1)));
    }
    // Connect over CAF's middleman; hand out the slices.
    std::vector<caf::actor> agents;
    for (std::size_t k = 0; k < where.size(); ++k) {
      auto h = sys.middleman().remote_actor(where[k].first, where[k].second);
      if (!h) {
        why = "cannot reach worker " + std::to_string(k) + " at " + where[k].first + ":" +
              std::to_string(where[k].second) + ": " + sys.render(h.error());
        return {};
      }
      agents.push_back(*h);
    }
    auto text = config::to_toml_with_secrets(worker_scenario(sc_));
    std::vector<worker_plan> plans;
    const std::uint64_t run_id = std::random_device{}() * 0x100000000ull ^ std::random_device{}();
    for (std::uint32_t k = 0; k < count; ++k) {
      worker_plan p;
      p.run_id = run_id;
      p.scenario_toml = text;
      p.index = k;
      p.count = count;
      // Each worker its own loopback source address (127.0.0.2, .3, ...): ephemeral ports are
      // per source address. A scenario's own source_addresses are kept as they are.
      auto url = opts_.targets.empty() ? sc_.target.url : opts_.targets[k % opts_.targets.size()];
      if (is_loopback(url) && sc_.target.source_addresses.empty())
        p.source_address =
            "127.0." + std::to_string((k + 2) / 256) + "." + std::to_string((k + 2) % 256);
      if (!opts_.targets.empty())
        p.target_url = opts_.targets[k % opts_.targets.size()];
      plans.push_back(std::move(p));
    }
    link_ = sys.spawn(link_actor, std::move(agents), std::move(plans), losses_);
    std::vector<caf::actor> slices;
    caf::scoped_actor self{sys};
    self->request(link_, opts_.ready_timeout, assign_atom::value)
        .receive([&](std::vector<caf::actor>& xs) { slices = std::move(xs); },
                 [&](caf::error& e) {
                   why = e.category() == caf::atom("system") &&
                                 e.code() == static_cast<std::uint8_t>(caf::sec::request_timeout)
                             ? "the workers were not ready within " +
                                   std::to_string(opts_.ready_timeout.count()) + " s"
                             : sys.render(e);
                 });
    lost_.assign(count, false);
    if (slices.size() != count)
      return {};
    for (auto& s : slices)
      stubs_.push_back(sys.spawn(slice_stub, s));
    return stubs_;
  }

  std::vector<std::pair<std::uint32_t, std::string>> poll_lost(bool& none_left) override {
    std::vector<std::pair<std::uint32_t, std::string>> out;
    // A local worker that ended is known from its exit status before its link closes.
    for (std::size_t k = 0; k < children_.size(); ++k)
      if (!lost_[k] && reap(children_[k], false))
        out.emplace_back(k, lose(k, describe_status(children_[k].status)));
    std::vector<std::pair<std::uint32_t, std::string>> entries;
    {
      std::lock_guard<std::mutex> guard(losses_->m);
      entries.swap(losses_->entries);
    }
    for (auto& [k, why] : entries) {
      if (k >= lost_.size() || lost_[k])
        continue;
      if (k < children_.size() && reap(children_[k], true))
        out.emplace_back(k, lose(k, describe_status(children_[k].status)));
      else
        out.emplace_back(k, lose(k, why));
    }
    none_left = !lost_.empty() && std::all_of(lost_.begin(), lost_.end(), [](bool b) { return b; });
    return out;
  }

  void finish() override {
    if (sys_ != nullptr && link_) {
      caf::scoped_actor self{*sys_};
      self->request(link_, std::chrono::seconds(40), stop_atom::value)
          .receive([](done_atom) {}, [](caf::error&) {});
      self->send_exit(link_, caf::exit_reason::user_shutdown);
      link_ = nullptr;
      for (auto& s : stubs_)
        self->send_exit(s, caf::exit_reason::user_shutdown);
    }
    // Workers end by themselves once told; give them a moment, then make sure.
    auto deadline = clock_type::now() + std::chrono::seconds(15);
    for (auto& c : children_)
      while (!reap(c, false) && clock_type::now() < deadline)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill_children();
  }

  std::uint32_t server_count() const override {
    return std::max<std::uint32_t>(1, static_cast<std::uint32_t>(opts_.targets.size()));
  }
  std::uint32_t worker_count() const override {
    return opts_.workers + static_cast<std::uint32_t>(opts_.agents.size());
  }

  std::vector<pid_t> worker_pids() const override {
    std::vector<pid_t> out;
    for (auto& c : children_)
      out.push_back(c.pid);
    return out;
  }

private:
  /// True once `c` has ended (reaped now or before); `wait` waits up to 1 s for it.
  bool reap(child& c, bool wait) {
    if (c.reaped || c.pid <= 0)
      return c.reaped;
    auto deadline = clock_type::now() + std::chrono::seconds(wait ? 1 : 0);
    do {
      int status = 0;
      if (waitpid(c.pid, &status, WNOHANG) == c.pid) {
        c.reaped = true;
        c.status = status;
        if (c.out >= 0)
          ::close(c.out);
        c.out = -1;
        return true;
      }
      if (wait)
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    } while (clock_type::now() < deadline);
    return false;
  }

  std::string declare_lost(std::uint32_t k, const std::string& why) override {
    if (k >= lost_.size() || lost_[k])
      return {};
    // The link stops waiting for it (its stop at the end would only time out), and a local
    // worker process that hangs is ended rather than left behind.
    if (link_)
      caf::anon_send(link_, lost_atom::value, k);
    if (k < children_.size() && children_[k].pid > 0 && !children_[k].reaped)
      ::kill(children_[k].pid, SIGKILL);
    return lose(k, why);
  }

  std::string lose(std::size_t k, const std::string& why) {
    lost_[k] = true;
    if (k < stubs_.size())
      caf::anon_send(stubs_[k], lost_atom::value);
    char at[32];
    std::snprintf(at, sizeof at, "%.1f",
                  std::chrono::duration<double>(clock_type::now() - started_).count());
    std::string who = "worker " + std::to_string(k);
    if (k < children_.size())
      who += " (pid " + std::to_string(children_[k].pid) + ")";
    else
      who += " (agent " + opts_.agents[k - children_.size()] + ")";
    return who + " lost at " + at + " s: " + why;
  }

  void kill_children() {
    for (auto& c : children_) {
      if (!c.reaped && c.pid > 0) {
        ::kill(c.pid, SIGKILL);
        int status = 0;
        waitpid(c.pid, &status, 0);
        c.reaped = true;
        c.status = status;
      }
      if (c.out >= 0)
        ::close(c.out);
      c.out = -1;
    }
  }

  config::scenario sc_;
  controller_options opts_;
  std::shared_ptr<loss_log> losses_;
  caf::actor_system* sys_ = nullptr;
  caf::actor link_;
  std::vector<child> children_;
  std::vector<bool> lost_;
  /// Local stand-ins of the workers' slices, in slice order.
  std::vector<caf::actor> stubs_;
  clock_type::time_point started_;
};

} // namespace

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at <= list.size()) {
    auto comma = list.find(',', at);
    auto item = list.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!item.empty())
      out.push_back(item);
    if (comma == std::string::npos)
      break;
    at = comma + 1;
  }
  return out;
}

std::shared_ptr<controller> make_controller(const config::scenario& sc,
                                            const controller_options& opts, std::string& why) {
  if (opts.workers + opts.agents.size() == 0) {
    why = "--workers: at least one worker or agent is needed";
    return nullptr;
  }
  if (sc.rooms.mode == config::rooms_mode::create) {
    why = "rooms.mode = \"create\" makes one room per process; with workers use per_users or "
          "existing";
    return nullptr;
  }
  for (auto& a : opts.agents) {
    auto colon = a.rfind(':');
    auto port = colon == std::string::npos ? 0 : std::atoi(a.c_str() + colon + 1);
    if (colon == std::string::npos || colon == 0 || port <= 0 || port > 65535) {
      why = "--agents: expected host:port, got '" + a + "'";
      return nullptr;
    }
  }
  for (auto& t : opts.targets) {
    auto u = net::parse_url(t);
    if (!u || (u->scheme != "ws" && u->scheme != "wss")) {
      why = "--targets: expected ws:// or wss:// URLs, got '" + t + "'";
      return nullptr;
    }
  }
  return std::make_shared<controller_impl>(sc, opts);
}

} // namespace stompede::cluster
