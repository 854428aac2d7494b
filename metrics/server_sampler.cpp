#include "metrics/server_sampler.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace stompede::metrics {

namespace {

using clock_type = std::chrono::steady_clock;

struct http_target {
  std::string host;
  std::string port = "80";
  std::string path = "/";
};

bool split_http_url(const std::string& url, http_target& out) {
  const std::string scheme = "http://";
  if (url.compare(0, scheme.size(), scheme) != 0)
    return false;
  auto rest = url.substr(scheme.size());
  auto slash = rest.find('/');
  auto authority = rest.substr(0, slash);
  out.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (!authority.empty() && authority[0] == '[') {
    auto close = authority.find(']');
    if (close == std::string::npos)
      return false;
    out.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size() && authority[close + 1] == ':')
      out.port = authority.substr(close + 2);
  } else {
    auto colon = authority.rfind(':');
    out.host = authority.substr(0, colon);
    if (colon != std::string::npos)
      out.port = authority.substr(colon + 1);
  }
  return !out.host.empty();
}

/// A blocking HTTP/1.0 GET bounded by `timeout` for connect and for each read; the body, or
/// false with `why`.
bool http_get(const std::string& url, std::chrono::milliseconds timeout, std::string& body,
              std::string& why) {
  http_target t;
  if (!split_http_url(url, t)) {
    why = "not an http:// URL";
    return false;
  }
  addrinfo hints{};
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (int rc = getaddrinfo(t.host.c_str(), t.port.c_str(), &hints, &res); rc != 0) {
    why = gai_strerror(rc);
    return false;
  }
  int fd = ::socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) {
    why = std::strerror(errno);
    freeaddrinfo(res);
    return false;
  }
  int rc = ::connect(fd, res->ai_addr, res->ai_addrlen);
  freeaddrinfo(res);
  if (rc != 0 && errno == EINPROGRESS) {
    pollfd p{fd, POLLOUT, 0};
    int err = 0;
    socklen_t len = sizeof err;
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1 ||
        getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
      why = err != 0 ? std::strerror(err) : "connect timed out";
      ::close(fd);
      return false;
    }
  } else if (rc != 0) {
    why = std::strerror(errno);
    ::close(fd);
    return false;
  }
  std::string req = "GET " + t.path + " HTTP/1.0\r\nHost: " + t.host +
                    "\r\nAccept: text/plain\r\nUser-Agent: stompede\r\n\r\n";
  std::string resp;
  std::size_t sent = 0;
  char buf[8192];
  while (true) {
    pollfd p{fd, static_cast<short>(sent < req.size() ? POLLOUT : POLLIN), 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) {
      why = "no answer in time";
      ::close(fd);
      return false;
    }
    if (sent < req.size()) {
      auto n = ::send(fd, req.data() + sent, req.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        why = std::strerror(errno);
        ::close(fd);
        return false;
      }
      sent += static_cast<std::size_t>(n);
      continue;
    }
    auto n = ::recv(fd, buf, sizeof buf, 0);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
      continue;
    if (n <= 0)
      break;
    resp.append(buf, static_cast<std::size_t>(n));
    if (resp.size() > 8 * 1024 * 1024) {
      why = "answer larger than 8 MiB";
      ::close(fd);
      return false;
    }
  }
  ::close(fd);
  auto head_end = resp.find("\r\n\r\n");
  if (resp.compare(0, 5, "HTTP/") != 0 || head_end == std::string::npos) {
    why = "not an HTTP answer";
    return false;
  }
  auto sp = resp.find(' ');
  if (sp == std::string::npos || resp.compare(sp + 1, 3, "200") != 0) {
    why = "HTTP status " + resp.substr(sp + 1, 3);
    return false;
  }
  body = resp.substr(head_end + 4);
  return true;
}

bool wanted(const prometheus_sample& s, const std::vector<std::string>& names) {
  return std::find(names.begin(), names.end(), s.name) != names.end() ||
         std::find(names.begin(), names.end(), s.series) != names.end();
}

} // namespace

bool read_process_usage(std::int64_t pid, double& cpu_seconds, double& rss_bytes) {
  const std::string base = "/proc/" + std::to_string(pid);
  std::ifstream stat(base + "/stat");
  std::string line;
  if (!std::getline(stat, line))
    return false;
  // The command name may contain spaces and parentheses: fields follow the last ')'.
  auto close = line.rfind(')');
  if (close == std::string::npos)
    return false;
  std::istringstream fields(line.substr(close + 2));
  std::string f;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && fields >> f; ++i) {
    if (i == 14)
      utime = std::strtoull(f.c_str(), nullptr, 10);
    if (i == 15)
      stime = std::strtoull(f.c_str(), nullptr, 10);
  }
  long ticks = sysconf(_SC_CLK_TCK);
  cpu_seconds = static_cast<double>(utime + stime) / static_cast<double>(ticks > 0 ? ticks : 100);
  std::ifstream status(base + "/status");
  rss_bytes = 0;
  while (std::getline(status, line)) {
    if (line.compare(0, 6, "VmRSS:") == 0) {
      rss_bytes = std::strtod(line.c_str() + 6, nullptr) * 1024.0;
      return true;
    }
  }
  return true; // a zombie has no VmRSS
}

std::vector<prometheus_sample> parse_prometheus_text(std::string_view text) {
  std::vector<prometheus_sample> out;
  std::map<std::string, std::string, std::less<>> types;
  std::size_t at = 0;
  while (at < text.size()) {
    auto nl = text.find('\n', at);
    auto line = text.substr(at, nl == std::string_view::npos ? std::string_view::npos : nl - at);
    at = nl == std::string_view::npos ? text.size() : nl + 1;
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (line.empty())
      continue;
    if (line[0] == '#') {
      // "# TYPE name type"
      if (line.substr(0, 7) == "# TYPE ") {
        auto rest = line.substr(7);
        auto sp = rest.find(' ');
        if (sp != std::string_view::npos)
          types[std::string{rest.substr(0, sp)}] = std::string{rest.substr(sp + 1)};
      }
      continue;
    }
    prometheus_sample s;
    std::size_t name_end = line.find_first_of("{ ");
    if (name_end == std::string_view::npos)
      continue;
    s.name = std::string{line.substr(0, name_end)};
    std::size_t value_at = name_end;
    if (line[name_end] == '{') {
      // Label values may contain '}' inside quotes.
      bool quoted = false;
      std::size_t i = name_end + 1;
      for (; i < line.size(); ++i) {
        if (line[i] == '\\' && quoted) {
          ++i;
          continue;
        }
        if (line[i] == '"')
          quoted = !quoted;
        else if (line[i] == '}' && !quoted)
          break;
      }
      if (i >= line.size())
        continue;
      s.has_labels = i > name_end + 1;
      value_at = i + 1;
    }
    s.series = std::string{line.substr(0, value_at)};
    auto rest = line.substr(value_at);
    while (!rest.empty() && rest.front() == ' ')
      rest.remove_prefix(1);
    std::string value{rest.substr(0, rest.find(' '))};
    if (value.empty())
      continue;
    char* end = nullptr;
    s.value = std::strtod(value.c_str(), &end);
    if (end != value.c_str() + value.size())
      continue;
    auto it = types.find(s.name);
    s.type = it != types.end() ? it->second : "untyped";
    out.push_back(std::move(s));
  }
  return out;
}

std::unique_ptr<server_sampler> server_sampler::start(server_sampler_config cfg) {
  if (cfg.pid <= 0 && cfg.prometheus_url.empty())
    return nullptr;
  std::unique_ptr<server_sampler> s{new server_sampler(std::move(cfg))};
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

server_sampler::server_sampler(server_sampler_config cfg) : cfg_(std::move(cfg)) {
  if (!cfg_.csv_path.empty()) {
    csv_ = std::fopen(cfg_.csv_path.c_str(), "wb");
    if (csv_ != nullptr) {
      std::fprintf(csv_, "elapsed_s,series,value\n");
      std::fflush(csv_);
    }
  }
}

server_sampler::~server_sampler() {
  stop();
  if (csv_ != nullptr)
    std::fclose(csv_);
}

void server_sampler::stop() {
  stopping_ = true;
  if (thread_.joinable())
    thread_.join();
}

std::vector<report_series> server_sampler::series() const {
  std::lock_guard<std::mutex> guard(mutex_);
  return series_;
}

void server_sampler::run() {
  auto t0 = clock_type::now();
  auto next = t0;
  while (!stopping_) {
    sample(std::chrono::duration<double>(clock_type::now() - t0).count());
    next += cfg_.interval;
    // Sleep in short steps so that stop() is quick.
    while (!stopping_ && clock_type::now() < next)
      std::this_thread::sleep_for(
          std::min<clock_type::duration>(next - clock_type::now(), std::chrono::milliseconds(50)));
  }
}

void server_sampler::add(const std::string& name, const std::string& unit, double t, double v) {
  {
    std::lock_guard<std::mutex> guard(mutex_);
    auto it = std::find_if(series_.begin(), series_.end(),
                           [&](const report_series& s) { return s.name == name; });
    if (it == series_.end()) {
      series_.push_back({name, unit, {}});
      it = series_.end() - 1;
    }
    it->points.emplace_back(t, v);
  }
  if (csv_ != nullptr) {
    std::string field = name;
    if (field.find_first_of(",\"\n") != std::string::npos) {
      std::string q = "\"";
      for (char c : field)
        q += c == '"' ? std::string{"\"\""} : std::string(1, c);
      field = q + "\"";
    }
    std::fprintf(csv_, "%.3f,%s,%.6g\n", t, field.c_str(), v);
    std::fflush(csv_);
  }
}

void server_sampler::sample(double t) {
  double dt = last_t_ >= 0 ? t - last_t_ : 0.0;
  if (cfg_.pid > 0 && !pid_failed_) {
    double cpu = 0, rss = 0;
    if (read_process_usage(cfg_.pid, cpu, rss)) {
      if (last_cpu_ >= 0 && dt > 0)
        add("server CPU", "% of one core", t, 100.0 * (cpu - last_cpu_) / dt);
      add("server RSS", "MiB", t, rss / (1024.0 * 1024.0));
      last_cpu_ = cpu;
    } else {
      pid_failed_ = true;
      std::fprintf(stderr,
                   "stompede: server_metrics: process %lld cannot be read (gone?); no "
                   "more CPU/RSS samples\n",
                   static_cast<long long>(cfg_.pid));
    }
  }
  if (!cfg_.prometheus_url.empty()) {
    std::string body, why;
    if (!http_get(cfg_.prometheus_url, std::chrono::milliseconds(900), body, why)) {
      if (!scrape_failed_)
        std::fprintf(stderr, "stompede: server_metrics: cannot scrape %s: %s (trying on)\n",
                     cfg_.prometheus_url.c_str(), why.c_str());
      scrape_failed_ = true;
    } else {
      auto samples = parse_prometheus_text(body);
      if (cfg_.names.empty() && !auto_chosen_) {
        for (auto& s : samples)
          if (!s.has_labels && auto_series_.size() < cfg_.max_auto_series &&
              (s.type == "gauge" || s.type == "counter" || s.type == "untyped"))
            auto_series_.push_back(s.series);
        auto_chosen_ = true;
      }
      for (auto& s : samples) {
        bool keep = cfg_.names.empty() ? std::find(auto_series_.begin(), auto_series_.end(),
                                                   s.series) != auto_series_.end()
                                       : wanted(s, cfg_.names);
        if (!keep)
          continue;
        if (s.type == "counter") {
          // Counters are shown as a rate: what happened per second.
          auto it = last_counter_.find(s.series);
          if (it != last_counter_.end() && dt > 0 && s.value >= it->second)
            add(s.series, "per second", t, (s.value - it->second) / dt);
          last_counter_[s.series] = s.value;
        } else {
          add(s.series, "", t, s.value);
        }
      }
    }
  }
  last_t_ = t;
}

} // namespace stompede::metrics
