#pragma once

// A tiny in-test WebSocket server on 127.0.0.1 (ephemeral port), plain or TLS, with one
// behaviour per test: echo, refuse the upgrade, close after the first message, stay silent,
// send one big message, or write a script of hand-made frames cut into pieces. It runs on the test's io_context, so a test bounds everything by
// running that context with a deadline. The Beast server side lives in loopback_server.cpp,
// compiled once.

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <memory>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace test_support {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

enum class behaviour { echo, reject_404, close_after_first, silent, send_big, raw_frames };
// raw_frames writes, as raw bytes in pieces of `big` bytes 1 ms apart: a ping, an empty
// message, "one", "two-parts" in three fragments with a ping between them, 200 'y' (a 16-bit
// length), "last".

/// Accepts connections on 127.0.0.1:<ephemeral> until destroyed or its context stops.
class loopback_server {
public:
  loopback_server(asio::io_context& ioc, behaviour b, std::size_t big = 0,
                  asio::ssl::context* tls = nullptr);
  ~loopback_server();
  loopback_server(const loopback_server&) = delete;
  loopback_server& operator=(const loopback_server&) = delete;

  std::uint16_t port() const;

private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

} // namespace test_support
