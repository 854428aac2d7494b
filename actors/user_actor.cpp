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

namespace {

/// Creates and starts a session for `id` whose events become messages to `me`.
std::shared_ptr<user_session> start_session(const user_deps& deps, user_identity id,
                                            caf::actor me) {
  auto io = deps.pool->next_index();
  // The listener runs on the IO thread: it only turns lifecycle events into messages.
  auto listener = [me](const session_event& ev) {
    if (ev.kind == session_event::subscribed)
      caf::anon_send(me, subscribed_atom::value);
    else if (ev.restart)
      caf::anon_send(me, closed_atom::value, -1);
    else
      caf::anon_send(me, closed_atom::value,
                     ev.error ? static_cast<int>(classify(ev.error)) + 1 : 0);
  };
  auto s = make_user_session(deps.pool->context(io), deps.aggregates[io], deps.settings,
                             std::move(id), std::move(listener));
  s->start();
  return s;
}

} // namespace

caf::behavior user_actor(caf::stateful_actor<user_state>* self, user_deps deps, user_identity id,
                         caf::actor supervisor) {
  caf::actor me = caf::actor_cast<caf::actor>(self);
  // The identity lives in the session (one copy per user besides the supervisor's); a fresh
  // session the behaviour asks for takes it over from the one that closed.
  self->state.session = start_session(deps, std::move(id), me);
  // However the actor ends, its session ends too (a no-op when it already closed). A session
  // restarted by its behaviour replaces the current one; the state may be gone by then, so the
  // functor keeps its own handle.
  auto current = std::make_shared<std::shared_ptr<user_session>>(self->state.session);
  self->attach_functor([current](const caf::error&) {
    if (*current)
      (*current)->abort({});
  });
  return {
      [=](subscribed_atom) { self->send(supervisor, connected_atom::value); },
      [=](closed_atom, int code) {
        auto closed = std::move(self->state.session);
        if (code == -1 && !self->state.stopping && closed) {
          // The behaviour asked for a fresh session: same identity, at once, no error.
          self->state.session = start_session(deps, closed->take_identity(), me);
          *current = self->state.session;
          return;
        }
        if (code <= 0 || self->state.stopping)
          self->quit();
        else
          self->quit(caf::error{static_cast<std::uint8_t>(code), caf::atom("session")});
      },
      [=](fault_atom, std::uint8_t kind, bool on) {
        auto f = static_cast<user_fault>(kind);
        if (self->state.stopping)
          return;
        if (f == user_fault::crash) {
          if (!on)
            return;
          // The actor dies with an error; its session goes with it (abortive, counted).
          if (self->state.session)
            self->state.session->abort(injected_fault_error());
          self->state.session.reset();
          *current = nullptr;
          self->quit(make_session_error(injected_fault_error()));
          return;
        }
        if (self->state.session)
          self->state.session->inject(f, on);
      },
      [=](stage_atom, std::uint32_t stage) {
        if (self->state.session && !self->state.stopping)
          self->state.session->stage_changed(stage);
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
