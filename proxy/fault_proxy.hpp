#pragma once

// The built-in fault proxy: a TCP proxy that stompede places between its users and the target,
// with Toxiproxy-style network toxics and protocol-aware toxics that understand the WebSocket
// frames and the STOMP frames inside them. No Asio or Beast in this header (pimpl); no CAF.
//
//   proxy::proxy_options o;
//   o.upstream_host = "127.0.0.1";
//   o.upstream_port = 8080;                       // listen on 127.0.0.1:0 (ephemeral)
//   std::string err;
//   auto p = proxy::fault_proxy::start(o, err);    // nullptr + err when it cannot listen
//   // point users at ws://127.0.0.1:<p->port()>/ws-stomp
//   proxy::toxic t;
//   t.kind = proxy::toxic_kind::latency;
//   t.dir = proxy::direction::downstream;
//   t.latency = std::chrono::milliseconds(200);
//   auto id = p->add_toxic(t);                     // takes effect at once, on live connections too
//   ...
//   p->remove_toxic(id);                           // queued data flushes in order
//   p->stop();
//
// Every runtime call is thread-safe and returns at once; the effect happens on the proxy's IO
// thread(s) shortly after.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace stompede::proxy {

/// Which bytes a toxic acts on. upstream = client -> server, downstream = server -> client.
enum class direction : std::uint8_t { upstream, downstream, both };

/// What a toxic does. The first group acts on bytes (any TCP stream); the second parses the
/// WebSocket frames (after the HTTP upgrade) and the STOMP frames inside them.
enum class toxic_kind : std::uint8_t {
  // --- network (Toxiproxy semantics) ---
  /// Delay every chunk by `latency` +/- `jitter` (uniform), in order.
  latency,
  /// Limit the throughput to `rate` bytes per second.
  bandwidth,
  /// When the source closes, delay passing the close on by `delay`.
  slow_close,
  /// Stop forwarding (arriving data is dropped) and close the connection after `timeout`
  /// (0 = never: data is dropped until the toxic is removed). A blackhole.
  timeout,
  /// After `delay`, reset the connection: the peer the direction writes to (downstream: the
  /// client, upstream: the server, both: both) gets a TCP RST (SO_LINGER 0).
  reset_peer,
  /// Close the connection once `bytes` bytes have passed in the direction (exactly that many
  /// are delivered).
  limit_data,
  /// Split writes into chunks of `average_size` +/- `size_variation` bytes with `delay`
  /// between them.
  slicer,
  /// No traffic in either direction while active (direction is ignored); data is held (the
  /// reader stops once a few MiB wait, as TCP would back up) and flushes, in order, when the
  /// toxic is removed. `toxicity` chooses the fraction of connections cut off.
  partition,

  // --- protocol-aware (WebSocket + STOMP) ---
  /// Delay a `fraction` of the STOMP frames whose command is `command` (default MESSAGE) and,
  /// when `destination` is set, whose destination header equals it, by `latency` +/- `jitter`.
  /// Order is kept: frames behind a delayed frame wait for it (head-of-line), as over TCP.
  frame_delay,
  /// Drop a `fraction` of the STOMP frames matching `command` / `destination` (a blackhole for
  /// one room with fraction = 1 and destination = the room's topic).
  frame_drop,
  /// Swallow the STOMP heart-beats (EOLs between frames) in the direction.
  heartbeat_stall,
  /// Send a `fraction` of the STOMP frames matching `command` (empty = any frame) /
  /// `destination` as `parts` WebSocket messages instead of within one.
  frame_split,
  /// At most `rate` STOMP frames per second matching `command` (default MESSAGE) /
  /// `destination` on each connection: a frame that comes sooner waits for its slot, and what
  /// follows waits behind it (head-of-line, as over TCP). With `destination` set to a room's
  /// topic, that room is throttled.
  frame_throttle,
  /// After `delay`, send a WebSocket close frame with `close_code` and `close_reason` to the
  /// peer the direction writes to (downstream: the client; upstream: the server, masked), then
  /// close the TCP connection (after the peer's close reply, at most 2 s later).
  ws_close,
  /// After `delay`, inject a STOMP ERROR frame with header `message:<error_message>` and body
  /// `error_body` into the downstream (between two frames), once per connection. The server
  /// side knows nothing of it. Direction is ignored (always downstream).
  inject_error,
};

/// Whether a toxic applies to connections opened before it was added, after, or both.
enum class toxic_scope : std::uint8_t { all, new_connections, existing_connections };

/// One toxic. Fields a kind does not use are ignored.
struct toxic {
  toxic_kind kind = toxic_kind::latency;
  direction dir = direction::downstream;
  /// Fraction of connections the toxic applies to, in [0, 1]. Chosen per connection from the
  /// proxy's seed, `seed`, the toxic's id and the connection's ordinal (1 = first accepted),
  /// so a run with the same seeds, toxics and connection order picks the same connections.
  double toxicity = 1.0;
  /// Mixed into the choice of connections (and of frames, for `fraction`).
  std::uint64_t seed = 0;
  toxic_scope scope = toxic_scope::all;
  /// A name for reports (optional; the CLI sets the spec text).
  std::string name;

  // latency, frame_delay
  std::chrono::milliseconds latency{0};
  std::chrono::milliseconds jitter{0};
  // bandwidth: bytes per second (> 0); frame_throttle: frames per second (> 0)
  std::uint64_t rate = 0;
  // slow_close, reset_peer, slicer (between chunks), ws_close, inject_error
  std::chrono::milliseconds delay{0};
  // timeout: 0 = never close
  std::chrono::milliseconds timeout{0};
  // limit_data
  std::uint64_t bytes = 0;
  // slicer
  std::size_t average_size = 0;
  std::size_t size_variation = 0;
  // frame_delay, frame_drop, frame_split: fraction of the matching frames, in [0, 1]
  double fraction = 1.0;
  // frame_delay, frame_drop, frame_split, frame_throttle: STOMP command to match ("MESSAGE",
  // "SEND", ...; empty = MESSAGE for delay/drop/throttle, any frame for split) and destination
  // (empty = any)
  std::string command;
  std::string destination;
  // frame_split: number of WebSocket messages (>= 2)
  std::size_t parts = 2;
  // ws_close
  std::uint16_t close_code = 1001;
  std::string close_reason;
  // inject_error
  std::string error_message = "injected fault";
  std::string error_body;
};

/// True for the protocol-aware kinds.
bool is_protocol_kind(toxic_kind k) noexcept;

/// The spelling used in specs and reports ("latency", "frame_drop", ...).
std::string_view to_string(toxic_kind k) noexcept;
std::string_view to_string(direction d) noexcept;
std::string_view to_string(toxic_scope s) noexcept;

/// Checks a toxic's parameters; an empty string when it is acceptable, else one line saying
/// what is wrong ("bandwidth: rate must be > 0").
std::string check_toxic(const toxic& t);

/// Parses a toxic spec: `kind[:direction][:key=value,key=value...]`, for example
/// `latency:downstream:latency=200ms,jitter=50ms` or `frame_drop:downstream:fraction=0.1,
/// destination=/topic/room.1`. Keys are the field names of `toxic` (durations take us, ms, s,
/// m suffixes; a bare number is milliseconds). Returns nullopt and sets `error` to one line
/// when the spec is wrong (also when `check_toxic` refuses it).
std::optional<toxic> parse_toxic(std::string_view spec, std::string& error);

/// The spec text of a toxic (parse_toxic(format_toxic(t)) gives t back, name aside).
std::string format_toxic(const toxic& t);

/// What a toxic did so far. Readable at any time, also after the toxic was removed.
struct toxic_counters {
  /// Connections the toxic applied to (chosen by toxicity and scope).
  std::uint64_t connections_affected = 0;
  /// Connections it would have applied to but could not: the protocol-aware kinds on a
  /// connection that is not WebSocket, negotiated permessage-deflate, or carries no STOMP.
  std::uint64_t connections_skipped = 0;
  std::uint64_t bytes_delayed = 0;
  std::uint64_t bytes_dropped = 0;
  std::uint64_t frames_delayed = 0;
  std::uint64_t frames_dropped = 0;
  std::uint64_t frames_split = 0;
  std::uint64_t frames_injected = 0;
  /// Heart-beats (EOLs) swallowed by heartbeat_stall.
  std::uint64_t heartbeats_dropped = 0;
  /// Connections this toxic closed (timeout, limit_data, ws_close) or reset (reset_peer).
  std::uint64_t closes = 0;
};

/// Proxy-wide figures.
struct proxy_counters {
  std::uint64_t connections_accepted = 0;
  /// Accepted and closed at once because refuse_new_connections(true) was in force (only the
  /// few racing the switch: the others get ECONNREFUSED from the kernel, uncounted here).
  std::uint64_t connections_refused = 0;
  std::uint64_t connections_open = 0;
  /// Client connections closed because the upstream could not be reached in time.
  std::uint64_t upstream_connect_failures = 0;
  std::uint64_t bytes_upstream = 0;   // delivered to the server
  std::uint64_t bytes_downstream = 0; // delivered to the clients
  /// Connections on which permessage-deflate was negotiated (protocol-aware toxics skip them).
  std::uint64_t connections_compressed = 0;
};

using toxic_id = std::uint64_t;

/// A toxic as the proxy holds it.
struct toxic_state {
  toxic_id id = 0;
  toxic spec;
  bool active = true; // false once removed
  toxic_counters counters;
};

struct proxy_options {
  /// Where to listen; port 0 picks an ephemeral port (see fault_proxy::port()).
  std::string listen_host = "127.0.0.1";
  std::uint16_t listen_port = 0;
  /// Where to forward to (a host name is resolved once, at start).
  std::string upstream_host = "127.0.0.1";
  std::uint16_t upstream_port = 0;
  /// Seed of every random choice (connections, frames, jitter, slicer sizes, masks).
  std::uint64_t seed = 1;
  /// IO threads of the proxy's own io_context (ignored when started on a given io_context).
  unsigned threads = 1;
  /// Bound on connecting to the upstream; the client's connection is closed when it passes.
  std::chrono::milliseconds connect_timeout{5000};
};

/// A running proxy. Destroying it stops it.
class fault_proxy {
public:
  /// Listens and starts forwarding on thread(s) of its own. nullptr (and one line in `error`)
  /// when the listen address is wrong or taken or the upstream does not resolve.
  static std::unique_ptr<fault_proxy> start(const proxy_options& opts, std::string& error);

  /// Same, on a given io_context that the caller runs (and must keep alive and running until
  /// stop() returned and the proxy is destroyed; with several threads on it, each connection
  /// works on a strand of its own).
  static std::unique_ptr<fault_proxy> start(const proxy_options& opts, boost::asio::io_context& io,
                                            std::string& error);

  ~fault_proxy();
  fault_proxy(const fault_proxy&) = delete;
  fault_proxy& operator=(const fault_proxy&) = delete;

  /// The bound address ("127.0.0.1") and port.
  std::string host() const;
  std::uint16_t port() const;
  /// "host:port" ("[::1]:port" for IPv6).
  std::string address() const;

  /// Adds a toxic; it applies at once to the chosen live connections (as scope allows) and to
  /// the chosen new ones. Throws std::invalid_argument with check_toxic's line when the toxic
  /// is wrong.
  toxic_id add_toxic(const toxic& t);

  /// Removes a toxic: what it holds is flushed in order (nothing it has not dropped is lost).
  /// Returns its counters at the time of the call, nullopt for an unknown or removed id.
  std::optional<toxic_counters> remove_toxic(toxic_id id);

  /// Removes every toxic (and stops refusing new connections).
  void remove_all_toxics();

  /// While on, the listening socket stops listening (keeping its port), so a new connection
  /// gets ECONNREFUSED (one waiting in the backlog at the switch is reset); open connections
  /// are left alone. Off listens again on the same port.
  void refuse_new_connections(bool on);

  /// Counters of one toxic (also a removed one); nullopt for an id never given.
  std::optional<toxic_counters> counters(toxic_id id) const;

  /// Every toxic ever added, in order of ids, with its counters.
  std::vector<toxic_state> toxics() const;

  proxy_counters totals() const;

  /// Stops accepting, closes every connection, and (for its own threads) joins them.
  /// Idempotent. Must not be called from one of the proxy's own IO threads.
  void stop();

  struct impl;

private:
  explicit fault_proxy(std::shared_ptr<impl> p);
  std::shared_ptr<impl> impl_;
};

} // namespace stompede::proxy
