#include "protocol/ws_client.hpp"

#include "loopback_server.hpp"

#include <catch2/catch.hpp>

#include <functional>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

using namespace std::chrono_literals;
using stompede::net::transport_errc;
using test_support::behaviour;
using test_support::loopback_server;
namespace net = stompede::net;

namespace {

/// Records what a connection reports and stops the context when it closes.
struct recorder : net::ws_handler {
  explicit recorder(boost::asio::io_context& ioc) : ioc(ioc) {}

  void on_tcp_connected(std::chrono::nanoseconds) override {
    tcp_connected = true;
  }
  void on_open(std::chrono::nanoseconds elapsed) override {
    opened = true;
    open_elapsed = elapsed;
    if (open_fn)
      open_fn();
  }
  void on_message(std::string_view data) override {
    messages.emplace_back(data);
    if (message_fn)
      message_fn(data);
  }
  void on_close_frame(std::uint16_t code, std::string_view) override {
    close_code = code;
  }
  void on_closed(std::error_code ec) override {
    ++closed_count;
    closed_ec = ec;
    ioc.stop();
  }

  boost::asio::io_context& ioc;
  bool tcp_connected = false;
  bool opened = false;
  std::chrono::nanoseconds open_elapsed{0};
  std::vector<std::string> messages;
  int closed_count = 0;
  int close_code = -1;
  std::error_code closed_ec;
  std::function<void()> open_fn;
  std::function<void(std::string_view)> message_fn;
};

net::ws_options options_for(std::uint16_t port, const char* path = "/ws") {
  net::ws_options o;
  auto u = net::parse_url("ws://127.0.0.1:" + std::to_string(port) + path);
  REQUIRE(u);
  o.target = *u;
  o.connect_timeout = 3s;
  o.handshake_timeout = 3s;
  return o;
}

/// Runs the context until the connection closes (the recorder stops it) or 10 s pass.
void run_bounded(boost::asio::io_context& ioc) {
  ioc.run_for(10s);
}

} // namespace

TEST_CASE("ws_client opens and echoes one message", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::echo);
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  rec->open_fn = [&] { client->send("hello"); };
  rec->message_fn = [&](std::string_view) { client->close(true); };
  client->start();
  run_bounded(ioc);
  CHECK(rec->tcp_connected);
  CHECK(rec->opened);
  CHECK(rec->open_elapsed.count() > 0);
  REQUIRE(rec->messages.size() == 1);
  CHECK(rec->messages[0] == "hello");
  CHECK(rec->closed_count == 1);
  CHECK_FALSE(rec->closed_ec); // a graceful close we asked for is clean
}

TEST_CASE("ws_client delivers several messages in order", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::echo);
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  constexpr int count = 50;
  // Sent before the connection opens: queued, then flushed in order on open.
  for (int i = 0; i < count; ++i)
    client->send("m" + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 40, '.'));
  rec->message_fn = [&](std::string_view) {
    if (rec->messages.size() == count)
      client->close(true);
  };
  client->start();
  run_bounded(ioc);
  REQUIRE(rec->messages.size() == count);
  for (int i = 0; i < count; ++i)
    CHECK(rec->messages[static_cast<std::size_t>(i)] ==
          "m" + std::to_string(i) + std::string(static_cast<std::size_t>(i) * 40, '.'));
  CHECK(rec->closed_count == 1);
  CHECK_FALSE(rec->closed_ec);
}

TEST_CASE("ws_client delivers whole messages however the server cuts its frames",
          "[ws_client]") {
  // Byte by byte, in threes, and all at once: an empty message, a message in three fragments
  // with a ping between them, a 16-bit length, pings while idle. Between messages the client
  // waits for a frame header with no buffer of its own, so every cut lands in a new place.
  for (std::size_t piece : {std::size_t{1}, std::size_t{3}, std::size_t{1} << 20}) {
    INFO("piece " << piece);
    boost::asio::io_context ioc;
    loopback_server server(ioc, behaviour::raw_frames, piece);
    auto rec = std::make_shared<recorder>(ioc);
    auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
    rec->message_fn = [&](std::string_view m) {
      if (m == "last")
        client->close(true);
    };
    client->start();
    run_bounded(ioc);
    REQUIRE(rec->messages.size() == 5);
    CHECK(rec->messages[0].empty());
    CHECK(rec->messages[1] == "one");
    CHECK(rec->messages[2] == "two-parts");
    CHECK(rec->messages[3] == std::string(200, 'y'));
    CHECK(rec->messages[4] == "last");
    CHECK(rec->closed_count == 1);
    CHECK_FALSE(rec->closed_ec);
  }
}

TEST_CASE("ws_client ends with write_queue_full past its queue bound", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::silent);
  auto rec = std::make_shared<recorder>(ioc);
  auto opts = options_for(server.port());
  opts.max_queued_bytes = 100;
  auto client = net::make_ws_client(ioc, opts, rec);
  client->send(std::string(60, 'a'));
  client->send(std::string(60, 'b')); // 120 queued bytes > 100
  client->start();
  run_bounded(ioc);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::write_queue_full);
}

TEST_CASE("ws_client idle timeout set at runtime fires on a silent server", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::silent);
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  rec->open_fn = [&] { client->set_idle_timeout(200ms); };
  client->start();
  run_bounded(ioc);
  CHECK(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::idle_timeout);
}

TEST_CASE("ws_client reports connect_refused", "[ws_client]") {
  boost::asio::io_context ioc;
  std::uint16_t port = 0;
  {
    // Take a free port, then give it back: nothing listens there afterwards.
    test_support::tcp::acceptor a(
        ioc, test_support::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
    port = a.local_endpoint().port();
  }
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(port), rec);
  client->start();
  run_bounded(ioc);
  CHECK_FALSE(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::connect_refused);
}

TEST_CASE("ws_client reports upgrade_rejected on HTTP 404", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::reject_404);
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  client->start();
  run_bounded(ioc);
  CHECK_FALSE(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::upgrade_rejected);
}

TEST_CASE("ws_client reports closed_by_peer with the close code", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::close_after_first);
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  rec->open_fn = [&] { client->send("bye"); };
  client->start();
  run_bounded(ioc);
  CHECK(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::closed_by_peer);
  CHECK(rec->close_code == 1001);
}

TEST_CASE("ws_client reports message_too_large past read_message_max", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::send_big, 5000);
  auto rec = std::make_shared<recorder>(ioc);
  auto opts = options_for(server.port());
  opts.max_message_bytes = 1000;
  auto client = net::make_ws_client(ioc, opts, rec);
  client->start();
  run_bounded(ioc);
  CHECK(rec->opened);
  CHECK(rec->messages.empty());
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::message_too_large);
}

TEST_CASE("ws_client drop close reports the given reason once", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::echo);
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  const std::error_code reason = transport_errc::io_error;
  rec->open_fn = [&] {
    client->close(false, reason);
    client->close(true); // a second close changes nothing
    client->send("ignored after close");
  };
  client->start();
  run_bounded(ioc);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == reason);
  CHECK(rec->messages.empty());
}

TEST_CASE("ws_client paused reading holds messages back until resumed", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::echo);
  auto rec = std::make_shared<recorder>(ioc);
  auto client = net::make_ws_client(ioc, options_for(server.port()), rec);
  boost::asio::steady_timer resume(ioc);
  rec->open_fn = [&] {
    client->pause_reading(true);
    client->send("one");
    client->send("two");
    resume.expires_after(100ms);
    resume.async_wait([&](boost::system::error_code) {
      // While paused nothing may have been delivered.
      CHECK(rec->messages.empty());
      client->pause_reading(false);
    });
  };
  rec->message_fn = [&](std::string_view) {
    if (rec->messages.size() == 2)
      client->close(true);
  };
  client->start();
  run_bounded(ioc);
  REQUIRE(rec->messages.size() == 2);
  CHECK(rec->messages[0] == "one");
  CHECK(rec->messages[1] == "two");
  CHECK_FALSE(rec->closed_ec);
}

TEST_CASE("ws_client binds to a source address before connecting", "[ws_client]") {
  boost::asio::io_context ioc;
  loopback_server server(ioc, behaviour::echo);
  auto rec = std::make_shared<recorder>(ioc);
  auto opts = options_for(server.port());
  opts.source_address = "127.0.0.2";
  auto client = net::make_ws_client(ioc, opts, rec);
  rec->open_fn = [&] { client->send("from 127.0.0.2"); };
  rec->message_fn = [&](std::string_view) { client->close(true); };
  client->start();
  run_bounded(ioc);
  REQUIRE(rec->messages.size() == 1);
  CHECK(rec->messages[0] == "from 127.0.0.2");
  CHECK_FALSE(rec->closed_ec);
}

namespace {

/// TCP_QUICKACK as the kernel reports it for the test's own client socket, the one bound to
/// `local` (the server side's socket, in the same process, is bound to 127.0.0.1): 0 while the
/// socket is in interactive mode (ACKs delayed), 1 when it ACKs at once; -1 if not found.
int quickack_of_socket_bound_to(const char* local) {
  for (int fd = 0; fd < 4096; ++fd) {
    sockaddr_in a{};
    socklen_t len = sizeof a;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0 || a.sin_family != AF_INET)
      continue;
    char text[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &a.sin_addr, text, sizeof text);
    if (std::string_view(text) != local)
      continue;
    int v = -1;
    socklen_t vlen = sizeof v;
    if (::getsockopt(fd, IPPROTO_TCP, TCP_QUICKACK, &v, &vlen) == 0)
      return v;
  }
  return -1;
}

} // namespace

TEST_CASE("delayed_acks puts the socket in interactive mode before its reads; by default the "
          "kernel ACKs a lone small read at once",
          "[ws_client]") {
  for (const bool delayed : {true, false}) {
    INFO("delayed_acks = " << delayed);
    boost::asio::io_context ioc;
    // The server sends one message of its own on open; the client never sends a byte after the
    // upgrade request, so nothing else makes the connection interactive.
    loopback_server server(ioc, behaviour::send_big, 300);
    auto rec = std::make_shared<recorder>(ioc);
    auto opts = options_for(server.port());
    opts.source_address = delayed ? "127.0.0.4" : "127.0.0.5";
    opts.delayed_acks = delayed;
    auto client = net::make_ws_client(ioc, opts, rec);
    int quickack = -2;
    rec->message_fn = [&](std::string_view) {
      // Right after the read that took the message: the delayed-ACK timer (40 ms or more)
      // cannot have fired since.
      quickack = quickack_of_socket_bound_to(opts.source_address.c_str());
      client->close(true);
    };
    client->start();
    run_bounded(ioc);
    REQUIRE(rec->messages.size() == 1);
    CHECK(quickack == (delayed ? 0 : 1));
  }
}

TEST_CASE("ws_client reports handshake_timeout when the upgrade is never answered", "[ws_client]") {
  boost::asio::io_context ioc;
  // Accepts TCP and then says nothing.
  test_support::tcp::acceptor acceptor(
      ioc, test_support::tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), 0));
  test_support::tcp::socket held(ioc);
  acceptor.async_accept(held, [](boost::system::error_code) {});
  auto rec = std::make_shared<recorder>(ioc);
  auto opts = options_for(acceptor.local_endpoint().port());
  opts.handshake_timeout = 200ms;
  auto client = net::make_ws_client(ioc, opts, rec);
  client->start();
  run_bounded(ioc);
  CHECK(rec->tcp_connected);
  CHECK_FALSE(rec->opened);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::handshake_timeout);
}

TEST_CASE("ws_client reports connect_timeout when the TCP connect is never answered",
          "[ws_client]") {
  // A listener whose accept queue is full and never drained: Linux drops further SYNs, so the
  // client's connect neither succeeds nor fails until its own deadline.
  boost::asio::io_context ioc;
  test_support::tcp::acceptor acceptor(ioc);
  const test_support::tcp::endpoint ep(boost::asio::ip::make_address("127.0.0.1"), 0);
  acceptor.open(ep.protocol());
  acceptor.bind(ep);
  acceptor.listen(0);
  const auto port = acceptor.local_endpoint().port();
  // Fill the queue (a backlog of 0 holds one; a few more leave no doubt), without accepting.
  std::vector<test_support::tcp::socket> fillers;
  for (int i = 0; i < 4; ++i) {
    fillers.emplace_back(ioc);
    fillers.back().async_connect({ep.address(), port}, [](boost::system::error_code) {});
  }
  ioc.run_for(300ms);
  ioc.restart();
  auto rec = std::make_shared<recorder>(ioc);
  auto opts = options_for(port);
  opts.connect_timeout = 300ms;
  auto client = net::make_ws_client(ioc, opts, rec);
  client->start();
  run_bounded(ioc);
  CHECK_FALSE(rec->tcp_connected);
  CHECK(rec->closed_count == 1);
  CHECK(rec->closed_ec == transport_errc::connect_timeout);
}
