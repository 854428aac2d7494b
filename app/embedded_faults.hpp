#pragma once

// The fault injector's port onto an embedded server in this process: each call goes straight
// to the server's fault interface (server/faults.hpp). Header-only wiring, shared by the CLI and
// the end-to-end tests.

#include "actors/server_faults.hpp"
#include "server/server.hpp"

#include <string>

namespace stompede {

/// A port onto `srv`, which must outlive the run.
inline server_fault_port embedded_fault_port(server::server& srv) {
  return [&srv](const server_fault_call& c) -> std::string {
    using op = server_fault_call::op;
    auto& f = srv.faults();
    switch (c.what) {
    case op::pause_reading:
      f.pause_reading(c.on);
      break;
    case op::delay_broadcasts:
      f.delay_broadcasts(c.delay);
      break;
    case op::drop_broadcasts:
      f.drop_broadcasts(c.fraction);
      break;
    case op::close_sessions:
      f.close_sessions(c.fraction, c.abortive);
      break;
    case op::refuse_connections:
      f.refuse_connections(c.on);
      break;
    case op::error_sessions:
      f.error_sessions(c.fraction, c.message);
      break;
    case op::restart_listener:
      f.restart_listener();
      break;
    case op::clear:
      f.clear();
      break;
    }
    return {};
  };
}

} // namespace stompede
