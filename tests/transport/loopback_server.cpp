// The in-test WebSocket server of loopback_server.hpp. Its Beast server-side streams (plain
// and TLS) are instantiated here once, not in every test file that starts a server.

#include "loopback_server.hpp"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/beast/websocket/ssl.hpp>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <type_traits>

namespace test_support {

namespace {

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace http = beast::http;

template<bool Tls>
class server_session : public std::enable_shared_from_this<server_session<Tls>> {
  using next_layer =
      std::conditional_t<Tls, beast::ssl_stream<beast::tcp_stream>, beast::tcp_stream>;

public:
  server_session(tcp::socket socket, behaviour b, std::size_t big, asio::ssl::context* ctx)
      : ws_(make(std::move(socket), ctx)), behaviour_(b), big_(big),
        timer_(ws_.get_executor()) {}

  void start() {
    if constexpr (Tls) {
      ws_.next_layer().async_handshake(asio::ssl::stream_base::server,
                                       [self = this->shared_from_this()](beast::error_code ec) {
                                         if (!ec)
                                           self->after_tls();
                                       });
    } else {
      after_tls();
    }
  }

private:
  static websocket::stream<next_layer> make(tcp::socket socket, asio::ssl::context* ctx) {
    if constexpr (Tls)
      return websocket::stream<next_layer>(std::move(socket), *ctx);
    else
      return websocket::stream<next_layer>(std::move(socket));
  }

  void after_tls() {
    if (behaviour_ == behaviour::reject_404) {
      http::async_read(ws_.next_layer(), buffer_, request_,
                       [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                         if (ec)
                           return;
                         self->response_.result(http::status::not_found);
                         self->response_.version(11);
                         self->response_.body() = "no such endpoint";
                         self->response_.prepare_payload();
                         http::async_write(self->ws_.next_layer(), self->response_,
                                           [self](beast::error_code, std::size_t) {
                                             beast::error_code ignored;
                                             beast::get_lowest_layer(self->ws_).socket().shutdown(
                                                 tcp::socket::shutdown_both, ignored);
                                           });
                       });
      return;
    }
    ws_.async_accept([self = this->shared_from_this()](beast::error_code ec) {
      if (ec)
        return;
      if (self->behaviour_ == behaviour::raw_frames) {
        self->out_ = raw_script();
        self->write_piece(0);
        return;
      }
      if (self->behaviour_ == behaviour::send_big) {
        self->out_.assign(self->big_, 'x');
        self->ws_.async_write(asio::buffer(self->out_),
                              [self](beast::error_code, std::size_t) { self->do_read(); });
        return;
      }
      self->do_read();
    });
  }

  // Unmasked server frames, written past Beast straight to the socket.
  static std::string frame(std::uint8_t first, std::string_view payload) {
    std::string f(1, static_cast<char>(first));
    if (payload.size() < 126) {
      f += static_cast<char>(payload.size());
    } else {
      f += static_cast<char>(126);
      f += static_cast<char>(payload.size() >> 8);
      f += static_cast<char>(payload.size() & 0xff);
    }
    f += payload;
    return f;
  }

  static std::string raw_script() {
    return frame(0x89, "pg") + frame(0x81, "") + frame(0x81, "one") + frame(0x01, "two") +
           frame(0x89, "") + frame(0x00, "-") + frame(0x80, "parts") +
           frame(0x81, std::string(200, 'y')) + frame(0x81, "last");
  }

  void write_piece(std::size_t at) {
    if (at >= out_.size())
      return do_read();
    const std::size_t n = std::min(std::max<std::size_t>(big_, 1), out_.size() - at);
    asio::async_write(ws_.next_layer(), asio::buffer(out_.data() + at, n),
                      [self = this->shared_from_this(), at, n](beast::error_code ec, std::size_t) {
                        if (ec)
                          return;
                        self->timer_.expires_after(std::chrono::milliseconds(1));
                        self->timer_.async_wait([self, at, n](beast::error_code e) {
                          if (!e)
                            self->write_piece(at + n);
                        });
                      });
  }

  void do_read() {
    ws_.async_read(buffer_, [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec)
        return;
      self->on_message();
    });
  }

  void on_message() {
    switch (behaviour_) {
    case behaviour::echo:
      out_ = beast::buffers_to_string(buffer_.data());
      buffer_.consume(buffer_.size());
      ws_.text(ws_.got_text());
      ws_.async_write(asio::buffer(out_),
                      [self = this->shared_from_this()](beast::error_code ec, std::size_t) {
                        if (!ec)
                          self->do_read();
                      });
      return;
    case behaviour::close_after_first:
      ws_.async_close(websocket::close_code::going_away,
                      [self = this->shared_from_this()](beast::error_code) {});
      return;
    default:
      buffer_.consume(buffer_.size());
      do_read();
      return;
    }
  }

  websocket::stream<next_layer> ws_;
  behaviour behaviour_;
  std::size_t big_;
  beast::flat_buffer buffer_;
  std::string out_;
  asio::steady_timer timer_;
  http::request<http::string_body> request_;
  http::response<http::string_body> response_;
};

} // namespace

struct loopback_server::impl {
  impl(asio::io_context& ioc, behaviour b, std::size_t big, asio::ssl::context* tls)
      : acceptor(ioc, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0)), behaviour_(b),
        big_(big), tls_(tls) {
    do_accept();
  }

  void do_accept() {
    acceptor.async_accept([this](beast::error_code ec, tcp::socket socket) {
      if (ec)
        return;
      if (tls_)
        std::make_shared<server_session<true>>(std::move(socket), behaviour_, big_, tls_)->start();
      else
        std::make_shared<server_session<false>>(std::move(socket), behaviour_, big_, nullptr)
            ->start();
      do_accept();
    });
  }

  tcp::acceptor acceptor;
  behaviour behaviour_;
  std::size_t big_;
  asio::ssl::context* tls_;
};

loopback_server::loopback_server(asio::io_context& ioc, behaviour b, std::size_t big,
                                 asio::ssl::context* tls)
    : impl_(std::make_unique<impl>(ioc, b, big, tls)) {}

loopback_server::~loopback_server() = default;

std::uint16_t loopback_server::port() const {
  return impl_->acceptor.local_endpoint().port();
}

} // namespace test_support
