#include "actors/user_actor.hpp"

#include "actors/atoms.hpp"
#include "actors/io_aggregate.hpp"
#include "actors/io_pool.hpp"
#include "actors/user_session.hpp"

#include <caf/all.hpp>

namespace stompede {

namespace {

/// IO thread -> user: the session is subscribed.
using subscribed_atom = caf::atom_constant<caf::atom("subscribd")>;
/// IO thread -> user: the session closed (`int error_type + 1`, 0 = clean).
using closed_atom = caf::atom_constant<caf::atom("closed")>;

} // namespace

caf::error make_session_error(const std::error_code& ec) {
  return caf::error{static_cast<std::uint8_t>(static_cast<int>(classify(ec)) + 1),
                    caf::atom("session")};
}

caf::behavior user_actor(caf::stateful_actor<user_state>* self, user_deps deps, user_identity id,
                         caf::actor supervisor) {
  auto io = deps.pool->next_index();
  caf::actor me = caf::actor_cast<caf::actor>(self);
  // The listener runs on the IO thread: it only turns lifecycle events into messages.
  auto listener = [me](const session_event& ev) {
    if (ev.kind == session_event::subscribed)
      caf::anon_send(me, subscribed_atom::value);
    else
      caf::anon_send(me, closed_atom::value,
                     ev.error ? static_cast<int>(classify(ev.error)) + 1 : 0);
  };
  self->state.session = make_user_session(deps.pool->context(io), deps.aggregates[io],
                                          deps.settings, std::move(id), std::move(listener));
  self->state.session->start();
  self->attach_functor([s = self->state.session](const caf::error&) {
    // However the actor ends, its session ends too (a no-op when it already closed).
    s->abort({});
  });
  return {
      [=](subscribed_atom) { self->send(supervisor, connected_atom::value); },
      [=](closed_atom, int code) {
        self->state.session.reset();
        if (code == 0 || self->state.stopping)
          self->quit();
        else
          self->quit(caf::error{static_cast<std::uint8_t>(code), caf::atom("session")});
      },
      [=](stop_atom) {
        if (self->state.stopping)
          return;
        self->state.stopping = true;
        if (self->state.session)
          self->state.session->stop();
        else
          self->quit();
      },
  };
}

} // namespace stompede
