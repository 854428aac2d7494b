#include "protocol/ws_client.hpp"
#include "protocol/tls_setup.hpp"
#include "protocol/ws_frame.hpp"
#include "protocol/ws_reader.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <type_traits>

#ifndef STOMPEDE_VERSION
#  define STOMPEDE_VERSION "0"
#endif

namespace stompede::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

// Linux >= 4.2: defer the port choice of a bound socket to connect(), so binding to a source
// address does not reserve a port per (address) but per (address, destination) 4-tuple.
#ifdef IP_BIND_ADDRESS_NO_PORT
constexpr int bind_address_no_port = IP_BIND_ADDRESS_NO_PORT;
#else
constexpr int bind_address_no_port = 24;
#endif

/// Close bound when handshake_timeout is 0 (a close must never hang forever).
constexpr std::chrono::milliseconds fallback_close_timeout{5000};

/// Where in a connection's life an error happened: the same error code means different things
/// (a timeout while connecting is connect_timeout, while reading is idle_timeout).
enum class step { resolve, connect, tls_handshake, ws_handshake, read, write, close };

bool is_ssl_error(const beast::error_code& ec) {
  return ec.category() == asio::error::get_ssl_category() ||
         ec.category() == ssl::error::get_stream_category();
}

/// The one place Asio, Beast and OpenSSL errors become transport_errc values.
transport_errc classify(const beast::error_code& ec, step s) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out) {
    switch (s) {
    case step::resolve:
    case step::connect:
      return transport_errc::connect_timeout;
    case step::tls_handshake:
    case step::ws_handshake:
    case step::close:
      return transport_errc::handshake_timeout;
    case step::read:
      return transport_errc::idle_timeout;
    case step::write:
      return transport_errc::write_timeout;
    }
  }
  if (s == step::resolve)
    return transport_errc::resolve_failed;
  if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system)
    return transport_errc::fd_exhausted;
  if (ec == boost::system::errc::address_not_available)
    return transport_errc::port_exhaustion;
  if (s == step::connect) {
    if (ec == asio::error::connection_refused)
      return transport_errc::connect_refused;
    if (ec == asio::error::address_in_use)
      return transport_errc::port_exhaustion;
  }
  if (ec == websocket::error::closed)
    return transport_errc::closed_by_peer;
  if (ec == websocket::error::message_too_big || ec == beast::http::error::buffer_overflow)
    return transport_errc::message_too_large;
  if (ec == websocket::error::upgrade_declined)
    return transport_errc::upgrade_rejected;
  if (ec == beast::http::error::end_of_stream)
    return transport_errc::connection_reset;
  if (ec == websocket::condition::handshake_failed ||
      ec == websocket::condition::protocol_violation ||
      ec.category() == beast::http::make_error_code(beast::http::error::bad_version).category())
    return transport_errc::protocol_error;
  if (ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe || ec == asio::error::connection_aborted ||
      ec == ssl::error::stream_truncated || ec == asio::error::not_connected)
    return transport_errc::connection_reset;
  if (is_ssl_error(ec))
    return transport_errc::tls_error;
  if (ec == asio::error::connection_refused)
    return transport_errc::connect_refused;
  return transport_errc::io_error;
}

/// The random numbers of a client's WebSocket: the upgrade's nonce and every frame's masking
/// key (RFC 6455 10.3 asks for keys a peer cannot predict; xorshift seeded from the system's
/// random device per thread, as Beast's default does).
std::uint32_t next_random() {
  thread_local std::uint64_t state = [] {
    std::random_device rd;
    return (std::uint64_t{rd()} << 32) ^ rd() ^ 0x9E3779B97F4A7C15ULL;
  }();
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return static_cast<std::uint32_t>(state >> 16);
}

/// Appends one whole client frame, masked with a fresh key.
void append_masked(std::string& out, std::uint8_t op, std::string_view payload) {
  const std::uint32_t r = next_random();
  std::uint8_t key[4];
  std::memcpy(key, &r, sizeof key);
  ws::append_frame(out, true, op, payload, key);
}

std::string base64(const unsigned char* data, std::size_t size) {
  std::string out(4 * ((size + 2) / 3) + 1, '\0');
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), data,
                                static_cast<int>(size));
  out.resize(static_cast<std::size_t>(n));
  return out;
}

/// Sec-WebSocket-Accept for `key` (RFC 6455 4.2.2).
std::string websocket_accept(const std::string& key) {
  const std::string input = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(input.data(), input.size(), digest, &size, EVP_sha1(), nullptr);
  return base64(digest, size);
}

/// Every plain connection on a thread reads into this block (the thread runs one io_context,
/// so one read at a time): a connection keeps no read buffer of its own between reads.
constexpr std::size_t thread_read_bytes = 64 * 1024;
char* thread_read_buffer() {
  thread_local std::unique_ptr<char[]> buffer(new char[thread_read_bytes]);
  return buffer.get();
}
/// What a TLS connection reads at once (into a buffer of its own: OpenSSL already keeps ~30 KB
/// per connection, so 4 KB more does not change its cost).
constexpr std::size_t tls_read_bytes = 4096;

/// A client whose TLS settings could not be loaded: it reports the failure from start().
class failed_ws_client final : public ws_client,
                               public std::enable_shared_from_this<failed_ws_client> {
public:
  failed_ws_client(asio::io_context& ioc, std::error_code ec, std::shared_ptr<ws_handler> h)
      : strand_(asio::make_strand(ioc)), ec_(ec), handler_(std::move(h)) {}

  void start() override {
    report(ec_);
  }
  void send(std::string) override {}
  void set_idle_timeout(std::chrono::milliseconds) override {}
  void close(bool, std::error_code reason) override {
    report(reason);
  }
  void pause_reading(bool) override {}
  void reset(std::error_code reason) override {
    report(reason);
  }

private:
  void report(std::error_code ec) {
    asio::post(strand_, [self = shared_from_this(), ec] {
      if (auto h = std::move(self->handler_))
        h->on_closed(ec);
    });
  }

  asio::strand<asio::io_context::executor_type> strand_;
  std::error_code ec_;
  std::shared_ptr<ws_handler> handler_;
};

/// The connection's executor. The io_context of a connection is run by exactly one thread (see
/// ws_client.hpp), so a plain io_context executor serialises everything a strand would, without
/// the strand's queue and the type-erased executor's reference counting on every operation.
using executor_type = asio::io_context::executor_type;
/// A plain socket under the WebSocket stream: the connect and TLS deadlines are the
/// connection's own timer (beast::basic_stream would add ~470 bytes per connection and a
/// wrapping operation, with a reference count, around every read and write).
using socket_type = asio::basic_stream_socket<tcp, executor_type>;
using timer_type =
    asio::basic_waitable_timer<std::chrono::steady_clock,
                               asio::wait_traits<std::chrono::steady_clock>, executor_type>;

/// One connection: plain (`Tls` = false) or over TLS. Every member function below the public
/// overrides runs on the connection's io_context thread.
///
/// `Lean` (the default, whenever permessage-deflate is not asked for): Beast makes the upgrade
/// request and parses its answer, then the connection reads and writes RFC 6455 frames itself
/// (ws_frame.hpp) on the bare socket or TLS stream. A plain connection waits for readability
/// holding no buffer and reads into its thread's 64 KB block, so one read takes every frame
/// the socket has and a message that arrived whole is handed over without a copy; the
/// connection holds no WebSocket stream (Beast's keeps a 1,536-byte frame buffer, its own
/// timer and write buffer per connection). Otherwise (`Lean` = false) Beast's
/// websocket::stream does it all, with permessage-deflate.
template<bool Tls, bool Lean>
class ws_session final : public ws_client,
                         ws_reader_handler,
                         public std::enable_shared_from_this<ws_session<Tls, Lean>> {
  using next_layer_type =
      std::conditional_t<Tls, beast::ssl_stream<socket_type>, socket_type>;
  using stream_type =
      std::conditional_t<Lean, next_layer_type, websocket::stream<next_layer_type>>;
  using strand_type = executor_type;
  using http_response_parser = beast::http::response_parser<beast::http::empty_body>;

  /// The upgrade's request and answer, during the handshake only (Lean).
  struct upgrade_state {
    beast::http::request<beast::http::empty_body> request;
    http_response_parser parser;
    beast::flat_buffer buffer{16 * 1024};
    std::string key;
  };

  enum class state : std::uint8_t {
    idle,
    resolving,
    connecting,
    handshaking,
    open,
    closing,
    closed
  };

public:
  ws_session(asio::io_context& ioc, ws_options opts, std::shared_ptr<ws_handler> handler,
             std::shared_ptr<ssl::context> ctx)
      : strand_(ioc.get_executor()), ctx_(std::move(ctx)),
        opts_(std::make_unique<ws_options>(std::move(opts))), handler_(std::move(handler)),
        ws_(make_stream()), timer_(strand_), reader_(opts_->max_message_bytes),
        idle_(opts_->idle_timeout),
        handshake_timeout_(opts_->handshake_timeout), write_timeout_(opts_->write_timeout),
        max_queued_bytes_(opts_->max_queued_bytes), delayed_acks_(opts_->delayed_acks) {}

  void start() override {
    asio::dispatch(strand_, [self = this->shared_from_this()] { self->do_start(); });
  }

  void send(std::string message) override {
    asio::dispatch(strand_, [self = this->shared_from_this(), m = std::move(message)]() mutable {
      self->do_send(std::move(m));
    });
  }

  void set_idle_timeout(std::chrono::milliseconds t) override {
    asio::dispatch(strand_, [self = this->shared_from_this(), t] {
      self->idle_ = t;
      self->arm_timer();
    });
  }

  void close(bool graceful, std::error_code reason) override {
    asio::dispatch(strand_, [self = this->shared_from_this(), graceful, reason] {
      self->do_close_request(graceful, reason);
    });
  }

  void pause_reading(bool paused) override {
    asio::dispatch(strand_, [self = this->shared_from_this(), paused] { self->do_pause(paused); });
  }

  void reset(std::error_code reason) override {
    asio::dispatch(strand_, [self = this->shared_from_this(), reason] {
      if (self->state_ == state::closed)
        return;
      beast::error_code ignored;
      if (self->tcp().is_open())
        self->tcp().set_option(asio::socket_base::linger(true, 0), ignored);
      self->finish(reason);
    });
  }

private:
  stream_type make_stream() {
    if constexpr (Tls)
      return stream_type(strand_, *ctx_);
    else
      return stream_type(strand_);
  }

  socket_type& tcp() {
    return beast::get_lowest_layer(ws_);
  }

  next_layer_type& layer() {
    if constexpr (Lean)
      return ws_;
    else
      return ws_.next_layer();
  }

  std::chrono::nanoseconds elapsed() const {
    return clock_type::now() - started_;
  }

  // ---- connect ---------------------------------------------------------------------------

  void do_start() {
    if (state_ != state::idle)
      return;
    started_ = clock_type::now();
    connect_deadline_ = opts_->connect_timeout.count() > 0 ? started_ + opts_->connect_timeout
                                                          : clock_type::time_point::max();
    state_ = state::resolving;
    // An address literal needs no resolver (and no resolver thread hop): the common case when
    // thousands of users connect to 127.0.0.1.
    beast::error_code ec;
    auto addr = asio::ip::make_address(opts_->target.host, ec);
    if (!ec) {
      do_connect(tcp::endpoint(addr, opts_->target.port));
      return;
    }
    resolver_ = std::make_unique<asio::ip::basic_resolver<asio::ip::tcp, executor_type>>(strand_);
    arm_timer();
    resolver_->async_resolve(opts_->target.host, std::to_string(opts_->target.port),
                             [self = this->shared_from_this()](
                                 beast::error_code ec, tcp::resolver::results_type results) {
                               self->on_resolve(ec, std::move(results));
                             });
  }

  void on_resolve(beast::error_code ec, tcp::resolver::results_type results) {
    resolver_.reset();
    if (state_ != state::resolving)
      return;
    if (ec)
      return fail(ec, step::resolve);
    if (results.empty())
      return fail(asio::error::host_not_found, step::resolve);
    if (opts_->source_address.empty()) {
      state_ = state::connecting;
      arm_timer();
      asio::async_connect(
          tcp(), results,
          [self = this->shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
            self->on_connect(ec);
          });
      return;
    }
    // A bound socket cannot be reopened per endpoint, so take the first of the right family.
    beast::error_code aec;
    auto src = asio::ip::make_address(opts_->source_address, aec);
    for (const auto& entry : results) {
      if (!aec && entry.endpoint().address().is_v4() != src.is_v4())
        continue;
      return do_connect(entry.endpoint());
    }
    do_connect(results.begin()->endpoint());
  }

  void do_connect(const tcp::endpoint& ep) {
    state_ = state::connecting;
    if (!opts_->source_address.empty()) {
      beast::error_code ec;
      auto src = asio::ip::make_address(opts_->source_address, ec);
      if (ec)
        return fail(ec, step::connect);
      auto& sock = tcp();
      sock.open(ep.protocol(), ec);
      if (ec)
        return fail(ec, step::connect);
      if (ep.protocol() == tcp::v4()) {
        int one = 1;
        // Best effort: without it the bind still works, with fewer ports per address.
        ::setsockopt(sock.native_handle(), IPPROTO_IP, bind_address_no_port, &one, sizeof one);
      }
      sock.bind(tcp::endpoint(src, 0), ec);
      if (ec)
        return fail(ec, step::connect);
    }
    arm_timer();
    tcp().async_connect(
        ep, [self = this->shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
  }

  void on_connect(beast::error_code ec) {
    if (state_ != state::connecting)
      return;
    if (ec)
      return fail(ec, step::connect);
    state_ = state::handshaking;
    beast::error_code ignored;
    tcp().set_option(tcp::no_delay(true), ignored);
    if (Lean && delayed_acks_)
      delay_next_acks(); // from the TLS handshake and the upgrade's answer on
    if constexpr (Tls) {
      auto& tls = layer();
      if (auto tec = prepare_client_tls(tls, opts_->tls, opts_->target.host))
        return fail(tec, step::tls_handshake);
      step_deadline_ = opts_->handshake_timeout.count() > 0
                          ? clock_type::now() + opts_->handshake_timeout
                          : clock_type::time_point::max();
      arm_timer();
      tls.async_handshake(
          ssl::stream_base::client,
          [self = this->shared_from_this()](beast::error_code ec) { self->on_tls_handshake(ec); });
    } else {
      on_tls_handshake({});
    }
  }

  void on_tls_handshake(beast::error_code ec) {
    if (state_ != state::handshaking)
      return;
    if (ec)
      return fail(ec, step::tls_handshake);
    handler_->on_tcp_connected(elapsed());
    if (state_ != state::handshaking)
      return;
    if constexpr (Lean)
      start_upgrade();
    else
      start_beast_upgrade();
  }

  void start_beast_upgrade() {
    // From here the websocket stream's own timer bounds the upgrade and the close.
    upgrading_ = true;
    websocket::stream_base::timeout t{};
    t.handshake_timeout =
        opts_->handshake_timeout.count() > 0
            ? std::chrono::duration_cast<websocket::stream_base::duration>(opts_->handshake_timeout)
            : websocket::stream_base::none();
    // Idle detection is ours (see arm_timer): it counts pings as activity, can change at
    // runtime, and costs no timer operation per message.
    t.idle_timeout = websocket::stream_base::none();
    t.keep_alive_pings = false;
    ws_.set_option(t);
    ws_.set_option(websocket::stream_base::decorator([this](websocket::request_type& req) {
      req.set(beast::http::field::user_agent,
              opts_->user_agent.empty() ? "stompede/" STOMPEDE_VERSION : opts_->user_agent);
      for (const auto& [name, value] : opts_->headers)
        req.set(name, value);
    }));
    if (opts_->compression) {
      websocket::permessage_deflate pmd;
      pmd.client_enable = true;
      ws_.set_option(pmd);
    }
    ws_.read_message_max(opts_->max_message_bytes);
    write_buffer_cap_ = std::max<std::size_t>(opts_->write_buffer_bytes, 64);
    ws_.write_buffer_bytes(write_buffer_cap_);
    ws_.auto_fragment(false);
    ws_.text(true);
    ws_.control_callback(
        [this](websocket::frame_type, beast::string_view) { last_rx_ = clock_type::now(); });
    // The server's answer is kept for the handshake only: a refusal is reported with its status.
    upgrade_response_ = std::make_unique<websocket::response_type>();
    ws_.async_handshake(
        *upgrade_response_, opts_->target.host_header(), opts_->target.target,
        [self = this->shared_from_this()](beast::error_code ec) { self->on_ws_handshake(ec); });
  }

  // ---- the upgrade (Lean) ------------------------------------------------------------------

  void start_upgrade() {
    namespace http = beast::http;
    upgrading_ = true;
    step_deadline_ = handshake_timeout_.count() > 0 ? clock_type::now() + handshake_timeout_
                                                    : clock_type::time_point::max();
    arm_timer();
    auto up = std::make_unique<upgrade_state>();
    const std::uint32_t words[4] = {next_random(), next_random(), next_random(), next_random()};
    unsigned char nonce[sizeof words];
    std::memcpy(nonce, words, sizeof nonce);
    up->key = base64(nonce, sizeof nonce);
    auto& req = up->request;
    req.method(http::verb::get);
    req.target(opts_->target.target);
    req.version(11);
    req.set(http::field::host, opts_->target.host_header());
    req.set(http::field::upgrade, "websocket");
    req.set(http::field::connection, "Upgrade");
    req.set(http::field::sec_websocket_key, up->key);
    req.set(http::field::sec_websocket_version, "13");
    req.set(http::field::user_agent,
            opts_->user_agent.empty() ? "stompede/" STOMPEDE_VERSION : opts_->user_agent);
    for (const auto& [name, value] : opts_->headers)
      req.set(name, value);
    // An answer other than 101 is reported by its status line; its body is never read.
    upgrade_ = std::move(up);
    http::async_write(ws_, upgrade_->request,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_upgrade_written(ec);
                      });
  }

  void on_upgrade_written(beast::error_code ec) {
    if (state_ != state::handshaking)
      return;
    if (ec)
      return fail(ec, step::ws_handshake);
    beast::http::async_read_header(
        ws_, upgrade_->buffer, upgrade_->parser,
        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
          self->on_upgrade_read(ec);
        });
  }

  /// Whether the server's 101 answer completes the handshake RFC 6455 4.1 describes.
  static bool upgrade_accepted(const beast::http::response<beast::http::empty_body>& res,
                               const std::string& key) {
    namespace http = beast::http;
    if (res.version() != 11)
      return false;
    if (!beast::iequals(res[http::field::upgrade], "websocket"))
      return false;
    if (!http::token_list(res[http::field::connection]).exists("upgrade"))
      return false;
    // No extension was offered, so none may be agreed.
    if (res.find(http::field::sec_websocket_extensions) != res.end())
      return false;
    const auto accept = res[http::field::sec_websocket_accept];
    return std::string_view(accept.data(), accept.size()) == websocket_accept(key);
  }

  void on_upgrade_read(beast::error_code ec) {
    auto up = std::move(upgrade_);
    if (state_ != state::handshaking)
      return;
    if (ec)
      return fail(ec, step::ws_handshake);
    const auto& res = up->parser.get();
    if (res.result() != beast::http::status::switching_protocols) {
      const auto reason = res.reason();
      handler_->on_upgrade_declined(static_cast<unsigned>(res.result_int()),
                                    std::string_view(reason.data(), reason.size()));
      if (state_ != state::handshaking)
        return;
      return fail_with(transport_errc::upgrade_rejected);
    }
    if (!upgrade_accepted(res, up->key))
      return fail_with(transport_errc::protocol_error);
    // Bytes the server sent after its answer are the first frames.
    const auto rest = up->buffer.cdata();
    std::string early(static_cast<const char*>(rest.data()), rest.size());
    up.reset();
    if constexpr (!Tls) {
      beast::error_code ignored;
      tcp().non_blocking(true, ignored);
    }
    open_connection();
    if (!early.empty() && state_ != state::closed) {
      last_rx_ = clock_type::now();
      consume(early);
    }
  }

  void on_ws_handshake(beast::error_code ec) {
    auto response = std::move(upgrade_response_);
    if (state_ != state::handshaking)
      return;
    if (ec == websocket::error::upgrade_declined && response && handler_) {
      const auto reason = response->reason();
      handler_->on_upgrade_declined(static_cast<unsigned>(response->result_int()),
                                    std::string_view(reason.data(), reason.size()));
      if (state_ != state::handshaking)
        return;
    }
    if (ec)
      return fail(ec, step::ws_handshake);
    open_connection();
  }

  void open_connection() {
    state_ = state::open;
    // The options of the way in (the target, TLS files, the upgrade headers with their tokens)
    // are not needed any more: ~400 bytes per connection.
    opts_.reset();
    last_rx_ = clock_type::now();
    handler_->on_open(elapsed());
    if (state_ != state::open)
      return;
    arm_timer();
    do_read();
    do_write();
  }

  // ---- read ------------------------------------------------------------------------------

  bool may_read() const {
    if constexpr (Lean) {
      // Our own close handshake reads on (for the server's close frame, then its FIN) even
      // when paused; nothing is read after a reader error.
      return !reading_ && (!paused_ || close_started_) &&
             (!reader_.closed() || close_started_) && reader_.error() == ws_read_error::none &&
             (state_ == state::open || state_ == state::closing);
    } else {
      return !paused_ && !reading_ &&
             (state_ == state::open || (state_ == state::closing && !close_started_));
    }
  }

  // ---- read (Lean) -----------------------------------------------------------------------

  /// Starts reading from outside a read handler (open, resume): posted, so that a handler's
  /// call into this connection never re-enters the frame reader.
  void start_lean_read() {
    reading_ = true;
    asio::post(strand_, [self = this->shared_from_this()] {
      self->reading_ = false;
      self->read_now();
    });
  }

  /// Delivers kept frames, then reads what the socket has. A plain socket is read until a read
  /// comes back short (the socket is then empty, and the next byte to arrive wakes the wait)
  /// or would block; a bounded number of full reads, then the thread's other connections get
  /// their turn.
  void read_now() {
    if (!may_read())
      return;
    if (delayed_acks_)
      delay_next_acks();
    if (reader_.kept_bytes() > 0 && !consume({}))
      return;
    if constexpr (Tls) {
      if (!tls_buffer_)
        tls_buffer_ = std::make_unique<char[]>(tls_read_bytes);
      reading_ = true;
      ws_.async_read_some(asio::buffer(tls_buffer_.get(), tls_read_bytes),
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t n) {
                            self->reading_ = false;
                            if (self->state_ == state::closed)
                              return;
                            if (ec)
                              return self->lean_read_failed(ec);
                            self->last_rx_ = clock_type::now();
                            if (self->consume(std::string_view(self->tls_buffer_.get(), n)))
                              self->read_now();
                          });
    } else {
      char* buffer = thread_read_buffer();
      for (int full_reads = 0; full_reads < 16; ++full_reads) {
        beast::error_code ec;
        const std::size_t n = ws_.read_some(asio::buffer(buffer, thread_read_bytes), ec);
        if (ec == asio::error::would_block || ec == asio::error::try_again)
          return wait_readable();
        if (ec)
          return lean_read_failed(ec);
        last_rx_ = clock_type::now();
        if (!consume(std::string_view(buffer, n)))
          return;
        if (n < thread_read_bytes)
          return wait_readable();
      }
      start_lean_read();
    }
  }

  /// `delayed_acks`: the kernel leaves interactive mode each time its delayed-ACK timer fires,
  /// so it is set again before every read.
  void delay_next_acks() {
    int quickack = 0;
    ::setsockopt(tcp().native_handle(), IPPROTO_TCP, TCP_QUICKACK, &quickack, sizeof quickack);
  }

  void wait_readable() {
    reading_ = true;
    ws_.async_wait(asio::socket_base::wait_read,
                   [self = this->shared_from_this()](beast::error_code ec) {
                     self->reading_ = false;
                     if (self->state_ == state::closed)
                       return;
                     if (ec)
                       return self->lean_read_failed(ec);
                     self->read_now();
                   });
  }

  void lean_read_failed(beast::error_code ec) {
    // The socket ended during our own close handshake: the close is done as we asked.
    if (close_started_) {
      if constexpr (Tls) {
        // Our TLS close_notify after the server's, as Beast's teardown sends it; the close
        // deadline bounds it.
        if (!writing_ && !tls_shutdown_started_) {
          tls_shutdown_started_ = true;
          ws_.async_shutdown([self = this->shared_from_this()](beast::error_code) {
            self->finish(self->close_reason_);
          });
          return;
        }
      }
      return finish(close_reason_);
    }
    fail(ec, step::read);
  }

  /// Feeds read bytes to the frame reader; true when reading should go on.
  bool consume(std::string_view bytes) {
    if (paused_ && !close_started_) {
      // Read before the pause took effect: delivered when reading resumes.
      reader_.keep(bytes);
      return false;
    }
    const auto e = reader_.feed(bytes, *this);
    if (state_ == state::closed)
      return false;
    if (e != ws_read_error::none) {
      fail_with_close(e);
      return false;
    }
    return may_read();
  }

  /// The server broke the framing: tell it why with a close frame (RFC 6455 7.1.7: 1002, 1007
  /// or 1009), then end with the error once that is written (or at the close deadline).
  void fail_with_close(ws_read_error e) {
    const auto errc = e == ws_read_error::message_too_large ? transport_errc::message_too_large
                                                            : transport_errc::protocol_error;
    // During our own close, whatever the server sends ends the close we asked for.
    if (close_started_)
      return finish(close_reason_);
    const std::uint16_t code = e == ws_read_error::message_too_large ? 1009
                               : e == ws_read_error::invalid_utf8    ? 1007
                                                                     : 1002;
    state_ = state::closing;
    close_reason_ = make_error_code(errc);
    end_after_close_sent_ = true;
    discard_queue();
    start_close_frame(ws::close_payload(code));
  }

  bool on_ws_message(std::string_view payload) override {
    // After our close frame the handshake only waits for the server's; messages are dropped.
    if (close_started_)
      return true;
    handler_->on_message(payload);
    return state_ != state::closed && !paused_;
  }

  void on_ws_ping(std::string_view payload) override {
    if (close_started_ || state_ == state::closed)
      return;
    // Only the latest ping needs an answer (RFC 6455 5.5.3).
    pong_.clear();
    append_masked(pong_, ws::pong, payload);
    do_write();
  }

  void on_ws_close(std::uint16_t code, std::string_view reason) override {
    peer_closed_ = true;
    if (close_started_)
      return; // the answer to our close frame: the server's FIN (or the deadline) ends it
    // Nothing the handler sends now may follow the close.
    state_ = state::closing;
    close_reason_ = make_error_code(transport_errc::closed_by_peer);
    discard_queue();
    handler_->on_close_frame(code, reason);
    if (state_ == state::closed)
      return;
    // Echo the close (RFC 6455 5.5.1), then wait for the server to close the TCP connection
    // first (7.1.1), so that the client's port is not the one left in TIME_WAIT.
    start_close_frame(code == 1005 ? std::string() : ws::close_payload(code));
  }

  // ---- read (Beast) ----------------------------------------------------------------------

  // Between messages the connection waits for the next frame header with an empty buffer
  // (Beast parses a header into its own frame buffer and completes a read_some of 0 bytes once
  // it has one), and only then reads the message into buffer_, sized to it. So an idle
  // connection holds no message memory: a pending async_read would have prepared Beast's
  // initial read size (1,536 bytes) before any byte arrived, and kept it for as long as the
  // connection is quiet. buffer_ is released after every message.
  void do_read() {
    if (!may_read())
      return;
    if constexpr (Lean) {
      start_lean_read();
    } else {
      beast_read();
    }
  }

  void beast_read() {
    reading_ = true;
    if (ws_.is_message_done()) {
      // Zero bytes, but not a null pointer: Beast's UTF-8 check computes `data + size - 3`.
      static char no_bytes;
      ws_.async_read_some(asio::mutable_buffer(&no_bytes, 0),
                          [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                            self->on_frame_start(ec);
                          });
      return;
    }
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      self->on_read(ec);
    });
  }

  /// Returns true when the read ended the connection (or our own close is reporting it).
  bool read_failed(beast::error_code ec) {
    if (state_ == state::closed)
      return true;
    if (!ec)
      return false;
    // Our own close is under way: the close operation reports the end.
    if (state_ == state::closing && close_started_)
      return true;
    if (ec == websocket::error::closed) {
      const auto& reason = ws_.reason();
      handler_->on_close_frame(static_cast<std::uint16_t>(reason.code),
                               std::string_view(reason.reason.data(), reason.reason.size()));
      if (state_ == state::closed)
        return true;
    }
    fail(ec, step::read);
    return true;
  }

  void on_frame_start(beast::error_code ec) {
    reading_ = false;
    if (read_failed(ec))
      return;
    last_rx_ = clock_type::now();
    // A message with no payload is complete already.
    if (ws_.is_message_done())
      return deliver();
    do_read();
  }

  void on_read(beast::error_code ec) {
    reading_ = false;
    if (read_failed(ec))
      return;
    last_rx_ = clock_type::now();
    deliver();
  }

  void deliver() {
    const auto data = buffer_.cdata();
    handler_->on_message(std::string_view(static_cast<const char*>(data.data()), data.size()));
    buffer_.clear();
    buffer_.shrink_to_fit();
    do_read();
  }

  void do_pause(bool paused) {
    paused_ = paused;
    if (!paused) {
      // Time spent paused is ours, not the peer's silence.
      last_rx_ = clock_type::now();
      do_read();
    }
    arm_timer();
  }

  // ---- write -----------------------------------------------------------------------------

  void do_send(std::string message) {
    if (state_ == state::closing || state_ == state::closed)
      return;
    if (queued_bytes_ + message.size() > max_queued_bytes_) {
      fail_with(transport_errc::write_queue_full);
      return;
    }
    if constexpr (Lean) {
      // Framed and masked now: the queue holds what goes on the wire.
      std::string frame;
      append_masked(frame, ws::text, message);
      message = std::move(frame);
    }
    queued_bytes_ += message.size();
    queue_.push_back(std::move(message));
    do_write();
  }

  void discard_queue() {
    queue_.clear();
    queue_.shrink_to_fit();
    head_ = 0;
    queued_bytes_ = in_flight_is_data_ ? in_flight_.size() : 0;
  }

  // ---- write (Lean) ----------------------------------------------------------------------

  /// Queues our close frame after what is queued; nothing is written after it.
  void start_close_frame(std::string payload) {
    close_started_ = true;
    close_deadline_ =
        clock_type::now() +
        (handshake_timeout_.count() > 0 ? handshake_timeout_ : fallback_close_timeout);
    close_frame_.clear();
    append_masked(close_frame_, ws::close, payload);
    arm_timer();
    do_write();
    do_read(); // the server's close frame is read even if reading was paused
  }

  /// The next frame to write: a pong first, then queued messages, then the close frame.
  bool next_lean_frame() {
    if (close_sent_)
      return false;
    const bool data_waiting = head_ != queue_.size() && !peer_closed_;
    // A pong goes first, but never twice in a row ahead of queued data (a ping flood must not
    // starve the messages).
    if (!pong_.empty() && !(last_was_pong_ && data_waiting)) {
      in_flight_ = std::move(pong_);
      pong_ = std::string();
      in_flight_is_data_ = false;
      last_was_pong_ = true;
      return true;
    }
    last_was_pong_ = false;
    if (data_waiting) {
      take_queued();
      in_flight_is_data_ = true;
      return true;
    }
    if (!close_frame_.empty()) {
      in_flight_ = std::move(close_frame_);
      close_frame_ = std::string();
      in_flight_is_data_ = false;
      close_sent_ = true;
      return true;
    }
    return false;
  }

  void take_queued() {
    // The message in flight lives outside the queue: growing the queue moves its strings,
    // and a moved short string changes address.
    in_flight_ = std::move(queue_[head_]);
    ++head_;
    if (head_ == queue_.size()) {
      // Usually one message was queued: an empty queue holds no memory between writes.
      std::vector<std::string>().swap(queue_);
      head_ = 0;
    }
  }

  void do_write() {
    if (writing_)
      return;
    if (state_ != state::open && state_ != state::closing)
      return;
    if constexpr (Lean) {
      if (!next_lean_frame())
        return;
      writing_ = true;
      write_started_ = clock_type::now();
      arm_timer();
      asio::async_write(ws_, asio::buffer(in_flight_),
                        [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                          self->on_write(ec);
                        });
      return;
    } else {
      beast_write();
    }
  }

  void beast_write() {
    if (head_ == queue_.size())
      return;
    take_queued();
    // Beast masks a client's message in a write buffer it keeps between writes and reallocates
    // when the size option changes: sized to this message (in steps of 64 bytes, at most the
    // configured size), a connection that last wrote a heart-beat keeps 64 bytes, not 512.
    const std::size_t step = 64;
    const std::size_t want = (in_flight_.size() + step - 1) / step * step;
    ws_.write_buffer_bytes(std::clamp<std::size_t>(want, step, write_buffer_cap_));
    writing_ = true;
    write_started_ = clock_type::now();
    arm_timer();
    ws_.async_write(asio::buffer(in_flight_),
                    [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                      self->on_write(ec);
                    });
  }

  void on_write(beast::error_code ec) {
    writing_ = false;
    if (state_ == state::closed)
      return;
    if constexpr (Lean) {
      if (ec) {
        if (close_started_)
          return finish(close_reason_);
        return fail(ec, step::write);
      }
      if (in_flight_is_data_)
        queued_bytes_ -= in_flight_.size();
      in_flight_ = std::string();
      in_flight_is_data_ = false;
      if (close_sent_) {
        // Our close frame is out. After a framing error that is the end; otherwise the server's
        // close frame (if it has not come yet) and then its FIN end the connection, which
        // reading goes on to see.
        if (end_after_close_sent_)
          return finish(close_reason_);
        return do_read();
      }
      do_write();
      if (!writing_ && state_ == state::closing && !close_started_)
        do_close();
      return;
    }
    if (ec)
      return fail(ec, step::write);
    queued_bytes_ -= in_flight_.size();
    in_flight_ = std::string();
    if (head_ != queue_.size())
      return do_write();
    if (state_ == state::closing && !close_started_)
      do_close();
  }

  // ---- close -----------------------------------------------------------------------------

  void do_close_request(bool graceful, std::error_code reason) {
    if (state_ == state::closed)
      return;
    if (!graceful || (state_ != state::open && state_ != state::closing)) {
      finish(reason);
      return;
    }
    if (state_ == state::closing)
      return;
    state_ = state::closing;
    close_reason_ = reason;
    if (!writing_ && head_ == queue_.size())
      do_close();
  }

  void do_close() {
    if constexpr (Lean)
      start_close_frame(ws::close_payload(1000));
    else
      beast_close();
  }

  void beast_close() {
    close_started_ = true;
    close_deadline_ =
        clock_type::now() +
        (handshake_timeout_.count() > 0 ? handshake_timeout_ : fallback_close_timeout);
    arm_timer();
    ws_.async_close(websocket::close_code::normal,
                    [self = this->shared_from_this()](beast::error_code) {
                      // Whatever the close handshake ended with (eof, a truncated TLS stream,
                      // a timeout), the connection is over as we asked.
                      self->finish(self->close_reason_);
                    });
  }

  // ---- timers ----------------------------------------------------------------------------

  /// One timer serves every deadline (resolve, idle, write, close), lazily: progress only
  /// moves time stamps, and the timer re-checks them when it fires. A wait is (re)started only
  /// when a deadline earlier than the pending one appears.
  clock_type::time_point next_deadline() const {
    auto next = clock_type::time_point::max();
    switch (state_) {
    case state::resolving:
    case state::connecting:
      next = connect_deadline_;
      break;
    case state::handshaking:
      // Beast's websocket stream bounds its own upgrade.
      if (!upgrading_ || Lean)
        next = step_deadline_;
      break;
    case state::open:
    case state::closing:
      if (idle_.count() > 0 && !paused_ && !close_started_)
        next = std::min(next, last_rx_ + idle_);
      if (writing_ && write_timeout_.count() > 0 && !close_started_)
        next = std::min(next, write_started_ + write_timeout_);
      if (close_started_)
        next = std::min(next, close_deadline_);
      break;
    default:
      break;
    }
    return next;
  }

  void arm_timer() {
    const auto next = next_deadline();
    if (next == clock_type::time_point::max())
      return; // a pending wait, if any, finds nothing to do and stops
    if (timer_armed_ && timer_.expiry() <= next)
      return;
    timer_armed_ = true;
    timer_.expires_at(next);
    timer_.async_wait(
        [self = this->shared_from_this()](beast::error_code ec) { self->on_timer(ec); });
  }

  void on_timer(beast::error_code ec) {
    if (ec == asio::error::operation_aborted || state_ == state::closed)
      return;
    timer_armed_ = false;
    const auto now = clock_type::now();
    switch (state_) {
    case state::resolving:
    case state::connecting:
      if (now >= connect_deadline_)
        return fail_with(transport_errc::connect_timeout);
      break;
    case state::handshaking:
      if ((!upgrading_ || Lean) && now >= step_deadline_)
        return fail_with(transport_errc::handshake_timeout);
      break;
    case state::open:
    case state::closing:
      if (close_started_ && now >= close_deadline_)
        return finish(close_reason_);
      if (writing_ && write_timeout_.count() > 0 && !close_started_ &&
          now >= write_started_ + write_timeout_)
        return fail_with(transport_errc::write_timeout);
      if (idle_.count() > 0 && !paused_ && !close_started_ && now >= last_rx_ + idle_)
        return fail_with(transport_errc::idle_timeout);
      break;
    default:
      break;
    }
    arm_timer();
  }

  // ---- the end ---------------------------------------------------------------------------

  void fail(beast::error_code ec, step s) {
    const auto e = classify(ec, s);
    if constexpr (Tls) {
      if (e == transport_errc::tls_error && handler_ && state_ != state::closed) {
        const std::string reason = tls_failure_reason(layer(), ec);
        handler_->on_tls_failure(reason);
        if (state_ == state::closed)
          return;
      }
    }
    fail_with(e);
  }

  void fail_with(transport_errc e) {
    finish(make_error_code(e));
  }

  /// Tears the connection down at once and reports `ec` once. on_closed is posted, never
  /// called from inside another handler call, so a handler may call close() or send() from
  /// on_message without being re-entered.
  void finish(std::error_code ec) {
    if (state_ == state::closed)
      return;
    state_ = state::closed;
    if (resolver_)
      resolver_->cancel();
    if (timer_armed_) {
      timer_.cancel();
      timer_armed_ = false;
    }
    beast::error_code ignored;
    tcp().close(ignored);
    queue_.clear();
    queue_.shrink_to_fit();
    head_ = 0;
    queued_bytes_ = 0;
    asio::post(strand_, [self = this->shared_from_this(), ec] {
      // Buffers stay until destruction: a cancelled read or write may still refer to them.
      if (auto h = std::move(self->handler_))
        h->on_closed(ec);
    });
  }

  strand_type strand_;
  std::shared_ptr<ssl::context> ctx_; // before ws_: the TLS stream refers to it
  /// Everything the way in needs; freed once the connection is open.
  std::unique_ptr<ws_options> opts_;
  std::shared_ptr<ws_handler> handler_;
  stream_type ws_;
  timer_type timer_;
  std::unique_ptr<asio::ip::basic_resolver<asio::ip::tcp, executor_type>> resolver_;
  beast::flat_buffer buffer_;
  /// The upgrade's answer, during the handshake only (Beast).
  std::unique_ptr<websocket::response_type> upgrade_response_;
  /// The upgrade's request and answer, during the handshake only (Lean).
  std::unique_ptr<upgrade_state> upgrade_;
  /// Frames read but not yet complete, or kept while reading is paused (Lean).
  ws_reader reader_;
  /// A TLS connection's read buffer (Lean, TLS only).
  std::unique_ptr<char[]> tls_buffer_;
  /// The answer to the latest ping, and our close frame, waiting to be written (Lean).
  std::string pong_;
  std::string close_frame_;
  std::vector<std::string> queue_;
  std::string in_flight_;
  std::size_t head_ = 0;
  std::size_t queued_bytes_ = 0;
  std::chrono::milliseconds idle_;
  std::chrono::milliseconds handshake_timeout_;
  std::chrono::milliseconds write_timeout_;
  std::size_t max_queued_bytes_;
  /// Largest write (masking) buffer Beast may keep (ws_options::write_buffer_bytes).
  std::size_t write_buffer_cap_ = 512;
  clock_type::time_point started_{};
  clock_type::time_point connect_deadline_{};
  /// The TLS handshake's deadline (the WebSocket stream's own timer bounds the upgrade).
  clock_type::time_point step_deadline_ = clock_type::time_point::max();
  clock_type::time_point last_rx_{};
  clock_type::time_point write_started_{};
  clock_type::time_point close_deadline_{};
  std::error_code close_reason_;
  state state_ = state::idle;
  bool reading_ = false;
  bool writing_ = false;
  bool paused_ = false;
  bool close_started_ = false;
  bool timer_armed_ = false;
  /// The WebSocket upgrade has started (TLS, if any, is done).
  bool upgrading_ = false;
  /// The frame in flight is a queued message (counted in queued_bytes_), not a control frame.
  bool in_flight_is_data_ = false;
  /// Our close frame has been written (Lean).
  bool close_sent_ = false;
  /// The server's close frame has arrived (Lean).
  bool peer_closed_ = false;
  /// Our close frame reports a framing error: the connection ends once it is written (Lean).
  bool end_after_close_sent_ = false;
  /// The last frame written was a pong (Lean).
  bool last_was_pong_ = false;
  /// Our TLS close_notify is on its way (Lean, TLS).
  bool tls_shutdown_started_ = false;
  /// ws_options::delayed_acks (the options are dropped once the connection is open).
  bool delayed_acks_ = false;
};

} // namespace

std::shared_ptr<ws_client> make_ws_client(boost::asio::io_context& ioc, ws_options opts,
                                          std::shared_ptr<ws_handler> handler) {
  // permessage-deflate is Beast's; everything else reads and writes frames itself.
  const bool lean = !opts.compression;
  if (!opts.target.tls()) {
    if (lean)
      return std::make_shared<ws_session<false, true>>(ioc, std::move(opts), std::move(handler),
                                                       nullptr);
    return std::make_shared<ws_session<false, false>>(ioc, std::move(opts), std::move(handler),
                                                      nullptr);
  }
  std::error_code ec;
  auto ctx = shared_tls_context(opts.tls, ec);
  if (!ctx)
    return std::make_shared<failed_ws_client>(ioc, ec, std::move(handler));
  if (lean)
    return std::make_shared<ws_session<true, true>>(ioc, std::move(opts), std::move(handler),
                                                    std::move(ctx));
  return std::make_shared<ws_session<true, false>>(ioc, std::move(opts), std::move(handler),
                                                   std::move(ctx));
}

} // namespace stompede::net
