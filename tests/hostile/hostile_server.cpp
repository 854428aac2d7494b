#include "tests/hostile/hostile_server.hpp"

#include "protocol/stomp_frame.hpp"
#include "protocol/stomp_parser.hpp"

#include <openssl/evp.h>
#include <openssl/sha.h>

#include <arpa/inet.h>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <optional>
#include <poll.h>
#include <stdexcept>
#include <sys/socket.h>
#include <unistd.h>

namespace stompede::hostile {

const char* to_string(misbehaviour m) {
  switch (m) {
  case misbehaviour::none:
    return "none";
  case misbehaviour::refuse_upgrade:
    return "refuse_upgrade";
  case misbehaviour::silent:
    return "silent";
  case misbehaviour::error_on_connect:
    return "error_on_connect";
  case misbehaviour::error_frame:
    return "error_frame";
  case misbehaviour::malformed:
    return "malformed";
  case misbehaviour::oversized:
    return "oversized";
  case misbehaviour::endless:
    return "endless";
  case misbehaviour::huge_ws_frame:
    return "huge_ws_frame";
  case misbehaviour::split_every_byte:
    return "split_every_byte";
  case misbehaviour::stall_mid_frame:
    return "stall_mid_frame";
  case misbehaviour::stop_heartbeats:
    return "stop_heartbeats";
  case misbehaviour::close_mid_frame:
    return "close_mid_frame";
  case misbehaviour::reset:
    return "reset";
  case misbehaviour::raw_garbage:
    return "raw_garbage";
  case misbehaviour::binary_garbage:
    return "binary_garbage";
  case misbehaviour::flood:
    return "flood";
  case misbehaviour::foreign_message:
    return "foreign_message";
  }
  return "?";
}

namespace {

/// The session is over (peer gone, or this side ended it).
struct session_over {};

class conn {
public:
  explicit conn(int fd) : fd_(fd) {}

  /// Reads more bytes into `in`; throws session_over at EOF or error.
  void read_more() {
    char buf[16384];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        in.append(buf, static_cast<std::size_t>(n));
        return;
      }
      if (n < 0 && errno == EINTR)
        continue;
      throw session_over{};
    }
  }

  void need(std::size_t n) {
    while (in.size() < n)
      read_more();
  }

  void write_raw(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        throw session_over{};
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
  }

  /// One unmasked server frame (FIN set).
  void ws_write(std::string_view payload, std::uint8_t opcode = 0x1) {
    std::string h;
    h.push_back(static_cast<char>(0x80 | opcode));
    if (payload.size() < 126) {
      h.push_back(static_cast<char>(payload.size()));
    } else if (payload.size() < 65536) {
      h.push_back(126);
      h.push_back(static_cast<char>(payload.size() >> 8));
      h.push_back(static_cast<char>(payload.size() & 0xff));
    } else {
      h.push_back(127);
      for (int i = 7; i >= 0; --i)
        h.push_back(
            static_cast<char>((static_cast<std::uint64_t>(payload.size()) >> (8 * i)) & 0xff));
    }
    write_raw(h);
    write_raw(payload);
  }

  /// The next complete client message (text or binary), answering pings and closes; throws
  /// session_over after a close.
  std::string ws_read_message() {
    std::string message;
    for (;;) {
      need(2);
      const auto b0 = static_cast<std::uint8_t>(in[0]);
      const auto b1 = static_cast<std::uint8_t>(in[1]);
      std::uint64_t len = b1 & 0x7f;
      std::size_t at = 2;
      if (len == 126) {
        need(4);
        len = (static_cast<std::uint8_t>(in[2]) << 8) | static_cast<std::uint8_t>(in[3]);
        at = 4;
      } else if (len == 127) {
        need(10);
        len = 0;
        for (int i = 0; i < 8; ++i)
          len = (len << 8) | static_cast<std::uint8_t>(in[2 + i]);
        at = 10;
      }
      if (len > (1u << 20))
        throw session_over{};
      const bool masked = b1 & 0x80;
      need(at + (masked ? 4 : 0) + len);
      std::string payload = in.substr(at + (masked ? 4 : 0), len);
      if (masked)
        for (std::size_t i = 0; i < payload.size(); ++i)
          payload[i] = static_cast<char>(payload[i] ^ in[at + (i % 4)]);
      in.erase(0, at + (masked ? 4 : 0) + len);
      const std::uint8_t op = b0 & 0x0f;
      if (op == 0x8) { // close: answer it and end
        ws_write(payload.substr(0, 2), 0x8);
        throw session_over{};
      }
      if (op == 0x9) {
        ws_write(payload, 0xA);
        continue;
      }
      if (op == 0xA)
        continue;
      message += payload;
      if (b0 & 0x80)
        return message;
    }
  }

  int fd() const noexcept {
    return fd_;
  }

  std::string in;

private:
  int fd_;
};

std::string base64(const unsigned char* p, std::size_t n) {
  std::string out(4 * ((n + 2) / 3) + 1, '\0');
  const int len =
      EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), p, static_cast<int>(n));
  out.resize(static_cast<std::size_t>(len));
  return out;
}

std::string header_value(const std::string& head, const std::string& name) {
  // Case-insensitive search for "\r\nname:".
  std::string lower = head;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string key = "\r\n" + name + ":";
  for (auto& c : key)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const auto at = lower.find(key);
  if (at == std::string::npos)
    return {};
  auto from = at + key.size();
  const auto end = head.find("\r\n", from);
  while (from < end && head[from] == ' ')
    ++from;
  return head.substr(from, end - from);
}

std::string http_answer(unsigned status, const std::string& reason, const std::string& body) {
  return "HTTP/1.1 " + std::to_string(status) + " " + reason +
         "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
         "\r\n\r\n" + body;
}

std::uint64_t digits_in(const std::string& s) {
  std::uint64_t v = 0;
  bool any = false;
  for (char c : s) {
    if (c >= '0' && c <= '9') {
      v = v * 10 + static_cast<std::uint64_t>(c - '0');
      any = true;
    } else if (any) {
      break;
    }
  }
  return v;
}

/// Drives one STOMP session after the upgrade.
class stomp_session {
public:
  stomp_session(conn& c, misbehaviour m, std::atomic<std::uint64_t>& flooded)
      : c_(c), m_(m), flooded_(flooded) {}

  void run() {
    for (;;) {
      const std::string msg = c_.ws_read_message();
      parser_.feed(msg);
      stomp::frame_view v;
      for (;;) {
        const auto st = parser_.next(v);
        if (st == stomp::parse_status::frame) {
          on_frame(stomp::frame::from_view(v));
        } else if (st == stomp::parse_status::error) {
          throw session_over{};
        } else if (st == stomp::parse_status::need_more) {
          break;
        }
      }
    }
  }

private:
  void send(const std::string& wire) {
    if (m_ == misbehaviour::split_every_byte) {
      for (char ch : wire)
        c_.ws_write(std::string_view(&ch, 1));
    } else {
      c_.ws_write(wire);
    }
  }

  void receipt_for(const stomp::frame& f) {
    if (auto r = f.get("receipt"))
      send(stomp::encode(stomp::frame(stomp::command::receipt).add("receipt-id", std::string(*r))));
  }

  void on_frame(const stomp::frame& f) {
    if (acted_)
      return; // after the misbehaviour, the client's frames no longer matter
    switch (f.cmd) {
    case stomp::command::connect:
    case stomp::command::stomp: {
      if (m_ == misbehaviour::silent)
        return;
      if (m_ == misbehaviour::error_on_connect) {
        // Escape sequences in server text must not reach the operator's terminal.
        send(stomp::encode(
            stomp::frame(stomp::command::error).add("message", "go away\x1b[31m")));
        ::shutdown(c_.fd(), SHUT_WR);
        acted_ = true;
        return;
      }
      const bool beats = m_ == misbehaviour::stall_mid_frame || m_ == misbehaviour::stop_heartbeats;
      send(stomp::encode(stomp::frame(stomp::command::connected)
                             .add("version", "1.2")
                             .add("heart-beat", beats ? "100,0" : "0,0")
                             .add("server", "hostile/1")));
      return;
    }
    case stomp::command::subscribe:
      sub_ = std::string(f.get("id").value_or("0"));
      destination_ = std::string(f.get("destination").value_or("/topic/x"));
      receipt_for(f);
      act();
      return;
    case stomp::command::send: {
      stomp::frame m(stomp::command::message);
      m.add("subscription", sub_)
          .add("message-id", std::to_string(++ids_))
          .add("destination", destination_);
      m.body = f.body;
      send(stomp::encode(m));
      receipt_for(f);
      return;
    }
    default:
      receipt_for(f);
      return;
    }
  }

  void act() {
    const std::string half = "MESSAGE\nsubscription:" + sub_ + "\nmessage-id:1\n\nhal";
    switch (m_) {
    case misbehaviour::error_frame:
      acted_ = true;
      send(stomp::encode(
          stomp::frame(stomp::command::error).add("message", "hostile\x1b[2J\x07\xc2\x9b")));
      ::shutdown(c_.fd(), SHUT_WR);
      return;
    case misbehaviour::malformed:
      acted_ = true;
      send(std::string("MESSAGE\nthis header line has no colon\n\n\0", 39));
      return;
    case misbehaviour::oversized:
      acted_ = true;
      send("MESSAGE\nsubscription:" + sub_ + "\nmessage-id:1\ncontent-length:10000000\n\n" +
           std::string(1024, 'x'));
      return;
    case misbehaviour::endless: {
      acted_ = true;
      send("MESSAGE\nsubscription:" + sub_ + "\nmessage-id:1\n\n");
      const std::string chunk(16 * 1024, 'a');
      for (int i = 0; i < 256; ++i) // 4 MB; the client gives up after its max_frame
        send(chunk);
      return;
    }
    case misbehaviour::huge_ws_frame:
      acted_ = true;
      c_.write_raw(std::string("\x81\x7f\x40\0\0\0\0\0\0\0", 10) + std::string(4096, 'a'));
      return;
    case misbehaviour::stall_mid_frame:
      acted_ = true;
      send(half);
      return;
    case misbehaviour::stop_heartbeats:
      acted_ = true;
      for (int i = 0; i < 3; ++i) {
        send("\n");
        std::this_thread::sleep_for(std::chrono::milliseconds(40));
      }
      return;
    case misbehaviour::close_mid_frame:
      send(half);
      ::shutdown(c_.fd(), SHUT_WR);
      throw session_over{};
    case misbehaviour::reset: {
      send(half);
      linger l{1, 0};
      ::setsockopt(c_.fd(), SOL_SOCKET, SO_LINGER, &l, sizeof l);
      throw session_over{};
    }
    case misbehaviour::raw_garbage: {
      acted_ = true;
      std::string g = "\xf3\xff\x13garbage";
      for (int i = 0; i < 512; ++i)
        g.push_back(static_cast<char>((i * 131 + 7) & 0xff));
      c_.write_raw(g);
      return;
    }
    case misbehaviour::binary_garbage: {
      acted_ = true;
      std::string g = "\x7f\x01\xfeGARBAGE\xff\n";
      for (int i = 0; i < 512; ++i)
        g.push_back(static_cast<char>((i * 197 + 3) & 0xff));
      c_.ws_write(g, 0x2);
      return;
    }
    case misbehaviour::flood: {
      for (std::uint64_t i = 0; i < hostile_server::flood_frames; ++i) {
        stomp::frame m(stomp::command::message);
        m.add("subscription", sub_)
            .add("message-id", "f" + std::to_string(i))
            .add("destination", destination_);
        m.body = R"({"content":"flood )" + std::to_string(i) + R"("})";
        send(stomp::encode(m));
        flooded_.fetch_add(1);
      }
      return;
    }
    case misbehaviour::foreign_message: {
      acted_ = true;
      stomp::frame m(stomp::command::message);
      m.add("subscription", sub_ + "-not-yours")
          .add("message-id", "foreign-1")
          .add("destination", destination_);
      m.body = R"({"content":"for nobody here"})";
      send(stomp::encode(m));
      stomp::frame n(stomp::command::message);
      n.add("subscription", "sub-77").add("message-id", "foreign-2").add("destination", "/x");
      send(stomp::encode(n));
      return;
    }
    default:
      return;
    }
  }

  conn& c_;
  misbehaviour m_;
  std::atomic<std::uint64_t>& flooded_;
  stomp::parser parser_;
  std::string sub_ = "0";
  std::string destination_ = "/topic/x";
  std::uint64_t ids_ = 0;
  bool acted_ = false;
};

} // namespace

hostile_server::hostile_server(std::vector<misbehaviour> cases, std::size_t per_case,
                               login_answer login)
    : cases_(std::move(cases)), per_case_(per_case == 0 ? 1 : per_case), login_(login) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  ::setsockopt(listen_fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
      ::listen(listen_fd_, 512) != 0)
    throw std::runtime_error("hostile server: cannot listen on 127.0.0.1");
  socklen_t len = sizeof a;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  acceptor_ = std::thread([this] { accept_loop(); });
}

hostile_server::~hostile_server() {
  stop();
}

void hostile_server::stop() {
  if (stopping_.exchange(true))
    return;
  ::shutdown(listen_fd_, SHUT_RDWR);
  acceptor_.join();
  ::close(listen_fd_);
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mx_);
    for (int fd : fds_)
      ::shutdown(fd, SHUT_RDWR);
    threads.swap(threads_);
  }
  for (auto& t : threads)
    t.join();
}

std::map<misbehaviour, std::size_t> hostile_server::upgrades() const {
  std::lock_guard<std::mutex> lock(mx_);
  return upgrades_;
}

misbehaviour hostile_server::case_of(std::uint64_t member) const {
  if (member == 0)
    return misbehaviour::none;
  const std::size_t group = static_cast<std::size_t>((member - 1) / per_case_);
  return group < cases_.size() ? cases_[group] : misbehaviour::none;
}

void hostile_server::accept_loop() {
  while (!stopping_) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED)
        continue;
      return;
    }
    std::lock_guard<std::mutex> lock(mx_);
    if (stopping_) {
      ::close(fd);
      return;
    }
    fds_.push_back(fd);
    threads_.emplace_back([this, fd] { serve(fd); });
  }
}

void hostile_server::serve(int fd) {
  conn c(fd);
  try {
    for (;;) { // HTTP requests until the upgrade (logins may share a keep-alive connection)
      std::size_t end;
      while ((end = c.in.find("\r\n\r\n")) == std::string::npos) {
        if (c.in.size() > 64 * 1024)
          throw session_over{};
        c.read_more();
      }
      const std::string head = c.in.substr(0, end + 2);
      c.in.erase(0, end + 4);
      const std::size_t body_len = digits_in(header_value(head, "content-length"));
      c.need(body_len);
      const std::string body = c.in.substr(0, body_len);
      c.in.erase(0, body_len);

      if (head.rfind("POST ", 0) == 0) {
        const std::uint64_t member = digits_in(body.substr(body.find("user") + 4));
        if (login_ == login_answer::unauthorized) {
          c.write_raw(
              http_answer(401, "Unauthorized", R"({"error":{"message":"bad credentials"}})"));
        } else if (login_ == login_answer::server_error) {
          c.write_raw(http_answer(500, "Internal Server Error",
                                  R"({"error":{"message":"database on fire"}})"));
        } else {
          c.write_raw(http_answer(200, "OK",
                                  R"({"data":{"tokenInfo":{"accessToken":"hostile-member-)" +
                                      std::to_string(member) + R"("},"memberInfo":{"memberId":)" +
                                      std::to_string(member) + "}}}"));
        }
        continue;
      }
      // The upgrade: the member is in the bearer token.
      const std::uint64_t member = digits_in(header_value(head, "authorization"));
      const misbehaviour m = case_of(member);
      {
        std::lock_guard<std::mutex> lock(mx_);
        ++upgrades_[m];
      }
      if (m == misbehaviour::refuse_upgrade) {
        c.write_raw(http_answer(403, "Forbidden", R"({"error":{"message":"no"}})"));
        throw session_over{};
      }
      const std::string key =
          header_value(head, "sec-websocket-key") + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
      unsigned char sha[SHA_DIGEST_LENGTH];
      SHA1(reinterpret_cast<const unsigned char*>(key.data()), key.size(), sha);
      c.write_raw("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: "
                  "Upgrade\r\nSec-WebSocket-Accept: " +
                  base64(sha, sizeof sha) + "\r\n\r\n");
      stomp_session s(c, m, flooded_);
      s.run();
    }
  } catch (const session_over&) {
  }
  std::lock_guard<std::mutex> lock(mx_);
  for (auto& f : fds_)
    if (f == fd)
      f = -1;
  ::close(fd);
}

} // namespace stompede::hostile
