#pragma once

// The byte stream under one server connection: a plain TCP socket, or TLS over it, chosen at
// accept time (the listener has a certificate or not). It is an AsyncReadStream and an
// AsyncWriteStream, and it provides Beast's teardown and close customization points, so the
// HTTP phase and `websocket::stream<server_stream>` run unchanged over either. Included only by
// the server's connection code: it pulls in Beast and Asio's SSL.

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream_base.hpp>
#include <boost/beast/core/role.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <boost/beast/websocket/teardown.hpp>

#include <memory>
#include <system_error>
#include <utility>

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
  tcp::socket socket_; // moved into tls_ when TLS is on
  std::unique_ptr<tls_stream> tls_;
};

/// The server's TLS context from PEM files: certificate chain and key, and, when
/// `client_ca_file` is not empty, a client certificate required and verified against it.
/// Null with `why` (naming the file) when a file cannot be used.
std::shared_ptr<boost::asio::ssl::context>
make_server_tls_context(const std::string& cert_file, const std::string& key_file,
                        const std::string& client_ca_file, std::string& why);

} // namespace stompede::server::detail
