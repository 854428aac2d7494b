#pragma once

// The user actor: one per simulated user. It owns its session (the IO half, on an IO thread),
// reports "connected" to its supervisor, stops gracefully when told, and ends with an error
// reason naming the failure category when its session fails, so that the supervisor's DOWN
// handler can decide on a restart.

#include "actors/session_settings.hpp"

#include <caf/fwd.hpp>
#include <caf/stateful_actor.hpp>

#include <memory>

namespace stompede {

class io_pool;
class user_session;
struct io_aggregate;

/// What every user actor of a run needs besides its identity.
struct user_deps {
  io_pool* pool = nullptr;
  /// One aggregate per IO thread, indexed like the pool.
  io_aggregate* aggregates = nullptr;
  std::shared_ptr<const session_settings> settings;
};

struct user_state {
  static inline const char* name = "user";
  std::shared_ptr<user_session> session;
  bool stopping = false;
};

/// The CAF error a user exits with when its session failed: code = 1 + metrics::error_type.
caf::error make_session_error(const std::error_code& ec);

/// `supervisor` receives `connected_atom` once the session is subscribed.
caf::behavior user_actor(caf::stateful_actor<user_state>* self, user_deps deps, user_identity id,
                         caf::actor supervisor);

} // namespace stompede
