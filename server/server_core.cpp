#include "server/server_core.hpp"

#include "protocol/transport_error.hpp"
#include "server/connection.hpp"
#include "server/server_stream.hpp"
#include "protocol/utf8.hpp"

#include <boost/asio/post.hpp>

#include <cstdio>
#include <exception>
#include <vector>

namespace stompede::server::detail {

namespace net = boost::asio;
using tcp = net::ip::tcp;

namespace {
thread_local io_shard* this_shard = nullptr;

/// Connections taken from the listen queue after one asynchronous accept completes, before the
/// IO thread's other work gets its turn again.
constexpr int max_accepts_per_turn = 64;

std::string escaped(std::string_view s) {
  std::string out;
  stomp::escape_to(s, out);
  return out;
}

// "host:port" -> parts; IPv6 as "[::1]:port".
bool split_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
  const auto colon = listen.rfind(':');
  if (colon == std::string::npos)
    return false;
  host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  const std::string p = listen.substr(colon + 1);
  if (p.empty() || p.size() > 5)
    return false;
  unsigned v = 0;
  for (char c : p) {
    if (c < '0' || c > '9')
      return false;
    v = v * 10 + static_cast<unsigned>(c - '0');
  }
  if (v > 65535)
    return false;
  port = static_cast<std::uint16_t>(v);
  return !host.empty();
}
} // namespace

io_shard* current_shard() noexcept {
  return this_shard;
}

server_core::server_core(server_config cfg)
    : jwt(cfg.jwt_secret), rooms(cfg.users, cfg.auto_rooms, cfg.room_size, cfg.first_room_member),
      faults(*this), cfg_(std::move(cfg)) {
  // Housekeeping often enough for the shortest heart-beat we may agree to.
  std::uint32_t shortest = 1000;
  for (auto v : {cfg_.heartbeat_send_ms, cfg_.heartbeat_recv_ms}) {
    if (v > 0)
      shortest = std::min(shortest, v / 4);
  }
  sweep_period_ = std::chrono::milliseconds(std::max<std::uint32_t>(shortest, 50));
}

server_core::~server_core() {
  stop();
}

std::error_code server_core::open_acceptor() {
  boost::system::error_code ec;
  const auto addr = net::ip::make_address(host_, ec);
  if (ec)
    return std::make_error_code(std::errc::invalid_argument);
  tcp::endpoint ep(addr, port_.load());
  acceptor_.emplace(shards_[0]->ioc);
  acceptor_->open(ep.protocol(), ec);
  if (!ec)
    acceptor_->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec)
    acceptor_->bind(ep, ec);
  if (!ec)
    acceptor_->listen(net::socket_base::max_listen_connections, ec);
  if (!ec)
    acceptor_->non_blocking(true, ec); // do_accept drains the listen queue with plain accepts
  if (ec) {
    acceptor_.reset();
    return std::error_code(ec.value(), std::system_category());
  }
  port_ = acceptor_->local_endpoint().port();
  return {};
}

std::error_code server_core::start() {
  if (started_)
    return std::make_error_code(std::errc::operation_in_progress);
  start_problem_.clear();
  if (!cfg_.tls_cert_file.empty() || !cfg_.tls_key_file.empty() ||
      !cfg_.tls_client_ca_file.empty()) {
    tls_ = make_server_tls_context(cfg_.tls_cert_file, cfg_.tls_key_file, cfg_.tls_client_ca_file,
                                   start_problem_);
    if (!tls_)
      return stompede::net::make_error_code(stompede::net::transport_errc::tls_error);
  }
  std::uint16_t port = 0;
  if (!split_listen(cfg_.listen, host_, port)) {
    start_problem_ = "listen: expected host:port, got '" + cfg_.listen + "'";
    return std::make_error_code(std::errc::invalid_argument);
  }
  port_ = port;
  const std::size_t n = std::max<std::size_t>(1, cfg_.io_threads);
  for (std::size_t i = 0; i < n; ++i) {
    shards_.push_back(std::make_unique<io_shard>(static_cast<std::uint32_t>(i)));
  }
  if (auto ec = open_acceptor()) {
    start_problem_ = "cannot listen on " + cfg_.listen + ": " + ec.message();
    shards_.clear();
    return ec;
  }
  started_ = true;
  for (auto& s : shards_) {
    guards_.emplace_back(s->ioc.get_executor());
    arm_sweep(*s);
    io_shard* sp = s.get();
    s->thread = std::thread([this, sp] {
      this_shard = sp;
      // A handler that throws must not end the server: the exception is counted (category
      // `internal`) and logged, and the shard goes on with its other sessions.
      for (;;) {
        try {
          sp->ioc.run();
          break;
        } catch (const std::exception& e) {
          stats.count_error("internal");
          std::fprintf(stderr, "stompede serve: internal error in a session handler: %s\n",
                       e.what());
        }
      }
      this_shard = nullptr;
    });
  }
  net::post(shards_[0]->ioc, [this] { do_accept(); });
  return {};
}

io_shard& server_core::next_shard() {
  auto& s = *shards_[next_shard_];
  next_shard_ = static_cast<std::uint32_t>((next_shard_ + 1) % shards_.size());
  return s;
}

void server_core::do_accept() {
  if (!acceptor_ || stopped_)
    return;
  io_shard& target = next_shard();
  acceptor_->async_accept(
      target.ioc, [this, &target](boost::system::error_code ec, tcp::socket socket) {
        if (ec == net::error::operation_aborted || !acceptor_)
          return;
        if (ec) {
          // EMFILE and friends: try again shortly instead of spinning.
          auto t = std::make_shared<net::steady_timer>(shards_[0]->ioc);
          t->expires_after(std::chrono::milliseconds(100));
          t->async_wait([this, t](boost::system::error_code) { do_accept(); });
          return;
        }
        admit(target, std::move(socket));
        // Take what else waits in the listen queue now. One accept per completion would be one
        // accept per turn of a busy IO thread's queue: under fan-out load that is a few a
        // second, and a fast ramp's connections would wait in the kernel's queue for seconds
        // (their upgrades unread) until the clients' handshake deadlines end them. The
        // acceptor is non-blocking, so this stops at the first would-block; an error other
        // than that is left to the next asynchronous accept, which backs off.
        for (int i = 0; i < max_accepts_per_turn && acceptor_ && !stopped_; ++i) {
          io_shard& next = next_shard();
          boost::system::error_code aec;
          tcp::socket more = acceptor_->accept(next.ioc, aec);
          if (aec)
            break;
          admit(next, std::move(more));
        }
        do_accept();
      });
}

void server_core::admit(io_shard& target, tcp::socket socket) {
  const bool full =
      stats.connections.load(std::memory_order_relaxed) >= cfg_.max_sessions + 64; // REST room
  // A refuse fault on a cohort waits for the CONNECT that names the member.
  // A whole-server refuse still reads each request's head: the admin endpoint must stay
  // reachable (its rollback comes over it), every other request is reset there (the client's
  // view is the same: its TCP connect completed in the kernel either way, then a reset).
  const bool refuse = refusing.load() && !std::atomic_load(&refuse_cohort);
  boost::system::error_code ignored;
  if (full) {
    socket.set_option(net::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
    stats.refused_connections.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  socket.set_option(tcp::no_delay(true), ignored);
  auto open = [this, &target, refuse](tcp::socket s) {
    auto c = std::make_shared<connection>(*this, target, std::move(s));
    target.connections.insert(c.get());
    if (refuse)
      c->admin_only();
    c->start();
  };
  // A connection for the listener's own IO thread starts here (under load a post would cost
  // it one more turn of the queue, and the count the `full` check reads would lag); another
  // thread's connections are handed over through its queue, since only it may touch them.
  if (this_shard == &target)
    return open(std::move(socket));
  net::post(target.ioc, [open, s = std::move(socket)]() mutable { open(std::move(s)); });
}

void server_core::arm_sweep(io_shard& s) {
  s.timer.expires_after(sweep_period_);
  s.timer.async_wait([this, &s](boost::system::error_code ec) {
    if (ec)
      return;
    sweep(s);
    arm_sweep(s);
  });
}

void server_core::sweep(io_shard& s) {
  const auto now = connection::clock::now();
  std::vector<std::shared_ptr<connection>> all;
  all.reserve(s.connections.size());
  for (auto* c : s.connections)
    all.push_back(c->shared_from_this());
  for (auto& c : all)
    c->tick(now);
}

void server_core::on_connection_closed(connection& c) {
  if (this_shard != nullptr)
    this_shard->connections.erase(&c);
}

void server_core::publish(const std::string& topic, const std::string& message_id,
                          const std::string& content_type, std::string body,
                          std::uint64_t /*room_for_faults*/) {
  auto subs = topics.snapshot(topic);
  if (!subs || subs->empty())
    return;
  auto frame = std::make_shared<broadcast_frame>();
  auto& p = frame->prefix;
  p.reserve(128 + topic.size());
  p += "MESSAGE\ndestination:";
  p += escaped(topic);
  p += "\nmessage-id:";
  p += message_id;
  if (!content_type.empty()) {
    p += "\ncontent-type:";
    p += escaped(content_type);
  }
  p += "\ncontent-length:";
  p += std::to_string(body.size());
  p += "\nsubscription:";
  frame->ack_header = "\nack:" + message_id;
  frame->suffix.reserve(body.size() + 3);
  frame->suffix += "\n\n";
  frame->suffix += body;
  frame->suffix += '\0';
  frame->binary = !valid_utf8(frame->prefix) || !valid_utf8(frame->suffix);
  fan_out(subs, frame);
}

/// Delivers what other threads (and this one) handed to `shard`, in order.
void drain_inbox(io_shard& shard) {
  // A local batch: should a delivery throw, nothing of it comes back to be delivered again.
  std::vector<io_shard::delivery> batch;
  {
    std::lock_guard<std::mutex> lock(shard.inbox_mutex);
    batch.swap(shard.inbox);
    shard.inbox_posted = false;
  }
  for (const auto& d : batch) {
    for (const auto& s : *d.subs) {
      if (s.shard == shard.index)
        s.session->deliver(d.frame, s);
    }
  }
}

void server_core::fan_out(const std::shared_ptr<const subscriber_list>& subs,
                          const std::shared_ptr<const broadcast_frame>& frame) {
  stats.broadcasts.fetch_add(1, std::memory_order_relaxed);
  if (shards_.size() == 1 && this_shard != nullptr) {
    for (const auto& s : *subs)
      s.session->deliver(frame, s);
    return;
  }
  // Several IO threads (or a caller off them): every shard with subscribers, this one
  // included, gets the broadcast through its inbox, in the order of the hand-overs
  // (publish_order() makes that a room's seq order).
  std::vector<bool> wanted(shards_.size(), false);
  for (const auto& s : *subs)
    wanted[s.shard] = true;
  for (std::size_t i = 0; i < shards_.size(); ++i) {
    if (!wanted[i])
      continue;
    io_shard& shard = *shards_[i];
    bool post = false;
    {
      std::lock_guard<std::mutex> lock(shard.inbox_mutex);
      shard.inbox.push_back({subs, frame});
      post = !shard.inbox_posted;
      shard.inbox_posted = true;
    }
    if (post)
      net::post(shard.ioc, [&shard] { drain_inbox(shard); });
  }
}

bool server_core::in_cohort(const fault_cohort* who, std::uint64_t member) const {
  if (who == nullptr || who->empty())
    return true;
  if (member == 0)
    return false; // no identity (broker mode, or before CONNECT)
  if (!who->members.empty() &&
      !std::binary_search(who->members.begin(), who->members.end(), member))
    return false;
  if (who->rooms.empty())
    return true;
  return std::any_of(who->rooms.begin(), who->rooms.end(),
                     [&](std::uint64_t r) { return rooms.is_member(r, member); });
}

namespace {

/// A broadcast of `room` by `sender` is in the cohort.
bool broadcast_in(const fault_cohort* who, std::uint64_t room, std::uint64_t sender) {
  if (who == nullptr)
    return true;
  if (!who->rooms.empty() && !std::binary_search(who->rooms.begin(), who->rooms.end(), room))
    return false;
  if (who->members.empty())
    return true;
  // A broker-mode publish has no sender: a cohort of members never takes it.
  return sender != 0 && std::binary_search(who->members.begin(), who->members.end(), sender);
}

} // namespace

bool server_core::reads_paused_for(std::uint64_t member) const {
  if (!reading_paused.load(std::memory_order_relaxed))
    return false;
  auto who = std::atomic_load(&pause_cohort);
  return in_cohort(who.get(), member);
}

bool server_core::refused_at_connect(std::uint64_t member) const {
  if (!refusing.load(std::memory_order_relaxed))
    return false;
  auto who = std::atomic_load(&refuse_cohort);
  return who && in_cohort(who.get(), member);
}

std::int64_t server_core::broadcast_delay(std::uint64_t room, std::uint64_t sender) {
  const auto delay = broadcast_delay_ms.load(std::memory_order_relaxed);
  if (delay <= 0)
    return 0;
  auto who = std::atomic_load(&delay_cohort);
  if (!broadcast_in(who.get(), room, sender))
    return 0;
  stats.delayed_broadcasts.fetch_add(1, std::memory_order_relaxed);
  return delay;
}

bool server_core::maybe_drop_broadcast(std::uint64_t room, std::uint64_t sender) {
  const double f = drop_fraction.load(std::memory_order_relaxed);
  if (f <= 0.0)
    return false;
  if (auto who = std::atomic_load(&drop_cohort); !broadcast_in(who.get(), room, sender))
    return false;
  bool drop = f >= 1.0;
  if (!drop) {
    auto* s = this_shard;
    std::minstd_rand local{std::random_device{}()};
    auto& rng = s != nullptr ? s->rng : local;
    drop = std::uniform_real_distribution<double>(0.0, 1.0)(rng) < f;
  }
  if (!drop)
    return false;
  stats.dropped_broadcasts.fetch_add(1, std::memory_order_relaxed);
  std::lock_guard<std::mutex> lock(dropped_mutex);
  ++dropped_per_room[room];
  return true;
}

void server_core::for_sessions(double fraction, std::shared_ptr<const fault_cohort> who,
                               std::function<void(connection&)> f) {
  if (!started_ || stopped_)
    return;
  auto fn = std::make_shared<std::function<void(connection&)>>(std::move(f));
  for (auto& sp : shards_) {
    io_shard* s = sp.get();
    net::post(s->ioc, [this, s, fn, fraction, who] {
      std::vector<std::shared_ptr<connection>> picked;
      std::uniform_real_distribution<double> u(0.0, 1.0);
      for (auto* c : s->connections) {
        if (c->stomp_connected() && in_cohort(who.get(), c->member()) &&
            (fraction >= 1.0 || u(s->rng) < fraction)) {
          picked.push_back(c->shared_from_this());
        }
      }
      for (auto& c : picked)
        (*fn)(*c);
    });
  }
}

void server_core::restart_listener() {
  if (!started_ || stopped_)
    return;
  net::post(shards_[0]->ioc, [this] {
    if (stopped_)
      return;
    if (acceptor_) {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
      acceptor_.reset();
    }
    if (!open_acceptor())
      do_accept();
  });
}

void server_core::start_stall() {
  if (!started_ || stopped_)
    return;
  for (auto& sp : shards_) {
    io_shard* s = sp.get();
    net::post(s->ioc, [this, s] {
      if (s->stall_queued)
        return; // already going round this queue
      s->stall_queued = true;
      stall_turn(*s);
    });
  }
}

// Holds the IO thread, then goes to the back of its queue: every handler the thread has (reads,
// flush passes, accepts, timers) waits behind one stall per turn, as on a server short of CPU.
void server_core::stall_turn(io_shard& s) {
  const auto ms = stall_ms.load(std::memory_order_relaxed);
  if (ms <= 0 || stopped_) {
    s.stall_queued = false;
    return;
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(ms));
  stats.stalled_turns.fetch_add(1, std::memory_order_relaxed);
  net::post(s.ioc, [this, &s] { stall_turn(s); });
}

void server_core::stop() {
  if (!started_ || stopped_)
    return;
  stopped_ = true;
  net::post(shards_[0]->ioc, [this] {
    if (acceptor_) {
      boost::system::error_code ignored;
      acceptor_->close(ignored);
    }
  });
  // Graceful first: every STOMP session gets a WebSocket close (1001 going away).
  for (auto& sp : shards_) {
    io_shard* s = sp.get();
    net::post(s->ioc, [s] {
      std::vector<std::shared_ptr<connection>> all;
      for (auto* c : s->connections)
        all.push_back(c->shared_from_this());
      for (auto& c : all) {
        if (c->stomp_connected()) {
          c->close_after_flush(1001);
        } else {
          c->abort(false);
        }
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (stats.connections.load() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (auto& sp : shards_) {
    io_shard* s = sp.get();
    net::post(s->ioc, [s] {
      std::vector<std::shared_ptr<connection>> all;
      for (auto* c : s->connections)
        all.push_back(c->shared_from_this());
      for (auto& c : all)
        c->abort(false);
      s->timer.cancel();
    });
  }
  guards_.clear();
  // Whatever is still pending after the aborts (an upgrade whose peer never finishes it, a
  // timer a session missed) must not keep stop() waiting: the shards get 2 s to run out of
  // work, then their loops are stopped and what is left is destroyed with the contexts.
  const auto dry = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  for (auto& s : shards_) {
    while (!s->ioc.stopped() && std::chrono::steady_clock::now() < dry)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    s->ioc.stop();
  }
  for (auto& s : shards_) {
    if (s->thread.joinable())
      s->thread.join();
  }
  // Handlers still queued would refer to connections: run them out on this thread.
  for (auto& s : shards_) {
    s->ioc.restart();
    s->ioc.poll();
    s->dirty.clear();
  }
  acceptor_.reset();
}

} // namespace stompede::server::detail
