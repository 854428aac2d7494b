#pragma once

// What the end-to-end tests share: a scenario against an embedded server, quiet engine options,
// scratch folders, reading the reports, and tiny blocking HTTP calls to loopback endpoints.

#include "actors/engine.hpp"
#include "config/loader.hpp"
#include "server/server.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <filesystem>
#include <fstream>
#include <map>
#include <netinet/in.h>
#include <sstream>
#include <string>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <vector>

namespace stompede::e2e {

/// An empty scratch folder named after the test and the process.
inline std::string temp_dir(const std::string& name) {
  namespace fs = std::filesystem;
  auto d = fs::temp_directory_path() / ("stompede-e2e-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  return d.string();
}

/// A chat-protocol scenario against `srv`, rooms of 10, no Prometheus listener, plus `extra`.
inline config::scenario make_scenario(server::server& srv, const std::string& extra) {
  std::string text = "[target]\nurl = \"" + srv.ws_url() + "\"\nhttp_url = \"" + srv.http_url() +
                     "\"\n[auth]\nmode = \"login\"\npassword = \"password123!\"\n"
                     "[rooms]\nmembers_per_room = 10\n"
                     "[output]\nprometheus = \"\"\n" +
                     extra;
  auto r = config::load_scenario_text(text, "e2e.toml", {}, {});
  for (auto& p : r.problems)
    FAIL(p.to_string());
  REQUIRE(r.ok());
  return *r.value;
}

/// An embedded server on an ephemeral loopback port, 1,000 members in rooms of 10.
inline server::server_config server_settings() {
  server::server_config cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.users = 1000;
  cfg.room_size = 10;
  return cfg;
}

/// Engine options for a test: reports into `dir`, no progress lines, no signal handling.
inline engine_options quiet_options(const std::string& dir) {
  engine_options o;
  o.out_dir = dir;
  o.quiet = true;
  o.handle_signals = false;
  o.embedded_server_in_process = true;
  return o;
}

inline nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  return nlohmann::json::parse(in);
}

inline std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// The rows of a timeseries.csv, each as column name -> field (RFC 4180 quoting undone).
inline std::vector<std::map<std::string, std::string>> read_timeseries(const std::string& path) {
  auto split = [](const std::string& line) {
    std::vector<std::string> fields(1);
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
      const char c = line[i];
      if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"')
        fields.back() += line[++i];
      else if (c == '"')
        quoted = !quoted;
      else if (c == ',' && !quoted)
        fields.emplace_back();
      else
        fields.back() += c;
    }
    return fields;
  };
  std::istringstream in(read_file(path));
  std::string line;
  std::getline(in, line);
  const auto head = split(line);
  std::vector<std::map<std::string, std::string>> rows;
  while (std::getline(in, line)) {
    const auto f = split(line);
    auto& row = rows.emplace_back();
    for (std::size_t i = 0; i < head.size() && i < f.size(); ++i)
      row[head[i]] = f[i];
  }
  return rows;
}

/// A loopback port that was free a moment ago.
inline std::uint16_t unused_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ::close(fd);
  return ntohs(a.sin_port);
}

/// Sends `request` to 127.0.0.1:`port` and returns everything answered (empty when nothing
/// listens); reads give up after 5 s.
inline std::string http_exchange(std::uint16_t port, const std::string& request) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
    ::close(fd);
    return {};
  }
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  (void)!::write(fd, request.data(), request.size());
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0)
    out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

inline std::string http_get(std::uint16_t port, const std::string& path) {
  return http_exchange(port, "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
}

inline std::string http_post(std::uint16_t port, const std::string& path) {
  return http_exchange(port, "POST " + path +
                                 " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n");
}

} // namespace stompede::e2e
