// The fault proxy on Asio: one connection = a client socket and an upstream socket on one
// strand, two pipes (upstream = client -> server, downstream = server -> client). Each pipe
// reads, follows the HTTP upgrade and the WebSocket frames (and, while a protocol-aware toxic
// needs it, the STOMP frames inside them), queues what it will write as segments with release
// times, and one writer per pipe writes the queue in order, applying the network toxics.

#include "proxy/fault_proxy.hpp"

#include "protocol/stomp_frame.hpp"
#include "protocol/stomp_parser.hpp"
#include "proxy/ws_frame.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <deque>
#include <map>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <sys/socket.h>

namespace stompede::proxy {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using clock_type = std::chrono::steady_clock;

namespace {

constexpr std::size_t read_chunk = 4096; // per pipe: a connection costs two of these
// A pipe stops reading while this much waits to be written (TCP backs up behind it) and
// reads again below the second figure.
constexpr std::size_t pause_reading_at = 4u << 20;
constexpr std::size_t resume_reading_at = 1u << 20;
// The largest WebSocket frame collected whole (protocol-aware toxics); beyond, the pipe is
// followed as opaque bytes.
constexpr std::uint64_t max_collected_frame = 64ull << 20;
constexpr std::size_t max_http_head = 64 * 1024;
constexpr auto close_grace = std::chrono::seconds(2);
constexpr auto accept_retry = std::chrono::milliseconds(100);

std::uint64_t splitmix(std::uint64_t& s) {
  std::uint64_t z = (s += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

std::uint64_t mix(std::uint64_t a, std::uint64_t b) {
  std::uint64_t s = a ^ (b * 0xD6E8FEB86659FD93ull);
  return splitmix(s);
}

double unit(std::uint64_t h) {
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

bool pick(double fraction, std::uint64_t h) {
  if (fraction >= 1.0)
    return true;
  if (fraction <= 0.0)
    return false;
  return unit(h) < fraction;
}

bool icontains(std::string_view hay, std::string_view needle) {
  auto it = std::search(hay.begin(), hay.end(), needle.begin(), needle.end(), [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) ==
           std::tolower(static_cast<unsigned char>(b));
  });
  return it != hay.end();
}

// The value of header `name` in an HTTP head (case-insensitive name), empty when absent.
std::string_view http_header(std::string_view head, std::string_view name) {
  std::size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos + 2 < head.size()) {
    const std::size_t start = pos + 2;
    const std::size_t end = head.find("\r\n", start);
    const std::string_view line =
        head.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start);
    const std::size_t colon = line.find(':');
    if (colon != std::string_view::npos && colon == name.size() &&
        icontains(line.substr(0, colon), name)) {
      std::string_view v = line.substr(colon + 1);
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t'))
        v.remove_prefix(1);
      return v;
    }
    pos = end;
  }
  return {};
}

stomp::parser_limits proxy_limits() {
  stomp::parser_limits l;
  l.max_frame_bytes = static_cast<std::size_t>(max_collected_frame);
  l.max_body_bytes = static_cast<std::size_t>(max_collected_frame);
  l.max_headers = 4096;
  l.max_header_line = 1u << 20;
  return l;
}

void bump(std::atomic<std::uint64_t>& a, std::uint64_t n = 1) {
  a.fetch_add(n, std::memory_order_relaxed);
}

// Moves a cut point back onto a UTF-8 character boundary (a text message must stay valid
// UTF-8 in every part).
std::size_t utf8_boundary(std::string_view s, std::size_t cut) {
  std::size_t c = cut;
  while (c > 0 && c < s.size() && (static_cast<unsigned char>(s[c]) & 0xC0) == 0x80)
    --c;
  return c;
}

} // namespace

/// A toxic in the proxy's table, shared with the connections it applies to.
struct entry {
  toxic_id id = 0;
  toxic spec;
  std::uint64_t first_new_ordinal = 0; // connections with this ordinal or later are "new"
  std::atomic<bool> active{true};
  std::atomic<std::uint64_t> connections_affected{0}, connections_skipped{0}, bytes_delayed{0},
      bytes_dropped{0}, frames_delayed{0}, frames_dropped{0}, frames_split{0}, frames_injected{0},
      heartbeats_dropped{0}, closes{0};

  toxic_counters snapshot() const {
    toxic_counters c;
    c.connections_affected = connections_affected.load(std::memory_order_relaxed);
    c.connections_skipped = connections_skipped.load(std::memory_order_relaxed);
    c.bytes_delayed = bytes_delayed.load(std::memory_order_relaxed);
    c.bytes_dropped = bytes_dropped.load(std::memory_order_relaxed);
    c.frames_delayed = frames_delayed.load(std::memory_order_relaxed);
    c.frames_dropped = frames_dropped.load(std::memory_order_relaxed);
    c.frames_split = frames_split.load(std::memory_order_relaxed);
    c.frames_injected = frames_injected.load(std::memory_order_relaxed);
    c.heartbeats_dropped = heartbeats_dropped.load(std::memory_order_relaxed);
    c.closes = closes.load(std::memory_order_relaxed);
    return c;
  }
};

class connection;

struct fault_proxy::impl : std::enable_shared_from_this<fault_proxy::impl> {
  proxy_options opts;
  std::unique_ptr<asio::io_context> own_io;
  asio::io_context* io = nullptr;
  using guard_type = asio::executor_work_guard<asio::io_context::executor_type>;
  std::unique_ptr<guard_type> guard;
  std::vector<std::thread> threads;
  std::unique_ptr<asio::strand<asio::io_context::executor_type>> accept_strand;
  std::unique_ptr<tcp::acceptor> acceptor;
  std::unique_ptr<asio::steady_timer> retry_timer;
  tcp::endpoint bound;
  std::vector<tcp::endpoint> upstream;

  mutable std::mutex mu;
  std::map<toxic_id, std::shared_ptr<entry>> entries;
  toxic_id next_id = 1;
  std::uint64_t next_ordinal = 1;
  std::map<std::uint64_t, std::weak_ptr<connection>> live;
  bool stopped = false;

  // accept strand only
  bool refusing = false;
  bool accepting = false;
  bool listening = true;

  std::atomic<std::uint64_t> accepted{0}, refused{0}, open{0}, connect_failures{0}, bytes_up{0},
      bytes_down{0}, compressed{0};

  std::string open_listener(std::string& error);
  void accept();
  void on_accepted(const boost::system::error_code& ec, tcp::socket s);
  void apply_refusing(bool on);
  bool chosen(const entry& e, std::uint64_t ordinal) const {
    const toxic& t = e.spec;
    if (t.scope == toxic_scope::new_connections && ordinal < e.first_new_ordinal)
      return false;
    if (t.scope == toxic_scope::existing_connections && ordinal >= e.first_new_ordinal)
      return false;
    return pick(t.toxicity, mix(mix(mix(opts.seed, t.seed), e.id), ordinal));
  }
};

class connection : public std::enable_shared_from_this<connection> {
public:
  connection(std::shared_ptr<fault_proxy::impl> owner, tcp::socket client, std::uint64_t ordinal)
      : owner_(std::move(owner)), ordinal_(ordinal), client_(std::move(client)),
        server_(client_.get_executor()), connect_timer_(client_.get_executor()),
        close_timer_(client_.get_executor()), up_(0, client_.get_executor()),
        down_(1, client_.get_executor()) {
    up_.src = &client_;
    up_.dst = &server_;
    down_.src = &server_;
    down_.dst = &client_;
    rng_ = mix(owner_->opts.seed, ordinal_);
  }

  ~connection() {
    bump(owner_->open, static_cast<std::uint64_t>(-1));
    std::lock_guard<std::mutex> lk(owner_->mu);
    owner_->live.erase(ordinal_);
  }

  asio::any_io_executor executor() {
    return client_.get_executor();
  }

  void start(std::vector<std::shared_ptr<entry>> initial) {
    for (auto& e : initial)
      toxics_.push_back(make_applied(std::move(e)));
    boost::system::error_code ec;
    client_.set_option(tcp::no_delay(true), ec);
    connect_timer_.expires_after(owner_->opts.connect_timeout);
    connect_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e && !self->connected_ && !self->closed_) {
        bump(self->owner_->connect_failures);
        self->close_all(false, false);
      }
    });
    asio::async_connect(
        server_, owner_->upstream,
        [self = shared_from_this()](const boost::system::error_code& e, const tcp::endpoint&) {
          self->on_connected(e);
        });
  }

  void attach(std::shared_ptr<entry> e) {
    if (closed_)
      return;
    toxics_.push_back(make_applied(std::move(e)));
    if (connected_)
      activate(toxics_.back());
  }

  void detach(toxic_id id) {
    if (closed_)
      return;
    auto it = std::find_if(toxics_.begin(), toxics_.end(),
                           [&](const applied& a) { return a.e->id == id; });
    if (it == toxics_.end())
      return;
    if (it->timer)
      it->timer->cancel();
    toxics_.erase(it);
    for (pipe* p : {&up_, &down_}) {
      // What the toxic delayed is released now; it still goes out in order.
      for (auto& s : p->q) {
        auto d = std::remove_if(s.delays.begin(), s.delays.end(),
                                [&](const auto& x) { return x.first == id; });
        if (d != s.delays.end()) {
          s.delays.erase(d, s.delays.end());
          s.release = s.arrival;
          for (const auto& x : s.delays)
            s.release += x.second;
        }
      }
      p->pending.erase(std::remove_if(p->pending.begin(), p->pending.end(),
                                      [&](const pending_action& a) { return a.e->id == id; }),
                       p->pending.end());
      rewake(*p);
    }
  }

  void abort() {
    close_all(false, false);
  }

private:
  enum class phase : std::uint8_t { http, ws, opaque };

  struct applied {
    std::shared_ptr<entry> e;
    std::unique_ptr<asio::steady_timer> timer;
    std::uint64_t base_written[2] = {0, 0};
    std::uint64_t frame_counter = 0;
    // frame_throttle: the earliest time the next matching frame may go, per pipe
    clock_type::time_point next_slot[2] = {};
    bool activated = false;
    bool skipped = false;        // protocol-aware toxic on a connection it cannot act on
    bool waiting_for_ws = false; // ws_close / inject_error due before the upgrade completed
  };

  static applied make_applied(std::shared_ptr<entry> e) {
    applied a;
    a.e = std::move(e);
    return a;
  }

  struct segment {
    std::string bytes;
    std::size_t offset = 0;
    clock_type::time_point arrival;
    clock_type::time_point release;
    std::vector<std::pair<toxic_id, clock_type::duration>> delays;
    bool close_after = false; // an injected close frame: then wait for the peer's reply
  };

  // A close frame or an ERROR frame waiting for a frame boundary in a pipe's output.
  struct pending_action {
    std::shared_ptr<entry> e;
  };

  struct pipe {
    pipe(int i, const asio::any_io_executor& ex) : index(i), wait(ex), parser(proxy_limits()) {}
    int index; // 0 = upstream (client -> server), 1 = downstream
    tcp::socket* src = nullptr;
    tcp::socket* dst = nullptr;
    char rbuf[read_chunk];
    bool reading = false, read_paused = false, src_eof = false, eof_sent = false;
    bool slow_close_done = false;
    phase ph = phase::http;
    std::string head;
    std::string in;
    std::uint64_t passthrough_left = 0;
    bool in_message = false;
    bool msg_collect = false;
    std::uint8_t msg_op = ws::text;
    std::string msg_payload;
    bool engaged = false;
    bool stomp_broken = false;
    bool sealed = false;
    bool watch_close = false;
    std::vector<pending_action> pending;
    std::deque<segment> q;
    std::size_t queued = 0;
    bool writing = false, waiting = false;
    asio::steady_timer wait;
    clock_type::time_point next_write_ok{};
    std::uint64_t written = 0;
    stomp::parser parser;
    std::string raw; // bytes fed to the parser and not yet consumed
  };

  // ---- toxics ----------------------------------------------------------------------------

  direction dir_of(const pipe& p) const {
    return p.index == 0 ? direction::upstream : direction::downstream;
  }

  bool acts_on(const applied& a, const pipe& p) const {
    if (!a.activated || a.skipped)
      return false;
    const toxic& t = a.e->spec;
    if (t.kind == toxic_kind::partition)
      return true;
    if (t.kind == toxic_kind::inject_error)
      return p.index == 1;
    return t.dir == direction::both || t.dir == dir_of(p);
  }

  template<class F>
  void each(const pipe& p, toxic_kind k, F&& f) {
    for (auto& a : toxics_)
      if (a.e->spec.kind == k && acts_on(a, p))
        f(a);
  }

  applied* first(const pipe& p, toxic_kind k) {
    for (auto& a : toxics_)
      if (a.e->spec.kind == k && acts_on(a, p))
        return &a;
    return nullptr;
  }

  bool paused(const pipe& p) {
    return first(p, toxic_kind::partition) || first(p, toxic_kind::timeout);
  }

  bool wants_stomp(const pipe& p) {
    if (p.stomp_broken || compressed_)
      return false;
    for (auto& a : toxics_) {
      if (!acts_on(a, p))
        continue;
      switch (a.e->spec.kind) {
      case toxic_kind::frame_delay:
      case toxic_kind::frame_drop:
      case toxic_kind::heartbeat_stall:
      case toxic_kind::frame_split:
      case toxic_kind::frame_throttle:
      case toxic_kind::inject_error:
        return true;
      default:
        break;
      }
    }
    return false;
  }

  std::uint64_t next_rand() {
    return splitmix(rng_);
  }

  clock_type::duration jittered(std::chrono::milliseconds base, std::chrono::milliseconds jitter) {
    auto d = std::chrono::duration_cast<clock_type::duration>(base);
    if (jitter.count() > 0) {
      const auto j = std::chrono::duration_cast<clock_type::duration>(jitter).count();
      const auto r =
          static_cast<std::int64_t>(next_rand() % static_cast<std::uint64_t>(2 * j + 1)) - j;
      d += clock_type::duration(r);
    }
    return d < clock_type::duration::zero() ? clock_type::duration::zero() : d;
  }

  void start_timer(applied& a, std::chrono::milliseconds after, void (connection::*fn)(toxic_id)) {
    a.timer = std::make_unique<asio::steady_timer>(client_.get_executor());
    a.timer->expires_after(after);
    a.timer->async_wait(
        [self = shared_from_this(), id = a.e->id, fn](const boost::system::error_code& ec) {
          if (!ec && !self->closed_)
            ((*self).*fn)(id);
        });
  }

  applied* find(toxic_id id) {
    for (auto& a : toxics_)
      if (a.e->id == id)
        return &a;
    return nullptr;
  }

  void activate(applied& a) {
    a.activated = true;
    bump(a.e->connections_affected);
    const toxic& t = a.e->spec;
    if (is_protocol_kind(t.kind) && protocol_impossible()) {
      skip(a);
      return;
    }
    switch (t.kind) {
    case toxic_kind::timeout:
      if (t.timeout.count() > 0)
        start_timer(a, t.timeout, &connection::fire_timeout);
      break;
    case toxic_kind::reset_peer:
      start_timer(a, t.delay, &connection::fire_reset);
      break;
    case toxic_kind::limit_data:
      a.base_written[0] = up_.written;
      a.base_written[1] = down_.written;
      break;
    case toxic_kind::ws_close:
    case toxic_kind::inject_error:
      start_timer(a, t.delay, &connection::fire_frame_action);
      break;
    default:
      break;
    }
    rewake(up_);
    rewake(down_);
  }

  bool protocol_impossible() const {
    return compressed_ || down_.ph == phase::opaque;
  }

  void skip(applied& a) {
    if (!a.skipped) {
      a.skipped = true;
      bump(a.e->connections_skipped);
    }
  }

  void fire_timeout(toxic_id id) {
    if (applied* a = find(id)) {
      bump(a->e->closes);
      close_all(false, false);
    }
  }

  void fire_reset(toxic_id id) {
    if (applied* a = find(id)) {
      bump(a->e->closes);
      const direction d = a->e->spec.dir;
      close_all(d != direction::upstream, d != direction::downstream);
    }
  }

  // ws_close and inject_error: due now; wait for the upgrade and a frame boundary.
  void fire_frame_action(toxic_id id) {
    applied* a = find(id);
    if (!a || a->skipped)
      return;
    if (down_.ph == phase::http) {
      a->waiting_for_ws = true;
      return;
    }
    queue_frame_action(*a);
  }

  void queue_frame_action(applied& a) {
    a.waiting_for_ws = false;
    if (protocol_impossible()) {
      skip(a);
      return;
    }
    const toxic& t = a.e->spec;
    if (t.kind == toxic_kind::inject_error) {
      down_.pending.push_back(pending_action{a.e});
      try_pending(down_);
      return;
    }
    if (t.dir != direction::downstream) {
      up_.pending.push_back(pending_action{a.e});
      try_pending(up_);
    }
    if (t.dir != direction::upstream) {
      down_.pending.push_back(pending_action{a.e});
      try_pending(down_);
    }
  }

  // Emits the pipe's pending close / ERROR frames where the output is at a boundary.
  void try_pending(pipe& p) {
    while (!p.pending.empty() && !closed_ && !p.sealed) {
      if (p.passthrough_left > 0)
        return; // in the middle of a frame being copied
      pending_action act = p.pending.front();
      const toxic& t = act.e->spec;
      if (t.kind == toxic_kind::inject_error) {
        if (p.in_message || (p.engaged && p.parser.buffered() > 0))
          return; // inside a fragmented message or a STOMP frame
        stomp::frame f(stomp::command::error);
        f.add("message", t.error_message);
        f.body = t.error_body;
        std::string out;
        ws::append_frame(out, true, ws::text, stomp::encode(f), nullptr);
        p.pending.erase(p.pending.begin());
        bump(act.e->frames_injected);
        emit(p, std::move(out), {}, true, false);
      } else { // ws_close
        std::string out;
        std::uint8_t mask[4];
        const std::uint64_t r = next_rand();
        for (int i = 0; i < 4; ++i)
          mask[i] = static_cast<std::uint8_t>(r >> (8 * i));
        ws::append_frame(out, true, ws::close, ws::close_payload(t.close_code, t.close_reason),
                         p.index == 0 ? mask : nullptr);
        p.pending.clear(); // nothing goes after a close frame
        bump(act.e->closes);
        p.sealed = true;
        emit(p, std::move(out), {}, true, true);
      }
    }
  }

  // ---- connecting, reading ---------------------------------------------------------------

  void on_connected(const boost::system::error_code& ec) {
    if (closed_)
      return;
    connect_timer_.cancel();
    if (ec) {
      bump(owner_->connect_failures);
      close_all(false, false);
      return;
    }
    connected_ = true;
    boost::system::error_code ignored;
    server_.set_option(tcp::no_delay(true), ignored);
    for (std::size_t i = 0; i < toxics_.size(); ++i)
      if (!toxics_[i].activated)
        activate(toxics_[i]);
    read(up_);
    read(down_);
  }

  void read(pipe& p) {
    if (closed_ || p.reading || p.read_paused || p.src_eof)
      return;
    p.reading = true;
    p.src->async_read_some(
        asio::buffer(p.rbuf, sizeof p.rbuf),
        [self = shared_from_this(), &p](const boost::system::error_code& ec, std::size_t n) {
          p.reading = false;
          if (self->closed_)
            return;
          if (ec) {
            if (ec == asio::error::eof) {
              p.src_eof = true;
              self->flush_partial(p);
              self->pump(p);
            } else {
              self->close_all(false, false);
            }
            return;
          }
          self->on_bytes(p, std::string_view(p.rbuf, n));
          if (self->closed_)
            return;
          if (p.queued >= pause_reading_at)
            p.read_paused = true;
          else
            self->read(p);
        });
  }

  void on_bytes(pipe& p, std::string_view data) {
    if ((p.sealed && !p.watch_close) || data.empty())
      return;
    switch (p.ph) {
    case phase::opaque:
      emit(p, std::string(data));
      return;
    case phase::ws:
      p.in.append(data);
      process_ws(p);
      return;
    case phase::http:
      break;
    }
    p.head.append(data);
    // A WebSocket upgrade starts with "GET " and its answer with "HTTP/"; any other stream is
    // copied through as it comes, without waiting for a head that will never end.
    const std::string_view expect = p.index == 0 ? "GET " : "HTTP/";
    const std::size_t n = std::min(p.head.size(), expect.size());
    if (std::string_view(p.head).substr(0, n) != expect.substr(0, n)) {
      if (p.index == 1 && up_.ph == phase::ws)
        to_opaque(up_);
      to_opaque(p);
      if (p.index == 1)
        for (auto& a : toxics_)
          if (a.activated && is_protocol_kind(a.e->spec.kind))
            skip(a);
      return;
    }
    const std::size_t end = p.head.find("\r\n\r\n");
    if (end == std::string::npos) {
      if (p.head.size() > max_http_head)
        to_opaque(p);
      return;
    }
    std::string head = p.head.substr(0, end + 4);
    std::string rest = p.head.substr(end + 4);
    p.head.clear();
    emit(p, head); // first: what on_head sets off (an injected frame) goes after it
    on_head(p, head);
    if (!rest.empty())
      on_bytes(p, rest);
  }

  // At EOF: what was held to see a whole HTTP head or WebSocket frame goes out as it is.
  void flush_partial(pipe& p) {
    std::string rest = std::move(p.head);
    rest += p.in;
    p.head.clear();
    p.in.clear();
    p.passthrough_left = 0;
    if (!rest.empty())
      emit(p, std::move(rest));
  }

  void to_opaque(pipe& p) {
    p.ph = phase::opaque;
    std::string pending = std::move(p.head);
    pending += p.in;
    p.head.clear();
    p.in.clear();
    if (!pending.empty())
      emit(p, std::move(pending));
  }

  void on_head(pipe& p, std::string_view head) {
    if (p.index == 0) {
      p.ph = icontains(http_header(head, "upgrade"), "websocket") ? phase::ws : phase::opaque;
      return;
    }
    const bool switching =
        head.size() > 12 && head.substr(0, 5) == "HTTP/" && head.substr(8, 4) == " 101";
    if (switching) {
      p.ph = phase::ws;
      if (icontains(http_header(head, "sec-websocket-extensions"), "permessage-deflate")) {
        compressed_ = true;
        bump(owner_->compressed);
      }
    } else {
      p.ph = phase::opaque;
      if (up_.ph == phase::ws)
        to_opaque(up_);
    }
    // The protocol-aware toxics now know whether they can act.
    for (std::size_t i = 0; i < toxics_.size(); ++i) {
      applied& a = toxics_[i];
      if (!a.activated || !is_protocol_kind(a.e->spec.kind))
        continue;
      if (protocol_impossible())
        skip(a);
      else if (a.waiting_for_ws)
        queue_frame_action(a);
    }
  }

  void process_ws(pipe& p) {
    std::size_t pos = 0;
    std::string out; // raw bytes copied through, emitted before anything collected
    auto flush_out = [&] {
      if (!out.empty())
        emit(p, std::move(out));
      out.clear();
    };
    while (pos < p.in.size() && !closed_) {
      if (p.passthrough_left > 0) {
        const std::size_t n = static_cast<std::size_t>(
            std::min<std::uint64_t>(p.passthrough_left, p.in.size() - pos));
        out.append(p.in, pos, n);
        pos += n;
        p.passthrough_left -= n;
        if (p.passthrough_left == 0) {
          flush_out();
          try_pending(p);
        }
        continue;
      }
      ws::frame_header h;
      const auto st = ws::parse_header(std::string_view(p.in).substr(pos), h);
      if (st == ws::header_status::need_more)
        break;
      if (st == ws::header_status::bad) {
        flush_out();
        p.in.erase(0, pos);
        to_opaque(p);
        return;
      }
      const bool control = ws::is_control(h.op);
      if (!control) {
        if (h.op != ws::continuation) { // a new message
          p.msg_op = h.op;
          const bool want = h.rsv == 0 && wants_stomp(p);
          if (want && !p.engaged) {
            p.parser.reset();
            p.raw.clear();
          }
          // Stay engaged while a STOMP frame is half through.
          p.engaged = want || (p.engaged && p.parser.buffered() > 0 && !p.stomp_broken);
          p.msg_collect = p.engaged;
          p.msg_payload.clear();
        }
        p.in_message = !h.fin;
      }
      const bool collect = control || p.msg_collect;
      if (!collect) {
        out.append(p.in, pos, h.header_len);
        pos += h.header_len;
        p.passthrough_left = h.payload_len;
        if (h.payload_len == 0) {
          flush_out();
          try_pending(p);
        }
        continue;
      }
      if (h.payload_len > max_collected_frame) {
        flush_out();
        p.in.erase(0, pos);
        p.stomp_broken = true;
        to_opaque(p);
        return;
      }
      const std::size_t total = h.header_len + static_cast<std::size_t>(h.payload_len);
      if (p.in.size() - pos < total)
        break;
      flush_out();
      if (control) {
        if (p.watch_close && h.op == ws::close) {
          close_all(false, false); // the peer answered the close we sent it
          return;
        }
        emit(p, p.in.substr(pos, total));
      } else {
        std::string payload =
            p.in.substr(pos + h.header_len, static_cast<std::size_t>(h.payload_len));
        if (h.masked)
          ws::apply_mask(payload.data(), payload.size(), h.mask, 0);
        p.msg_payload += payload;
        if (h.fin) {
          std::string msg = std::move(p.msg_payload);
          p.msg_payload.clear();
          deliver_message(p, std::move(msg));
        }
      }
      pos += total;
      try_pending(p);
    }
    flush_out();
    if (pos > 0)
      p.in.erase(0, pos);
  }

  bool frame_matches(const toxic& t, const stomp::frame_view& f) {
    if (t.command.empty()) {
      if (t.kind != toxic_kind::frame_split && f.cmd != stomp::command::message)
        return false;
    } else if (stomp::to_string(f.cmd) != t.command) {
      return false;
    }
    if (!t.destination.empty()) {
      auto d = f.get("destination");
      if (!d || *d != t.destination)
        return false;
    }
    return true;
  }

  bool pick_frame(applied& a) {
    const std::uint64_t n = a.frame_counter++;
    return pick(a.e->spec.fraction,
                mix(mix(mix(mix(owner_->opts.seed, a.e->spec.seed), a.e->id), ordinal_), n));
  }

  struct piece {
    std::string payload;
    std::vector<std::pair<toxic_id, clock_type::duration>> delays;
    bool closed = false; // no more frames go into this WebSocket message
  };

  // One whole WebSocket data message while the STOMP layer is engaged.
  void deliver_message(pipe& p, std::string msg) {
    if (!p.engaged || msg.empty()) { // (not engaged: STOMP broke down inside this message)
      send_message(p, msg, {});
      return;
    }
    p.raw += msg;
    p.parser.feed(msg);
    std::vector<piece> pieces;
    auto cur = [&]() -> piece& {
      if (pieces.empty() || pieces.back().closed)
        pieces.emplace_back();
      return pieces.back();
    };
    for (;;) {
      stomp::frame_view f;
      const auto s = p.parser.next(f);
      if (s == stomp::parse_status::need_more)
        break;
      if (s == stomp::parse_status::error) {
        // Not STOMP (or not as we know it): from here on the pipe is copied as it comes.
        p.stomp_broken = true;
        p.engaged = false;
        cur().payload += p.raw;
        p.raw.clear();
        p.parser.reset();
        for (auto& a : toxics_)
          if (is_protocol_kind(a.e->spec.kind) && acts_on(a, p))
            skip(a);
        break;
      }
      const std::size_t len = p.raw.size() - p.parser.buffered();
      const std::string_view item(p.raw.data(), len);
      if (s == stomp::parse_status::heartbeat) {
        if (applied* st = first(p, toxic_kind::heartbeat_stall))
          bump(st->e->heartbeats_dropped);
        else
          cur().payload.append(item);
      } else {
        bool dropped = false;
        clock_type::duration delay{};
        toxic_id delay_owner = 0;
        applied* split = nullptr;
        for (auto& a : toxics_) {
          if (!acts_on(a, p) || !frame_matches(a.e->spec, f))
            continue;
          const toxic_kind k = a.e->spec.kind;
          if (k == toxic_kind::frame_drop && !dropped && pick_frame(a)) {
            dropped = true;
            bump(a.e->frames_dropped);
            bump(a.e->bytes_dropped, len);
          } else if (k == toxic_kind::frame_delay && delay_owner == 0 && pick_frame(a)) {
            delay = jittered(a.e->spec.latency, a.e->spec.jitter);
            delay_owner = a.e->id;
            bump(a.e->frames_delayed);
            bump(a.e->bytes_delayed, len);
          } else if (k == toxic_kind::frame_throttle && delay_owner == 0) {
            // Slots 1/rate apart; a frame before its slot waits for it.
            const auto now = clock_type::now();
            auto& slot = a.next_slot[p.index];
            if (slot > now) {
              delay = slot - now;
              delay_owner = a.e->id;
              bump(a.e->frames_delayed);
              bump(a.e->bytes_delayed, len);
            }
            slot = std::max(slot, now) +
                   std::chrono::duration_cast<clock_type::duration>(std::chrono::seconds(1)) /
                       static_cast<std::int64_t>(a.e->spec.rate);
          } else if (k == toxic_kind::frame_split && !split && pick_frame(a)) {
            split = &a;
          }
        }
        if (!dropped) {
          if (delay_owner != 0) {
            // The delayed frame starts a message of its own; what follows waits behind it.
            if (!pieces.empty())
              pieces.back().closed = true;
            pieces.emplace_back();
            pieces.back().delays.emplace_back(delay_owner, delay);
          }
          if (split && len >= 2) {
            bump(split->e->frames_split);
            std::vector<std::pair<toxic_id, clock_type::duration>> first_delays;
            if (delay_owner != 0) {
              first_delays = std::move(pieces.back().delays);
              pieces.pop_back();
            } else if (!pieces.empty()) {
              pieces.back().closed = true;
            }
            const std::size_t parts = std::min(split->e->spec.parts, len);
            std::size_t from = 0;
            for (std::size_t i = 1; i <= parts; ++i) {
              std::size_t to = i == parts ? len : (len * i) / parts;
              if (p.msg_op == ws::text)
                to = utf8_boundary(item, to);
              if (to <= from)
                continue;
              piece pc;
              pc.payload.assign(item.substr(from, to - from));
              if (from == 0)
                pc.delays = std::move(first_delays);
              pc.closed = true;
              pieces.push_back(std::move(pc));
              from = to;
            }
          } else {
            cur().payload.append(item);
          }
        }
      }
      p.raw.erase(0, len);
    }
    for (auto& pc : pieces)
      if (!pc.payload.empty())
        send_message(p, pc.payload, std::move(pc.delays));
  }

  void send_message(pipe& p, std::string_view payload,
                    std::vector<std::pair<toxic_id, clock_type::duration>> delays) {
    std::string out;
    std::uint8_t mask[4];
    if (p.index == 0) {
      const std::uint64_t r = next_rand();
      for (int i = 0; i < 4; ++i)
        mask[i] = static_cast<std::uint8_t>(r >> (8 * i));
    }
    ws::append_frame(out, true, p.msg_op, payload, p.index == 0 ? mask : nullptr);
    emit(p, std::move(out), std::move(delays));
  }

  // ---- writing ---------------------------------------------------------------------------

  void emit(pipe& p, std::string bytes,
            std::vector<std::pair<toxic_id, clock_type::duration>> delays = {},
            bool from_proxy = false, bool close_after = false) {
    if (bytes.empty() || closed_)
      return;
    if (p.sealed && !from_proxy)
      return; // nothing goes after a close frame the proxy sent
    if (!from_proxy) {
      if (applied* bh = first(p, toxic_kind::timeout)) {
        bump(bh->e->bytes_dropped, bytes.size());
        return;
      }
    }
    segment s;
    s.arrival = clock_type::now();
    s.delays = std::move(delays);
    each(p, toxic_kind::latency, [&](applied& a) {
      s.delays.emplace_back(a.e->id, jittered(a.e->spec.latency, a.e->spec.jitter));
      bump(a.e->bytes_delayed, bytes.size());
    });
    s.release = s.arrival;
    for (const auto& d : s.delays)
      s.release += d.second;
    s.close_after = close_after;
    p.queued += bytes.size();
    s.bytes = std::move(bytes);
    p.q.push_back(std::move(s));
    pump(p);
  }

  // Re-evaluates a pipe after a toxic change: wakes a waiting writer.
  void rewake(pipe& p) {
    if (p.waiting)
      p.wait.cancel();
    else
      pump(p);
  }

  void wait_until(pipe& p, clock_type::time_point t) {
    p.waiting = true;
    p.wait.expires_at(t);
    p.wait.async_wait([self = shared_from_this(), &p](const boost::system::error_code&) {
      p.waiting = false;
      if (!self->closed_)
        self->pump(p);
    });
  }

  void pump(pipe& p) {
    if (closed_ || p.writing || p.waiting)
      return;
    if (p.read_paused && p.queued < resume_reading_at) {
      p.read_paused = false;
      read(p);
    }
    if (paused(p))
      return;
    if (p.q.empty()) {
      if (p.src_eof && !p.eof_sent)
        pass_eof(p);
      return;
    }
    const auto now = clock_type::now();
    segment& s = p.q.front();
    applied* slicer = first(p, toxic_kind::slicer);
    std::uint64_t rate = 0;
    each(p, toxic_kind::bandwidth,
         [&](applied& a) { rate = rate == 0 ? a.e->spec.rate : std::min(rate, a.e->spec.rate); });
    auto ready = s.release;
    if (slicer || rate > 0)
      ready = std::max(ready, p.next_write_ok);
    if (ready > now) {
      wait_until(p, ready);
      return;
    }
    std::size_t n = s.bytes.size() - s.offset;
    if (slicer) {
      const toxic& t = slicer->e->spec;
      std::size_t size = t.average_size;
      if (t.size_variation > 0)
        size = t.average_size - t.size_variation +
               static_cast<std::size_t>(next_rand() % (2 * t.size_variation + 1));
      n = std::min(n, std::max<std::size_t>(1, size));
    }
    if (rate > 0)
      n = std::min<std::size_t>(n, static_cast<std::size_t>(std::max<std::uint64_t>(1, rate / 20)));
    for (auto& a : toxics_) {
      if (a.e->spec.kind != toxic_kind::limit_data || !acts_on(a, p))
        continue;
      const std::uint64_t used = p.written - a.base_written[p.index];
      if (used >= a.e->spec.bytes) {
        bump(a.e->closes);
        close_all(false, false);
        return;
      }
      n = static_cast<std::size_t>(std::min<std::uint64_t>(n, a.e->spec.bytes - used));
    }
    // Counted before the write, so that a reader who got the bytes sees them counted.
    if (rate > 0)
      each(p, toxic_kind::bandwidth, [&](applied& a) { bump(a.e->bytes_delayed, n); });
    if (slicer)
      bump(slicer->e->frames_split);
    p.writing = true;
    asio::async_write(*p.dst, asio::buffer(s.bytes.data() + s.offset, n),
                      [self = shared_from_this(), &p, n, slicer_id = slicer ? slicer->e->id : 0,
                       rate](const boost::system::error_code& ec, std::size_t) {
                        self->on_written(p, ec, n, slicer_id, rate);
                      });
  }

  void on_written(pipe& p, const boost::system::error_code& ec, std::size_t n, toxic_id slicer_id,
                  std::uint64_t rate) {
    p.writing = false;
    if (closed_)
      return;
    if (ec) {
      close_all(false, false);
      return;
    }
    p.written += n;
    p.queued -= n;
    bump(p.index == 0 ? owner_->bytes_up : owner_->bytes_down, n);
    const auto now = clock_type::now();
    p.next_write_ok = now;
    if (rate > 0) {
      p.next_write_ok += std::chrono::duration_cast<clock_type::duration>(
          std::chrono::duration<double>(static_cast<double>(n) / static_cast<double>(rate)));
    }
    if (applied* sl = slicer_id ? find(slicer_id) : nullptr) {
      p.next_write_ok =
          std::max(p.next_write_ok,
                   now + std::chrono::duration_cast<clock_type::duration>(sl->e->spec.delay));
    }
    segment& s = p.q.front();
    s.offset += n;
    if (s.offset == s.bytes.size()) {
      const bool close_after = s.close_after;
      p.q.pop_front();
      if (close_after)
        await_close_reply(p);
    }
    for (auto& a : toxics_) {
      if (a.e->spec.kind == toxic_kind::limit_data && acts_on(a, p) &&
          p.written - a.base_written[p.index] >= a.e->spec.bytes) {
        bump(a.e->closes);
        close_all(false, false);
        return;
      }
    }
    pump(p);
  }

  // After we sent a close frame through `p`: the peer it went to answers with its own close
  // frame, read by the other pipe; then (or after a grace period) the connection ends.
  void await_close_reply(pipe& p) {
    pipe& other = p.index == 0 ? down_ : up_;
    other.watch_close = true;
    if (!close_timer_armed_) {
      close_timer_armed_ = true;
      close_timer_.expires_after(close_grace);
      close_timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
        if (!ec)
          self->close_all(false, false);
      });
    }
  }

  void pass_eof(pipe& p) {
    if (applied* sc = first(p, toxic_kind::slow_close); sc && !p.slow_close_done) {
      p.slow_close_done = true;
      wait_until(p, clock_type::now() +
                        std::chrono::duration_cast<clock_type::duration>(sc->e->spec.delay));
      return;
    }
    p.eof_sent = true;
    boost::system::error_code ec;
    p.dst->shutdown(tcp::socket::shutdown_send, ec);
    pipe& other = p.index == 0 ? down_ : up_;
    if (other.eof_sent || ec)
      close_all(false, false);
  }

  void close_all(bool reset_client, bool reset_server) {
    if (closed_)
      return;
    closed_ = true;
    boost::system::error_code ec;
    connect_timer_.cancel();
    close_timer_.cancel();
    up_.wait.cancel();
    down_.wait.cancel();
    for (auto& a : toxics_)
      if (a.timer)
        a.timer->cancel();
    if (reset_client)
      client_.set_option(asio::socket_base::linger(true, 0), ec);
    if (reset_server && server_.is_open())
      server_.set_option(asio::socket_base::linger(true, 0), ec);
    client_.close(ec);
    server_.close(ec);
  }

  std::shared_ptr<fault_proxy::impl> owner_;
  std::uint64_t ordinal_;
  tcp::socket client_;
  tcp::socket server_;
  asio::steady_timer connect_timer_;
  asio::steady_timer close_timer_;
  bool close_timer_armed_ = false;
  pipe up_;
  pipe down_;
  std::vector<applied> toxics_; // a deque would keep references; indices are used instead
  std::uint64_t rng_ = 0;
  bool connected_ = false;
  bool closed_ = false;
  bool compressed_ = false;
};

// ---- the proxy ------------------------------------------------------------------------------

namespace {

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

std::string endpoint_text(const tcp::endpoint& ep) {
  const std::string h = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + h + "]" : h) + ":" + std::to_string(ep.port());
}

} // namespace

std::string fault_proxy::impl::open_listener(std::string& error) {
  boost::system::error_code ec;
  const auto addr = asio::ip::make_address(opts.listen_host, ec);
  if (ec)
    return error = "proxy: listen address '" + opts.listen_host + "' is not an IP address";
  tcp::endpoint ep(addr, opts.listen_port);
  // With port 0, a probe socket picks the port, and the listener binds it by number, so that
  // it keeps its port when it stops and starts listening again (refuse_new_connections).
  std::unique_ptr<tcp::acceptor> probe;
  if (ep.port() == 0) {
    probe = std::make_unique<tcp::acceptor>(*io);
    probe->open(ep.protocol(), ec);
    if (!ec)
      probe->set_option(reuse_port(true), ec);
    if (!ec)
      probe->bind(ep, ec);
    if (ec)
      return error = "proxy: cannot listen on " + endpoint_text(ep) + ": " + ec.message();
    ep.port(probe->local_endpoint().port());
  }
  acceptor = std::make_unique<tcp::acceptor>(*accept_strand);
  acceptor->open(ep.protocol(), ec);
  if (!ec)
    acceptor->set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec && probe)
    acceptor->set_option(reuse_port(true), ec);
  if (!ec)
    acceptor->bind(ep, ec);
  if (probe) {
    boost::system::error_code ignored;
    probe->close(ignored);
    acceptor->set_option(reuse_port(false), ignored);
  }
  if (!ec)
    acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec)
    return error = "proxy: cannot listen on " + endpoint_text(ep) + ": " + ec.message();
  bound = acceptor->local_endpoint();
  return {};
}

void fault_proxy::impl::accept() {
  if (accepting || !listening)
    return;
  accepting = true;
  acceptor->async_accept(
      asio::make_strand(*io),
      [self = shared_from_this()](const boost::system::error_code& ec, tcp::socket s) {
        self->accepting = false;
        self->on_accepted(ec, std::move(s));
      });
}

void fault_proxy::impl::on_accepted(const boost::system::error_code& ec, tcp::socket s) {
  {
    std::unique_lock<std::mutex> lk(mu);
    if (stopped)
      return;
    if (!ec && !refusing) {
      bump(accepted);
      bump(open);
      const std::uint64_t ordinal = next_ordinal++;
      std::vector<std::shared_ptr<entry>> chosen_now;
      for (auto& [id, e] : entries)
        if (e->active.load() && chosen(*e, ordinal))
          chosen_now.push_back(e);
      auto c = std::make_shared<connection>(shared_from_this(), std::move(s), ordinal);
      live[ordinal] = c;
      lk.unlock();
      asio::post(c->executor(),
                 [c, list = std::move(chosen_now)]() mutable { c->start(std::move(list)); });
    } else if (!ec) {
      bump(refused);
      boost::system::error_code ignored;
      s.set_option(asio::socket_base::linger(true, 0), ignored);
      s.close(ignored);
    }
  }
  if (refusing && !listening)
    return;
  if (ec && ec != asio::error::operation_aborted && acceptor->is_open()) {
    // EMFILE and friends: try again shortly rather than spin.
    retry_timer->expires_after(accept_retry);
    retry_timer->async_wait([self = shared_from_this()](const boost::system::error_code& e) {
      if (!e)
        self->accept();
    });
    return;
  }
  if (acceptor->is_open())
    accept();
}

void fault_proxy::impl::apply_refusing(bool on) {
  if (!acceptor->is_open() || on == refusing)
    return;
  refusing = on;
  if (on) {
    // Stop listening but keep the port: shutdown() on a listening socket does that on Linux.
    if (::shutdown(acceptor->native_handle(), SHUT_RD) == 0)
      listening = false;
    // else: connections are accepted and reset (see on_accepted)
  } else {
    if (!listening) {
      boost::system::error_code ec;
      acceptor->listen(asio::socket_base::max_listen_connections, ec);
      listening = !ec;
    }
    accept();
  }
}

fault_proxy::fault_proxy(std::shared_ptr<impl> p) : impl_(std::move(p)) {}

namespace {

std::shared_ptr<fault_proxy::impl> make_impl(const proxy_options& opts, asio::io_context* io,
                                             std::string& error) {
  auto p = std::make_shared<fault_proxy::impl>();
  p->opts = opts;
  if (!io) {
    p->own_io = std::make_unique<asio::io_context>();
    io = p->own_io.get();
  }
  p->io = io;
  p->accept_strand =
      std::make_unique<asio::strand<asio::io_context::executor_type>>(asio::make_strand(*io));
  p->retry_timer = std::make_unique<asio::steady_timer>(*p->accept_strand);
  if (opts.upstream_port == 0) {
    error = "proxy: the upstream port is missing";
    return nullptr;
  }
  boost::system::error_code ec;
  tcp::resolver r(*io);
  auto results = r.resolve(opts.upstream_host, std::to_string(opts.upstream_port), ec);
  if (ec || results.empty()) {
    error = "proxy: cannot resolve upstream '" + opts.upstream_host + "': " + ec.message();
    return nullptr;
  }
  for (const auto& e : results)
    p->upstream.push_back(e.endpoint());
  if (!p->open_listener(error).empty())
    return nullptr;
  asio::post(*p->accept_strand, [p] { p->accept(); });
  if (p->own_io) {
    p->guard = std::make_unique<fault_proxy::impl::guard_type>(p->own_io->get_executor());
    const unsigned n = std::max(1u, opts.threads);
    for (unsigned i = 0; i < n; ++i)
      p->threads.emplace_back([io = p->own_io.get()] { io->run(); });
  }
  return p;
}

} // namespace

std::unique_ptr<fault_proxy> fault_proxy::start(const proxy_options& opts, std::string& error) {
  auto p = make_impl(opts, nullptr, error);
  if (!p)
    return nullptr;
  return std::unique_ptr<fault_proxy>(new fault_proxy(std::move(p)));
}

std::unique_ptr<fault_proxy> fault_proxy::start(const proxy_options& opts, asio::io_context& io,
                                                std::string& error) {
  auto p = make_impl(opts, &io, error);
  if (!p)
    return nullptr;
  return std::unique_ptr<fault_proxy>(new fault_proxy(std::move(p)));
}

fault_proxy::~fault_proxy() {
  stop();
}

std::string fault_proxy::host() const {
  return impl_->bound.address().to_string();
}

std::uint16_t fault_proxy::port() const {
  return impl_->bound.port();
}

std::string fault_proxy::address() const {
  return endpoint_text(impl_->bound);
}

toxic_id fault_proxy::add_toxic(const toxic& t) {
  if (std::string why = check_toxic(t); !why.empty())
    throw std::invalid_argument(why);
  std::vector<std::shared_ptr<connection>> targets;
  auto e = std::make_shared<entry>();
  e->spec = t;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    e->id = impl_->next_id++;
    e->first_new_ordinal = impl_->next_ordinal;
    impl_->entries[e->id] = e;
    if (impl_->stopped)
      return e->id;
    for (auto& [ordinal, w] : impl_->live)
      if (impl_->chosen(*e, ordinal))
        if (auto c = w.lock())
          targets.push_back(std::move(c));
  }
  for (auto& c : targets)
    asio::post(c->executor(), [c, e] { c->attach(e); });
  return e->id;
}

std::optional<toxic_counters> fault_proxy::remove_toxic(toxic_id id) {
  std::vector<std::shared_ptr<connection>> targets;
  std::shared_ptr<entry> e;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    auto it = impl_->entries.find(id);
    if (it == impl_->entries.end() || !it->second->active.load())
      return std::nullopt;
    e = it->second;
    e->active.store(false);
    for (auto& [ordinal, w] : impl_->live)
      if (auto c = w.lock())
        targets.push_back(std::move(c));
  }
  for (auto& c : targets)
    asio::post(c->executor(), [c, id] { c->detach(id); });
  return e->snapshot();
}

void fault_proxy::remove_all_toxics() {
  std::vector<toxic_id> ids;
  {
    std::lock_guard<std::mutex> lk(impl_->mu);
    for (auto& [id, e] : impl_->entries)
      if (e->active.load())
        ids.push_back(id);
  }
  for (auto id : ids)
    remove_toxic(id);
  refuse_new_connections(false);
}

void fault_proxy::refuse_new_connections(bool on) {
  auto p = impl_;
  asio::post(*p->accept_strand, [p, on] { p->apply_refusing(on); });
}

std::optional<toxic_counters> fault_proxy::counters(toxic_id id) const {
  std::lock_guard<std::mutex> lk(impl_->mu);
  auto it = impl_->entries.find(id);
  if (it == impl_->entries.end())
    return std::nullopt;
  return it->second->snapshot();
}

std::vector<toxic_state> fault_proxy::toxics() const {
  std::vector<toxic_state> out;
  std::lock_guard<std::mutex> lk(impl_->mu);
  for (auto& [id, e] : impl_->entries) {
    toxic_state s;
    s.id = id;
    s.spec = e->spec;
    s.active = e->active.load();
    s.counters = e->snapshot();
    out.push_back(std::move(s));
  }
  return out;
}

proxy_counters fault_proxy::totals() const {
  proxy_counters c;
  auto& p = *impl_;
  c.connections_accepted = p.accepted.load();
  c.connections_refused = p.refused.load();
  c.connections_open = p.open.load();
  c.upstream_connect_failures = p.connect_failures.load();
  c.bytes_upstream = p.bytes_up.load();
  c.bytes_downstream = p.bytes_down.load();
  c.connections_compressed = p.compressed.load();
  return c;
}

void fault_proxy::stop() {
  auto p = impl_;
  std::vector<std::shared_ptr<connection>> conns;
  {
    std::lock_guard<std::mutex> lk(p->mu);
    if (p->stopped)
      return;
    p->stopped = true;
    for (auto& [ordinal, w] : p->live)
      if (auto c = w.lock())
        conns.push_back(std::move(c));
  }
  asio::post(*p->accept_strand, [p] {
    boost::system::error_code ec;
    p->retry_timer->cancel();
    p->acceptor->close(ec);
  });
  for (auto& c : conns)
    asio::post(c->executor(), [c] { c->abort(); });
  conns.clear();
  if (p->own_io) {
    p->guard.reset();
    for (auto& t : p->threads)
      if (t.joinable())
        t.join();
    p->threads.clear();
  }
}

} // namespace stompede::proxy
