// End to end with several load processes: the controller runs in the test process (with the
// embedded server), workers and agents are processes of the stompede executable. Loopback only;
// every run is bounded by its scenario and the worker timeouts.

#include "cluster/agent.hpp"
#include "cluster/controller.hpp"
#include "config/print.hpp"
#include "e2e/e2e_support.hpp"

#include <atomic>
#include <csignal>
#include <fcntl.h>
#include <fstream>
#include <poll.h>
#include <set>
#include <sys/wait.h>
#include <thread>

using namespace stompede;
using namespace stompede::e2e;
namespace fs = std::filesystem;

namespace {

/// Source addresses of the established TCP connections to loopback port `port` right now.
std::set<std::string> sources_to(std::uint16_t port) {
  std::set<std::string> out;
  std::ifstream in("/proc/net/tcp");
  std::string line;
  std::getline(in, line); // header
  while (std::getline(in, line)) {
    std::istringstream ss(line);
    std::string sl, local, remote, state;
    ss >> sl >> local >> remote >> state;
    if (state != "01" || remote.size() != 13)
      continue;
    if (std::stoul(remote.substr(9), nullptr, 16) != port)
      continue;
    auto ip = static_cast<std::uint32_t>(std::stoul(local.substr(0, 8), nullptr, 16));
    out.insert(std::to_string(ip & 0xff) + "." + std::to_string((ip >> 8) & 0xff) + "." +
               std::to_string((ip >> 16) & 0xff) + "." + std::to_string(ip >> 24));
  }
  return out;
}

std::uint16_t port_of(const std::string& url) {
  auto colon = url.rfind(':');
  return static_cast<std::uint16_t>(std::stoi(url.substr(colon + 1)));
}

void wait_for_sessions(server::server& srv, std::uint64_t n) {
  for (int i = 0; i < 200 && srv.stats().sessions < n; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

const char* scenario_text = R"(
[[stage]]
name = "steady"
users = 20
ramp = "500ms"
duration = "3s"
[behaviour]
interval = "200ms"
[control]
keys = false
)";

/// Runs `sc` on two worker processes into `dir` and, once the server has the run's 20
/// sessions and 1.5 s more (the workers have shipped their users' subscriptions by then), sends
/// `sig` to the second worker. Returns the run's exit code; `victim` gets that worker's pid.
int run_two_workers_signalling_one(const config::scenario& sc, const std::string& dir,
                                   server::server& srv, int sig, pid_t& victim) {
  cluster::controller_options co;
  co.workers = 2;
  co.program = STOMPEDE_BIN;
  std::string why;
  auto ctl = cluster::make_controller(sc, co, why);
  REQUIRE(ctl);
  auto opts = quiet_options(dir);
  opts.remote = ctl;
  victim = -1;
  std::thread signaller([&] {
    wait_for_sessions(srv, 20);
    std::this_thread::sleep_for(std::chrono::milliseconds(1500));
    auto pids = ctl->worker_pids();
    if (pids.size() == 2) {
      victim = pids[1];
      ::kill(victim, sig);
    }
  });
  auto code = run_load_test(sc, opts);
  signaller.join();
  return code;
}

/// Runs `sc` on two worker processes (against `targets` when given) into `dir` while `faulty`
/// drops a fifth of its broadcasts for one second, once it has `sessions` sessions (a bounded
/// wait of at most 10 s) and half a second more, so every sender sends again after its last
/// dropped message. Returns the run's exit code; `dropped` gets the server's drop count.
int run_two_workers_with_drops(const config::scenario& sc, const std::string& dir,
                               server::server& faulty, std::uint64_t sessions,
                               std::uint64_t& dropped, std::vector<std::string> targets = {}) {
  cluster::controller_options co;
  co.workers = 2;
  co.program = STOMPEDE_BIN;
  co.targets = std::move(targets);
  std::string why;
  auto ctl = cluster::make_controller(sc, co, why);
  REQUIRE(ctl);
  auto opts = quiet_options(dir);
  opts.remote = ctl;
  std::thread fault([&] {
    wait_for_sessions(faulty, sessions);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    faulty.faults().drop_broadcasts(0.2);
    std::this_thread::sleep_for(std::chrono::milliseconds(1000));
    faulty.faults().drop_broadcasts(0.0);
  });
  auto code = run_load_test(sc, opts);
  fault.join();
  dropped = 0;
  for (auto& [room, n] : faulty.faults().dropped_broadcasts())
    dropped += n;
  return code;
}

} // namespace

TEST_CASE("two worker processes run the users from their own source addresses into one report",
          "[cluster]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, scenario_text);
  auto dir = temp_dir("workers");
  cluster::controller_options co;
  co.workers = 2;
  co.program = STOMPEDE_BIN;
  std::string why;
  auto ctl = cluster::make_controller(sc, co, why);
  REQUIRE(ctl);
  auto opts = quiet_options(dir);
  opts.remote = ctl;
  std::atomic<bool> running{true};
  std::set<std::string> seen;
  std::thread watch([&] {
    auto port = port_of(srv.ws_url());
    while (running) {
      for (auto& s : sources_to(port))
        seen.insert(s);
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });
  auto code = run_load_test(sc, opts);
  running = false;
  watch.join();
  auto stats = srv.stats();
  srv.stop();
  REQUIRE(code == exit_completed);
  // Each worker connected from its own loopback address.
  CHECK(seen.count("127.0.0.2") == 1);
  CHECK(seen.count("127.0.0.3") == 1);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["run"]["workers"] == 2);
  CHECK(summary["run"]["lost_workers"].empty());
  auto& c = summary["counters"];
  auto sent = c["messages_sent"].get<std::uint64_t>();
  auto rtt = c["round_trips"].get<std::uint64_t>();
  auto unresolved = c["unresolved"].get<std::uint64_t>();
  CHECK(sent > 50);
  CHECK(c["errors_total"].get<std::uint64_t>() == 0);
  CHECK(c["lost"].get<std::uint64_t>() == 0);
  // The merged figures are the whole run's: what the server took is what both workers sent.
  CHECK(stats.messages == sent);
  CHECK(rtt + unresolved == sent);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 20);
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() == 20);
  // One set of reports, written by the controller.
  CHECK(fs::exists(dir + "/report.html"));
  CHECK(fs::exists(dir + "/timeseries.csv"));
  // The merged levels: some second saw all 20 users connected, from both workers together.
  std::istringstream rows(read_file(dir + "/timeseries.csv"));
  std::string row;
  std::getline(rows, row);
  REQUIRE(row.rfind("elapsed_s,stage,phase,target_users,connected,", 0) == 0);
  long peak = 0;
  while (std::getline(rows, row)) {
    std::istringstream cols(row);
    std::string col;
    for (int i = 0; i < 5 && std::getline(cols, col, ','); ++i) {
    }
    peak = std::max(peak, std::strtol(col.c_str(), nullptr, 10));
  }
  CHECK(peak == 20);
  fs::remove_all(dir);
}

TEST_CASE("an agent started on its own runs a controller's users; a stop drains it and it ends",
          "[cluster]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  // stompede agent --listen 127.0.0.1:0, its port read from its first line.
  int fds[2];
  REQUIRE(pipe(fds) == 0);
  pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    execl(STOMPEDE_BIN, STOMPEDE_BIN, "agent", "--listen", "127.0.0.1:0", "--quiet", nullptr);
    _exit(127);
  }
  ::close(fds[1]);
  std::string line;
  char ch;
  pollfd p{fds[0], POLLIN, 0};
  while (::poll(&p, 1, 10000) > 0 && ::read(fds[0], &ch, 1) == 1 && ch != '\n')
    line += ch;
  REQUIRE(line.find("listening on 127.0.0.1:") != std::string::npos);
  auto agent_at = line.substr(line.find("127.0.0.1:"));
  auto sc = make_scenario(srv, scenario_text);
  auto dir = temp_dir("agent");
  cluster::controller_options co;
  co.agents = {agent_at};
  std::string why;
  auto ctl = cluster::make_controller(sc, co, why);
  REQUIRE(ctl);
  auto opts = quiet_options(dir);
  opts.remote = ctl;
  // A second controller (its own process) asks the busy agent for a slice: it is refused and
  // exits 1, and the slice of this run goes on. Then, as SIGINT on the controller does: drain.
  const auto second_toml = dir + "-second.toml";
  {
    std::ofstream out(second_toml);
    out << config::to_toml_with_secrets(sc);
  }
  int second_status = -1;
  std::thread stopper([&] {
    wait_for_sessions(srv, 20);
    pid_t second = fork();
    if (second == 0) {
      const int devnull = ::open("/dev/null", O_WRONLY);
      dup2(devnull, STDOUT_FILENO);
      dup2(devnull, STDERR_FILENO);
      execl(STOMPEDE_BIN, STOMPEDE_BIN, "run", second_toml.c_str(), "--agents", agent_at.c_str(),
            "--out", (dir + "-second").c_str(), "--set", "output.prometheus=", "--quiet",
            nullptr);
      _exit(127);
    }
    for (int i = 0; second > 0 && i < 200 && waitpid(second, &second_status, WNOHANG) != second;
         ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    if (second > 0 && second_status == -1) {
      ::kill(second, SIGKILL);
      waitpid(second, nullptr, 0);
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
    request_stop(SIGINT);
  });
  auto code = run_load_test(sc, opts);
  stopper.join();
  auto stats = srv.stats();
  // The agent ends by itself once the run is over.
  int status = -1;
  for (int i = 0; i < 300 && waitpid(pid, &status, WNOHANG) != pid; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  if (status == -1) {
    ::kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    FAIL("the agent did not end after the run");
  }
  ::close(fds[0]);
  srv.stop();
  REQUIRE(code == exit_interrupted_sigint);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  // The second controller was refused; this run lost nothing to it.
  REQUIRE(second_status != -1);
  CHECK(WIFEXITED(second_status));
  CHECK(WEXITSTATUS(second_status) == 1);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["run"]["workers"] == 1);
  CHECK(summary["run"]["lost_workers"].empty());
  auto& c = summary["counters"];
  auto sent = c["messages_sent"].get<std::uint64_t>();
  CHECK(sent > 0);
  CHECK(stats.messages == sent);
  CHECK(c["round_trips"].get<std::uint64_t>() + c["unresolved"].get<std::uint64_t>() == sent);
  CHECK(c["stomp_connected"].get<std::uint64_t>() == 20);
  // Every user was stopped gracefully, and the reports are complete.
  CHECK(c["disconnects_graceful"].get<std::uint64_t>() == 20);
  CHECK(read_file(dir + "/report.html").find("interrupted by SIGINT") != std::string::npos);
  fs::remove_all(dir);
  fs::remove_all(dir + "-second");
  fs::remove(second_toml);
}

TEST_CASE("a worker that stops answering is declared lost; the run ends and keeps its figures",
          "[cluster]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, scenario_text);
  auto dir = temp_dir("frozen");
  // SIGSTOP: alive, its link open, answering nothing. Bounded by the run: three collections
  // without its figures (each waits 5 s for it), then the director's shutdown request (30 s at
  // most).
  pid_t victim = -1;
  auto code = run_two_workers_signalling_one(sc, dir, srv, SIGSTOP, victim);
  srv.stop();
  REQUIRE(victim > 0);
  ::kill(victim, SIGCONT); // killed by the controller already; harmless if so
  CHECK(code == exit_failed);
  auto summary = read_json(dir + "/summary.json");
  auto lost = summary["run"]["lost_workers"];
  REQUIRE(lost.size() == 1);
  CHECK(lost[0].get<std::string>().find("no figures for 3 collections") != std::string::npos);
  CHECK(summary["run"]["ended"] == "failed: 1 of 2 workers lost");
  // What both workers did before the freeze is kept.
  CHECK(summary["counters"]["messages_sent"].get<std::uint64_t>() > 0);
  CHECK(summary["counters"]["stomp_connected"].get<std::uint64_t>() == 20);
  fs::remove_all(dir);
}

TEST_CASE("a killed worker is reported and the run goes on without it", "[cluster]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  auto sc = make_scenario(srv, scenario_text);
  auto dir = temp_dir("killed");
  pid_t victim = -1;
  auto code = run_two_workers_signalling_one(sc, dir, srv, SIGKILL, victim);
  auto stats = srv.stats();
  srv.stop();
  REQUIRE(victim > 0);
  // Not a completed run: part of the load went missing. The reports say which part.
  CHECK(code == exit_failed);
  auto summary = read_json(dir + "/summary.json");
  auto lost = summary["run"]["lost_workers"];
  REQUIRE(lost.size() == 1);
  auto text = lost[0].get<std::string>();
  CHECK(text.find("worker 1 (pid " + std::to_string(victim) + ")") != std::string::npos);
  CHECK(text.find("signal 9") != std::string::npos);
  CHECK(summary["run"]["ended"] == "failed: 1 of 2 workers lost");
  // The other worker's users kept going to the end and stopped gracefully.
  CHECK(summary["counters"]["disconnects_graceful"].get<std::uint64_t>() == 10);
  // The lost worker's users stay wanted: after the loss the plan still asks for 20 users and
  // 10 are connected (a hypothesis on `connected` sees the loss).
  bool half = false;
  for (auto& row : read_timeseries(dir + "/timeseries.csv"))
    half = half || (row.at("phase") == "steady" && row.at("target_users") == "20" &&
                     row.at("connected") == "10");
  CHECK(half);
  CHECK(stats.messages >= summary["counters"]["messages_sent"].get<std::uint64_t>());
  CHECK(read_file(dir + "/report.html").find("worker 1 (pid") != std::string::npos);
  // The accounting still balances. The lost worker's users end in it as failed at its last delta:
  // what they missed of the other worker's messages since is missed while reconnecting, not
  // lost (rooms of 10 span both workers).
  auto& a = summary.at("accounting");
  auto& pairs = a.at("pairs");
  CHECK(a.at("balanced").get<bool>());
  CHECK(a.at("pending").get<std::uint64_t>() == 0);
  CHECK(a.at("lost").get<std::uint64_t>() == 0);
  CHECK(pairs.at("lost").get<std::uint64_t>() == 0);
  CHECK(pairs.at("missed_reconnecting").get<std::uint64_t>() > 0);
  fs::remove_all(dir);
}

TEST_CASE("the accounting of two workers adds up: a message sent on one worker is matched on the "
          "other",
          "[cluster]") {
  server::server srv{server_settings()};
  REQUIRE(!srv.start());
  // Rooms of 10 (make_scenario): the slices interleave the users, so every room has members on
  // both workers and every message has receivers in the other process.
  auto sc = make_scenario(srv, R"(
[[stage]]
name = "steady"
users = 30
ramp = "500ms"
duration = "4s"
[behaviour]
interval = "100ms"
[control]
keys = false
)");
  auto dir = temp_dir("workers-accounting");
  std::uint64_t dropped = 0;
  auto code = run_two_workers_with_drops(sc, dir, srv, 30, dropped);
  srv.stop();
  REQUIRE(code == exit_completed);
  auto summary = read_json(dir + "/summary.json");
  CHECK(summary["run"]["workers"] == 2);
  auto& a = summary.at("accounting");
  auto n = [](const nlohmann::json& j, const char* key) { return j.at(key).get<std::uint64_t>(); };
  auto sent = n(a, "sent");
  CHECK(sent == n(summary.at("counters"), "messages_sent"));
  CHECK(sent > 100);
  REQUIRE(dropped > 0);
  // Every message sent by either worker is in exactly one class, none pending.
  CHECK(n(a, "pending") == 0);
  CHECK(a.at("balanced").get<bool>());
  CHECK(n(a, "delivered_all") + n(a, "delivered_some") + n(a, "lost") + n(a, "duplicated") +
            n(a, "out_of_order") + n(a, "missed_reconnecting") + n(a, "in_flight") ==
        sent);
  // Delivered to every member only if the receipts of both processes were matched to it; the
  // broadcasts the server dropped are exactly the losses.
  CHECK(n(a, "lost") == dropped);
  CHECK(n(a, "delivered_all") == sent - dropped);
  CHECK(n(a, "delivered_some") == 0);
  CHECK(n(a, "in_flight") == 0);
  CHECK(n(a, "missed_reconnecting") == 0);
  auto& pairs = a.at("pairs");
  CHECK(n(pairs, "expected") == n(pairs, "delivered") + n(pairs, "lost") +
                                    n(pairs, "missed_reconnecting") + n(pairs, "left") +
                                    n(pairs, "in_flight"));
  CHECK(n(pairs, "lost") >= dropped);
  CHECK(n(a.at("deliveries"), "unknown") == 0);
  // Both workers' subscribers checked the server's numbering.
  CHECK(n(a, "server_seq_checked") > 0);
  CHECK(n(a, "server_seq_gaps") >= n(pairs, "lost"));
  fs::remove_all(dir);
}

// --targets: worker 0's users on server A, worker 1's on server B. A server delivers a room's
// messages only to the members connected to it, so the ledger must count room R on each server
// as a room of its own: then every message is delivered to all its expected receivers (none
// "delivered to some"), and the broadcasts server B dropped are exactly the losses.
TEST_CASE("with two servers (--targets) a room on each server is its own, and the accounting "
          "adds up",
          "[cluster]") {
  // One service behind two servers: the tokens server A's login issues verify on B too.
  auto cfg = server_settings();
  cfg.jwt_secret = "one-secret-for-both-servers-of-this-test";
  server::server a{cfg};
  server::server b{cfg};
  REQUIRE(!a.start());
  REQUIRE(!b.start());
  auto sc = make_scenario(a, R"(
[[stage]]
name = "steady"
users = 20
ramp = "500ms"
duration = "4s"
[behaviour]
interval = "100ms"
[control]
keys = false
)");
  auto dir = temp_dir("workers-targets");
  std::uint64_t dropped = 0;
  // Server B drops; its 10 sessions are worker 1's.
  auto code = run_two_workers_with_drops(sc, dir, b, 10, dropped, {a.ws_url(), b.ws_url()});
  auto stats_a = a.stats();
  auto stats_b = b.stats();
  a.stop();
  b.stop();
  REQUIRE(code == exit_completed);
  // Each server had its worker's half of the users.
  CHECK(stats_a.sessions_total == 10);
  CHECK(stats_b.sessions_total == 10);
  auto summary = read_json(dir + "/summary.json");
  auto& acc = summary.at("accounting");
  auto n = [](const nlohmann::json& j, const char* key) { return j.at(key).get<std::uint64_t>(); };
  auto sent = n(acc, "sent");
  CHECK(sent == n(summary.at("counters"), "messages_sent"));
  REQUIRE(dropped > 0);
  CHECK(acc.at("balanced").get<bool>());
  CHECK(n(acc, "pending") == 0);
  CHECK(n(acc, "lost") == dropped);
  CHECK(n(acc, "delivered_some") == 0);
  CHECK(n(acc, "delivered_all") == sent - dropped);
  CHECK(n(acc, "missed_reconnecting") == 0);
  fs::remove_all(dir);
}
