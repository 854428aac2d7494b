#pragma once

// What every user session of a run shares (one immutable instance per run), and what makes
// one user different from another (its identity and send plan).

#include "actors/behaviours/registry.hpp"
#include "actors/message_template.hpp"
#include "protocol/stomp_client.hpp"
#include "protocol/stomp_parser.hpp"
#include "protocol/tls_context.hpp"
#include "protocol/url.hpp"
#include "protocol/ws_client.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace stompede {

/// How to log a user in over REST (auth mode login); also used to log in again when a
/// restarted user's token has expired.
struct login_settings {
  net::url url;
  /// printf pattern with the member id ("user%05d@test.com") or one fixed address.
  std::string email;
  /// A secret: never printed.
  std::string password;
  net::tls_options tls;
  std::chrono::milliseconds connect_timeout{10000};
};

/// Per-user sequence numbers of keyed chat messages, kept across a user's sessions so that
/// every key `[W{user}-N{seq}-...]` of a run is unique and a user's numbers have no gaps
/// (message accounting relies on both). Only the user's current session touches its number.
class key_sequences {
public:
  explicit key_sequences(std::size_t users)
      : next_(new std::atomic<std::uint64_t>[users]()), size_(users) {}
  /// The next number of `user` (1, 2, ...); 0 for a user outside the table.
  std::uint64_t next(std::uint32_t user) noexcept {
    return user < size_ ? next_[user].fetch_add(1, std::memory_order_relaxed) + 1 : 0;
  }

private:
  std::unique_ptr<std::atomic<std::uint64_t>[]> next_;
  std::size_t size_;
};

/// Joining rooms over REST (the chat protocol): the server's HTTP base and its TLS settings.
struct room_rest_settings {
  net::url base;
  net::tls_options tls;
  std::chrono::milliseconds connect_timeout{10000};
};

/// Settings shared by all sessions of a run.
struct session_settings {
  /// URL, TLS, timeouts and limits of the WebSocket; per-user headers are added to a copy.
  net::ws_options ws;
  /// The CONNECT frame's fixed part: host, login/passcode, heart-beat offer, extra headers.
  stomp::client_options stomp;
  /// Inbound frame limits.
  stomp::parser_limits limits;
  message_template subscribe_destination{"/topic/chat/room/{room}"};
  message_template send_destination{"/publish/{room}"};
  message_template body;
  std::string content_type = "application/json";
  /// Send `Authorization: Bearer <token>` on the upgrade request and in CONNECT when the user
  /// has a token.
  bool bearer_on_upgrade = true;
  bool bearer_on_connect = true;
  /// CONNECT -> CONNECTED deadline.
  std::chrono::milliseconds stomp_connect_timeout{10000};
  /// Own messages not back within this are lost.
  std::chrono::milliseconds round_trip_timeout{30000};
  /// A send later than its intended time by more than this counts as late.
  std::chrono::microseconds late_tolerance{5000};
  /// Set for auth mode login: a session whose token expires within `relogin_margin` logs in
  /// again before it connects.
  std::optional<login_settings> relogin;
  std::chrono::seconds relogin_margin{2};
  /// Live control: while set, due sends are skipped (not sent, not measured); null = never.
  std::shared_ptr<std::atomic<bool>> sending_paused;
  /// On a graceful stop: the wait for own messages still in flight before DISCONNECT, and then
  /// the DISCONNECT -> RECEIPT wait before closing anyway (each at most this long).
  std::chrono::milliseconds disconnect_timeout{2000};
  /// The run's behaviours; a user's identity says which one it runs.
  std::vector<behaviour_slot> behaviours;
  /// Member ids of each behaviour's users by ordinal (`behaviour_context::member_of`).
  std::vector<std::vector<std::int64_t>> behaviour_members;
  /// Set when rooms are joined over REST (the chat protocol: a login or token, and an
  /// http_url); unset: joining a room is subscribing to its topic.
  std::optional<room_rest_settings> room_rest;
  /// Seeds each behaviour's random numbers (with the user index).
  std::uint64_t random_seed = 0;
  /// Sequence numbers of keyed messages per user; null = per session (tests of one session).
  std::shared_ptr<key_sequences> keys;
};

/// Who a simulated user is. Kept across restarts by its supervisor.
struct user_identity {
  std::uint32_t index = 0;
  std::int64_t member_id = 0;
  std::int64_t room = 0;
  /// Bearer token (a secret: never printed).
  std::string token;
  /// Which of the run's behaviours the user runs (index into session_settings::behaviours).
  std::uint16_t behaviour = 0;
  /// The user's ordinal among the users of that behaviour (0, 1, 2, ...).
  std::uint32_t behaviour_index = 0;
  /// Local address to bind (spreads ephemeral ports); empty = any.
  std::string source_address;
  /// Fault injection: treat the token as expired (log in again before connecting).
  bool token_expired = false;
  /// The WebSocket connection's port instead of the target's (0 = the target's): the fault
  /// proxy lane of the user's cohort.
  std::uint16_t ws_port = 0;
};

} // namespace stompede
