#pragma once

// Plain blocking loopback sockets for the fault proxy's tests: a scripted upstream server (one
// thread per connection, all joined when it is destroyed) and client helpers whose every read
// is bounded by a deadline.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace proxy_test {

using clock_type = std::chrono::steady_clock;
using namespace std::chrono_literals;

inline sockaddr_in loopback(std::uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

/// A connected socket to 127.0.0.1:port, or -1 with `err` set to errno.
inline int connect_to(std::uint16_t port, int* err = nullptr) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  auto a = loopback(port);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    if (err)
      *err = errno;
    ::close(fd);
    return -1;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

inline bool write_all(int fd, std::string_view s) {
  while (!s.empty()) {
    const ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0)
      return false;
    s.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct read_result {
  std::string data;
  int reads = 0;    // successful reads that returned bytes
  bool eof = false; // the peer closed
  int error = 0;    // errno of a failed read (ECONNRESET, ...)
  bool timed_out = false;
};

/// Reads until `want` bytes arrived, EOF, an error, or `deadline` passed.
inline read_result read_for(int fd, std::size_t want, std::chrono::milliseconds deadline) {
  read_result r;
  const auto end = clock_type::now() + deadline;
  char buf[65536];
  while (r.data.size() < want) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(end - clock_type::now()).count();
    if (left <= 0) {
      r.timed_out = true;
      break;
    }
    pollfd p{fd, POLLIN, 0};
    const int pr = ::poll(&p, 1, static_cast<int>(left));
    if (pr == 0) {
      r.timed_out = true;
      break;
    }
    if (pr < 0)
      continue;
    const std::size_t room = std::min(sizeof buf, want - r.data.size());
    const ssize_t n = ::recv(fd, buf, room, 0);
    if (n == 0) {
      r.eof = true;
      break;
    }
    if (n < 0) {
      r.error = errno;
      break;
    }
    ++r.reads;
    r.data.append(buf, static_cast<std::size_t>(n));
  }
  return r;
}

/// A TCP server on 127.0.0.1:<ephemeral>; each connection runs `handler(fd)` on a thread of its
/// own (the fd is closed after the handler returns). Destroying it stops accepting, shuts the
/// open connections down and joins every thread.
class script_server {
public:
  explicit script_server(std::function<void(int)> handler) : handler_(std::move(handler)) {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    auto a = loopback(0);
    ::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
    port_ = ntohs(a.sin_port);
    ::listen(fd_, 128);
    acceptor_ = std::thread([this] { loop(); });
  }

  ~script_server() {
    stop_ = true;
    acceptor_.join();
    {
      std::lock_guard<std::mutex> lk(mu_);
      for (int c : conns_)
        ::shutdown(c, SHUT_RDWR);
    }
    for (auto& t : workers_)
      t.join();
    ::close(fd_);
  }

  std::uint16_t port() const {
    return port_;
  }

  int accepted() const {
    return accepted_.load();
  }

private:
  void loop() {
    while (!stop_) {
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0)
        continue;
      int c = ::accept(fd_, nullptr, nullptr);
      if (c < 0)
        continue;
      int one = 1;
      ::setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      ++accepted_;
      std::lock_guard<std::mutex> lk(mu_);
      conns_.push_back(c);
      workers_.emplace_back([this, c] {
        handler_(c);
        ::shutdown(c, SHUT_RDWR);
      });
    }
  }

  std::function<void(int)> handler_;
  int fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> accepted_{0};
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<int> conns_;
  std::vector<std::thread> workers_;
};

/// Echoes everything until EOF (bounded: 20 s of silence ends it).
inline void echo(int fd) {
  char buf[65536];
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 20000) <= 0)
      return;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      return;
    if (!write_all(fd, std::string_view(buf, static_cast<std::size_t>(n))))
      return;
  }
}

/// Waits (bounded: 10 s) until the peer closes.
inline void wait_for_close(int fd) {
  read_for(fd, static_cast<std::size_t>(-1), 10s);
}

inline std::int64_t ms_since(clock_type::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(clock_type::now() - t).count();
}

/// Polls `pred` every 10 ms for at most `limit`.
template<class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5s) {
  const auto end = clock_type::now() + limit;
  while (clock_type::now() < end) {
    if (pred())
      return true;
    std::this_thread::sleep_for(10ms);
  }
  return pred();
}

struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0)
      ::close(fd);
  }
};

} // namespace proxy_test
