// The network toxics, each shown with plain loopback sockets: a scripted upstream server, the
// proxy, a blocking client. Time is only ever asserted as a lower bound that the toxic itself
// guarantees.

#include "proxy/fault_proxy.hpp"
#include "tests/proxy/proxy_support.hpp"

#include <catch2/catch.hpp>

using namespace proxy_test;
namespace proxy = stompede::proxy;

namespace {

std::unique_ptr<proxy::fault_proxy> start_proxy(std::uint16_t upstream, std::uint64_t seed = 1) {
  proxy::proxy_options o;
  o.upstream_port = upstream;
  o.seed = seed;
  std::string err;
  auto p = proxy::fault_proxy::start(o, err);
  INFO(err);
  REQUIRE(p);
  REQUIRE(p->port() != 0);
  return p;
}

proxy::toxic spec(const std::string& text) {
  std::string err;
  auto t = proxy::parse_toxic(text, err);
  INFO(err);
  REQUIRE(t);
  return *t;
}

std::string pattern(std::size_t n) {
  std::string s(n, '\0');
  for (std::size_t i = 0; i < n; ++i)
    s[i] = static_cast<char>('a' + (i * 7 + i / 26) % 26);
  return s;
}

} // namespace

TEST_CASE("without toxics the proxy passes bytes unchanged both ways and passes the close",
          "[proxy]") {
  script_server srv(echo);
  auto p = start_proxy(srv.port());
  CHECK(p->address() == "127.0.0.1:" + std::to_string(p->port()));
  fd_guard c{connect_to(p->port())};
  REQUIRE(c.fd >= 0);
  const std::string data = pattern(200000);
  std::thread w([&] { write_all(c.fd, data); });
  auto r = read_for(c.fd, data.size(), 10s);
  w.join();
  CHECK(r.data == data);
  ::shutdown(c.fd, SHUT_WR);
  auto rest = read_for(c.fd, 1, 10s);
  CHECK(rest.eof); // the server saw our EOF, ended, and its close came back
  CHECK(eventually([&] { return p->totals().bytes_downstream == data.size(); }));
  const auto t = p->totals();
  CHECK(t.connections_accepted == 1);
  CHECK(t.bytes_upstream == data.size());
}

TEST_CASE("latency delays every chunk of its direction by at least the latency", "[proxy]") {
  script_server srv(echo);
  auto p = start_proxy(srv.port());
  const auto id = p->add_toxic(spec("latency:downstream:latency=200ms,jitter=20ms"));
  fd_guard c{connect_to(p->port())};
  const auto t0 = clock_type::now();
  write_all(c.fd, "ping");
  auto r = read_for(c.fd, 4, 10s);
  CHECK(r.data == "ping");
  CHECK(ms_since(t0) >= 180);
  auto k = p->counters(id);
  REQUIRE(k);
  CHECK(k->connections_affected == 1);
  CHECK(k->bytes_delayed == 4);
}

TEST_CASE("removing a latency toxic flushes what it held, in order and complete", "[proxy]") {
  script_server srv(echo);
  auto p = start_proxy(srv.port());
  fd_guard c{connect_to(p->port())};
  write_all(c.fd, "warm");
  REQUIRE(read_for(c.fd, 4, 10s).data == "warm");
  const auto id = p->add_toxic(spec("latency:downstream:latency=60s"));
  REQUIRE(eventually([&] { return p->counters(id)->connections_affected == 1; }));
  std::string sent;
  for (int i = 0; i < 20; ++i) {
    const std::string m = "m" + std::to_string(i) + ";";
    sent += m;
    write_all(c.fd, m);
    std::this_thread::sleep_for(2ms);
  }
  // Nothing can come back before the toxic goes: it holds every chunk for a minute.
  REQUIRE(eventually([&] { return p->counters(id)->bytes_delayed == sent.size(); }));
  auto removed = p->remove_toxic(id);
  REQUIRE(removed);
  CHECK(removed->bytes_delayed == sent.size());
  CHECK_FALSE(p->remove_toxic(id)); // already gone
  auto r = read_for(c.fd, sent.size(), 20s);
  CHECK(r.data == sent);
}

TEST_CASE("bandwidth limits the rate of its direction", "[proxy]") {
  const std::string data = pattern(10000);
  script_server srv([&](int fd) {
    write_all(fd, data);
    wait_for_close(fd);
  });
  auto p = start_proxy(srv.port());
  const auto id = p->add_toxic(spec("bandwidth:downstream:rate=20000"));
  const auto t0 = clock_type::now();
  fd_guard c{connect_to(p->port())};
  auto r = read_for(c.fd, data.size(), 20s);
  CHECK(r.data == data);
  // 10,000 bytes at 20,000 bytes/s: at least nine pauses of 50 ms between 1,000-byte writes.
  CHECK(ms_since(t0) >= 400);
  CHECK(p->counters(id)->bytes_delayed == data.size());
}

TEST_CASE("slicer splits writes into chunks with a delay between them", "[proxy]") {
  const std::string data = pattern(1000);
  script_server srv([&](int fd) {
    write_all(fd, data);
    wait_for_close(fd);
  });
  auto p = start_proxy(srv.port());
  const auto id =
      p->add_toxic(spec("slicer:downstream:average_size=100,size_variation=0,delay=30ms"));
  const auto t0 = clock_type::now();
  fd_guard c{connect_to(p->port())};
  auto r = read_for(c.fd, data.size(), 20s);
  CHECK(r.data == data);
  CHECK(r.reads >= 2);                        // one 1,000-byte write would arrive in one read
  CHECK(ms_since(t0) >= 250);                 // nine 30 ms gaps
  CHECK(p->counters(id)->frames_split >= 10); // 100-byte chunks (more if the data came in pieces)
}

TEST_CASE("limit_data delivers exactly N bytes and then closes", "[proxy]") {
  const std::string data = pattern(10000);
  script_server srv([&](int fd) {
    write_all(fd, data);
    wait_for_close(fd);
  });
  auto p = start_proxy(srv.port());
  const auto id = p->add_toxic(spec("limit_data:downstream:bytes=1234"));
  fd_guard c{connect_to(p->port())};
  auto r = read_for(c.fd, data.size(), 10s);
  CHECK(r.data == data.substr(0, 1234));
  CHECK(r.eof);
  CHECK(p->counters(id)->closes == 1);
}

TEST_CASE("reset_peer resets the client's connection after its delay", "[proxy]") {
  script_server srv([](int fd) { wait_for_close(fd); });
  auto p = start_proxy(srv.port());
  const auto id = p->add_toxic(spec("reset_peer:downstream:delay=100ms"));
  const auto t0 = clock_type::now();
  fd_guard c{connect_to(p->port())};
  auto r = read_for(c.fd, 1, 10s);
  CHECK(r.error == ECONNRESET);
  CHECK(ms_since(t0) >= 90);
  CHECK(p->counters(id)->closes == 1);
}

TEST_CASE("timeout drops data and closes after its timeout, and timeout 0 drops until removed",
          "[proxy]") {
  script_server srv(echo);
  auto p = start_proxy(srv.port());
  SECTION("close after the timeout") {
    const auto id = p->add_toxic(spec("timeout:upstream:timeout=200ms"));
    const auto t0 = clock_type::now();
    fd_guard c{connect_to(p->port())};
    write_all(c.fd, "lost");
    auto r = read_for(c.fd, 1, 10s);
    CHECK(r.data.empty());
    CHECK(r.eof);
    CHECK(ms_since(t0) >= 190);
    auto k = p->counters(id);
    CHECK(k->bytes_dropped == 4);
    CHECK(k->closes == 1);
  }
  SECTION("a blackhole until removed") {
    fd_guard c{connect_to(p->port())};
    write_all(c.fd, "a");
    REQUIRE(read_for(c.fd, 1, 10s).data == "a");
    const auto id = p->add_toxic(spec("timeout:upstream:timeout=0"));
    REQUIRE(eventually([&] { return p->counters(id)->connections_affected == 1; }));
    write_all(c.fd, "lost");
    REQUIRE(eventually([&] { return p->counters(id)->bytes_dropped == 4; }));
    p->remove_toxic(id);
    // The removal reaches the connection's strand before the next bytes are read.
    std::this_thread::sleep_for(50ms);
    write_all(c.fd, "b");
    auto r = read_for(c.fd, 1, 10s);
    CHECK(r.data == "b");
  }
}

TEST_CASE("slow_close holds the close back for its delay", "[proxy]") {
  script_server srv([](int fd) { write_all(fd, "bye"); });
  auto p = start_proxy(srv.port());
  p->add_toxic(spec("slow_close:downstream:delay=300ms"));
  const auto t0 = clock_type::now();
  fd_guard c{connect_to(p->port())};
  auto r = read_for(c.fd, 100, 10s);
  CHECK(r.data == "bye");
  CHECK(r.eof);
  CHECK(ms_since(t0) >= 290);
}

TEST_CASE("partition cuts a chosen fraction of connections off and releases what it held",
          "[proxy]") {
  script_server srv(echo);
  auto p = start_proxy(srv.port(), 42);
  const auto id = p->add_toxic(spec("partition:toxicity=0.5"));
  std::vector<int> fds;
  for (int i = 0; i < 12; ++i) {
    fds.push_back(connect_to(p->port()));
    REQUIRE(fds.back() >= 0);
  }
  for (int i = 0; i < 12; ++i)
    write_all(fds[static_cast<std::size_t>(i)], "x" + std::to_string(i % 10));
  int answered = 0;
  std::vector<int> silent;
  for (int i = 0; i < 12; ++i) {
    auto r = read_for(fds[static_cast<std::size_t>(i)], 2, 300ms);
    if (r.data.size() == 2)
      ++answered;
    else
      silent.push_back(i);
  }
  const auto k = p->counters(id);
  CHECK(k->connections_affected == silent.size());
  CHECK(answered > 0);
  CHECK(!silent.empty());
  p->remove_toxic(id);
  for (int i : silent) {
    auto r = read_for(fds[static_cast<std::size_t>(i)], 2, 10s);
    CHECK(r.data == "x" + std::to_string(i % 10));
  }
  for (int fd : fds)
    ::close(fd);
}

TEST_CASE("scope chooses connections opened before or after the toxic", "[proxy]") {
  script_server srv(echo);
  auto p = start_proxy(srv.port());
  fd_guard old_conn{connect_to(p->port())};
  write_all(old_conn.fd, "o");
  REQUIRE(read_for(old_conn.fd, 1, 10s).data == "o");
  const auto id = p->add_toxic(spec("partition:scope=new"));
  fd_guard new_conn{connect_to(p->port())};
  write_all(new_conn.fd, "n");
  write_all(old_conn.fd, "o");
  CHECK(read_for(old_conn.fd, 1, 10s).data == "o");
  CHECK(read_for(new_conn.fd, 1, 300ms).data.empty());
  CHECK(p->counters(id)->connections_affected == 1);
}

TEST_CASE("refusing new connections gives ECONNREFUSED and keeps the port", "[proxy]") {
  script_server srv(echo);
  auto p = start_proxy(srv.port());
  fd_guard open_conn{connect_to(p->port())};
  // Through the proxy for sure (not waiting in the backlog, which the switch would reset).
  write_all(open_conn.fd, "open");
  REQUIRE(read_for(open_conn.fd, 4, 10s).data == "open");
  p->refuse_new_connections(true);
  // The switch happens on the proxy's thread: a connect racing it may still be accepted or be
  // reset (ECONNRESET) as the listener closes; once it is in force the kernel refuses.
  int err = 0;
  CHECK(eventually([&] {
    int fd = connect_to(p->port(), &err);
    if (fd >= 0)
      ::close(fd);
    return fd < 0 && err == ECONNREFUSED;
  }));
  CHECK(err == ECONNREFUSED);
  write_all(open_conn.fd, "still");
  CHECK(read_for(open_conn.fd, 5, 10s).data == "still");
  p->refuse_new_connections(false);
  int fd = -1;
  CHECK(eventually([&] {
    fd = connect_to(p->port());
    return fd >= 0;
  }));
  fd_guard again{fd};
  write_all(again.fd, "back");
  CHECK(read_for(again.fd, 4, 10s).data == "back");
}

TEST_CASE("an unreachable upstream closes the client's connection and is counted", "[proxy]") {
  std::uint16_t dead_port = 0;
  {
    script_server gone([](int) {});
    dead_port = gone.port();
  }
  auto p = start_proxy(dead_port);
  fd_guard c{connect_to(p->port())};
  auto r = read_for(c.fd, 1, 10s);
  CHECK((r.eof || r.error != 0));
  CHECK(eventually([&] { return p->totals().upstream_connect_failures == 1; }));
}

TEST_CASE("a proxy that cannot listen says why in one line", "[proxy]") {
  proxy::proxy_options o;
  o.listen_host = "not-an-address";
  o.upstream_port = 9;
  std::string err;
  CHECK_FALSE(proxy::fault_proxy::start(o, err));
  CHECK(err.find("not-an-address") != std::string::npos);
  CHECK(err.find('\n') == std::string::npos);
}
