// stompede's command line: the verbs, and wiring between the libraries. No logic worth a test
// lives here; each verb hands over to a library function.

#include "app/cli.hpp"
#include "app/embedded_faults.hpp"

#include "actors/behaviours/registry.hpp"
#include "actors/engine.hpp"
#include "actors/fault_plan.hpp"
#include "cluster/agent.hpp"
#include "cluster/controller.hpp"
#include "config/environment.hpp"
#include "config/loader.hpp"
#include "config/print.hpp"
#include "config/validate.hpp"
#include "proxy/run_proxy.hpp"
#include "server/server.hpp"

#include <CLI/CLI.hpp>

#include <pthread.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace {

using namespace stompede;

/// While it lives, SIGINT and SIGTERM are blocked in the calling thread, so every thread started
/// meanwhile (the embedded server's IO threads, the controller's) inherits them blocked. The
/// run's signal watcher (actors/engine.cpp) then gets them through `sigwait`; a thread with them
/// unblocked would take the default action instead and end the process without its reports.
class stop_signals_blocked {
public:
  stop_signals_blocked() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, &old_);
  }
  ~stop_signals_blocked() {
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  stop_signals_blocked(const stop_signals_blocked&) = delete;
  stop_signals_blocked& operator=(const stop_signals_blocked&) = delete;

private:
  sigset_t old_{};
};

/// Loads and validates a scenario (from a file, or from the seed's environment variables when
/// `path` is empty); prints every problem as one line on stderr.
std::optional<config::scenario> load(const std::string& path,
                                     const std::vector<std::string>& overrides) {
  auto env = config::process_environment();
  auto result = path.empty() ? config::load_from_env(env, overrides, ".env")
                             : config::load_scenario(path, overrides, env);
  auto problems = result.problems;
  if (result.ok()) {
    auto more = config::validate(*result.value);
    problems.insert(problems.end(), more.begin(), more.end());
  }
  // Behaviour and toxic checks run on a scenario that only failed semantic checks too: every
  // problem of the file at once.
  const config::scenario* sc = result.ok()          ? &*result.value
                               : result.unchecked ? &*result.unchecked
                                                  : nullptr;
  if (sc) {
    auto behaviours = check_behaviours(*sc);
    problems.insert(problems.end(), behaviours.begin(), behaviours.end());
    auto toxics = check_fault_toxics(*sc);
    problems.insert(problems.end(), toxics.begin(), toxics.end());
  }
  for (auto& p : problems)
    std::fprintf(stderr, "%s\n", p.to_string().c_str());
  if (!result.ok() || !problems.empty())
    return std::nullopt;
  return std::move(*result.value);
}

int cmd_check(const std::string& path, const std::vector<std::string>& overrides) {
  auto sc = load(path, overrides);
  if (!sc)
    return exit_bad_input;
  std::fputs(config::to_toml(*sc).c_str(), stdout);
  std::fprintf(stderr, "%s: ok\n", path.empty() ? "environment" : path.c_str());
  return 0;
}

/// More worker processes than this would be a typo: 64 × 19,500 users is past any one machine.
constexpr std::uint32_t max_workers = 64;

int cmd_run(const std::string& path, const std::vector<std::string>& overrides,
            const std::string& out_dir, bool quiet, std::uint32_t workers,
            const std::string& agents, const std::string& targets) {
  auto sc = load(path, overrides);
  if (!sc)
    return exit_bad_input;
  if (workers > max_workers || (workers > 0 && workers > config::peak_users(*sc))) {
    std::fprintf(stderr, "--workers: %u worker processes for %u users; at most %u, and no more "
                 "than the users\n", workers, config::peak_users(*sc), max_workers);
    return exit_bad_input;
  }
  if (path.empty()) {
    // The seed's way: settings from the environment, printed before the run.
    std::fputs("# effective settings (from environment and .env)\n", stdout);
    std::fputs(config::to_toml(*sc).c_str(), stdout);
  }
  engine_options opts;
  opts.out_dir = out_dir;
  opts.quiet = quiet;
  // embedded = true: the reference server runs in this process, on its own IO thread and an
  // ephemeral loopback port, for the length of the run.
  std::optional<stop_signals_blocked> helpers_block_signals{std::in_place};
  std::unique_ptr<server::server> embedded;
  if (sc->target.embedded) {
    server::server_config scfg;
    scfg.listen = "127.0.0.1:0";
    const auto peak = config::peak_users(*sc);
    scfg.users = static_cast<std::size_t>(sc->auth.start_id) + peak + 1;
    // rooms.mode = "existing": every user is in the one room (room 1 of the embedded server).
    scfg.room_size = sc->rooms.mode == config::rooms_mode::existing
                         ? std::max<std::size_t>(1, peak)
                         : sc->rooms.members_per_room;
    // The seed's placement counts from the scenario's first member id.
    scfg.first_room_member = static_cast<std::size_t>(sc->auth.start_id);
    scfg.max_sessions = peak + 100;
    scfg.tls_cert_file = sc->target.embedded_cert_file;
    scfg.tls_key_file = sc->target.embedded_key_file;
    if (!sc->auth.password.reveal().empty())
      scfg.password = sc->auth.password.reveal();
    else
      sc->auth.password = config::secret{scfg.password};
    embedded = std::make_unique<server::server>(scfg);
    if (auto ec = embedded->start()) {
      std::fprintf(stderr, "stompede: cannot start the embedded server: %s\n",
                   embedded->start_problem().c_str());
      return exit_failed;
    }
    sc->target.url = embedded->ws_url();
    sc->target.http_url = embedded->http_url();
    opts.embedded_server_in_process = true;
    opts.server_faults = embedded_fault_port(*embedded);
    if (!quiet)
      std::printf("stompede: embedded server on %s\n", sc->target.http_url.c_str());
  }
  if (!targets.empty() && workers == 0 && agents.empty()) {
    std::fprintf(stderr, "--targets: only with --workers or --agents\n");
    return exit_bad_input;
  }
  if (workers > 0 || !agents.empty()) {
    // Several load processes: this one keeps the clock, the metrics and the reports.
    cluster::controller_options copts;
    copts.workers = workers;
    copts.agents = cluster::split_list(agents);
    copts.targets = cluster::split_list(targets);
    // Each --targets URL is held to the same rules as target.url (scheme, a host that is
    // loopback or private unless target.i_own_this_target).
    for (auto& url : copts.targets) {
      auto probe = *sc;
      probe.target.embedded = false;
      probe.target.url = url;
      for (auto& d : config::validate(probe))
        if (d.key == "target.url") {
          std::fprintf(stderr, "--targets: %s\n", d.message.c_str());
          if (embedded)
            embedded->stop();
          return exit_bad_input;
        }
    }
    for (auto& url : copts.targets)
      opts.target_label += (opts.target_label.empty() ? "" : ",") + config::redact_url(url);
    std::string why;
    opts.remote = cluster::make_controller(*sc, copts, why);
    if (!opts.remote) {
      std::fprintf(stderr, "stompede: %s\n", why.c_str());
      if (embedded)
        embedded->stop();
      return exit_bad_input;
    }
    if (!quiet)
      std::printf("stompede: %u worker process(es), %zu agent(s)\n", workers, copts.agents.size());
  }
  auto code = run_load_test(*sc, opts); // its signal watcher takes SIGINT/SIGTERM meanwhile
  helpers_block_signals.reset();
  if (embedded) {
    // What the server's own fault counts say, to set beside the run's accounting.
    auto st = embedded->stats();
    if (st.dropped_broadcasts > 0 || st.fault_closed_sessions > 0 || st.fault_error_sessions > 0)
      std::printf("embedded server: %llu broadcasts dropped, %llu sessions closed, %llu sessions "
                  "sent ERROR by faults\n",
                  static_cast<unsigned long long>(st.dropped_broadcasts),
                  static_cast<unsigned long long>(st.fault_closed_sessions),
                  static_cast<unsigned long long>(st.fault_error_sessions));
    embedded->stop();
  }
  return code;
}

/// `stompede serve` flags that override server.toml.
struct serve_flags {
  std::string listen;
  std::string config_path;
  std::string mode;
  std::string tls_cert;
  std::string tls_key;
  std::string tls_client_ca;
};

int cmd_serve(const serve_flags& f) {
  const std::string& listen = f.listen;
  const std::string& config_path = f.config_path;
  const std::string& mode = f.mode;
  server::server_config cfg;
  if (!config_path.empty()) {
    auto loaded = server::load_server_config(config_path);
    if (auto* err = std::get_if<std::string>(&loaded)) {
      std::fprintf(stderr, "%s\n", err->c_str());
      return exit_bad_input;
    }
    cfg = std::get<server::server_config>(loaded);
  }
  if (!listen.empty())
    cfg.listen = listen;
  if (!mode.empty() && !server::parse_server_mode(mode, cfg.mode)) {
    std::fprintf(stderr, "--mode: expected chat or broker, got '%s'\n", mode.c_str());
    return exit_bad_input;
  }
  if (!f.tls_cert.empty())
    cfg.tls_cert_file = f.tls_cert;
  if (!f.tls_key.empty())
    cfg.tls_key_file = f.tls_key;
  if (!f.tls_client_ca.empty())
    cfg.tls_client_ca_file = f.tls_client_ca;
  return server::run_serve(cfg);
}

/// std::terminate's handler: the reason on one line, exit 1. Threads that cannot be created
/// inside a library (CAF's scheduler) end up here.
[[noreturn]] void terminate_in_one_line() {
  const char* what = "an unexpected error";
  try {
    if (auto e = std::current_exception())
      std::rethrow_exception(e);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
  }
  std::fprintf(stderr, "stompede: cannot go on: %s\n", what);
  std::fflush(nullptr);
  std::_Exit(exit_failed);
}

} // namespace

// The whole command line as a library function (app/cli.hpp), so that a program that registers
// its own behaviours first is stompede with those behaviours (examples/mention_bot).
int stompede::cli_main(int argc, char** argv) {
  CLI::App app{"stompede: a load and fault-injection tester for STOMP-over-WebSocket chat "
               "servers"};
  app.set_version_flag("--version", std::string{"stompede "} + STOMPEDE_VERSION);
  app.require_subcommand(1);

  std::string scenario_path;
  std::vector<std::string> overrides;
  std::string out_dir;
  bool quiet = false;
  auto* run = app.add_subcommand(
      "run", "Run a scenario (without SCENARIO: the seed's environment variables and .env)");
  run->add_option("scenario", scenario_path, "Scenario TOML file");
  run->add_option("--set", overrides, "Override a key: --set dotted.key=value (repeatable)");
  run->add_option("--out", out_dir, "Results directory (default: [output] dir)");
  run->add_flag("--quiet,-q", quiet, "No progress lines, only the summary");
  std::uint32_t workers = 0;
  std::string agents;
  std::string targets;
  run->add_option("--workers", workers,
                  "Run the users in N worker processes of this program (docs/workers.md)");
  run->add_option("--agents", agents,
                  "Also run users on agents already listening: host:port,host:port");
  run->add_option("--targets", targets,
                  "Worker k connects to the k-th of these ws:// URLs (round robin) instead of "
                  "[target] url: several servers");

  cluster::agent_options ao;
  auto* agent = app.add_subcommand(
      "agent", "Wait for one controller (stompede run --agents) and run its share of the users");
  agent->add_option("--listen", ao.listen, "host:port to listen on (default 127.0.0.1:0)");
  agent->add_flag("--quiet,-q", ao.quiet, "Only errors");

  std::string check_path;
  std::vector<std::string> check_overrides;
  auto* check = app.add_subcommand(
      "check", "Validate a scenario and print it as it would run (secrets as ***)");
  check->add_option("scenario", check_path, "Scenario TOML file")->required();
  check->add_option("--set", check_overrides, "Override a key: --set dotted.key=value");

  serve_flags sf;
  auto* serve = app.add_subcommand("serve", "Run the embedded reference chat server");
  serve->add_option("--listen", sf.listen, "host:port to listen on (default 127.0.0.1:8080)");
  serve->add_option("--config", sf.config_path, "Server settings TOML (docs/server.md)");
  serve->add_option("--mode", sf.mode, "chat (default) or broker");
  serve->add_option("--tls-cert", sf.tls_cert,
                    "PEM certificate chain: serve wss:// and https:// (with --tls-key)");
  serve->add_option("--tls-key", sf.tls_key, "PEM private key of --tls-cert");
  serve->add_option("--tls-client-ca", sf.tls_client_ca,
                    "PEM CAs: require a client certificate signed by one of them");

  proxy::proxy_cli_flags pf;
  auto* prox = app.add_subcommand(
      "proxy", "Run the fault proxy between clients and a server, with toxics (docs/faults.md)");
  prox->add_option("--listen", pf.listen, "host:port to listen on (default 127.0.0.1:0)");
  prox->add_option("--upstream", pf.upstream, "host:port to forward to")->required();
  prox->add_option("--toxic", pf.toxics,
                   "kind[:direction][:key=value,...], e.g. latency:downstream:latency=200ms "
                   "(repeatable)");
  prox->add_option("--seed", pf.seed, "Seed of the proxy's random choices (default 1)");
  prox->add_option("--threads", pf.threads, "IO threads (default 1)");
  prox->add_flag("--refuse", pf.refuse, "Start refusing new connections");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // An unknown first word reads as a missing subcommand to CLI11: name it instead.
    if (argc > 1 && argv[1][0] != '-' && !app.get_subcommands().size()) {
      std::string names;
      for (auto* sub : app.get_subcommands({}))
        names += (names.empty() ? "" : ", ") + sub->get_name();
      std::fprintf(stderr, "stompede: unknown command \"%s\" (commands: %s; --help for more)\n",
                   argv[1], names.c_str());
      return exit_bad_input;
    }
    auto code = app.exit(e);
    return code == 0 ? 0 : exit_bad_input;
  }
  // Whatever escapes (a thread the system will not give, memory) ends the process with one
  // line and exit 1, not an abort with a core.
  std::set_terminate(terminate_in_one_line);
  try {
    if (*run) {
      // Given, these flags ask for other processes: an empty ask is a mistake, not "none".
      if (run->count("--workers") > 0 && workers == 0) {
        std::fprintf(stderr,
                     "--workers: 0 worker processes; expected 1 to %u (and no more than "
                     "the users), or no --workers to run the users in this process\n",
                     max_workers);
        return exit_bad_input;
      }
      if (run->count("--agents") > 0 && cluster::split_list(agents).empty()) {
        std::fprintf(stderr, "--agents: expected host:port,host:port, got '%s'\n", agents.c_str());
        return exit_bad_input;
      }
      if (run->count("--targets") > 0 && cluster::split_list(targets).empty()) {
        std::fprintf(stderr, "--targets: expected ws://host:port/path,..., got '%s'\n",
                     targets.c_str());
        return exit_bad_input;
      }
      return cmd_run(scenario_path, overrides, out_dir, quiet, workers, agents, targets);
    }
    if (*agent)
      return cluster::run_agent(ao);
    if (*check)
      return cmd_check(check_path, check_overrides);
    if (*serve)
      return cmd_serve(sf);
    if (*prox)
      return proxy::run_proxy(pf);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stompede: %s\n", e.what());
    return exit_failed;
  }
  return exit_bad_input;
}
