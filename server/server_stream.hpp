#pragma once

// The byte stream under one server connection: a plain TCP socket, or TLS over it, chosen at
// accept time (the listener has a certificate or not). It is an AsyncReadStream and an
// AsyncWriteStream, and it provides Beast's teardown and close customization points, so the
// HTTP phase and `websocket::stream<server_stream>` run unchanged over either. Included only by
// the server's connection code: it pulls in Beast and Asio's SSL.

#include <boost/asio/associated_allocator.hpp>
#include <boost/asio/associated_executor.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/bind_handler.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <cerrno>
#include <cstddef>
#include <functional>
#include <memory>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace stompede::server::detail {

class server_stream {
public:
  using tcp = boost::asio::ip::tcp;
  using tls_stream = boost::beast::ssl_stream<tcp::socket>;
  using executor_type = tcp::socket::executor_type;

  /// Plain when `tls` is null; otherwise TLS with that (server) context, which must outlive
  /// the stream.
  server_stream(tcp::socket socket, boost::asio::ssl::context* tls)
      : socket_(std::move(socket)),
        tls_(tls ? std::make_unique<tls_stream>(std::move(socket_), *tls) : nullptr) {}

  executor_type get_executor() noexcept {
    return tls_ ? tls_->get_executor() : socket_.get_executor();
  }

  bool is_tls() const noexcept {
    return tls_ != nullptr;
  }

  /// The TCP socket under everything.
  tcp::socket& socket() noexcept {
    return tls_ ? tls_->next_layer() : socket_;
  }

  /// The TLS server handshake (TLS streams only); the caller bounds its time.
  template<class Handler>
  void async_handshake(Handler&& handler) {
    tls_->async_handshake(boost::asio::ssl::stream_base::server, std::forward<Handler>(handler));
  }

  template<class MutableBufferSequence, class ReadHandler>
  void async_read_some(const MutableBufferSequence& buffers, ReadHandler&& handler) {
    if (tls_)
      tls_->async_read_some(buffers, std::forward<ReadHandler>(handler));
    else
      socket_.async_read_some(buffers, std::forward<ReadHandler>(handler));
  }

  template<class ConstBufferSequence, class WriteHandler>
  void async_write_some(const ConstBufferSequence& buffers, WriteHandler&& handler) {
    if (tls_)
      tls_->async_write_some(buffers, std::forward<WriteHandler>(handler));
    else
      socket_.async_write_some(buffers, std::forward<WriteHandler>(handler));
  }

  // The socket operations a connection uses directly. A TCP-level shutdown or close skips the
  // TLS close_notify on purpose: it ends a connection that is being dropped anyway.
  void shutdown(tcp::socket::shutdown_type what, boost::system::error_code& ec) {
    socket().shutdown(what, ec);
  }
  void close(boost::system::error_code& ec) {
    socket().close(ec);
  }
  template<class Option>
  void set_option(const Option& option, boost::system::error_code& ec) {
    socket().set_option(option, ec);
  }

  // --- one writer at a time on a plain socket -------------------------------------------
  // A plain connection writes its data frames itself (connection::write_frames), beside the
  // writes Beast still makes on the same socket (pongs, close frames, keep-alive pings). Their
  // bytes must never interleave: while the connection's write waits for the socket, a Beast
  // write waits for it; while a Beast write is under way, the connection's waits for that.

  /// A Beast write has started and not all of its bytes are written yet.
  bool beast_writing() const noexcept {
    return beast_writing_;
  }
  /// The connection's own write is waiting for the socket; Beast's writes are held back.
  void hold_beast_writes() noexcept {
    raw_waiting_ = true;
  }
  /// The connection's own write is complete: starts a Beast write that waited for it.
  void release_beast_writes() {
    raw_waiting_ = false;
    start_held();
  }
  /// Runs `f` (posted) once no Beast write is under way or waiting.
  void when_beast_idle(std::function<void()> f) {
    idle_ = std::move(f);
  }

  /// Internal (gather_write_op): a Beast write starts now, or waits behind the connection's
  /// (or behind another Beast write, which Beast's own write lock rules out).
  template<class Op>
  void begin_beast_write(Op&& op) {
    if (raw_waiting_ || beast_writing_) {
      held_.push_back(std::make_unique<held_write<std::decay_t<Op>>>(std::forward<Op>(op)));
      return;
    }
    beast_writing_ = true;
    op.start();
  }
  /// Internal (gather_write_op): the Beast write has written its bytes or failed.
  void end_beast_write() {
    beast_writing_ = false;
    start_held();
    if (!beast_writing_ && idle_)
      boost::asio::post(get_executor(), std::exchange(idle_, nullptr));
  }

  // Beast customization points, found by argument-dependent lookup.
  friend void beast_close_socket(server_stream& s) {
    boost::system::error_code ignored;
    s.socket().close(ignored);
  }

  friend void teardown(boost::beast::role_type role, server_stream& s,
                       boost::system::error_code& ec) {
    using boost::beast::websocket::teardown;
    if (s.tls_)
      teardown(role, *s.tls_, ec);
    else
      teardown(role, s.socket_, ec);
  }

  template<class TeardownHandler>
  friend void async_teardown(boost::beast::role_type role, server_stream& s,
                             TeardownHandler&& handler) {
    using boost::beast::websocket::async_teardown;
    if (s.tls_)
      async_teardown(role, *s.tls_, std::forward<TeardownHandler>(handler));
    else
      async_teardown(role, s.socket_, std::forward<TeardownHandler>(handler));
  }

private:
  struct held_base {
    virtual ~held_base() = default;
    virtual void start() = 0;
  };
  template<class Op>
  struct held_write final : held_base {
    explicit held_write(Op&& o) : op(std::move(o)) {}
    void start() override {
      op.start();
    }
    Op op;
  };
  void start_held() {
    if (raw_waiting_ || beast_writing_ || held_.empty())
      return;
    auto next = std::move(held_.front());
    held_.erase(held_.begin());
    beast_writing_ = true;
    next->start(); // may end at once (posting its completion), which starts the next one
  }

  tcp::socket socket_; // moved into tls_ when TLS is on
  std::unique_ptr<tls_stream> tls_;
  bool beast_writing_ = false;
  bool raw_waiting_ = false;
  std::vector<std::unique_ptr<held_base>> held_; // Beast writes waiting for the connection's
  std::function<void()> idle_;
};

/// A complete write of a buffer sequence to a plain TCP socket with as many buffers per
/// `sendmsg` as the batch has (up to 1,024), where Asio's composed write passes at most 16:
/// a gathered MESSAGE frame is three buffers, so Asio's write could carry only five frames per
/// system call however many were queued (docs/performance.md). It tries the write at once and
/// waits for the socket to become writable only when the kernel takes less than everything.
/// Used for every `async_write` on a plain server_stream: Beast's WebSocket writes (pongs,
/// close frames, keep-alive pings; data frames go out through connection::write_frames), which
/// server_stream orders against the connection's own writes.
template<class Buffers, class Handler>
class gather_write_op {
public:
  gather_write_op(server_stream& stream, const Buffers& buffers, Handler handler)
      : stream_(&stream), buffers_(buffers), total_(boost::asio::buffer_size(buffers)),
        handler_(std::move(handler)) {}

  using executor_type = boost::asio::associated_executor_t<Handler, server_stream::executor_type>;
  executor_type get_executor() const noexcept {
    return boost::asio::get_associated_executor(handler_, stream_->get_executor());
  }
  using allocator_type = boost::asio::associated_allocator_t<Handler>;
  allocator_type get_allocator() const noexcept {
    return boost::asio::get_associated_allocator(handler_);
  }

  /// The first attempt, from the initiating function: a completion then is posted.
  void start() {
    attempt(false);
  }

  /// The socket became writable (or the wait failed).
  void operator()(boost::system::error_code ec) {
    if (ec) {
      finish(ec, true);
      return;
    }
    attempt(true);
  }

private:
  void attempt(bool in_handler) {
    constexpr std::size_t max_iov = 1024;
    for (;;) {
      iovec iov[max_iov];
      std::size_t count = 0;
      std::size_t skip = written_;
      for (auto it = boost::asio::buffer_sequence_begin(buffers_);
           it != boost::asio::buffer_sequence_end(buffers_) && count < max_iov; ++it) {
        boost::asio::const_buffer b(*it);
        if (skip >= b.size()) {
          skip -= b.size();
          continue;
        }
        iov[count].iov_base = const_cast<char*>(static_cast<const char*>(b.data()) + skip);
        iov[count].iov_len = b.size() - skip;
        skip = 0;
        ++count;
      }
      if (count == 0) {
        finish({}, in_handler);
        return;
      }
      msghdr msg{};
      msg.msg_iov = iov;
      msg.msg_iovlen = count;
      const auto n =
          ::sendmsg(stream_->socket().native_handle(), &msg, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) {
        written_ += static_cast<std::size_t>(n);
        if (written_ >= total_) {
          finish({}, in_handler);
          return;
        }
        continue; // a short write: the socket may take more at once, or says EAGAIN next
      }
      if (errno == EINTR)
        continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        auto& socket = stream_->socket();
        socket.async_wait(boost::asio::ip::tcp::socket::wait_write, std::move(*this));
        return;
      }
      finish(boost::system::error_code(errno, boost::system::system_category()), in_handler);
      return;
    }
  }

  void finish(boost::system::error_code ec, bool in_handler) {
    stream_->end_beast_write();
    if (in_handler) {
      handler_(ec, written_);
      return;
    }
    // Never complete inside the initiating function. Posted through the io_context's own
    // executor type when that is what the socket runs on: the type-erased executor drops the
    // handler's allocator, so its completion would be a heap allocation.
    auto ex = stream_->get_executor();
    if (auto* io = ex.target<boost::asio::io_context::executor_type>()) {
      boost::asio::post(*io, boost::beast::bind_front_handler(std::move(handler_), ec, written_));
      return;
    }
    boost::asio::post(ex, boost::beast::bind_front_handler(std::move(handler_), ec, written_));
  }

  server_stream* stream_;
  Buffers buffers_;
  std::size_t total_;
  std::size_t written_ = 0;
  Handler handler_;
};

/// The server's TLS context from PEM files: certificate chain and key, and, when
/// `client_ca_file` is not empty, a client certificate required and verified against it.
/// Null with `why` (naming the file) when a file cannot be used.
std::shared_ptr<boost::asio::ssl::context>
make_server_tls_context(const std::string& cert_file, const std::string& key_file,
                        const std::string& client_ca_file, std::string& why);

} // namespace stompede::server::detail

namespace boost::asio::detail {

/// `boost::asio::async_write(server_stream&, buffers[, transfer_all], handler)`: plain TCP
/// streams write through gather_write_op; TLS streams (and any other completion condition)
/// take Asio's own composed write.
template<>
class initiate_async_write_buffer_sequence<stompede::server::detail::server_stream> {
public:
  using stream_type = stompede::server::detail::server_stream;
  using executor_type = stream_type::executor_type;

  explicit initiate_async_write_buffer_sequence(stream_type& stream) : stream_(stream) {}

  executor_type get_executor() const noexcept {
    return stream_.get_executor();
  }

  template<typename WriteHandler, typename ConstBufferSequence, typename CompletionCondition>
  void operator()(WriteHandler&& handler, const ConstBufferSequence& buffers,
                  CompletionCondition&& completion_cond) const {
    if constexpr (std::is_same_v<std::decay_t<CompletionCondition>, transfer_all_t>) {
      if (!stream_.is_tls()) {
        stream_.begin_beast_write(
            stompede::server::detail::gather_write_op<ConstBufferSequence,
                                                      std::decay_t<WriteHandler>>(
                stream_, buffers, std::forward<WriteHandler>(handler)));
        return;
      }
    }
    non_const_lvalue<WriteHandler> handler2(handler);
    non_const_lvalue<CompletionCondition> completion_cond2(completion_cond);
    start_write_buffer_sequence_op(stream_, buffers, boost::asio::buffer_sequence_begin(buffers),
                                   completion_cond2.value, handler2.value);
  }

private:
  stream_type& stream_;
};

} // namespace boost::asio::detail
