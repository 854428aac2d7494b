#include "protocol/http_client.hpp"
#include "protocol/tls_setup.hpp"

#include "protocol/transport_error.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>

#include <cerrno>
#include <strings.h>
#include <type_traits>

#ifndef STOMPEDE_VERSION
#  define STOMPEDE_VERSION "0"
#endif

namespace stompede::net {

const std::string* http_response::header(std::string_view name) const noexcept {
  for (const auto& [n, v] : headers)
    if (n.size() == name.size() && ::strncasecmp(n.data(), name.data(), n.size()) == 0)
      return &v;
  return nullptr;
}

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

enum class step { resolve, connect, tls_handshake, exchange };

transport_errc classify(const beast::error_code& ec, step s) {
  if (ec == beast::error::timeout || ec == asio::error::timed_out)
    return s == step::exchange        ? transport_errc::request_timeout
           : s == step::tls_handshake ? transport_errc::handshake_timeout
                                      : transport_errc::connect_timeout;
  if (s == step::resolve)
    return transport_errc::resolve_failed;
  if (ec == asio::error::no_descriptors || ec == boost::system::errc::too_many_files_open_in_system)
    return transport_errc::fd_exhausted;
  if (ec == boost::system::errc::address_not_available)
    return transport_errc::port_exhaustion;
  if (ec == asio::error::connection_refused)
    return transport_errc::connect_refused;
  if (ec == http::error::body_limit || ec == http::error::header_limit ||
      ec == http::error::buffer_overflow)
    return transport_errc::message_too_large;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message ||
      ec == asio::error::eof || ec == asio::error::connection_reset ||
      ec == asio::error::broken_pipe || ec == ssl::error::stream_truncated)
    return transport_errc::connection_reset;
  if (ec.category() == http::make_error_code(http::error::bad_version).category())
    return transport_errc::protocol_error;
  if (ec.category() == asio::error::get_ssl_category())
    return transport_errc::tls_error;
  return transport_errc::io_error;
}

/// One request on its own connection; runs on its own strand.
template<bool Tls>
class http_session final : public std::enable_shared_from_this<http_session<Tls>> {
  using stream_type =
      std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

public:
  http_session(asio::io_context& ioc, http_request req, http_callback done,
               std::shared_ptr<ssl::context> ctx)
      : strand_(asio::make_strand(ioc)), ctx_(std::move(ctx)), req_(std::move(req)),
        done_(std::move(done)), stream_(make_stream()), resolver_(strand_), timer_(strand_) {}

  void start() {
    asio::dispatch(strand_, [self = this->shared_from_this()] { self->do_start(); });
  }

private:
  stream_type make_stream() {
    if constexpr (Tls)
      return stream_type(strand_, *ctx_);
    else
      return stream_type(strand_);
  }

  beast::tcp_stream& tcp() {
    return beast::get_lowest_layer(stream_);
  }

  void do_start() {
    const auto now = std::chrono::steady_clock::now();
    // The total deadline closes the socket, which ends whatever step is in progress.
    timer_.expires_at(now + req_.timeout);
    timer_.async_wait([self = this->shared_from_this()](beast::error_code ec) {
      if (ec || self->finished_)
        return;
      self->timed_out_ = true;
      self->resolver_.cancel();
      self->tcp().close();
    });
    connect_deadline_ = now + std::min(req_.connect_timeout, req_.timeout);
    beast::error_code ec;
    auto addr = asio::ip::make_address(req_.target.host, ec);
    if (!ec) {
      tcp().expires_at(connect_deadline_);
      tcp().async_connect(
          tcp::endpoint(addr, req_.target.port),
          [self = this->shared_from_this()](beast::error_code ec) { self->on_connect(ec); });
      return;
    }
    resolver_.async_resolve(req_.target.host, std::to_string(req_.target.port),
                            [self = this->shared_from_this()](beast::error_code ec,
                                                              tcp::resolver::results_type results) {
                              self->on_resolve(ec, std::move(results));
                            });
  }

  void on_resolve(beast::error_code ec, const tcp::resolver::results_type& results) {
    if (ec)
      return fail(ec, step::resolve);
    tcp().expires_at(connect_deadline_);
    tcp().async_connect(
        results, [self = this->shared_from_this()](beast::error_code ec, const tcp::endpoint&) {
          self->on_connect(ec);
        });
  }

  void on_connect(beast::error_code ec) {
    if (ec)
      return fail(ec, step::connect);
    tcp().expires_never();
    if constexpr (Tls) {
      if (auto tec = prepare_client_tls(stream_, req_.tls, req_.target.host))
        return fail(tec, step::tls_handshake);
      stream_.async_handshake(
          ssl::stream_base::client,
          [self = this->shared_from_this()](beast::error_code ec) { self->on_handshake(ec); });
    } else {
      on_handshake({});
    }
  }

  void on_handshake(beast::error_code ec) {
    if (ec)
      return fail(ec, step::tls_handshake);
    request_.method_string(req_.method);
    request_.target(req_.target.target);
    request_.version(11);
    request_.set(http::field::host, req_.target.host_header());
    request_.set(http::field::user_agent, "stompede/" STOMPEDE_VERSION);
    for (const auto& [name, value] : req_.headers)
      request_.set(name, value);
    // One request per connection: say so, so the server closes rather than lingers.
    request_.keep_alive(false);
    request_.body() = std::move(req_.body);
    if (!request_.body().empty() || req_.method == "POST" || req_.method == "PUT" ||
        req_.method == "PATCH")
      request_.prepare_payload();
    http::async_write(stream_, request_,
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        self->on_write(ec);
                      });
  }

  void on_write(beast::error_code ec) {
    if (ec)
      return fail(ec, step::exchange);
    parser_.body_limit(req_.max_body_bytes);
    http::async_read_header(stream_, buffer_, parser_,
                            [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                              self->on_header(ec);
                            });
  }

  void on_header(beast::error_code ec) {
    if (ec)
      return fail(ec, step::exchange);
    // Beast 1.74 does not apply body_limit to a Content-Length it has already parsed along
    // with the header, so the declared length is checked here, before the body is read.
    if (const auto length = parser_.content_length(); length && *length > req_.max_body_bytes)
      return complete(transport_errc::message_too_large, {});
    http::async_read(stream_, buffer_, parser_,
                     [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                       self->on_read(ec);
                     });
  }

  void on_read(beast::error_code ec) {
    if (ec)
      return fail(ec, step::exchange);
    auto msg = parser_.release();
    http_response res;
    res.status = msg.result_int();
    res.body = std::move(msg.body());
    for (const auto& field : msg)
      res.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    // A response is complete; a TLS close_notify exchange would add nothing but time.
    beast::error_code ignored;
    tcp().socket().shutdown(tcp::socket::shutdown_both, ignored);
    complete({}, std::move(res));
  }

  void fail(beast::error_code ec, step s) {
    const auto e = timed_out_ ? transport_errc::request_timeout : classify(ec, s);
    http_response res;
    if constexpr (Tls) {
      if (e == transport_errc::tls_error)
        res.error_detail = tls_failure_reason(stream_, ec);
    }
    complete(e, std::move(res));
  }

  void complete(std::error_code ec, http_response res) {
    if (finished_)
      return;
    finished_ = true;
    timer_.cancel();
    tcp().close();
    auto done = std::move(done_);
    if (done)
      done(ec, std::move(res));
  }

  asio::strand<asio::io_context::executor_type> strand_;
  std::shared_ptr<ssl::context> ctx_; // before stream_: the TLS stream refers to it
  http_request req_;
  http_callback done_;
  stream_type stream_;
  tcp::resolver resolver_;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point connect_deadline_{};
  http::request<http::string_body> request_;
  beast::flat_buffer buffer_;
  http::response_parser<http::string_body> parser_;
  bool timed_out_ = false;
  bool finished_ = false;
};

} // namespace

void async_http_request(boost::asio::io_context& ioc, http_request req, http_callback done) {
  if (req.target.tls()) {
    std::error_code ec;
    auto ctx = shared_tls_context(req.tls, ec);
    if (!ctx) {
      asio::post(ioc, [done = std::move(done), ec] {
        if (done)
          done(ec, {});
      });
      return;
    }
    std::make_shared<http_session<true>>(ioc, std::move(req), std::move(done), std::move(ctx))
        ->start();
    return;
  }
  std::make_shared<http_session<false>>(ioc, std::move(req), std::move(done), nullptr)->start();
}

} // namespace stompede::net
