#pragma once

// The IO half of a simulated user: one WebSocket + STOMP conversation, its timers and its
// measurements, living on one IO thread. It parses and measures every frame itself and reports
// only lifecycle events (subscribed, closed) to its owner, the user actor; no CAF here, and no
// per-message traffic to any actor.

#include "actors/session_settings.hpp"
#include "actors/user_fault.hpp"
#include "metrics/counters.hpp"

#include <cstdint>
#include <functional>
#include <memory>
#include <system_error>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace stompede {

struct io_aggregate;

/// What a session tells its owner.
struct session_event {
  enum kind_t {
    /// CONNECTED received and SUBSCRIBE written: the user is live.
    subscribed,
    /// The session is over. `error` empty = a graceful stop we asked for.
    closed,
  } kind;
  std::error_code error;
  /// With `closed` and no error: the behaviour asked for a fresh session (same identity).
  bool restart = false;
};

/// Maps a transport or STOMP error onto the counted error type.
metrics::error_type classify(const std::error_code& ec) noexcept;

class user_session {
public:
  using listener = std::function<void(const session_event&)>;

  virtual ~user_session() = default;

  /// Connects, CONNECTs, SUBSCRIBEs to the room, then hands over to the identity's behaviour.
  virtual void start() = 0;
  /// Graceful: stops sending, waits (bounded) for its own messages in flight to come back,
  /// sends DISCONNECT with receipt (bounded wait), then closes. Reported as closed with an
  /// empty error.
  virtual void stop() = 0;
  /// Abortive close (the owner is going away); reported as closed with `reason`.
  virtual void abort(std::error_code reason) = 0;
  /// Applies (on) or rolls back (off) a user-side fault (fault injection); a session that is
  /// not connected or is stopping ignores it. `crash` is the actor's business, not the
  /// session's.
  virtual void inject(user_fault f, bool on) = 0;
  /// The run's stage `stage` began; the behaviour hears of it (`on_stage_changed`).
  virtual void stage_changed(std::uint32_t stage) = 0;
  /// The identity the session ended with (its token renewed if it logged in again). Only after
  /// the listener heard `closed`: until then the IO thread may change it.
  virtual user_identity take_identity() = 0;
};

/// Creates a session on `ioc`, which must be the context of IO thread `agg` belongs to. The
/// listener is called on that IO thread.
std::shared_ptr<user_session> make_user_session(boost::asio::io_context& ioc, io_aggregate& agg,
                                                std::shared_ptr<const session_settings> settings,
                                                user_identity id, user_session::listener l);

} // namespace stompede
