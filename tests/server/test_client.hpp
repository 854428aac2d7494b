#pragma once

// A small blocking test client over loopback: HTTP calls and a WebSocket + STOMP session,
// every wait bounded by an io_context run_for.

#include "protocol/stomp_frame.hpp"
#include "protocol/stomp_parser.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>

#include <chrono>
#include <deque>
#include <optional>
#include <string>

namespace stompede::server::test {

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;

struct http_result {
  unsigned status = 0;
  std::string body;
};

inline http_result http_call(std::uint16_t port, http::verb method, const std::string& target,
                             const std::string& body = {}, const std::string& auth = {}) {
  net::io_context ioc;
  tcp::socket s(ioc);
  s.connect({net::ip::make_address("127.0.0.1"), port});
  http::request<http::string_body> req(method, target, 11);
  req.set(http::field::host, "127.0.0.1");
  req.set(http::field::content_type, "application/json");
  if (!auth.empty())
    req.set(http::field::authorization, auth);
  req.body() = body;
  req.prepare_payload();
  http::write(s, req);
  beast::flat_buffer b;
  http::response<http::string_body> res;
  http::read(s, b, res);
  return {res.result_int(), res.body()};
}

/// What a wait for the next frame found.
enum class wait_result { frame, closed, timeout };

class stomp_test_client {
public:
  explicit stomp_test_client(std::uint16_t port, const std::string& path = "/ws-stomp",
                             const std::string& upgrade_auth = {})
      : ws_(ioc_) {
    ws_.next_layer().connect({net::ip::make_address("127.0.0.1"), port});
    ws_.set_option(websocket::stream_base::decorator([upgrade_auth](websocket::request_type& r) {
      if (!upgrade_auth.empty())
        r.set(http::field::authorization, upgrade_auth);
    }));
    ws_.handshake(handshake_res_, "127.0.0.1", path);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::pong)
        ++pongs_;
    });
  }

  /// A WebSocket ping; the server's pong is counted while frames are read.
  void ping(const std::string& payload) {
    ws_.ping(websocket::ping_data(payload.c_str()));
  }
  std::size_t pongs() const {
    return pongs_;
  }

  /// A small kernel receive buffer: the server's writes to this client soon come back short.
  void shrink_receive_buffer() {
    ws_.next_layer().set_option(net::socket_base::receive_buffer_size(64 * 1024));
  }

  void send_raw(const std::string& bytes) {
    ws_.text(true);
    ws_.write(net::buffer(bytes));
  }

  /// Bytes in a binary WebSocket message (they need not be UTF-8).
  void send_binary(const std::string& bytes) {
    ws_.binary(true);
    ws_.write(net::buffer(bytes));
    ws_.text(true);
  }

  /// Whether any WebSocket message read so far was binary.
  bool got_binary() const {
    return got_binary_;
  }

  void send(const stomp::frame& f) {
    send_raw(stomp::encode(f));
  }

  /// The next frame (heart-beats skipped) within `timeout`.
  wait_result next(stomp::frame& out, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (!pending_.empty()) {
        out = std::move(pending_.front());
        pending_.pop_front();
        return wait_result::frame;
      }
      if (closed_)
        return wait_result::closed;
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::steady_clock::duration::zero())
        return wait_result::timeout;
      bool done = false;
      beast::error_code ec;
      ws_.async_read(buf_, [&](beast::error_code e, std::size_t) {
        ec = e;
        done = true;
      });
      ioc_.restart();
      ioc_.run_for(left);
      if (!done) {
        // Give up on this stream: cancel and let the handler run.
        beast::error_code ignored;
        ws_.next_layer().cancel(ignored);
        ioc_.restart();
        ioc_.run();
        closed_ = true;
        return wait_result::timeout;
      }
      if (ec) {
        closed_ = true;
        last_error_ = ec;
        continue;
      }
      got_binary_ = got_binary_ || ws_.got_binary();
      const auto d = buf_.cdata();
      parser_.feed(std::string_view(static_cast<const char*>(d.data()), d.size()));
      buf_.consume(buf_.size());
      stomp::frame_view v;
      for (;;) {
        const auto st = parser_.next(v);
        if (st == stomp::parse_status::frame) {
          pending_.push_back(stomp::frame::from_view(v));
        } else if (st == stomp::parse_status::heartbeat) {
          ++heartbeats_;
        } else {
          break;
        }
      }
    }
  }

  /// Next frame of command `c`; false on anything else.
  bool expect(stomp::command c, stomp::frame& out,
              std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    return next(out, timeout) == wait_result::frame && out.cmd == c;
  }

  /// CONNECT with an optional Authorization header; true on CONNECTED.
  bool connect(const std::string& token, const std::string& heart_beat = "0,0") {
    stomp::frame c(stomp::command::connect);
    c.add("accept-version", "1.2,1.1,1.0");
    c.add("heart-beat", heart_beat);
    c.add("host", "127.0.0.1");
    if (!token.empty())
      c.add("Authorization", "Bearer " + token);
    send(c);
    stomp::frame f;
    return expect(stomp::command::connected, f);
  }

  void subscribe(const std::string& id, const std::string& dest, const std::string& receipt = {}) {
    stomp::frame s(stomp::command::subscribe);
    s.add("id", id).add("destination", dest).add("ack", "auto");
    if (!receipt.empty())
      s.add("receipt", receipt);
    send(s);
  }

  /// Subscribes and waits for the receipt; false otherwise.
  bool subscribe_sync(const std::string& id, const std::string& dest) {
    subscribe(id, dest, "r-" + id);
    stomp::frame f;
    return expect(stomp::command::receipt, f) && f.get("receipt-id") == "r-" + id;
  }

  void send_to(const std::string& dest, const std::string& body) {
    stomp::frame s(stomp::command::send);
    s.add("destination", dest).add("content-type", "application/json");
    s.body = body;
    send(s);
  }

  std::size_t heartbeats() const {
    return heartbeats_;
  }

  /// How the stream ended (after next() said `closed`).
  beast::error_code last_error() const {
    return last_error_;
  }

private:
  net::io_context ioc_;
  websocket::stream<tcp::socket> ws_;
  websocket::response_type handshake_res_;
  beast::flat_buffer buf_;
  stomp::parser parser_;
  std::deque<stomp::frame> pending_;
  bool closed_ = false;
  beast::error_code last_error_;
  bool got_binary_ = false;
  std::size_t heartbeats_ = 0;
  std::size_t pongs_ = 0;
};

} // namespace stompede::server::test
