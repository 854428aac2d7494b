// Fan-out throughput of the embedded server, measured from outside: starts `stompede serve
// --mode broker` as a separate process, connects N WebSocket subscribers in rooms of R (topic
// /topic/room.K), lets one member of each room publish at a fixed total rate, and reports, per
// rate step, the MESSAGE frames delivered per second and the frames the server writes per
// second of its own CPU time (read from /proc/<pid>/stat). The subscribers count frames by
// their NUL terminators and parse nothing, so they stay cheap next to the server; their CPU per
// frame is what a bare Beast client costs at that traffic (with `--rates` at 0.26 sends a
// second per user, the seed's load: the floor under stompede's client). It asserts nothing;
// it stops by itself.
//
//   bench_server_fanout [--users 1000] [--room-size 100] [--seconds 8]
//                       [--rates 500,1000,2000,3000] [--stompede path] [--port 18181]
//                       [--ticks 100]

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/websocket.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>
#include <signal.h>
#include <sstream>
#include <string>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>
#include <vector>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
using tcp = net::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

struct options {
  int users = 1000;
  int room_size = 100;
  int seconds = 8;
  std::vector<int> rates{500, 1000, 2000, 3000};
  std::string stompede;
  int port = 18181;
  /// Publishing rounds per second: a subscriber's frames of one round can leave in one write,
  /// so fewer rounds mean bigger batches at the same rate.
  int ticks = 100;
};

double cpu_seconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  const auto close = s.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream in(s.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 3; i <= 15 && in >> field; ++i) {
    if (i == 14)
      utime = std::stoull(field);
    if (i == 15)
      stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double self_cpu_seconds() {
  return cpu_seconds(getpid());
}

class subscriber : public std::enable_shared_from_this<subscriber> {
public:
  subscriber(net::io_context& ioc, std::uint64_t& frames) : ws_(ioc), frames_(frames) {}

  bool open(const tcp::endpoint& ep, const std::string& topic) {
    beast::error_code ec;
    ws_.next_layer().connect(ep, ec);
    if (ec)
      return false;
    ws_.handshake("127.0.0.1", "/ws-stomp", ec);
    if (ec)
      return false;
    ws_.text(true);
    std::string connect = "CONNECT\naccept-version:1.2\nhost:/\nheart-beat:0,0\n\n";
    connect.push_back('\0');
    ws_.write(net::buffer(connect), ec);
    beast::flat_buffer b;
    ws_.read(b, ec); // CONNECTED
    if (ec)
      return false;
    std::string sub = "SUBSCRIBE\nid:0\ndestination:" + topic + "\n\n";
    sub.push_back('\0');
    ws_.write(net::buffer(sub), ec);
    return !ec;
  }

  void start_reading() {
    ws_.async_read_some(
        buf_.prepare(64 * 1024), [self = shared_from_this()](beast::error_code ec, std::size_t n) {
          if (ec)
            return;
          self->buf_.commit(n);
          const auto d = self->buf_.cdata();
          const char* p = static_cast<const char*>(d.data());
          self->frames_ += static_cast<std::uint64_t>(std::count(p, p + d.size(), '\0'));
          self->buf_.consume(d.size());
          self->start_reading();
        });
  }

  void publish(const std::string& wire) {
    // Fire and forget on the same thread: queue so only one write is in flight.
    queue_.push_back(wire);
    if (queue_.size() == 1)
      write_next();
  }

  void close() {
    beast::error_code ec;
    ws_.next_layer().close(ec);
  }

private:
  void write_next() {
    ws_.async_write(net::buffer(queue_.front()),
                    [self = shared_from_this()](beast::error_code ec, std::size_t) {
                      if (ec)
                        return;
                      self->queue_.erase(self->queue_.begin());
                      if (!self->queue_.empty())
                        self->write_next();
                    });
  }

  websocket::stream<tcp::socket> ws_;
  beast::flat_buffer buf_;
  std::uint64_t& frames_;
  std::vector<std::string> queue_;
};

std::vector<int> parse_rates(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ','))
    out.push_back(std::stoi(item));
  return out;
}

std::string default_stompede() {
  char buf[4096];
  const auto n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0)
    return "build/app/stompede";
  std::string self(buf, static_cast<std::size_t>(n));
  return self.substr(0, self.rfind('/')) + "/../app/stompede";
}

} // namespace

int main(int argc, char** argv) {
  options o;
  o.stompede = default_stompede();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string k = argv[i];
    const std::string v = argv[i + 1];
    if (k == "--users")
      o.users = std::stoi(v);
    else if (k == "--room-size")
      o.room_size = std::stoi(v);
    else if (k == "--seconds")
      o.seconds = std::stoi(v);
    else if (k == "--rates")
      o.rates = parse_rates(v);
    else if (k == "--stompede")
      o.stompede = v;
    else if (k == "--port")
      o.port = std::stoi(v);
    else if (k == "--ticks")
      o.ticks = std::stoi(v);
    else {
      std::fprintf(stderr, "bench_server_fanout: unknown option %s\n", k.c_str());
      return 2;
    }
  }
  if (o.ticks < 1 || o.ticks > 10000) {
    std::fprintf(stderr, "bench_server_fanout: --ticks must be 1 to 10000\n");
    return 2;
  }
  const std::string listen = "127.0.0.1:" + std::to_string(o.port);
  const pid_t server = fork();
  if (server == 0) {
    std::freopen("/dev/null", "w", stdout);
    execl(o.stompede.c_str(), o.stompede.c_str(), "serve", "--mode", "broker", "--listen",
          listen.c_str(), static_cast<char*>(nullptr));
    std::perror("exec stompede");
    _exit(127);
  }
  net::io_context ioc(1);
  const tcp::endpoint ep(net::ip::make_address("127.0.0.1"), static_cast<unsigned short>(o.port));
  {
    bool up = false;
    for (int i = 0; i < 100 && !up; ++i) {
      tcp::socket probe(ioc);
      beast::error_code ec;
      probe.connect(ep, ec);
      up = !ec;
      if (!up)
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (!up) {
      std::fprintf(stderr, "bench_server_fanout: %s did not start\n", o.stompede.c_str());
      kill(server, SIGTERM);
      waitpid(server, nullptr, 0);
      return 1;
    }
  }
  std::uint64_t frames = 0;
  std::vector<std::shared_ptr<subscriber>> subs;
  const int rooms = (o.users + o.room_size - 1) / o.room_size;
  for (int i = 0; i < o.users; ++i) {
    auto s = std::make_shared<subscriber>(ioc, frames);
    if (!s->open(ep, "/topic/room." + std::to_string(i / o.room_size))) {
      std::fprintf(stderr, "bench_server_fanout: subscriber %d could not connect\n", i);
      kill(server, SIGTERM);
      waitpid(server, nullptr, 0);
      return 1;
    }
    s->start_reading();
    subs.push_back(std::move(s));
  }
  std::printf("bench_server_fanout: %d subscribers in %d rooms of %d (broker mode, server pid "
              "%d, separate process)\n",
              o.users, rooms, o.room_size, static_cast<int>(server));
  std::printf("%10s %14s %14s %12s %18s %12s %16s\n", "sends/s", "frames/s", "expected/s",
              "server cpu", "frames/server-cpu-s", "client cpu", "client us/frame");
  std::fflush(stdout);
  std::string body(200, 'x');
  for (const int rate : o.rates) {
    // Publishers: member 0 of each room; `ticks` per second (100 by default), drift-free.
    const auto tick = std::chrono::microseconds(1000000 / o.ticks);
    const double per_tick = static_cast<double>(rate) / o.ticks;
    double owed = 0;
    std::uint64_t seq = 0;
    net::steady_timer timer(ioc);
    const auto start = clock_type::now();
    const auto warm = start + std::chrono::seconds(2);
    const auto end = warm + std::chrono::seconds(o.seconds);
    auto next = start;
    double s0 = 0, c0 = 0;
    std::uint64_t f0 = 0;
    bool measuring = false;
    std::function<void(beast::error_code)> on_tick = [&](beast::error_code ec) {
      if (ec)
        return;
      const auto now = clock_type::now();
      if (!measuring && now >= warm) {
        measuring = true;
        s0 = cpu_seconds(server);
        c0 = self_cpu_seconds();
        f0 = frames;
      }
      if (now >= end)
        return;
      owed += per_tick;
      while (owed >= 1.0) {
        owed -= 1.0;
        const int room = static_cast<int>(seq++ % static_cast<std::uint64_t>(rooms));
        std::string send = "SEND\ndestination:/topic/room." + std::to_string(room) +
                           "\ncontent-type:text/plain\n\n" + body;
        send.push_back('\0');
        subs[static_cast<std::size_t>(room * o.room_size)]->publish(send);
      }
      next += tick;
      timer.expires_at(next);
      timer.async_wait(on_tick);
    };
    timer.expires_at(next);
    timer.async_wait(on_tick);
    ioc.restart();
    ioc.run_until(end + std::chrono::milliseconds(200));
    const double s1 = cpu_seconds(server);
    const double c1 = self_cpu_seconds();
    const std::uint64_t got = frames - f0;
    const double secs = std::chrono::duration<double>(clock_type::now() - warm).count();
    const double server_cpu = s1 - s0;
    // The subscribers' (and the few publishers') CPU per frame received: what a bare Beast
    // client that only counts frames costs at this traffic, the floor under stompede's client.
    const double client_cpu = c1 - c0;
    std::printf("%10d %14.0f %14.0f %11.2fc %18.0f %11.2fc %16.2f\n", rate,
                static_cast<double>(got) / secs, static_cast<double>(rate) * o.room_size,
                server_cpu / secs, server_cpu > 0 ? static_cast<double>(got) / server_cpu : 0.0,
                client_cpu / secs, got > 0 ? client_cpu * 1e6 / static_cast<double>(got) : 0.0);
    std::fflush(stdout);
  }
  for (auto& s : subs)
    s->close();
  kill(server, SIGTERM);
  waitpid(server, nullptr, 0);
  return 0;
}
