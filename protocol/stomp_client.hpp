#pragma once

#include "protocol/stomp_error.hpp"
#include "protocol/stomp_frame.hpp"
#include "protocol/stomp_heartbeat.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stompede::stomp {

/// What a client sends in its CONNECT frame.
struct client_options {
  /// The `host` header (a virtual host for brokers such as RabbitMQ).
  std::string host = "/";
  /// `login` / `passcode` headers; omitted when empty.
  std::string login;
  std::string passcode;
  /// Extra CONNECT headers (for example `Authorization: Bearer ...`), sent as given.
  std::vector<std::pair<std::string, std::string>> connect_headers;
  /// Our heart-beat offer (`heart-beat:send,recv`).
  heartbeat_spec heartbeat{10000, 10000};
  /// The peer counts as dead after its interval × grace without any byte.
  double heartbeat_grace = 2.0;
  /// Use the `STOMP` command instead of `CONNECT`.
  bool use_stomp_command = false;
};

/// Where a client conversation stands.
enum class client_state { idle, connecting, connected, disconnecting, closed };

/// What a received frame meant to the conversation.
struct client_event {
  enum kind_t {
    /// CONNECTED arrived: `heartbeat` holds the negotiated plan, `text` the server header.
    connected,
    /// A MESSAGE for one of our subscriptions; `frame` points at it.
    message,
    /// A RECEIPT; `text` is its receipt-id. `disconnect_done` when it answers our DISCONNECT.
    receipt,
    /// An ERROR frame; `text` is its `message` header (or the start of its body). The session
    /// is over.
    error,
    /// A frame that breaks the protocol (`error_code` says which); the session is over.
    protocol_violation,
  } kind;
  const frame_view* frame = nullptr;
  std::string_view text;
  heartbeat_plan heartbeat{};
  bool disconnect_done = false;
  std::error_code error_code{};
};

/// The STOMP 1.2 client conversation as plain code: it builds frames to send (appending
/// their wire form to a caller's buffer) and interprets frames received. It owns no socket,
/// no timer and no thread; the transport calls it and acts on what it returns.
class client_session {
public:
  explicit client_session(client_options opts);

  client_state state() const noexcept {
    return state_;
  }

  /// Appends CONNECT (or STOMP); state becomes `connecting`.
  void connect(std::string& out);

  /// Appends SUBSCRIBE with the given id (`ack` is auto, client or client-individual) and
  /// remembers the subscription.
  void subscribe(std::string& out, std::string_view id, std::string_view destination,
                 std::string_view ack = "auto",
                 const std::vector<std::pair<std::string, std::string>>& extra = {});

  /// Appends UNSUBSCRIBE and forgets the subscription.
  void unsubscribe(std::string& out, std::string_view id);

  /// Appends SEND with content-length; `receipt` adds a receipt header that `on_frame` later
  /// matches.
  void send(std::string& out, std::string_view destination, std::string_view body,
            std::string_view content_type = "application/json",
            std::optional<std::string_view> receipt = std::nullopt,
            const std::vector<std::pair<std::string, std::string>>& extra = {});

  /// Appends ACK / NACK for the `ack` header of a MESSAGE.
  void ack(std::string& out, std::string_view ack_id);
  void nack(std::string& out, std::string_view ack_id);

  /// Appends DISCONNECT with a receipt; state becomes `disconnecting`.
  void disconnect(std::string& out, std::string_view receipt = "disconnect");

  /// Interprets one received frame.
  client_event on_frame(const frame_view& f);

  /// The plan negotiated by the last CONNECTED (all zero before).
  const heartbeat_plan& heartbeat() const noexcept {
    return plan_;
  }

  /// Receipt ids we asked for and have not seen yet.
  std::size_t pending_receipts() const noexcept {
    return pending_receipts_.size();
  }

  /// Number of active subscriptions.
  std::size_t subscriptions() const noexcept {
    return subscriptions_.size();
  }

  /// The options as given; `login`, `passcode` and `connect_headers` are emptied once
  /// CONNECTED arrived (they serve the CONNECT frame only).
  const client_options& options() const noexcept {
    return opts_;
  }

private:
  client_options opts_;
  client_state state_ = client_state::idle;
  heartbeat_plan plan_{};
  std::string disconnect_receipt_;
  // Small sets as vectors: a session has a handful of subscriptions and receipts at most, and
  // an unordered_set keeps its bucket array (100+ bytes per session) once it held anything.
  std::vector<std::string> subscriptions_;
  std::vector<std::string> pending_receipts_;
};

} // namespace stompede::stomp
