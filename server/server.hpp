#pragma once

// The embedded reference chat server (`stompede serve`, or in-process for tests and for
// `embedded = true` scenarios). This header is Beast-free on purpose: the CLI and the engine
// include it without paying for Asio.

#include "server/faults.hpp"

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <system_error>
#include <variant>
#include <vector>

namespace stompede::server {

/// What the server speaks on its WebSocket endpoint.
enum class server_mode {
  /// The chat service protocol (REST login, JWT, rooms, /publish/{roomId}).
  chat,
  /// A plain pub/sub broker: any /topic/... destination, no login, bodies relayed unchanged.
  broker,
};

/// Every setting of the server, with its default. docs/server.md describes each one.
struct server_config {
  /// host:port to listen on; port 0 picks an ephemeral port. Loopback unless told otherwise.
  std::string listen = "127.0.0.1:8080";
  server_mode mode = server_mode::chat;
  /// Members 1..users exist (`user%05d@test.com`).
  std::size_t users = 100000;
  /// The one password every member logs in with.
  std::string password = "password123!";
  /// HMAC key of the JWTs; empty = 256 random bits from the OpenSSL CSPRNG at start.
  std::string jwt_secret;
  std::chrono::seconds access_token_ttl{3600};
  std::chrono::seconds refresh_token_ttl{14 * 24 * 3600};
  /// Member m belongs to room (m-first)/room_size + 1 without any REST call (the seed's
  /// placement), with first = `first_room_member`; members below it have no automatic room.
  bool auto_rooms = true;
  std::size_t room_size = 100;
  /// The member whose index is 0 in the seed's placement (the scenario's `auth.start_id`).
  std::size_t first_room_member = 1;
  /// Send a room summary to /topic/user.{id}.room-summary of every member on each message.
  bool room_summaries = true;
  /// Largest STOMP frame accepted (command + headers + body).
  std::size_t max_frame_bytes = 512 * 1024;
  /// Origins (scheme://host[:port]) a browser may open /ws-stomp from, besides the server's own
  /// (same-origin is always allowed); "*" allows any. An upgrade without an Origin header
  /// (a non-browser client) is always allowed. Guards against cross-site WebSocket hijacking.
  std::vector<std::string> allowed_origins;
  /// When several frames wait for one session, write them as one WebSocket message (STOMP
  /// allows several frames per message; stompede, stompjs and RabbitMQ's clients read them).
  /// Under load this turns a syscall per frame into one per batch; off = one frame per message,
  /// as Spring sends them.
  bool coalesce_frames = true;
  /// Bytes queued for one session beyond which it is cut as a slow consumer.
  std::size_t max_queue_bytes = 1024 * 1024;
  /// A single write to a session may take this long before it is cut as a slow consumer.
  std::chrono::milliseconds slow_consumer_timeout{20000};
  /// Connections beyond this number are refused (closed right after accept).
  std::size_t max_sessions = 15000;
  /// The server's heart-beat offer: it can send every `heartbeat_send_ms`, wants to receive
  /// every `heartbeat_recv_ms` (0 = none).
  std::uint32_t heartbeat_send_ms = 10000;
  std::uint32_t heartbeat_recv_ms = 10000;
  /// A client silent for the agreed interval times this factor is closed.
  double heartbeat_grace = 2.0;
  /// A connection must complete its HTTP request / WebSocket upgrade / STOMP CONNECT in time.
  std::chrono::milliseconds connect_timeout{30000};
  /// IO threads (each runs one io_context; sessions are spread across them).
  std::size_t io_threads = 1;
  /// Bearer token of the /admin/... fault endpoints; empty = endpoints off.
  std::string admin_token;
  /// Serve Prometheus text at GET /metrics on the same listener.
  bool metrics = true;
  /// TLS: with a certificate chain and its key (PEM, both or neither) the listener serves wss://
  /// and https:// only.
  std::string tls_cert_file;
  std::string tls_key_file;
  /// PEM CAs for client certificates; when set, every TLS client must present a certificate
  /// signed by one of them (mutual TLS). Needs tls_cert_file.
  std::string tls_client_ca_file;
};

/// Parses "chat" / "broker".
bool parse_server_mode(const std::string& s, server_mode& out);

/// Loads a server.toml. Errors read "file:line:col: what was expected".
std::variant<server_config, std::string> load_server_config(const std::string& path);

/// A snapshot of the server's counters.
struct server_stats {
  std::uint64_t sessions = 0;       ///< open STOMP sessions (after CONNECTED)
  std::uint64_t connections = 0;    ///< open TCP connections
  std::uint64_t sessions_total = 0; ///< CONNECTED frames ever sent
  std::uint64_t subscriptions = 0;  ///< live subscriptions
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t messages = 0;   ///< accepted SENDs
  std::uint64_t broadcasts = 0; ///< fan-outs performed
  std::uint64_t dropped_broadcasts = 0;
  std::uint64_t slow_consumer_closes = 0;
  std::uint64_t heartbeat_timeouts = 0;
  std::uint64_t protocol_errors = 0; ///< ERROR frames sent, all categories
  std::uint64_t auth_failures = 0;
  std::uint64_t refused_connections = 0;
  std::uint64_t fault_closed_sessions = 0;
  std::uint64_t fault_error_sessions = 0;
  std::uint64_t logins = 0;
  std::uint64_t tls_handshake_failures = 0; ///< TLS handshakes that failed (not counted: timeouts)
};

namespace detail {
class server_core;
}

/// The server. Not copyable; start() once, stop() (or the destructor) ends it.
class server {
public:
  explicit server(server_config config);
  ~server();
  server(const server&) = delete;
  server& operator=(const server&) = delete;

  /// Loads the TLS files, binds (port 0 = ephemeral) and starts the IO threads. On failure
  /// start_problem() says what failed in one line.
  std::error_code start();
  /// Why start() failed, naming the file or address (empty when it did not fail).
  std::string start_problem() const;
  /// True when the listener speaks TLS (wss://, https://).
  bool tls() const;
  /// The bound port (0 before start).
  std::uint16_t port() const;
  /// ws://host:port/ws-stomp (wss:// with TLS)
  std::string ws_url() const;
  /// http://host:port (https:// with TLS)
  std::string http_url() const;
  /// Graceful: stops accepting, closes every session, joins the threads. Idempotent.
  void stop();
  /// In-process fault interface.
  fault_control& faults();
  server_stats stats() const;
  const server_config& config() const;

private:
  std::unique_ptr<detail::server_core> core_;
};

/// `stompede serve`: starts, prints the URLs, runs until SIGINT/SIGTERM, stops gracefully.
/// Returns the process exit code.
int run_serve(const server_config& config);

} // namespace stompede::server
