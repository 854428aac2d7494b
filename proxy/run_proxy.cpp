// `stompede proxy`: flags -> options and toxics, run until a signal, print the counters.

#include "proxy/run_proxy.hpp"

#include "proxy/fault_proxy.hpp"

#include <csignal>
#include <cstdio>
#include <pthread.h>

namespace stompede::proxy {

bool parse_host_port(const std::string& text, std::string& host, std::uint16_t& port,
                     std::string& error) {
  std::string h, p;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      error = "'" + text + "' is not [host]:port";
      return false;
    }
    h = text.substr(1, close - 1);
    p = text.substr(close + 2);
  } else {
    const auto colon = text.rfind(':');
    if (colon == std::string::npos || colon == 0) {
      error = "'" + text + "' is not host:port";
      return false;
    }
    h = text.substr(0, colon);
    p = text.substr(colon + 1);
  }
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(p) > 65535) {
    error = "'" + text + "': the port must be a number from 0 to 65535";
    return false;
  }
  host = h;
  port = static_cast<std::uint16_t>(std::stoul(p));
  return true;
}

int run_proxy(const proxy_cli_flags& f) {
  proxy_options o;
  std::string err;
  if (!parse_host_port(f.listen, o.listen_host, o.listen_port, err)) {
    std::fprintf(stderr, "stompede proxy: --listen %s\n", err.c_str());
    return 2;
  }
  if (f.upstream.empty()) {
    std::fprintf(stderr, "stompede proxy: --upstream host:port is required\n");
    return 2;
  }
  if (!parse_host_port(f.upstream, o.upstream_host, o.upstream_port, err)) {
    std::fprintf(stderr, "stompede proxy: --upstream %s\n", err.c_str());
    return 2;
  }
  if (o.upstream_port == 0) {
    std::fprintf(stderr, "stompede proxy: --upstream needs a port other than 0\n");
    return 2;
  }
  std::vector<toxic> toxics;
  for (const auto& spec : f.toxics) {
    auto t = parse_toxic(spec, err);
    if (!t) {
      std::fprintf(stderr, "stompede proxy: %s\n", err.c_str());
      return 2;
    }
    toxics.push_back(*t);
  }
  o.seed = f.seed;
  o.threads = f.threads == 0 ? 1 : f.threads;

  // Block the signals before the proxy's threads start (they inherit the mask); this thread
  // takes them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);

  auto p = fault_proxy::start(o, err);
  if (!p) {
    std::fprintf(stderr, "stompede %s\n", err.c_str());
    return 1;
  }
  std::vector<toxic_id> ids;
  for (const auto& t : toxics)
    ids.push_back(p->add_toxic(t));
  if (f.refuse)
    p->refuse_new_connections(true);
  std::printf("stompede proxy: listening on %s, forwarding to %s\n", p->address().c_str(),
              f.upstream.c_str());
  for (std::size_t i = 0; i < toxics.size(); ++i)
    std::printf("  toxic %llu: %s\n", static_cast<unsigned long long>(ids[i]),
                format_toxic(toxics[i]).c_str());
  if (f.refuse)
    std::printf("  refusing new connections\n");
  std::printf("  Ctrl-C stops it.\n");
  std::fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  std::printf("stompede proxy: signal %d, stopping\n", sig);
  p->stop();
  const auto t = p->totals();
  std::printf("stompede proxy: %llu connections (%llu refused, %llu upstream failures), %llu "
              "bytes up, %llu bytes down\n",
              static_cast<unsigned long long>(t.connections_accepted),
              static_cast<unsigned long long>(t.connections_refused),
              static_cast<unsigned long long>(t.upstream_connect_failures),
              static_cast<unsigned long long>(t.bytes_upstream),
              static_cast<unsigned long long>(t.bytes_downstream));
  for (const auto& s : p->toxics()) {
    const auto& c = s.counters;
    std::printf("  toxic %llu %s: connections %llu (skipped %llu), bytes delayed %llu dropped "
                "%llu, frames delayed %llu dropped %llu split %llu injected %llu, heart-beats "
                "dropped %llu, closes %llu\n",
                static_cast<unsigned long long>(s.id), format_toxic(s.spec).c_str(),
                static_cast<unsigned long long>(c.connections_affected),
                static_cast<unsigned long long>(c.connections_skipped),
                static_cast<unsigned long long>(c.bytes_delayed),
                static_cast<unsigned long long>(c.bytes_dropped),
                static_cast<unsigned long long>(c.frames_delayed),
                static_cast<unsigned long long>(c.frames_dropped),
                static_cast<unsigned long long>(c.frames_split),
                static_cast<unsigned long long>(c.frames_injected),
                static_cast<unsigned long long>(c.heartbeats_dropped),
                static_cast<unsigned long long>(c.closes));
  }
  return 0;
}

} // namespace stompede::proxy
