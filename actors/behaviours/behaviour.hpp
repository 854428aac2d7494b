#pragma once

// What a simulated user does once it is connected: the public API for custom behaviours.
//
// A behaviour is an object with hooks. Its user's session calls the hooks directly on the IO
// thread the session runs on (no actor messages, no locks): keep them short and never block.
// Everything a behaviour can do goes through the `behaviour_context` it is handed: send,
// subscribe, ACK, timers, its own counters and latency samples, its identity and parameters,
// and ending or restarting its session.
//
// Every session subscribes to its user's room first (the `[destinations] subscribe` template)
// and measures round trips and fan-out on it, whatever the behaviour. Room messages reach
// `on_message` only after `ctx.deliver_room_messages(true)`; messages of subscriptions the
// behaviour made itself always do. A behaviour that looks at no message costs nothing per
// message.
//
// Writing one: derive from `behaviour`, override the hooks you need, and register a factory
// under a name (see registry.hpp and docs/behaviours.md).

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace stompede {

class behaviour_params;

/// A received MESSAGE frame, valid only during the `on_message` call.
class message_view {
public:
  virtual std::string_view destination() const = 0;
  /// The subscription id ("sub-0" is the room subscription).
  virtual std::string_view subscription() const = 0;
  virtual std::string_view body() const = 0;
  /// The first header called `name`, if any.
  virtual std::optional<std::string_view> header(std::string_view name) const = 0;
  /// True for a message of the room subscription (as opposed to the behaviour's own).
  virtual bool from_room() const = 0;

protected:
  ~message_view() = default;
};

/// A timer of the behaviour (see `behaviour_context::after` and `every`).
using timer_id = std::uint32_t;

/// What `on_timer` is told.
struct timer_event {
  timer_id id = 0;
  /// When the timer was due (for `every`: start + k × period, never slipping).
  std::chrono::steady_clock::time_point due;
};

/// What `on_room_joined` is told about a `join_room` or `open_private_room` call.
struct room_joined {
  /// The id the call returned.
  std::uint32_t request = 0;
  /// The room joined (for a private room: the one the server made or reused); 0 on failure.
  std::int64_t room = 0;
  /// The subscription to the room's topic (`[destinations] subscribe` with that {room});
  /// empty on failure.
  std::string subscription;
  /// Why it failed (the REST call, or the server's answer); empty on success.
  std::error_code error;
};

/// What a behaviour can do and know. Only valid inside hook calls (and in the behaviour's own
/// lifetime); not thread-safe: it belongs to the session's IO thread.
class behaviour_context {
public:
  using clock = std::chrono::steady_clock;

  // -- Who am I ------------------------------------------------------------------------------

  /// User index (0-based) in the run.
  virtual std::uint32_t user_index() const = 0;
  /// Member id of the user (the account it logged in with).
  virtual std::int64_t member_id() const = 0;
  /// The user's room.
  virtual std::int64_t room() const = 0;
  /// The index of this user among the users of the same `[[behaviour]]` entry (0, 1, 2, ...).
  virtual std::uint32_t behaviour_index() const = 0;
  /// The entry's label (its name unless `label` is set): what metrics are recorded under.
  virtual const std::string& label() const = 0;
  /// The entry's parameters, as validated against the behaviour's declared parameters.
  virtual const behaviour_params& params() const = 0;
  /// The session's send destination for the room (`[destinations] send`, rendered).
  virtual const std::string& room_destination() const = 0;
  /// The user's room subscription destination (`[destinations] subscribe`, rendered).
  virtual const std::string& room_topic() const = 0;
  /// A random number generator seeded per user (deterministic with `[run] random_seed`).
  virtual std::uint64_t random() = 0;
  /// A uniform random number in [0, 1).
  double random_unit() {
    return static_cast<double>(random() >> 11) * (1.0 / 9007199254740992.0);
  }
  virtual clock::time_point now() const = 0;

  // -- STOMP ---------------------------------------------------------------------------------

  /// The seed's measured chat message: the `[destinations]` body with a `[W-N-T]` key in its
  /// content, sent to the room, counted as sent and timed until it comes back through the room
  /// (round trip, lost, unresolved). `due` is when it should have gone out: lateness is measured
  /// from it, and so is the round trip (no coordinated omission).
  virtual void send_chat(clock::time_point due) = 0;
  /// `text` as a chat message to the room: the `[destinations]` body with {content} = text
  /// (JSON-escaped). Not timed; counted as sent by the behaviour.
  virtual void say(std::string_view text) = 0;
  /// A plain SEND (not timed). With `receipt`, the server confirms it with a RECEIPT, and the
  /// time until then is recorded as this behaviour's latency sample "receipt".
  virtual void send(std::string_view destination, std::string_view body,
                    std::string_view content_type = "text/plain", bool receipt = false) = 0;
  /// SUBSCRIBE; returns the subscription id. `ack` is "auto", "client" or "client-individual".
  /// Messages of this subscription reach `on_message`.
  virtual std::string subscribe(std::string_view destination, std::string_view ack = "auto") = 0;
  virtual void unsubscribe(std::string_view subscription_id) = 0;
  /// ACK / NACK a message of a "client" or "client-individual" subscription.
  virtual void ack(const message_view& m) = 0;
  virtual void nack(const message_view& m) = 0;
  /// Whether messages of the room subscription reach `on_message` (off by default).
  virtual void deliver_room_messages(bool on) = 0;

  // -- Other rooms ---------------------------------------------------------------------------

  /// True when rooms are joined over REST (the chat protocol: the run logs in or has a token,
  /// and `[target] http_url` is set); otherwise joining a room is subscribing to its topic.
  virtual bool rooms_over_rest() const = 0;
  /// Joins group room `room` and subscribes to its topic (`[destinations] subscribe`). Over
  /// REST (`POST /v1/chat/rooms/{room}` with the user's token) the call runs asynchronously on
  /// the IO thread and never blocks; `on_room_joined` tells the outcome, in every case.
  /// Returns the request id.
  virtual std::uint32_t join_room(std::int64_t room) = 0;
  /// Opens the private room with member `other_member` (the server makes it or reuses the one
  /// they share: `POST /v1/chat/rooms/private?otherMemberId=...`), then subscribes to it; the
  /// outcome through `on_room_joined`. Needs rooms over REST (fails with
  /// `std::errc::operation_not_supported` otherwise).
  virtual std::uint32_t open_private_room(std::int64_t other_member) = 0;
  /// `text` as a chat message to room `room` (`say` for another room: the `[destinations]`
  /// body and send templates with that {room}). Not timed; counted as sent by the behaviour.
  virtual void say_in(std::int64_t room, std::string_view text) = 0;
  /// The member id of the user with ordinal `k` in the same `[[behaviour]]` entry, if any.
  virtual std::optional<std::int64_t> member_of(std::uint32_t k) const = 0;

  // -- Timers (fire `on_timer`) ---------------------------------------------------------------

  /// Once, after `delay`.
  virtual timer_id after(std::chrono::milliseconds delay) = 0;
  /// Every `period`, the first time after `first`; drift-free: firing k is due at
  /// start + first + k × period however late the previous ones ran.
  virtual timer_id every(std::chrono::milliseconds period, std::chrono::milliseconds first) = 0;
  virtual void cancel(timer_id id) = 0;

  // -- Measurements (under the behaviour's label) ---------------------------------------------

  /// Adds `n` to the behaviour's counter `name`.
  virtual void count(std::string_view name, std::uint64_t n = 1) = 0;
  /// Records one latency sample (µs) in the behaviour's histogram `name`.
  virtual void record_latency(std::string_view name, std::chrono::microseconds value) = 0;

  // -- The session ----------------------------------------------------------------------------

  /// Ends the session gracefully (DISCONNECT); the user is done and is not restarted.
  virtual void end_session() = 0;
  /// Closes the session and connects again at once (same identity); no error is counted.
  virtual void restart_session() = 0;

protected:
  ~behaviour_context() = default;
};

/// A simulated user's behaviour. One object per session (a restarted session gets a new one).
class behaviour {
public:
  virtual ~behaviour() = default;
  /// STOMP CONNECTED arrived and the room subscription is written.
  virtual void on_connected(behaviour_context&) {}
  /// A message of one of the behaviour's subscriptions (or of the room, when asked for).
  virtual void on_message(behaviour_context&, const message_view&) {}
  /// A timer of the behaviour fired.
  virtual void on_timer(behaviour_context&, const timer_event&) {}
  /// A RECEIPT for a `send(..., receipt = true)` arrived.
  virtual void on_receipt(behaviour_context&, std::string_view /*receipt_id*/) {}
  /// The session failed (`error` says why); no more sending is possible.
  virtual void on_error(behaviour_context&, std::error_code /*error*/) {}
  /// The session is about to DISCONNECT gracefully (ramp-down, end of run, `end_session`).
  virtual void on_before_disconnect(behaviour_context&) {}
  /// A `join_room` or `open_private_room` call finished (successfully or not).
  virtual void on_room_joined(behaviour_context&, const room_joined&) {}
  /// The run's stage `stage` (0-based) began: the stage this session was in has ended. Told
  /// once per stage change to every connected session (a session that connects later is in
  /// the current stage).
  virtual void on_stage_changed(behaviour_context&, std::uint32_t /*stage*/) {}
};

/// The parameters of a `[[behaviour]]` entry (every key besides name, weight, label, steps),
/// checked against the parameters the behaviour declares before the run starts.
class behaviour_params {
public:
  struct value {
    std::string key;
    /// The text as written (numbers and booleans too, durations with their unit).
    std::string text;
    double number = 0;
    bool boolean = false;
    std::chrono::milliseconds duration{0};
  };

  const value* find(std::string_view key) const;
  std::string get_string(std::string_view key, std::string_view fallback = {}) const;
  std::int64_t get_int(std::string_view key, std::int64_t fallback = 0) const;
  double get_double(std::string_view key, double fallback = 0) const;
  bool get_bool(std::string_view key, bool fallback = false) const;
  std::chrono::milliseconds get_duration(std::string_view key,
                                         std::chrono::milliseconds fallback = {}) const;

  std::vector<value> values;
};

} // namespace stompede
