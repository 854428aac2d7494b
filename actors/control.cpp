#include "actors/control.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace stompede {

namespace {

constexpr const char* help_text =
    "stompede live control (POST):\n"
    "  /target?users=N   hold N users until the current stage ends\n"
    "  /pause            stop sending chat messages (sessions stay connected)\n"
    "  /resume           send again\n"
    "  /end-stage        end the current stage now\n";

bool parse_uint(std::string_view s, std::uint32_t& out) {
  if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string_view::npos)
    return false;
  out = static_cast<std::uint32_t>(std::stoul(std::string{s}));
  return true;
}

/// Splits "host:port" ("[::1]:port" for IPv6) into a socket address.
bool make_address(const std::string& listen, sockaddr_storage& addr, socklen_t& len) {
  auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return false;
  std::string host = listen.substr(0, colon);
  std::uint32_t port = 0;
  if (!parse_uint(std::string_view{listen}.substr(colon + 1), port) || port > 65535)
    return false;
  if (host == "localhost")
    host = "127.0.0.1";
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  std::memset(&addr, 0, sizeof addr);
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  if (inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof(sockaddr_in);
    return true;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<std::uint16_t>(port));
    len = sizeof(sockaddr_in6);
    return true;
  }
  return false;
}

void write_all(int fd, const std::string& data) {
  std::size_t off = 0;
  while (off < data.size()) {
    auto n = ::send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0)
      return;
    off += static_cast<std::size_t>(n);
  }
}

const char* reason(unsigned status) {
  switch (status) {
  case 200:
    return "OK";
  case 400:
    return "Bad Request";
  case 404:
    return "Not Found";
  case 405:
    return "Method Not Allowed";
  default:
    return "Error";
  }
}

} // namespace

std::string describe(const control_command& c) {
  switch (c.kind) {
  case control_command::set_target:
    return "target=" + std::to_string(c.users);
  case control_command::pause:
    return "pause";
  case control_command::resume:
    return "resume";
  case control_command::end_stage:
    return "end-stage";
  }
  return "?";
}

std::optional<control_command> parse_control_request(std::string_view method,
                                                     std::string_view target, unsigned& status,
                                                     std::string& error) {
  auto q = target.find('?');
  auto path = target.substr(0, q);
  auto query = q == std::string_view::npos ? std::string_view{} : target.substr(q + 1);
  control_command c;
  if (path == "/target")
    c.kind = control_command::set_target;
  else if (path == "/pause")
    c.kind = control_command::pause;
  else if (path == "/resume")
    c.kind = control_command::resume;
  else if (path == "/end-stage")
    c.kind = control_command::end_stage;
  else {
    status = 404;
    error = "unknown path; try GET / for the list";
    return std::nullopt;
  }
  if (method != "POST") {
    status = 405;
    error = "use POST";
    return std::nullopt;
  }
  if (c.kind == control_command::set_target) {
    std::string_view users;
    while (!query.empty()) {
      auto amp = query.find('&');
      auto kv = query.substr(0, amp);
      if (kv.substr(0, 6) == "users=")
        users = kv.substr(6);
      query = amp == std::string_view::npos ? std::string_view{} : query.substr(amp + 1);
    }
    if (!parse_uint(users, c.users)) {
      status = 400;
      error = "expected /target?users=N with N a non-negative integer";
      return std::nullopt;
    }
  }
  status = 200;
  return c;
}

std::optional<control_command> command_for_key(char key, std::uint32_t current_target,
                                               bool paused) {
  control_command c;
  auto step = std::max<std::uint32_t>(1, current_target / 10);
  switch (key) {
  case 'p':
  case 'P':
  case ' ':
    c.kind = paused ? control_command::resume : control_command::pause;
    return c;
  case 'n':
  case 'N':
    c.kind = control_command::end_stage;
    return c;
  case '+':
  case '=':
    c.kind = control_command::set_target;
    c.users = current_target + step;
    return c;
  case '-':
  case '_':
    c.kind = control_command::set_target;
    c.users = current_target > step ? current_target - step : 0;
    return c;
  default:
    return std::nullopt;
  }
}

// ---------------------------------------------------------------- HTTP endpoint

std::unique_ptr<control_server> control_server::start(const std::string& listen, control_handler h,
                                                      std::error_code& ec) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (!make_address(listen, addr, len)) {
    ec = std::make_error_code(std::errc::invalid_argument);
    return nullptr;
  }
  int fd = ::socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ec = std::error_code{errno, std::generic_category()};
    return nullptr;
  }
  int one = 1;
  ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || ::listen(fd, 16) != 0) {
    ec = std::error_code{errno, std::generic_category()};
    ::close(fd);
    return nullptr;
  }
  sockaddr_storage bound{};
  socklen_t blen = sizeof bound;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &blen);
  std::unique_ptr<control_server> s{new control_server};
  s->listen_fd_ = fd;
  s->port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                               : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  s->handler_ = std::move(h);
  s->thread_ = std::thread([p = s.get()] { p->serve(); });
  return s;
}

control_server::~control_server() {
  stopping_ = true;
  if (thread_.joinable())
    thread_.join();
  if (listen_fd_ >= 0)
    ::close(listen_fd_);
}

void control_server::serve() {
  while (!stopping_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (::poll(&p, 1, 100) <= 0)
      continue;
    int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0)
      continue;
    answer(fd);
    ::close(fd);
  }
}

void control_server::answer(int fd) {
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string req;
  char buf[1024];
  while (req.find("\r\n\r\n") == std::string::npos && req.size() < 8192) {
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0)
      break;
    req.append(buf, static_cast<std::size_t>(n));
  }
  unsigned status = 400;
  std::string body;
  auto line_end = req.find("\r\n");
  auto line = std::string_view{req}.substr(0, line_end);
  auto sp1 = line.find(' ');
  auto sp2 = sp1 == std::string_view::npos ? sp1 : line.find(' ', sp1 + 1);
  if (line_end == std::string::npos || sp2 == std::string_view::npos) {
    body = "malformed request\n";
  } else {
    auto method = line.substr(0, sp1);
    auto target = line.substr(sp1 + 1, sp2 - sp1 - 1);
    std::string error;
    if (method == "GET" && (target == "/" || target == "/help")) {
      status = 200;
      body = help_text;
    } else if (auto c = parse_control_request(method, target, status, error)) {
      body = handler_(*c) + "\n";
    } else {
      body = error + "\n";
    }
  }
  char head[256];
  std::snprintf(head, sizeof head,
                "HTTP/1.1 %u %s\r\nContent-Type: text/plain; charset=utf-8\r\n"
                "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                status, reason(status), body.size());
  write_all(fd, head + body);
}

// ---------------------------------------------------------------- console keys

struct console_keys::saved_terminal {
  termios original{};
};

console_keys::console_keys(control_handler h, std::function<std::uint32_t()> target,
                           std::function<bool()> paused) {
  if (::isatty(STDIN_FILENO) == 0)
    return;
  saved_ = std::make_unique<saved_terminal>();
  if (::tcgetattr(STDIN_FILENO, &saved_->original) != 0)
    return;
  termios raw = saved_->original;
  // Keys one by one, no echo; Ctrl-C still raises SIGINT (ISIG stays on). A read returns after
  // 100 ms without a key so that the thread notices the end of the run.
  raw.c_lflag &= static_cast<tcflag_t>(~(ICANON | ECHO));
  raw.c_cc[VMIN] = 0;
  raw.c_cc[VTIME] = 1;
  if (::tcsetattr(STDIN_FILENO, TCSANOW, &raw) != 0)
    return;
  active_ = true;
  std::fprintf(stderr, "stompede: keys: p pause/resume sending, n end the stage, +/- target "
                       "by 10%%\n");
  thread_ =
      std::thread([this, h = std::move(h), target = std::move(target), paused = std::move(paused)] {
        while (!stopping_) {
          char key = 0;
          auto n = ::read(STDIN_FILENO, &key, 1);
          if (n < 0)
            ::usleep(100000); // the terminal went away: keep quiet until the end of the run
          if (n <= 0)
            continue;
          if (auto c = command_for_key(key, target(), paused()))
            h(*c);
        }
      });
}

console_keys::~console_keys() {
  stopping_ = true;
  if (thread_.joinable())
    thread_.join();
  if (active_)
    ::tcsetattr(STDIN_FILENO, TCSANOW, &saved_->original);
}

} // namespace stompede
