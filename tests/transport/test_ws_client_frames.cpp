// The client's own RFC 6455 framing against a server written here from the RFC, byte by byte
// on a plain socket (no Beast, no stompede code on the server side): what the client puts on
// the wire (the upgrade, masking, pong, close) and how it takes what a server may send.

#include "protocol/ws_client.hpp"

#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/write.hpp>

#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>

#include <functional>
#include <set>
#include <string>
#include <thread>

using namespace std::chrono_literals;
using namespace std::string_literals;
using stompede::net::transport_errc;
namespace net = stompede::net;
namespace asio = boost::asio;
using tcp = asio::ip::tcp;

namespace {

std::string accept_for(const std::string& key) {
  const std::string in = key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  EVP_Digest(in.data(), in.size(), md, &n, EVP_sha1(), nullptr);
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  out.resize(static_cast<std::size_t>(
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), md, static_cast<int>(n))));
  return out;
}

/// One frame the client sent, unmasked.
struct client_frame {
  unsigned opcode = 0;
  bool fin = false;
  bool masked = false;
  std::uint32_t key = 0;
  std::string payload;
};

/// A one-connection server on its own thread, with blocking reads bounded by a receive
/// timeout; `script` runs once the connection is accepted.
class raw_server {
public:
  using script_fn = std::function<void(raw_server&)>;

  explicit raw_server(script_fn script) : acceptor_(ioc_, tcp::endpoint(tcp::v4(), 0)) {
    acceptor_.set_option(tcp::acceptor::reuse_address(true));
    acceptor_.listen();
    port_ = acceptor_.local_endpoint().port();
    thread_ = std::thread([this, script = std::move(script)] {
      pollfd pfd{acceptor_.native_handle(), POLLIN, 0};
      if (::poll(&pfd, 1, 5000) != 1)
        return;
      socket_ = std::make_unique<tcp::socket>(ioc_);
      boost::system::error_code ec;
      acceptor_.accept(*socket_, ec);
      if (ec)
        return;
      timeval tv{5, 0};
      ::setsockopt(socket_->native_handle(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
      try {
        script(*this);
      } catch (const std::exception& e) {
        failure = e.what();
      }
    });
  }
  ~raw_server() {
    wait();
  }

  /// Waits for the script to end (what it recorded may be read after this).
  void wait() {
    if (thread_.joinable())
      thread_.join();
  }

  std::uint16_t port() const {
    return port_;
  }

  /// Reads the upgrade request; returns its Sec-WebSocket-Key and keeps the request.
  std::string read_request() {
    asio::read_until(*socket_, in_, "\r\n\r\n");
    const auto data = in_.data();
    std::string all(asio::buffers_begin(data), asio::buffers_end(data));
    const auto end = all.find("\r\n\r\n") + 4;
    request = all.substr(0, end);
    in_.consume(end);
    const std::string name = "Sec-WebSocket-Key: ";
    const auto at = request.find(name);
    if (at == std::string::npos)
      throw std::runtime_error("no Sec-WebSocket-Key");
    return request.substr(at + name.size(), request.find("\r\n", at) - at - name.size());
  }

  /// The 101 answer for `key`, with `extra` bytes after it in the same write.
  void accept(const std::string& key, const std::string& extra = {},
              const std::string& accept_value = {}) {
    write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
          "Sec-WebSocket-Accept: " +
          (accept_value.empty() ? accept_for(key) : accept_value) + "\r\n\r\n" + extra);
  }

  void write(const std::string& bytes) {
    asio::write(*socket_, asio::buffer(bytes));
  }

  client_frame read_frame() {
    client_frame f;
    const std::string h = read_exact(2);
    f.fin = (h[0] & 0x80) != 0;
    f.opcode = static_cast<unsigned char>(h[0]) & 0x0F;
    f.masked = (h[1] & 0x80) != 0;
    std::uint64_t len = static_cast<unsigned char>(h[1]) & 0x7F;
    if (len == 126) {
      const std::string l = read_exact(2);
      len = (std::uint64_t{static_cast<unsigned char>(l[0])} << 8) | static_cast<unsigned char>(l[1]);
    } else if (len == 127) {
      const std::string l = read_exact(8);
      len = 0;
      for (char c : l)
        len = (len << 8) | static_cast<unsigned char>(c);
    }
    std::string key = f.masked ? read_exact(4) : std::string();
    f.payload = read_exact(static_cast<std::size_t>(len));
    if (f.masked) {
      for (std::size_t i = 0; i < f.payload.size(); ++i)
        f.payload[i] = static_cast<char>(f.payload[i] ^ key[i % 4]);
      for (char c : key)
        f.key = (f.key << 8) | static_cast<unsigned char>(c);
    }
    return f;
  }

  /// Closes the connection without a close frame.
  void drop() {
    boost::system::error_code ec;
    socket_->close(ec);
  }

  /// Whether the client keeps the connection open for `ms` (it must wait for our FIN after a
  /// close exchange): false as soon as a byte or the end arrives.
  bool quiet_for(int ms) {
    pollfd pfd{socket_->native_handle(), POLLIN, 0};
    return ::poll(&pfd, 1, ms) == 0;
  }

  /// Waits until the client closes its side.
  bool read_eof() {
    boost::system::error_code ec;
    char c;
    while (!ec)
      asio::read(*socket_, asio::buffer(&c, 1), ec);
    return ec == asio::error::eof || ec == asio::error::connection_reset;
  }

  std::string request;
  std::string failure;

private:
  std::string read_exact(std::size_t n) {
    if (in_.size() < n)
      asio::read(*socket_, in_, asio::transfer_at_least(n - in_.size()));
    const auto data = in_.data();
    std::string out(asio::buffers_begin(data), asio::buffers_begin(data) + static_cast<long>(n));
    in_.consume(n);
    return out;
  }

  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::unique_ptr<tcp::socket> socket_;
  asio::streambuf in_;
  std::uint16_t port_ = 0;
  std::thread thread_;
};

/// An unmasked server frame.
std::string frame(unsigned first_byte, const std::string& payload) {
  std::string f(1, static_cast<char>(first_byte));
  f.push_back(static_cast<char>(payload.size())); // < 126 here
  return f + payload;
}

struct recorder : net::ws_handler {
  explicit recorder(asio::io_context& ioc) : ioc(ioc) {}
  void on_open(std::chrono::nanoseconds) override {
    opened = true;
    if (open_fn)
      open_fn();
  }
  void on_message(std::string_view data) override {
    messages.emplace_back(data);
    if (message_fn)
      message_fn();
  }
  void on_close_frame(std::uint16_t code, std::string_view reason) override {
    close_code = code;
    close_reason = reason;
    if (close_fn)
      close_fn();
  }
  void on_closed(std::error_code ec) override {
    ++closed_count;
    closed_ec = ec;
    ioc.stop();
  }
  asio::io_context& ioc;
  bool opened = false;
  std::vector<std::string> messages;
  int close_code = -1;
  std::string close_reason;
  int closed_count = 0;
  std::error_code closed_ec;
  std::function<void()> open_fn;
  std::function<void()> close_fn;
  std::function<void()> message_fn;
};

net::ws_options options_for(std::uint16_t port) {
  net::ws_options o;
  auto u = net::parse_url("ws://127.0.0.1:" + std::to_string(port) + "/chat?x=1");
  REQUIRE(u);
  o.target = *u;
  o.connect_timeout = 3s;
  o.handshake_timeout = 3s;
  o.headers.emplace_back("Authorization", "Bearer t0ken");
  return o;
}

} // namespace

TEST_CASE("the upgrade request carries RFC 6455's fields and the extra headers",
          "[ws_client][frames]") {
  asio::io_context ioc;
  raw_server server([](raw_server& s) {
    s.accept(s.read_request());
    s.write(frame(0x88, "\x03\xe8"s));
    s.read_frame();
    s.drop();
  });
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  client->start();
  ioc.run_for(10s);
  server.wait();
  CHECK(rec->opened);
  const std::string& r = server.request;
  CHECK(r.rfind("GET /chat?x=1 HTTP/1.1\r\n", 0) == 0);
  CHECK(r.find("Host: 127.0.0.1:") != std::string::npos);
  CHECK(r.find("Upgrade: websocket\r\n") != std::string::npos);
  CHECK(r.find("Connection: Upgrade\r\n") != std::string::npos);
  CHECK(r.find("Sec-WebSocket-Version: 13\r\n") != std::string::npos);
  CHECK(r.find("Authorization: Bearer t0ken\r\n") != std::string::npos);
  CHECK(r.find("User-Agent: stompede/") != std::string::npos);
  CHECK(r.find("Sec-WebSocket-Extensions") == std::string::npos);
}

TEST_CASE("frames sent with the 101 answer are delivered, a ping is answered with its payload, "
          "a close is echoed",
          "[ws_client][frames]") {
  asio::io_context ioc;
  client_frame pong, echo;
  bool client_waited = false;
  raw_server server([&](raw_server& s) {
    const auto key = s.read_request();
    s.accept(key, frame(0x81, "early") + frame(0x89, "p-1"));
    pong = s.read_frame();
    s.write(frame(0x81, "after") + frame(0x88, "\x0f\xa0gone"s));
    echo = s.read_frame();
    // The client waits for the server to close the TCP connection first (RFC 6455 7.1.1).
    client_waited = s.quiet_for(200);
    s.drop();
  });
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  client->start();
  ioc.run_for(10s);
  server.wait();
  CHECK(server.failure.empty());
  CHECK(rec->messages == std::vector<std::string>{"early", "after"});
  CHECK(pong.opcode == 0xA);
  CHECK(pong.masked);
  CHECK(pong.payload == "p-1");
  CHECK(echo.opcode == 0x8);
  CHECK(echo.masked);
  CHECK(echo.payload == "\x0f\xa0"s);
  CHECK(client_waited);
  CHECK(rec->close_code == 4000);
  CHECK(rec->close_reason == "gone");
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::closed_by_peer);
}

TEST_CASE("every client frame is masked, with its own key, and a graceful close ends cleanly",
          "[ws_client][frames]") {
  asio::io_context ioc;
  std::vector<client_frame> got;
  bool client_waited = false;
  raw_server server([&](raw_server& s) {
    s.accept(s.read_request());
    for (;;) {
      got.push_back(s.read_frame());
      if (got.back().opcode == 0x8)
        break;
    }
    s.write(frame(0x88, "\x03\xe8"s));
    client_waited = s.quiet_for(200); // the client waits for our FIN
    s.drop();
  });
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  const std::string big(300, 'b'); // a 16-bit length
  rec->open_fn = [&] {
    client->send("SEND\ndestination:/x\n\nhi\0"s);
    client->send(big);
    client->send("");
    client->close(true);
  };
  client->start();
  ioc.run_for(10s);
  server.wait();
  CHECK(server.failure.empty());
  REQUIRE(got.size() == 4);
  CHECK(got[0].payload == "SEND\ndestination:/x\n\nhi\0"s);
  CHECK(got[1].payload == big);
  CHECK(got[2].payload.empty());
  std::set<std::uint32_t> keys;
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(got[i].opcode == 0x1);
    CHECK(got[i].fin);
    CHECK(got[i].masked);
    keys.insert(got[i].key);
  }
  CHECK(keys.size() == 3);
  CHECK(got[3].opcode == 0x8);
  CHECK(got[3].payload == "\x03\xe8"s);
  CHECK(client_waited);
  CHECK(rec->closed_count == 1);
  CHECK_FALSE(rec->closed_ec);
}

TEST_CASE("an upgrade answer that breaks RFC 6455 ends with protocol_error", "[ws_client][frames]") {
  struct bad {
    const char* what;
    std::function<void(raw_server&, const std::string&)> answer;
  };
  const std::vector<bad> cases = {
      {"wrong accept",
       [](raw_server& s, const std::string& key) { s.accept(key, {}, "bm90IHRoZSBhY2NlcHQ="); }},
      {"no Upgrade header",
       [](raw_server& s, const std::string& key) {
         s.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                 "Sec-WebSocket-Accept: " +
                 accept_for(key) + "\r\n\r\n");
       }},
      {"an extension never offered",
       [](raw_server& s, const std::string& key) {
         s.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                 "Connection: Upgrade\r\nSec-WebSocket-Extensions: permessage-deflate\r\n"
                 "Sec-WebSocket-Accept: " +
                 accept_for(key) + "\r\n\r\n");
       }},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    asio::io_context ioc;
    raw_server server([&](raw_server& s) {
      c.answer(s, s.read_request());
      s.read_eof();
    });
    auto rec = std::make_shared<recorder>(ioc);
    auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
    client->start();
    ioc.run_for(10s);
    server.wait();
    CHECK_FALSE(rec->opened);
    CHECK(rec->closed_count == 1);
    CHECK(rec->closed_ec == transport_errc::protocol_error);
  }
}

TEST_CASE("a frame that breaks RFC 6455 ends the connection with protocol_error, and what "
          "came before it is delivered",
          "[ws_client][frames]") {
  struct bad {
    const char* what;
    std::string wire;
    std::string close_payload; // the close frame the client sends: code 1002 or 1007
  };
  const std::vector<bad> cases = {
      {"masked", "\x81\x82\x01\x02\x03\x04xy"s, "\x03\xea"s},
      {"reserved bit", frame(0xC1, "x"), "\x03\xea"s},
      {"text not UTF-8", frame(0x81, "\xff"), "\x03\xef"s},
      {"unknown opcode", frame(0x83, "x"), "\x03\xea"s},
  };
  for (const auto& [what, wire, close_payload] : cases) {
    INFO(what);
    asio::io_context ioc;
    client_frame close;
    raw_server server([&, w = wire](raw_server& s) {
      s.accept(s.read_request(), frame(0x81, "fine") + w);
      close = s.read_frame();
      s.read_eof();
    });
    auto rec = std::make_shared<recorder>(ioc);
    auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
    client->start();
    ioc.run_for(10s);
    server.wait();
    CHECK(rec->messages == std::vector<std::string>{"fine"});
    CHECK(rec->closed_count == 1);
    CHECK(rec->closed_ec == transport_errc::protocol_error);
    CHECK(close.opcode == 0x8);
    CHECK(close.payload == close_payload);
  }
}

TEST_CASE("a message over the limit ends with message_too_large and a close 1009",
          "[ws_client][frames]") {
  asio::io_context ioc;
  client_frame close;
  raw_server server([&](raw_server& s) {
    s.accept(s.read_request(), "\x81\x7e\x10\x00"s); // a 4,096-byte message announced
    close = s.read_frame();
    s.read_eof();
  });
  auto rec = std::make_shared<recorder>(ioc);
  auto opts = options_for(server.port());
  opts.max_message_bytes = 1024;
  auto client = net::make_ws_client(ioc, opts, rec);
  client->start();
  ioc.run_for(10s);
  server.wait();
  CHECK(rec->closed_ec == transport_errc::message_too_large);
  CHECK(close.opcode == 0x8);
  CHECK(close.payload == "\x03\xf1"s);
}

TEST_CASE("nothing the client sends from on_close_frame follows its close echo",
          "[ws_client][frames]") {
  asio::io_context ioc;
  client_frame after;
  raw_server server([&](raw_server& s) {
    s.accept(s.read_request(), frame(0x88, "\x0f\xa0"s));
    after = s.read_frame();
    s.drop();
  });
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  rec->close_fn = [&] { client->send("too late"); };
  client->start();
  ioc.run_for(10s);
  server.wait();
  CHECK(after.opcode == 0x8);
  CHECK(rec->close_code == 4000);
  CHECK(rec->closed_ec == transport_errc::closed_by_peer);
}

TEST_CASE("frames that came with the 101 are read even when on_open starts a graceful close",
          "[ws_client][frames]") {
  asio::io_context ioc;
  std::vector<client_frame> got;
  const std::string second = frame(0x81, "second");
  raw_server server([&](raw_server& s) {
    // "early" whole, then the first three bytes of "second": the client must keep its place.
    s.accept(s.read_request(), frame(0x81, "early") + second.substr(0, 3));
    got.push_back(s.read_frame()); // CONNECT, queued in on_open
    s.write(second.substr(3));
    got.push_back(s.read_frame()); // the close
    s.write(frame(0x88, "\x03\xe8"s));
    s.drop();
  });
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  rec->open_fn = [&] {
    client->send("CONNECT");
    client->close(true);
  };
  client->start();
  ioc.run_for(10s);
  server.wait();
  REQUIRE(got.size() == 2);
  CHECK(got[0].payload == "CONNECT");
  CHECK(got[1].opcode == 0x8);
  REQUIRE_FALSE(rec->messages.empty());
  CHECK(rec->messages[0] == "early");
  CHECK(rec->closed_count == 1);
  CHECK_FALSE(rec->closed_ec); // a clean close: the stream never lost its place
}

TEST_CASE("a server that drops the socket without a close frame ends with connection_reset",
          "[ws_client][frames]") {
  asio::io_context ioc;
  raw_server server([](raw_server& s) {
    s.accept(s.read_request(), frame(0x81, "x"));
    s.drop();
  });
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  client->start();
  ioc.run_for(10s);
  server.wait();
  CHECK(rec->messages == std::vector<std::string>{"x"});
  CHECK(rec->closed_ec == transport_errc::connection_reset);
}

TEST_CASE("asking for compression offers permessage-deflate, and a server that declines it "
          "gets plain frames (Beast's stream)",
          "[ws_client][frames]") {
  asio::io_context ioc;
  client_frame got;
  raw_server server([&](raw_server& s) {
    s.accept(s.read_request());
    got = s.read_frame();
    s.write(frame(0x81, "echo:" + got.payload));
    s.read_frame(); // the close
    s.write(frame(0x88, "\x03\xe8"s));
    s.drop();
  });
  auto rec = std::make_shared<recorder>(ioc);
  auto opts = options_for(server.port());
  opts.compression = true;
  auto client = net::make_ws_client(ioc, opts, rec);
  rec->open_fn = [&] { client->send("hello"); };
  rec->message_fn = [&] { client->close(true); };
  client->start();
  ioc.run_for(10s);
  server.wait();
  CHECK(server.request.find("Sec-WebSocket-Extensions: permessage-deflate") != std::string::npos);
  CHECK(got.masked);
  CHECK(got.payload == "hello");
  CHECK(rec->messages == std::vector<std::string>{"echo:hello"});
  CHECK(rec->closed_count == 1);
  CHECK_FALSE(rec->closed_ec);
}
