#pragma once

#ifndef STOMPEDE_WRITE_MEMORY_BYTES
#  define STOMPEDE_WRITE_MEMORY_BYTES 384
#endif

// One accepted TCP connection: HTTP requests (REST, /metrics, /admin) until it upgrades on
// /ws-stomp, then a STOMP 1.2 server session. Lives on one shard thread: every handler and
// every call below runs there, so it needs no locks.

#include "protocol/stomp_frame.hpp"
#include "protocol/stomp_heartbeat.hpp"
#include "protocol/stomp_parser.hpp"
#include "server/server_core.hpp"
#include "server/server_stream.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/websocket/stream.hpp>

#include <chrono>
#include <cstddef>
#include <deque>
#include <new>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace stompede::server::detail {

/// Memory for the one write a connection has in flight: Beast's write operation and the posted
/// completion of a write that went out at once are placed here instead of on the heap (Asio's
/// custom-allocation pattern). A flush pass writes to many connections at once, so their
/// completions are all outstanding together, past what Asio's per-thread recycling keeps.
/// A plain connection's write needs 304-336 bytes here; anything larger (TLS) takes the heap.
class write_memory {
public:
  void* allocate(std::size_t size) {
    if (!in_use_ && size <= sizeof storage_) {
      in_use_ = true;
      return storage_;
    }
    return ::operator new(size);
  }
  void deallocate(void* p) noexcept {
    if (p == storage_)
      in_use_ = false;
    else
      ::operator delete(p);
  }

private:
  alignas(std::max_align_t) unsigned char storage_[STOMPEDE_WRITE_MEMORY_BYTES];
  bool in_use_ = false;
};

template<class T>
class write_allocator {
public:
  using value_type = T;
  explicit write_allocator(write_memory& m) noexcept : memory_(&m) {}
  template<class U>
  write_allocator(const write_allocator<U>& o) noexcept : memory_(o.memory_) {}
  T* allocate(std::size_t n) {
    return static_cast<T*>(memory_->allocate(sizeof(T) * n));
  }
  void deallocate(T* p, std::size_t) noexcept {
    memory_->deallocate(p);
  }
  template<class U>
  bool operator==(const write_allocator<U>& o) const noexcept {
    return memory_ == o.memory_;
  }
  template<class U>
  bool operator!=(const write_allocator<U>& o) const noexcept {
    return memory_ != o.memory_;
  }

private:
  template<class>
  friend class write_allocator;
  write_memory* memory_;
};

/// A write handler whose operations allocate from its connection's write_memory.
template<class Handler>
class with_write_memory {
public:
  using allocator_type = write_allocator<void>;
  with_write_memory(write_memory& m, Handler h) : memory_(&m), handler_(std::move(h)) {}
  allocator_type get_allocator() const noexcept {
    return allocator_type(*memory_);
  }
  template<class... Args>
  void operator()(Args&&... args) {
    handler_(std::forward<Args>(args)...);
  }

private:
  write_memory* memory_;
  Handler handler_;
};

/// True when a WebSocket upgrade carrying `origin` may proceed: listed in `allowed` ("*" = any),
/// or the same origin as `host` where `host` cannot be re-pointed by DNS (an IP address or
/// localhost; any name on a `tls` connection with an https origin).
bool origin_allowed(std::string_view origin, std::string_view host,
                    const std::vector<std::string>& allowed, bool tls = false);

/// Writes out every connection of the shard that queued frames since the last pass.
void flush_dirty(io_shard& shard);

class connection : public std::enable_shared_from_this<connection> {
public:
  using clock = std::chrono::steady_clock;

  connection(server_core& core, io_shard& shard, boost::asio::ip::tcp::socket socket);
  ~connection();

  /// Starts the TLS handshake (TLS listeners) and then reads the first HTTP request.
  void start();
  /// A whole-server refuse was on when this connection was accepted: only an admin request is
  /// served; any other is reset (and counted as refused) once its head is read.
  void admin_only() noexcept {
    admin_only_ = true;
  }

  /// Queues a shared MESSAGE frame for the subscription `to`.
  void deliver(const std::shared_ptr<const broadcast_frame>& frame, const subscriber& to);

  /// Housekeeping from the shard's timer: deadlines, heart-beats, slow writes, paused reads.
  void tick(clock::time_point now);

  /// Sends ERROR `message` (then closes); `category` labels the error counter.
  void fail(const std::string& message, const std::string& category, std::string detail = {},
            std::optional<std::string_view> receipt = std::nullopt);

  /// WebSocket close with `code` after the queued frames are written.
  void close_after_flush(std::uint16_t code);

  /// Immediate close; with `reset`, a TCP RST instead of a FIN.
  void abort(bool reset);

  /// True once CONNECTED was sent and until the session ends.
  bool stomp_connected() const noexcept {
    return phase_ == phase::connected;
  }

  /// The authenticated member (chat mode; 0 before CONNECT and in broker mode).
  std::uint64_t member() const noexcept {
    return member_;
  }

  std::uint32_t shard_index() const noexcept {
    return shard_.index;
  }

private:
  enum class phase { http, ws_handshake, stomp_connect, connected, closing, closed };

  struct outbound {
    std::shared_ptr<const broadcast_frame> shared; // null: `text` is the whole frame
    std::string text;                              // the subscription id, or a whole frame
    bool binary = false; // not UTF-8: goes in a binary WebSocket message of its own kind
    bool eol = false;    // a heart-beat: always a WebSocket message of its own
    std::size_t bytes() const {
      return shared ? shared->prefix.size() + text.size() + shared->suffix.size() : text.size();
    }
  };

  struct subscription {
    std::string id; // as the client sent it (unescaped)
    std::string destination;
    bool personal = false;
    std::uint64_t room = 0; // the room whose topic this is (chat mode), else 0
  };

  // HTTP phase
  /// Waits (idle) for the first byte of the next request, then reads it.
  void do_read_http();
  void read_http_request();
  void on_http(boost::beast::error_code ec);
  void upgrade();
  /// A 401 always carries `WWW-Authenticate: Bearer`; `extra` headers are set as given.
  void write_http(unsigned status, std::string content_type, std::string body, bool keep_alive,
                  std::vector<std::pair<std::string, std::string>> extra = {});

  // WebSocket / STOMP phase
  void do_read_ws();
  void on_read_ws(boost::beast::error_code ec, std::size_t n);
  void handle_frame(const stomp::frame_view& f);
  void on_connect(const stomp::frame_view& f);
  void on_subscribe(const stomp::frame_view& f);
  void on_unsubscribe(const stomp::frame_view& f);
  void on_send(const stomp::frame_view& f);
  void on_send_chat(const stomp::frame_view& f, std::string_view destination);
  void on_send_broker(const stomp::frame_view& f, std::string_view destination);
  bool authenticate(std::string_view token, std::string& reason);
  void send_frame(std::string wire);
  void enqueue(outbound o);
  void do_write();
  /// Plain connections: writes the queued frames with `sendmsg`, framing them itself, as many
  /// per call as fit; what the socket does not take at once is kept in `pending_` until it
  /// becomes writable.
  void write_frames();
  void on_writable(boost::beast::error_code ec);
  /// TLS connections: Beast's WebSocket write of the queue's head (or a coalesced batch).
  void on_write(boost::beast::error_code ec, std::size_t n);
  void unsubscribe_all();
  void drop_subscription(const subscription& s);
  /// Queues ERROR `message` and closes after it; counts nothing. `version`, when not empty, is
  /// the ERROR's `version` header (the versions the server speaks, after a failed negotiation).
  void send_error_and_close(const std::string& message, std::string detail,
                            std::optional<std::string_view> receipt,
                            std::string_view version = {});
  /// Leaves the session gauge and gives back the place in max_sessions taken at the upgrade.
  void release_session_place();
  /// Terminal: closes the socket, unregisters, releases subscriptions. Idempotent.
  void finalize();

  server_core& core_;
  io_shard& shard_;
  boost::beast::websocket::stream<server_stream> ws_;
  boost::beast::flat_buffer buf_;
  std::unique_ptr<boost::beast::http::request_parser<boost::beast::http::string_body>> req_;
  std::unique_ptr<boost::beast::http::response<boost::beast::http::string_body>> res_;
  std::optional<stomp::parser> parser_;
  std::deque<outbound> queue_;
  std::size_t queued_bytes_ = 0;
  std::vector<subscription> subs_;
  stomp::heartbeat_plan plan_;
  phase phase_ = phase::http;
  std::uint16_t close_code_ = 1000;
  bool writing_ = false;
  bool close_started_ = false; // the close frame is on its way: nothing more goes out
  bool flush_pending_ = false; // listed in shard_.dirty
  friend void flush_dirty(io_shard& shard);
  /// Queue entries the write in flight carries (one, or a coalesced batch).
  std::size_t in_flight_count_ = 0;
  std::vector<boost::asio::const_buffer> write_bufs_;
  /// The bytes of a plain connection's write the socket did not take yet, and how many of them
  /// are written; the frames that end in them.
  std::string pending_;
  std::size_t pending_written_ = 0;
  std::size_t pending_frames_ = 0;
  write_memory write_memory_;
  bool read_paused_ = false;
  bool reading_ = false;
  bool finalized_ = false;
  bool admin_only_ = false;
  bool counted_session_ = false; // in stats.sessions (CONNECTED)
  bool counted_upgrade_ = false; // holds a place in core_.upgraded_sessions (max_sessions)
  std::uint64_t member_ = 0;         // authenticated member (chat mode)
  std::uint64_t upgrade_member_ = 0; // from the upgrade's Authorization header
  /// Before the session is CONNECTed: the end of the current phase. Idle (fresh or keep-alive)
  /// until connect_timeout after accept or the last response; a request (an upgrade with its
  /// STOMP CONNECT included) must be done connect_timeout after its first byte.
  clock::time_point deadline_;
  clock::time_point last_read_;
  clock::time_point last_write_;
  clock::time_point write_started_;
  clock::time_point closing_deadline_;
};

} // namespace stompede::server::detail
