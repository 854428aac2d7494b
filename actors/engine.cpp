#include "actors/engine.hpp"

#include "actors/atoms.hpp"
#include "actors/behaviours/registry.hpp"
#include "actors/control.hpp"
#include "actors/fault_injector.hpp"
#include "actors/fault_lanes.hpp"
#include "actors/fault_plan.hpp"
#include "actors/io_aggregate.hpp"
#include "actors/io_pool.hpp"
#include "actors/login.hpp"
#include "actors/metrics_actor.hpp"
#include "actors/population_plan.hpp"
#include "actors/stage_director.hpp"
#include "actors/supervisor.hpp"
#include "actors/user_actor.hpp"
#include "actors/user_plan.hpp"
#include "config/diagnostic.hpp"
#include "config/duration.hpp"
#include "config/print.hpp"
#include "metrics/csv_report.hpp"
#include "metrics/experiment.hpp"
#include "metrics/html_report.hpp"
#include "metrics/prometheus_exporter.hpp"
#include "metrics/server_sampler.hpp"
#include "metrics/summary_json.hpp"
#include "metrics/thresholds.hpp"
#include "metrics/timeseries.hpp"
#include "protocol/url.hpp"

#include <caf/all.hpp>

#include <atomic>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <optional>
#include <pthread.h>
#include <sys/resource.h>
#include <system_error>
#include <thread>
#include <unistd.h>
#include <variant>
#include <vector>

namespace stompede {

namespace {

/// True when `n` more threads can run at once in this process (RLIMIT_NPROC, a container's pids
/// limit); false with the system's reason otherwise. The threads only wait and end.
bool can_start_threads(unsigned n, std::string& why) {
  std::mutex m;
  std::condition_variable cv;
  bool go = false;
  std::vector<std::thread> probes;
  probes.reserve(n);
  try {
    for (unsigned i = 0; i < n; ++i)
      probes.emplace_back([&] {
        std::unique_lock<std::mutex> lock(m);
        cv.wait(lock, [&] { return go; });
      });
  } catch (const std::system_error& e) {
    why = e.what();
  }
  {
    std::lock_guard<std::mutex> lock(m);
    go = true;
  }
  cv.notify_all();
  for (auto& t : probes)
    t.join();
  return why.empty();
}

namespace fs = std::filesystem;

/// The signal that asked for a stop (0 = none yet); set from the signal thread.
std::atomic<int> stop_signal{0};

/// Raises the soft open-files limit to the hard one; returns the limit now in force.
rlim_t raise_nofile_limit() {
  rlimit rl{};
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
    return 1024;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    getrlimit(RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur;
}

/// Ephemeral ports per source address (ip_local_port_range).
std::uint64_t ephemeral_ports() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  std::uint64_t lo = 32768, hi = 60999;
  in >> lo >> hi;
  return hi >= lo ? hi - lo + 1 : 28000;
}

/// The director's view of the stages.
std::vector<stage> plan_stages(const config::scenario& sc) {
  std::vector<stage> out;
  for (auto& s : sc.stages)
    out.push_back(stage{s.name, s.users, s.duration, s.ramp, s.arrival_rate, s.session_length,
                        s.session_length_max,
                        s.wait_for == config::wait_for::all_subscribed});
  return out;
}

/// The scenario's thresholds, parsed (the loader has checked them already).
std::vector<metrics::threshold> parse_thresholds(const config::scenario& sc) {
  std::vector<metrics::threshold> out;
  for (auto& text : sc.thresholds.checks) {
    auto parsed = metrics::parse_threshold(text);
    if (auto* t = std::get_if<metrics::threshold>(&parsed))
      out.push_back(std::move(*t));
  }
  return out;
}

/// The first threshold that has a value and fails on the totals so far, if any (one without
/// data yet is no reason to stop).
std::optional<metrics::threshold_result>
failing_threshold(const std::vector<metrics::threshold>& checks, const metrics_result& r) {
  for (auto& t : checks) {
    auto res = metrics::evaluate(t, r.total, r.total.elapsed_s);
    if (res.has_value && !res.pass)
      return res;
  }
  return std::nullopt;
}

/// What every report says about the run before anything is measured.
metrics::run_info make_run_info(const config::scenario& sc, std::uint32_t peak) {
  metrics::run_info run;
  run.total_users = peak;
  run.scenario = sc.source.empty() ? "environment" : sc.source;
  run.tls_verify = sc.tls.verify;
  run.reconnect = sc.reconnect.enabled;
  return run;
}

void write_reports(const std::string& dir, const metrics_result& r, const metrics::run_info& run,
                   bool csv, const std::vector<metrics::threshold_result>& thresholds) {
  if (csv) {
    if (auto ec = metrics::write_csv_report(dir + "/load_test_result.csv", r.total, run))
      std::fprintf(stderr, "stompede: cannot write %s/load_test_result.csv: %s\n", dir.c_str(),
                   ec.message().c_str());
  }
  if (auto ec =
          metrics::write_summary_json(dir + "/summary.json", r.total, run, r.stages, thresholds))
    std::fprintf(stderr, "stompede: cannot write %s/summary.json: %s\n", dir.c_str(),
                 ec.message().c_str());
}

/// Blocks SIGINT/SIGTERM in every thread started after this, and turns them into stop
/// requests on a thread of their own; a second signal ends the process at once.
class signal_watcher {
public:
  signal_watcher() {
    sigemptyset(&set_);
    sigaddset(&set_, SIGINT);
    sigaddset(&set_, SIGTERM);
    sigaddset(&set_, SIGUSR2);
    pthread_sigmask(SIG_BLOCK, &set_, &old_);
    thread_ = std::thread([this] {
      for (;;) {
        int sig = 0;
        if (sigwait(&set_, &sig) != 0)
          continue;
        if (sig == SIGUSR2)
          return; // our own wake-up at the end of the run
        auto now = std::chrono::steady_clock::now();
        // A signal sent to the whole process group (timeout(1), some supervisors) can arrive
        // twice at once; only a repeat that comes later is a deliberate "force".
        if (stop_signal.load() != 0 && now - first_signal_ < std::chrono::milliseconds(500))
          continue;
        if (stop_signal.exchange(sig) != 0) {
          std::fprintf(stderr, "\nstompede: second signal, stopping now\n");
          std::_Exit(sig == SIGTERM ? exit_interrupted_sigterm : exit_interrupted_sigint);
        }
        first_signal_ = now;
        std::fprintf(stderr, "\nstompede: %s, draining (again to force)\n",
                     sig == SIGTERM ? "SIGTERM" : "SIGINT");
      }
    });
  }
  ~signal_watcher() {
    pthread_kill(thread_.native_handle(), SIGUSR2);
    thread_.join();
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }

private:
  sigset_t set_{};
  sigset_t old_{};
  std::chrono::steady_clock::time_point first_signal_{};
  std::thread thread_;
};

/// Where live-control commands go; the handles are set while the actors run.
struct control_link {
  std::mutex m;
  caf::actor director;
  caf::actor metrics;
  /// Worker processes' slices (with --workers/--agents): pause and resume reach them too.
  std::vector<caf::actor> workers;
};

/// The spans of the run during which sending was paused, from the time series' events.
std::vector<metrics::report_window> pause_windows(const std::vector<metrics::timeseries_row>& rows,
                                                  double end_s) {
  std::vector<metrics::report_window> out;
  double prev = 0.0;
  bool open = false;
  for (auto& r : rows) {
    for (std::size_t at = 0; at < r.events.size();) {
      auto semi = r.events.find("; ", at);
      auto ev = r.events.substr(at, semi == std::string::npos ? std::string::npos : semi - at);
      if (ev == "pause" && !open) {
        out.push_back({"pause", "sending paused", prev, end_s});
        open = true;
      } else if (ev == "resume" && open) {
        out.back().end_s = r.elapsed_s;
        open = false;
      }
      at = semi == std::string::npos ? r.events.size() : semi + 2;
    }
    prev = r.elapsed_s;
  }
  return out;
}

/// When every connection attempt so far failed (and there were enough of them to be sure),
/// the reason in one line: the count and the most frequent error type.
std::optional<std::string> nothing_connects(const metrics::load_counters& c, std::uint32_t peak,
                                            const std::string& tls_failure,
                                            const std::string& server_error,
                                            const std::string& upgrade_refusal) {
  auto enough = std::min<std::uint64_t>(std::max<std::uint32_t>(peak, 1), 10);
  if (c.stomp_connected > 0 || c.errors_total() < enough)
    return std::nullopt;
  std::size_t worst = 0;
  for (std::size_t i = 1; i < c.errors.size(); ++i)
    if (c.errors[i] > c.errors[worst])
      worst = i;
  const auto type = static_cast<metrics::error_type>(worst);
  std::string why = std::to_string(c.errors_total()) + " failed attempts, none connected (mostly " +
                    std::string{metrics::to_label(type)};
  // A TLS failure says why: expired, unknown CA, wrong host name, refused client certificate.
  if (type == metrics::error_type::tls_error && !tls_failure.empty())
    why += ": " + tls_failure;
  // An ERROR frame says why in its message: bad credentials, wrong room, unknown destination.
  if (type == metrics::error_type::stomp_error_frame && !server_error.empty())
    why += ": the server said \"" + server_error + "\"";
  // A refused upgrade says how: 404 (wrong path) or 401/403 (token).
  if (type == metrics::error_type::upgrade_rejected && !upgrade_refusal.empty())
    why += ": " + upgrade_refusal;
  return why + ")";
}

} // namespace

std::string make_results_dir(const std::string& pattern, std::string& why) {
  // The files a run writes into its results folder.
  static const char* const report_files[] = {
      "scenario.toml",  "summary.json",    "load_test_result.csv", "timeseries.csv",
      "report.html",    "experiment.json", "server_metrics.csv"};
  std::error_code ec;
  auto at = pattern.find("{timestamp}");
  if (at == std::string::npos) {
    fs::create_directories(pattern, ec);
    if (ec) {
      why = "cannot create " + pattern + ": " + ec.message();
      return {};
    }
    for (const char* name : report_files)
      fs::remove(fs::path(pattern) / name, ec);
    return pattern;
  }
  std::time_t t = std::time(nullptr);
  std::tm tm{};
  localtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y%m%d-%H%M%S", &tm);
  for (int n = 1; n < 1000; ++n) {
    auto dir = pattern;
    dir.replace(at, 11, n == 1 ? std::string(buf) : std::string(buf) + "-" + std::to_string(n));
    auto parent = fs::path(dir).parent_path();
    if (!parent.empty())
      fs::create_directories(parent, ec);
    if (ec) {
      why = "cannot create " + parent.string() + ": " + ec.message();
      return {};
    }
    if (fs::create_directory(dir, ec))
      return dir;
    if (ec) {
      why = "cannot create " + dir + ": " + ec.message();
      return {};
    }
  }
  why = "cannot find a free results folder for " + pattern;
  return {};
}


void request_stop(int signal_number) {
  int expected = 0;
  stop_signal.compare_exchange_strong(expected, signal_number);
}

int run_load_test(const config::scenario& sc, const engine_options& opts) {
  stop_signal = 0;
  // Printed and reported: a token in the URL's query shows as ***.
  const std::string target_label =
      opts.target_label.empty() ? config::redact_url(sc.target.url) : opts.target_label;
  std::optional<signal_watcher> signals;
  if (opts.handle_signals)
    signals.emplace();
  // Open-model stages: a schedule that would not fit (a typo in the rate) is refused here.
  if (auto problems = validate(plan_stages(sc)); !problems.empty()) {
    for (auto& p : problems)
      std::fprintf(stderr, "stompede: %s\n", p.c_str());
    return exit_bad_input;
  }
  // Behaviours are checked against the registry, toxics against the proxy (the CLI does so
  // before; tests may not).
  auto problems = check_behaviours(sc);
  for (auto& d : check_fault_toxics(sc))
    problems.push_back(std::move(d));
  if (!problems.empty()) {
    for (auto& p : problems)
      std::fprintf(stderr, "%s\n", p.to_string().c_str());
    return exit_bad_input;
  }
  // User faults reach this process's supervisors and proxy faults its users' connections: with
  // the users in worker processes neither would act, so they are refused rather than ignored.
  if (opts.remote && sc.experiment.enabled) {
    for (std::size_t i = 0; i < sc.faults.size(); ++i) {
      const auto& f = sc.faults[i];
      if (config::is_user_fault(f.kind) || config::is_proxy_fault(f.kind)) {
        std::fprintf(stderr,
                     "stompede: fault[%zu] (%s): user and proxy faults need the users in this "
                     "process, not in worker processes (--workers, --agents)\n",
                     i, f.kind_name().c_str());
        return exit_bad_input;
      }
    }
  }
  auto peak = config::peak_users(sc);
  auto checks = parse_thresholds(sc);
  bool aborted = false;
  std::string abort_note;
  // Output directory, and the scenario as run (secrets redacted) first of all.
  std::string dir_problem;
  const auto dir = make_results_dir(opts.out_dir.empty() ? sc.output.dir : opts.out_dir,
                                    dir_problem);
  if (dir.empty()) {
    std::fprintf(stderr, "stompede: %s\n", dir_problem.c_str());
    return exit_failed;
  }
  // The scenario as run names the folder it ran into, not the pattern ("{timestamp}") or the
  // file's folder that --out replaced.
  auto scenario_as_run = [&sc, &dir] {
    auto as_run = sc;
    as_run.output.dir = dir;
    return config::to_toml(as_run);
  };
  {
    std::ofstream out(dir + "/scenario.toml");
    out << scenario_as_run();
  }
  // A failure before the load (a listener that cannot bind, logins, the fault proxy) still
  // leaves reports: the same files as a run, with nothing measured and the reason in them.
  std::size_t failed_logins = 0;
  auto stop_before_load = [&](const std::string& failure) {
    // The reason may quote a server's answer, which may echo a credential.
    const auto what = config::scrub_secrets(failure, sc);
    std::fprintf(stderr, "stompede: %s\n", what.c_str());
    metrics_result nothing;
    nothing.total.counters.add_error(metrics::error_type::login_failed, failed_logins);
    auto run = make_run_info(sc, peak);
    // A signal during the preparation (logins, room creation) ends it as an interruption.
    const int sig = stop_signal.load();
    run.ended = (sig != 0 ? "interrupted: " : "stopped early: ") + what;
    auto verdicts = metrics::evaluate_all(checks, nothing.total, 0.0);
    write_reports(dir, nothing, run, sc.output.csv, verdicts);
    metrics::timeseries_writer empty_series;
    if (!empty_series.open(dir + "/timeseries.csv"))
      empty_series.close();
    if (sc.output.html) {
      metrics::html_report_input report;
      report.run = run;
      report.thresholds = verdicts;
      report.scenario_toml = scenario_as_run();
      report.note = run.ended;
      if (auto ec = metrics::write_html_report(dir + "/report.html", report))
        std::fprintf(stderr, "stompede: cannot write %s/report.html: %s\n", dir.c_str(),
                     ec.message().c_str());
    }
    if (!opts.quiet)
      std::printf("reports: %s/ (stopped before the load)\n", dir.c_str());
    if (sig != 0)
      return sig == SIGTERM ? exit_interrupted_sigterm : exit_interrupted_sigint;
    return exit_failed;
  };
  // Preflight: a plan that cannot fit in this process fails now, not as connect errors later.
  auto fd_limit = raise_nofile_limit();
  std::uint64_t reserve = 64;
  // With workers, the users' own descriptors are theirs; this process holds the server's.
  std::uint64_t client_fds = opts.remote ? 0 : peak;
  std::uint64_t fds_needed = client_fds + reserve + (opts.embedded_server_in_process ? peak : 0);
  if (fds_needed > fd_limit) {
    char line[320];
    std::snprintf(line, sizeof line,
                  "the plan needs %llu open files (%u users%s + %llu reserve) but this process "
                  "may open %llu; %s",
                  static_cast<unsigned long long>(fds_needed), peak,
                  opts.remote                       ? " on the in-process server"
                  : opts.embedded_server_in_process ? " x2 for the in-process server"
                                                    : "",
                  static_cast<unsigned long long>(reserve),
                  static_cast<unsigned long long>(fd_limit),
                  opts.embedded_server_in_process
                      ? "run fewer users, or the server apart (stompede serve) with the users "
                        "in worker processes (--workers, docs/workers.md)"
                      : "run fewer users per process (--workers)");
    return stop_before_load(line);
  }
  auto sources = std::max<std::size_t>(1, sc.target.source_addresses.size());
  if (!opts.remote && peak > ephemeral_ports() * sources) {
    return stop_before_load(std::to_string(peak) + " users need more ephemeral ports than " +
                            std::to_string(sources) + " source address(es) give (" +
                            std::to_string(ephemeral_ports()) +
                            " each); add [target] source_addresses");
  }
  // With workers, this process runs no users: one idle IO thread keeps the metrics path uniform.
  // A process or container out of threads fails here with the reports, not with an abort.
  std::optional<io_pool> pool_storage;
  try {
    pool_storage.emplace(opts.remote ? 1 : sc.run.io_threads);
  } catch (const std::system_error& e) {
    return stop_before_load(std::string("cannot start the IO threads: ") + e.what());
  }
  io_pool& pool = *pool_storage;
  // The threads started after this point (CAF's scheduler, timer and printer, the exporter, the
  // control endpoint, the sampler) are probed for now: CAF cannot undo a scheduler that started
  // only some of its threads, so a process near its thread limit must stop here, with reports.
  if (std::string why; !can_start_threads(16, why))
    return stop_before_load("cannot start the run's threads: " + why);
  std::vector<io_aggregate> aggregates(pool.size());
  auto session_cfg = make_session_settings(sc);
  auto sending_paused = std::make_shared<std::atomic<bool>>(false);
  session_cfg.sending_paused = sending_paused;
  session_cfg.keys = std::make_shared<key_sequences>(peak);
  // Live control: an HTTP endpoint on loopback and console keys, both through one handler.
  auto link = std::make_shared<control_link>();
  std::atomic<std::uint32_t> current_target{0};
  control_handler on_command = [link, sending_paused, quiet = opts.quiet,
                                peak](control_command c) -> std::string {
    std::lock_guard<std::mutex> guard(link->m);
    if (!link->director)
      return "the run is not going on";
    std::string capped;
    switch (c.kind) {
    case control_command::set_target:
      // Identities, logins and open files are planned for the stages' peak: no more than that.
      if (c.users > peak) {
        capped = " (capped: the plan's peak is " + std::to_string(peak) + " users)";
        c.users = peak;
      }
      caf::anon_send(link->director, target_atom::value, c.users);
      break;
    case control_command::pause:
      if (sending_paused->exchange(true))
        return "already paused";
      for (auto& w : link->workers)
        caf::anon_send(w, control_atom::value, true);
      break;
    case control_command::resume:
      if (!sending_paused->exchange(false))
        return "not paused";
      for (auto& w : link->workers)
        caf::anon_send(w, control_atom::value, false);
      break;
    case control_command::end_stage:
      caf::anon_send(link->director, skip_atom::value);
      break;
    }
    auto what = describe(c) + capped;
    caf::anon_send(link->metrics, control_atom::value, what);
    if (!quiet)
      std::fprintf(stderr, "\nstompede: control: %s\n", what.c_str());
    return "ok: " + what;
  };
  std::unique_ptr<control_server> control_http;
  if (!sc.control.listen.empty()) {
    std::error_code cec;
    control_http = control_server::start(sc.control.listen, on_command, cec);
    if (!control_http)
      return stop_before_load("cannot listen for control on " + sc.control.listen + ": " +
                              cec.message());
    // Said even when quiet if the port was picked here: nothing else tells it.
    const bool picked = sc.control.listen.size() >= 2 &&
                        sc.control.listen.compare(sc.control.listen.size() - 2, 2, ":0") == 0;
    if (!opts.quiet || picked)
      std::printf("stompede: control on http://%s:%u/ (POST /target?users=N, /pause, /resume, "
                  "/end-stage)\n",
                  sc.control.listen.substr(0, sc.control.listen.rfind(':')).c_str(),
                  control_http->port());
  }
  // The exporter binds before the logins: a busy port fails the run before any work.
  std::shared_ptr<metrics::prometheus_exporter> exporter;
  if (!sc.output.prometheus.empty()) {
    std::error_code ec;
    metrics::prometheus_exporter_config pc;
    pc.listen = sc.output.prometheus;
    exporter = metrics::prometheus_exporter::start(pc, ec);
    if (!exporter)
      return stop_before_load("cannot serve metrics on " + pc.listen + ": " + ec.message());
  }
  // Identities, logins, rooms.
  std::string why;
  std::int64_t created_room = 0;
  // With workers, each worker makes and logs in the identities of its own slice.
  auto ids = opts.remote ? std::vector<user_identity>{} : make_identities(sc, peak);
  if (!opts.remote &&
      !prepare_users(pool, sc, ids, created_room, why, &failed_logins,
                     [] { return stop_signal.load() != 0; }))
    return stop_before_load(why);
  // Users whose login failed go on without a token; their logins count as errors, through IO
  // thread 0's aggregate like every other error (it is read on that thread).
  if (failed_logins > 0)
    pool.post(0, [agg = &aggregates[0], n = failed_logins] {
      agg->counters.add_error(metrics::error_type::login_failed, n);
    });
  if (sc.rooms.mode == config::rooms_mode::create)
    for (auto& id : ids)
      id.room = created_room;
  // Network and protocol faults: the fault proxy between the users and the target (logins and
  // REST calls go to the target directly). Users in the cohorts of proxy faults go through
  // lanes of their own (docs/faults.md): one proxy per distinct set of cohorts a user is in.
  fault_lanes lanes;
  if (sc.experiment.enabled && has_proxy_faults(sc)) {
    std::vector<std::string> labels;
    for (auto& b : session_cfg.behaviours)
      labels.push_back(b.label);
    if (!lanes.start(sc, make_fault_specs(sc, labels, peak), session_cfg.ws.target, ids, why))
      return stop_before_load("cannot start the fault proxy: " + why);
  }
  // Each behaviour's members by ordinal: a user can find its partner (private_pairs).
  session_cfg.behaviour_members.resize(session_cfg.behaviours.size());
  for (auto& id : ids)
    if (id.behaviour < session_cfg.behaviour_members.size()) {
      auto& list = session_cfg.behaviour_members[id.behaviour];
      if (list.size() <= id.behaviour_index)
        list.resize(id.behaviour_index + 1, 0);
      list[id.behaviour_index] = id.member_id;
    }
  auto settings = std::make_shared<const session_settings>(std::move(session_cfg));
  auto timeseries = std::make_shared<metrics::timeseries_writer>();
  if (auto ec = timeseries->open(dir + "/timeseries.csv"))
    std::fprintf(stderr, "stompede: cannot write timeseries.csv: %s\n", ec.message().c_str());

  // The metrics URL as bound ("...:0" asks for a free port, known only from this line).
  std::string metrics_url;
  bool metrics_port_picked = false;
  if (exporter) {
    auto listen = metrics::normalize_listen_address(sc.output.prometheus);
    metrics_port_picked = listen.size() >= 2 && listen.compare(listen.size() - 2, 2, ":0") == 0;
    metrics_url = "http://" + listen.substr(0, listen.rfind(':')) + ":" +
                  std::to_string(exporter->port()) + "/metrics";
  }
  if (!opts.quiet) {
    std::printf("stompede: %u users at %s, results in %s", peak, target_label.c_str(),
                dir.c_str());
    if (exporter)
      std::printf(", metrics on %s", metrics_url.c_str());
    std::printf("\n");
    std::fflush(stdout);
  } else if (metrics_port_picked) {
    std::printf("stompede: metrics on %s\n", metrics_url.c_str());
    std::fflush(stdout);
  }
  // Loud even when quiet: on stderr before the run, and in every report after it.
  if (!sc.tls.verify)
    std::fprintf(stderr, "stompede: WARNING: %s\n", metrics::tls_verify_off_warning);

  metrics_result result;
  auto run = make_run_info(sc, peak);
  int code = exit_completed;
  bool failed_fast = false;
  bool workers_gone = false;
  auto started = std::chrono::steady_clock::now();
  // The server under test, beside the load ([server_metrics]).
  metrics::server_sampler_config sampler_cfg;
  sampler_cfg.pid = sc.server_metrics.pid;
  sampler_cfg.prometheus_url = sc.server_metrics.prometheus_url;
  sampler_cfg.names = sc.server_metrics.names;
  sampler_cfg.csv_path = dir + "/server_metrics.csv";
  auto sampler = metrics::server_sampler::start(std::move(sampler_cfg));
  // The experiment: its tracker (fed by the metrics actor) and the server's fault interface.
  std::shared_ptr<metrics::experiment_tracker> experiment;
  server_fault_port server_port = opts.server_faults;
  if (sc.experiment.enabled) {
    experiment = std::make_shared<metrics::experiment_tracker>(make_experiment_settings(sc));
    if (!server_port && has_server_faults(sc))
      server_port = make_admin_fault_port(sc.experiment.admin_url.empty() ? sc.target.http_url
                                                                          : sc.experiment.admin_url,
                                          sc.experiment.admin_token.reveal());
  }
  {
    caf::actor_system_config cfg;
    cfg.set("scheduler.max-threads", 2);
    // The actors only do control work (a few messages per user per minute): a shared queue
    // with sleeping workers, rather than work stealing's spinning polls, keeps them off the
    // two cores the IO threads need.
    cfg.set("scheduler.policy", caf::atom("sharing"));
    if (opts.remote)
      opts.remote->configure(cfg);
    caf::actor_system sys{cfg};
    user_deps deps{&pool, aggregates.data(), settings};
    auto ids_ptr = std::make_shared<const std::vector<user_identity>>(std::move(ids));
    // Supervisors: one per shard of users.
    auto shards = shards_needed(peak, sc.run.users_per_shard);
    std::vector<supervisor_actor> supervisors;
    std::vector<caf::actor> supervisor_handles;
    user_factory factory = [deps](caf::local_actor* self, const user_identity& id) {
      return self->spawn(user_actor, deps, id, caf::actor_cast<caf::actor>(self));
    };
    identity_fn identity = [ids_ptr](std::uint32_t index) {
      return (*ids_ptr)[std::min<std::size_t>(index, ids_ptr->size() - 1)];
    };
    std::vector<caf::actor> workers;
    if (opts.remote) {
      workers = opts.remote->start(sys, why);
      if (workers.empty()) {
        opts.remote->finish();
        control_http.reset();
        if (sampler)
          sampler->stop();
        pool.stop();
        timeseries->close();
        return stop_before_load(why);
      }
      // The director treats every worker as one supervisor of its slice: targets are split
      // evenly, worker k taking users k, k + N, k + 2N, ... (cluster/agent.hpp).
      for (auto& w : workers)
        supervisors.push_back(caf::actor_cast<supervisor_actor>(w));
      shards = 0;
    }
    for (std::size_t s = 0; s < shards; ++s) {
      auto sup_cfg = make_supervisor_config(
          sc, static_cast<std::uint32_t>(s * sc.run.users_per_shard), sc.run.random_seed + s);
      auto sup = sys.spawn(supervisor, sup_cfg, factory, identity);
      supervisors.push_back(sup);
      supervisor_handles.push_back(caf::actor_cast<caf::actor>(sup));
    }
    metrics_config mcfg;
    mcfg.progress = !opts.quiet;
    mcfg.progress_in_place = !opts.quiet && isatty(fileno(stdout));
    mcfg.experiment = experiment;
    mcfg.workers = workers;
    mcfg.worker_servers = opts.remote ? opts.remote->server_count() : 1;
    for (const auto& s : sc.stages)
      mcfg.open_stages.push_back(s.arrival_rate > 0);
    mcfg.ledger.grace_us =
        std::chrono::duration_cast<std::chrono::microseconds>(sc.output.round_trip_timeout).count();
    auto metrics = sys.spawn(metrics_actor, mcfg, &pool, aggregates.data(), supervisor_handles,
                             exporter, timeseries);
    stage_director_config dcfg;
    dcfg.stages = plan_stages(sc);
    dcfg.users_per_shard =
        workers.empty() ? sc.run.users_per_shard
                        : static_cast<std::uint32_t>((peak + workers.size() - 1) / workers.size());
    dcfg.users = workers.empty() ? peak : 0;
    fault_injector_actor injector;
    if (sc.experiment.enabled) {
      std::vector<std::string> labels;
      for (auto& b : settings->behaviours)
        labels.push_back(b.label);
      fault_injector_config icfg;
      icfg.faults = make_fault_specs(sc, labels, peak);
      auto pport = lanes.port();
      injector = sys.spawn(fault_injector, icfg, supervisors, metrics, server_port, pport);
      dcfg.injector = injector;
    }
    caf::scoped_actor self{sys};
    auto director =
        sys.spawn(stage_director, dcfg, supervisors, metrics, caf::actor_cast<caf::actor>(self));
    {
      std::lock_guard<std::mutex> guard(link->m);
      link->director = caf::actor_cast<caf::actor>(director);
      link->metrics = metrics;
      link->workers = workers;
    }
    std::optional<console_keys> keys;
    if (sc.control.keys)
      keys.emplace(
          on_command, [&current_target] { return current_target.load(); },
          [sending_paused] { return sending_paused->load(); });
    // Wait for the end, polling for a stop request (signals land on their own thread) and for
    // a target that nothing can connect to (fail fast instead of retrying for the whole plan).
    bool done = false;
    bool stop_sent = false;
    auto last_check = std::chrono::steady_clock::now();
    // Failing fast waits until the first stage's ramp (up to 10 s) is over, and with reconnects
    // until the first failure is 5 s old: users that have not started yet, or a server that
    // refuses its first connections while it warms up (the users will try again), are not a
    // target nothing can connect to. Without reconnects every failure is a user's only attempt.
    std::optional<std::chrono::steady_clock::time_point> first_failure;
    const auto first_ramp = sc.stages.empty() || sc.stages.front().arrival_rate > 0
                                ? std::chrono::milliseconds{0}
                                : std::min<std::chrono::milliseconds>(sc.stages.front().ramp,
                                                                      std::chrono::seconds(10));
    const std::chrono::steady_clock::duration retry_wait =
        sc.reconnect.enabled ? std::chrono::seconds(5) : std::chrono::seconds(0);
    const auto fail_fast_after =
        std::max<std::chrono::steady_clock::duration>(retry_wait, first_ramp);
    while (!done) {
      self->receive([&](done_atom) { done = true; },
                    [&](control_atom, const std::string& line) {
                      std::fprintf(stderr, "\nstompede: %s\n", line.c_str());
                    },
                    caf::after(std::chrono::milliseconds(100)) >> [] {});
      if (done || stop_sent)
        continue;
      if (stop_signal.load() != 0) {
        stop_sent = true;
        self->send(director, stop_atom::value);
        continue;
      }
      if (opts.remote) {
        bool none_left = false;
        for (auto& [k, line] : opts.remote->poll_lost(none_left)) {
          std::fprintf(stderr, "\nstompede: %s\n", line.c_str());
          self->send(metrics, lost_atom::value, k);
          self->send(metrics, control_atom::value, line);
          run.lost_workers.push_back(line);
        }
        if (none_left) {
          std::fprintf(stderr, "stompede: every worker is gone, stopping\n");
          workers_gone = true;
          stop_sent = true;
          self->send(director, stop_atom::value);
          continue;
        }
      }
      auto now = std::chrono::steady_clock::now();
      if (now - last_check < std::chrono::seconds(1))
        continue;
      last_check = now;
      self->request(metrics, std::chrono::seconds(5), get_atom::value)
          .receive(
              [&](metrics_result& r) {
                current_target = static_cast<std::uint32_t>(
                    std::max<std::int64_t>(0, r.total.gauges.target_users));
                // A worker that is there but has not answered for several collections in a row
                // (stopped, hung) is lost: the run goes on without waiting for it.
                for (auto k : r.silent_workers) {
                  if (!opts.remote)
                    break;
                  auto line = opts.remote->declare_lost(
                      k, "no figures for " + std::to_string(silent_collections) +
                             " collections in a row (its process or link is there but does not "
                             "answer)");
                  if (line.empty())
                    continue;
                  std::fprintf(stderr, "\nstompede: %s\n", line.c_str());
                  self->send(metrics, lost_atom::value, k);
                  self->send(metrics, control_atom::value, line);
                  run.lost_workers.push_back(line);
                }
                if (sc.thresholds.abort_on_fail &&
                    r.total.elapsed_s * 1000.0 >=
                        static_cast<double>(sc.thresholds.abort_grace.count())) {
                  if (auto bad = failing_threshold(checks, r)) {
                    abort_note = "aborted: threshold \"" + bad->check.text + "\" failed (" +
                                 metrics::format_threshold_value(*bad) + ")";
                    std::fprintf(stderr, "\nstompede: %s, stopping\n", abort_note.c_str());
                    aborted = true;
                    stop_sent = true;
                    self->send(director, stop_atom::value);
                    return;
                  }
                }
                const auto& counters = r.total.counters;
                if (!first_failure && counters.errors_total() > 0)
                  first_failure = now;
                if (now - started < fail_fast_after || !first_failure ||
                    now - *first_failure < retry_wait)
                  return;
                if (auto why = nothing_connects(counters, peak, r.tls_failure,
                                                config::scrub_secrets(r.server_error, sc),
                                                config::scrub_secrets(r.upgrade_refusal, sc))) {
                  std::fprintf(stderr, "stompede: nothing can connect to %s: %s\n",
                               target_label.c_str(), why->c_str());
                  failed_fast = true;
                  stop_sent = true;
                  self->send(director, stop_atom::value);
                }
              },
              [](caf::error&) {});
    }
    self->request(metrics, std::chrono::seconds(10), done_atom::value)
        .receive([&](metrics_result& r) { result = std::move(r); },
                 [&](caf::error& e) {
                   std::fprintf(stderr, "stompede: final metrics: %s\n", sys.render(e).c_str());
                 });
    if (opts.remote) {
      bool none_left = false;
      for (auto& lost : opts.remote->poll_lost(none_left))
        run.lost_workers.push_back(lost.second);
      opts.remote->finish();
      run.workers = opts.remote->worker_count();
    }
    for (auto& s : supervisor_handles)
      self->send_exit(s, caf::exit_reason::user_shutdown);
    self->send_exit(metrics, caf::exit_reason::user_shutdown);
    self->send_exit(director, caf::exit_reason::user_shutdown);
    if (injector)
      self->send_exit(injector, caf::exit_reason::user_shutdown);
    keys.reset();
    std::lock_guard<std::mutex> guard(link->m);
    link->director = nullptr;
    link->metrics = nullptr;
    link->workers.clear();
  }
  control_http.reset();
  lanes.stop();
  if (sampler)
    sampler->stop();
  pool.stop();
  run.duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  timeseries->close();
  run.tls_failure = result.tls_failure;
  run.tls_failure = config::scrub_secrets(run.tls_failure, sc);
  run.server_error = config::scrub_secrets(result.server_error, sc);
  run.upgrade_refusal = config::scrub_secrets(result.upgrade_refusal, sc);
  int sig = stop_signal.load();
  // A run in which no user ever connected did not load the server, however it ended: a dead
  // server (no answer to the upgrade or to CONNECT) leaves no error behind when every attempt
  // is still waiting at the end, and must not pass as a completed run.
  bool never_connected = false;
  if (!failed_fast && sig == 0 && !workers_gone && peak > 0 &&
      result.total.counters.stomp_connected == 0) {
    never_connected = true;
    auto why = nothing_connects(result.total.counters, peak, run.tls_failure, run.server_error,
                                run.upgrade_refusal);
    std::fprintf(stderr, "stompede: nothing can connect to %s: %s\n", target_label.c_str(),
                 why ? why->c_str()
                     : (std::to_string(result.total.counters.errors_total()) +
                        " failed attempts, none connected during the run (the others were "
                        "still waiting for the server when it ended)")
                           .c_str());
  }
  // How the run ended, in every report: completed, or why not.
  std::string end_note;
  if (!abort_note.empty())
    end_note = abort_note;
  else if (failed_fast)
    end_note = "stopped early: nothing could connect";
  else if (never_connected)
    end_note = "failed: no user connected during the run";
  else if (workers_gone)
    end_note = "stopped early: every worker was lost";
  else if (sig != 0)
    end_note = sig == SIGTERM ? "interrupted by SIGTERM" : "interrupted by SIGINT";
  else if (!run.lost_workers.empty())
    // Part of the load went missing: not a completed run (exit 1), whatever the rest did.
    end_note = "failed: " + std::to_string(run.lost_workers.size()) + " of " +
               std::to_string(run.workers) + " workers lost";
  run.ended = end_note.empty() ? "completed" : end_note;
  auto verdicts = metrics::evaluate_all(checks, result.total, run.duration_s);
  write_reports(dir, result, run, sc.output.csv, verdicts);
  std::optional<metrics::experiment_result> verdict;
  if (experiment) {
    verdict = experiment->finish(run.duration_s);
    if (sig != 0)
      verdict->status = "interrupted";
    else if (failed_fast || never_connected)
      verdict->status = "failed";
    else if (aborted)
      verdict->status = "aborted";
    if (auto ec = metrics::write_experiment_json(dir + "/experiment.json", *verdict,
                                                 dir + "/summary.json"))
      std::fprintf(stderr, "stompede: cannot write %s/experiment.json: %s\n", dir.c_str(),
                   ec.message().c_str());
  }
  if (sc.output.html) {
    metrics::html_report_input report;
    report.total = result.total;
    report.run = run;
    report.stages = result.stages;
    report.thresholds = verdicts;
    report.rows = timeseries->rows();
    report.scenario_toml = scenario_as_run();
    report.windows = pause_windows(report.rows, run.duration_s);
    if (verdict)
      for (auto& f : verdict->faults)
        report.windows.push_back(
            {"fault", f.name + ": " + f.target, f.start_s, std::max(f.end_s, f.start_s + 0.25)});
    if (sampler)
      report.server = sampler->series();
    report.note = end_note;
    for (auto& lost : run.lost_workers)
      report.note += (report.note.empty() ? "" : "; ") + lost;
    if (auto ec = metrics::write_html_report(dir + "/report.html", report))
      std::fprintf(stderr, "stompede: cannot write %s/report.html: %s\n", dir.c_str(),
                   ec.message().c_str());
  }
  std::printf("\n%s", metrics::format_summary_table(result.total, run, result.stages).c_str());
  std::printf("%s", metrics::format_threshold_table(verdicts).c_str());
  if (verdict)
    std::printf("%s", metrics::format_experiment_summary(*verdict).c_str());
  std::printf("reports: %s/ (%ssummary.json, timeseries.csv, scenario.toml%s%s)\n", dir.c_str(),
              sc.output.csv ? "load_test_result.csv, " : "", sc.output.html ? ", report.html" : "",
              verdict ? ", experiment.json" : "");
  if (exporter && sig == 0 && sc.output.prometheus_linger.count() > 0) {
    // The final values (phase "done", the totals) for a scraper's last look; a signal ends it.
    std::printf("stompede: the final metrics stay on %s for %s (Ctrl-C ends the wait)\n",
                metrics_url.c_str(), config::format_duration(sc.output.prometheus_linger).c_str());
    std::fflush(stdout);
    const auto until = std::chrono::steady_clock::now() + sc.output.prometheus_linger;
    while (stop_signal.load() == 0 && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  if (failed_fast || workers_gone || never_connected)
    code = exit_failed;
  else if (sig != 0)
    code = sig == SIGTERM ? exit_interrupted_sigterm : exit_interrupted_sigint;
  else if (!run.lost_workers.empty())
    code = exit_failed; // part of the load went missing: not a completed run
  else if (verdict && !verdict->held)
    code = exit_hypothesis_failed;
  else if (aborted || !metrics::all_passed(verdicts))
    code = exit_thresholds_failed;
  return code;
}

} // namespace stompede
