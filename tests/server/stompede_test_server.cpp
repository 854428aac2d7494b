// Starts the embedded chat server on 127.0.0.1 with an ephemeral port, prints "PORT <n>" and
// runs until stdin closes, SIGTERM or SIGINT, or the time limit (argv[1] seconds, default 60).

#include "server/server.hpp"

#include <csignal>
#include <cstdlib>
#include <iostream>
#include <thread>

namespace {
volatile std::sig_atomic_t stop_requested = 0;
void on_signal(int) {
  stop_requested = 1;
}
} // namespace

int main(int argc, char** argv) {
  const int limit_s = argc > 1 ? std::atoi(argv[1]) : 60;
  std::signal(SIGTERM, on_signal);
  std::signal(SIGINT, on_signal);
  stompede::server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 1000;
  stompede::server::server srv(cfg);
  if (auto ec = srv.start()) {
    std::cerr << "stompede_test_server: " << ec.message() << "\n";
    return 1;
  }
  std::cout << "PORT " << srv.port() << std::endl;
  for (int i = 0; i < limit_s * 10 && !stop_requested; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  srv.stop();
  return 0;
}
