#pragma once

// The fault injector's port onto an embedded server in this process: each call goes straight
// to the server's fault interface (server/faults.hpp). Header-only wiring, shared by the CLI and
// the end-to-end tests.

#include "actors/server_faults.hpp"
#include "server/server.hpp"

#include <cstdint>
#include <string>

namespace stompede {

/// A port onto `srv`, which must outlive the run.
inline server_fault_port embedded_fault_port(server::server& srv) {
  server_fault_port port;
  port.apply = [&srv](const server_fault_call& c) -> std::string {
    using op = server_fault_call::op;
    auto& f = srv.faults();
    server::fault_cohort who;
    // Ids as they are (0 is no room's and no member's: a cohort naming it matches nobody, as
    // over the admin endpoint); only negative ones, which name nothing, are left out.
    for (auto r : c.rooms)
      if (r >= 0)
        who.rooms.push_back(static_cast<std::uint64_t>(r));
    for (auto m : c.members)
      if (m >= 0)
        who.members.push_back(static_cast<std::uint64_t>(m));
    switch (c.what) {
    case op::pause_reading:
      f.pause_reading(c.on, who);
      break;
    case op::delay_broadcasts:
      f.delay_broadcasts(c.delay, who);
      break;
    case op::drop_broadcasts:
      f.drop_broadcasts(c.fraction, who);
      break;
    case op::close_sessions:
      f.close_sessions(c.fraction, c.abortive, who);
      break;
    case op::refuse_connections:
      f.refuse_connections(c.on, who);
      break;
    case op::error_sessions:
      f.error_sessions(c.fraction, c.message, who);
      break;
    case op::restart_listener:
      f.restart_listener();
      break;
    case op::stall_io:
      f.stall_io(c.delay);
      break;
    case op::clear:
      f.clear();
      break;
    }
    return {};
  };
  port.tally = [&srv](server_fault_tally& t) -> std::string {
    const auto x = srv.faults().tally();
    auto i = [](std::uint64_t v) { return static_cast<std::int64_t>(v); };
    t.dropped_broadcasts = i(x.dropped_broadcasts);
    t.delayed_broadcasts = i(x.delayed_broadcasts);
    t.closed_sessions = i(x.closed_sessions);
    t.error_sessions = i(x.error_sessions);
    t.refused_connections = i(x.refused_connections);
    t.paused_sessions = i(x.paused_sessions);
    t.stalled_turns = i(x.stalled_turns);
    return {};
  };
  return port;
}

} // namespace stompede
