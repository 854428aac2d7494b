#pragma once

// A WebSocket (ws/wss) client connection behind a Beast-free header: one connection, one IO
// thread, one write in flight, a bounded outgoing queue, and explicit timeouts for every step.
// Beast makes the upgrade; the frames are read and written with ws_reader/ws_frame (Beast's
// WebSocket stream only when permessage-deflate is asked for). It knows nothing of STOMP: it
// delivers whole WebSocket messages to its handler and sends whole messages.

#include "protocol/tls_context.hpp"
#include "protocol/transport_error.hpp"
#include "protocol/url.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace stompede::net {

/// Everything one connection needs.
struct ws_options {
  url target;
  /// Extra headers on the upgrade request (e.g. Authorization: Bearer ...).
  std::vector<std::pair<std::string, std::string>> headers;
  tls_options tls;
  /// Local address to bind before connecting (spreads ephemeral ports over 127.0.0.0/8);
  /// empty = let the kernel choose.
  std::string source_address;
  std::chrono::milliseconds connect_timeout{10000};
  std::chrono::milliseconds handshake_timeout{10000};
  /// No inbound byte for this long ends the connection with idle_timeout (0 = never). The
  /// STOMP layer sets it from the negotiated heart-beat.
  std::chrono::milliseconds idle_timeout{0};
  /// A write that does not complete within this long ends the connection.
  std::chrono::milliseconds write_timeout{20000};
  /// Largest inbound WebSocket message.
  std::size_t max_message_bytes = 512 * 1024;
  /// Bound of queued, unsent outgoing bytes; beyond it `send` fails with write_queue_full.
  std::size_t max_queued_bytes = 1024 * 1024;
  /// Offer permessage-deflate (costs ~300 KB per connection when agreed; off by default). The
  /// connection then runs on Beast's WebSocket stream.
  bool compression = false;
  /// Before each read, turn TCP_QUICKACK off (Linux's interactive mode): the kernel then
  /// delays the ACK of what a read takes (up to its delayed-ACK timer, or until a second small
  /// segment arrives) instead of sending one with almost every read of a small frame. Saves
  /// the client the ACK's work; the server sees fewer pure ACKs. Not with `compression`.
  bool delayed_acks = false;
  /// With `compression` only (a connection on Beast's WebSocket stream): the largest write
  /// (masking) buffer Beast keeps per connection. It is sized to each message in 64-byte steps
  /// up to this and kept until the next write; a message above it goes out in several writes of
  /// this size (Beast's default is 4096). Otherwise each message is framed and masked in a
  /// buffer of its own size, freed once written.
  std::size_t write_buffer_bytes = 512;
  /// User-Agent of the upgrade request; empty = "stompede/<version>".
  std::string user_agent;
};

/// Receives what happens on a connection, on the thread that runs its io_context. Handlers
/// must be quick and must not block.
class ws_handler {
public:
  virtual ~ws_handler() = default;
  /// TCP (and TLS) connected; `elapsed` since start().
  virtual void on_tcp_connected(std::chrono::nanoseconds elapsed) {
    (void)elapsed;
  }
  /// The WebSocket upgrade completed; `elapsed` since start().
  virtual void on_open(std::chrono::nanoseconds elapsed) = 0;
  /// One whole inbound message (text or binary). `data` is valid during the call only.
  virtual void on_message(std::string_view data) = 0;
  /// The peer sent a WebSocket close frame (before on_closed with closed_by_peer), so its
  /// close code can be counted.
  virtual void on_close_frame(std::uint16_t code, std::string_view reason) {
    (void)code;
    (void)reason;
  }
  /// The server answered the WebSocket upgrade with something else than 101 (the connection
  /// then ends with upgrade_rejected): its HTTP status and reason phrase. `reason` is valid
  /// during the call only.
  virtual void on_upgrade_declined(unsigned status, std::string_view reason) {
    (void)status;
    (void)reason;
  }
  /// TLS failed (the connection then ends with tls_error): OpenSSL's reason, such as the
  /// certificate verification error ("certificate has expired", "hostname mismatch") or the
  /// peer's alert. Called just before on_closed; `reason` is valid during the call only.
  virtual void on_tls_failure(std::string_view reason) {
    (void)reason;
  }
  /// The connection is over: `ec` is empty for a clean close we asked for, otherwise the
  /// categorised reason (transport_errc or a STOMP error passed to close()). Called once.
  virtual void on_closed(std::error_code ec) = 0;
};

/// One client connection. Create with `make_ws_client`, then `start()`. Every member is safe
/// to call from any thread: work is dispatched to the connection's io_context, which must be
/// run by exactly one thread (stompede's io_pool gives each thread its own io_context); that
/// single thread is what serialises a connection, without a strand.
class ws_client {
public:
  virtual ~ws_client() = default;
  /// Resolve, connect, TLS handshake (SNI + verification), WebSocket upgrade.
  virtual void start() = 0;
  /// Queue one outgoing text message.
  virtual void send(std::string message) = 0;
  /// Change the idle timeout (after STOMP heart-beats are negotiated).
  virtual void set_idle_timeout(std::chrono::milliseconds t) = 0;
  /// Close: graceful sends a WebSocket close (code 1000) after queued messages; otherwise the
  /// TCP connection is dropped at once. `reason` is reported to on_closed (empty = clean).
  virtual void close(bool graceful, std::error_code reason = {}) = 0;
  /// Stop delivering inbound messages (a slow consumer, for fault injection) or resume.
  virtual void pause_reading(bool paused) = 0;
  /// Abortive close with a TCP reset (SO_LINGER 0: the peer sees RST, not FIN), for fault
  /// injection; `reason` is reported to on_closed.
  virtual void reset(std::error_code reason) = 0;
};

/// Creates a connection on `ioc`. The handler must outlive the connection's on_closed call.
std::shared_ptr<ws_client> make_ws_client(boost::asio::io_context& ioc, ws_options opts,
                                          std::shared_ptr<ws_handler> handler);

} // namespace stompede::net
