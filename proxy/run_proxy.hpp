#pragma once

// `stompede proxy`: the fault proxy in the foreground for manual experiments.

#include <cstdint>
#include <string>
#include <vector>

namespace stompede::proxy {

struct proxy_cli_flags {
  std::string listen = "127.0.0.1:0";
  std::string upstream;
  std::vector<std::string> toxics; // specs (parse_toxic)
  std::uint64_t seed = 1;
  unsigned threads = 1;
  bool refuse = false;
};

/// Checks the flags (one line on stderr and 2 when one is wrong), starts the proxy, prints the
/// bound address and the toxics, runs until SIGINT/SIGTERM, prints every toxic's counters and
/// returns 0 (1 when it cannot listen).
int run_proxy(const proxy_cli_flags& flags);

/// Splits "host:port" ("[::1]:8080" for IPv6); false with one line in `error` when malformed.
bool parse_host_port(const std::string& text, std::string& host, std::uint16_t& port,
                     std::string& error);

} // namespace stompede::proxy
