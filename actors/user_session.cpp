#include "actors/user_session.hpp"

#include "actors/behaviours/behaviour.hpp"
#include "actors/io_aggregate.hpp"
#include "actors/login.hpp"
#include "protocol/stomp_error.hpp"
#include "protocol/transport_error.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <charconv>
#include <cstdio>
#include <exception>
#include <limits>
#include <random>

namespace stompede {

namespace asio = boost::asio;
using clock_type = std::chrono::steady_clock;
using metrics::error_type;

namespace {

/// The session's own failures that are neither transport nor STOMP errors.
/// A fault injected on the user side ended the session.
constexpr int injected_code = 2;
/// A behaviour's hook (or its factory) threw.
constexpr int behaviour_code = 3;

class session_category_impl final : public std::error_category {
public:
  const char* name() const noexcept override {
    return "stompede.session";
  }
  std::string message(int code) const override {
    switch (code) {
    case injected_code:
      return "ended by an injected fault";
    case behaviour_code:
      return "a behaviour hook threw";
    default:
      return "login failed";
    }
  }
};

const std::error_category& session_category() noexcept {
  static session_category_impl instance;
  return instance;
}

/// A user could not log in again (its token had expired).
const std::error_code login_failed_error{1, session_category()};

/// Server-chosen text made safe for a terminal: control bytes (ASCII and the C1 controls as
/// UTF-8, whose CSI can drive a terminal like ESC [) become '?'. It ends up on stderr and in
/// the end-of-run table, where an escape sequence would act on the operator's terminal.
std::string printable(std::string_view text) {
  std::string out(text);
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c < 0x20 || c == 0x7f) {
      out[i] = '?';
    } else if (c == 0xc2 && i + 1 < out.size() &&
               static_cast<unsigned char>(out[i + 1]) >= 0x80 &&
               static_cast<unsigned char>(out[i + 1]) <= 0x9f) {
      out[i] = '?';
      out[i + 1] = '?';
      ++i;
    }
  }
  return out;
}

} // namespace

std::error_code injected_fault_error() noexcept {
  return {injected_code, session_category()};
}

metrics::error_type classify(const std::error_code& ec) noexcept {
  if (ec.category() == session_category()) {
    switch (ec.value()) {
    case injected_code:
      return error_type::injected;
    case behaviour_code:
      return error_type::behaviour_error;
    default:
      return error_type::login_failed;
    }
  }
  if (ec.category() == net::transport_category()) {
    switch (static_cast<net::transport_errc>(ec.value())) {
    case net::transport_errc::resolve_failed:
      return error_type::resolve_failed;
    case net::transport_errc::connect_refused:
      return error_type::connect_refused;
    case net::transport_errc::connect_timeout:
      return error_type::connect_timeout;
    case net::transport_errc::port_exhaustion:
      return error_type::port_exhaustion;
    case net::transport_errc::fd_exhausted:
      return error_type::fd_exhausted;
    case net::transport_errc::tls_error:
      return error_type::tls_error;
    case net::transport_errc::handshake_timeout:
      return error_type::handshake_timeout;
    case net::transport_errc::upgrade_rejected:
      return error_type::upgrade_rejected;
    case net::transport_errc::idle_timeout:
      return error_type::idle_timeout;
    case net::transport_errc::write_timeout:
      return error_type::write_timeout;
    case net::transport_errc::write_queue_full:
      return error_type::write_queue_full;
    case net::transport_errc::message_too_large:
      return error_type::frame_too_large;
    case net::transport_errc::closed_by_peer:
      return error_type::closed_by_peer;
    case net::transport_errc::connection_reset:
      return error_type::connection_reset;
    case net::transport_errc::io_error:
      return error_type::read_error;
    case net::transport_errc::protocol_error:
      return error_type::protocol_error;
    default:
      return error_type::other;
    }
  }
  if (ec.category() == stomp::error_category()) {
    switch (static_cast<stomp::errc>(ec.value())) {
    case stomp::errc::error_frame:
      return error_type::stomp_error_frame;
    case stomp::errc::heartbeat_timeout:
      return error_type::heartbeat_timeout;
    case stomp::errc::frame_too_large:
    case stomp::errc::body_too_large:
      return error_type::frame_too_large;
    default:
      return error_type::protocol_error;
    }
  }
  return error_type::other;
}

namespace {

/// One own message waiting for its round trip.
struct pending_send {
  std::uint64_t seq;
  clock_type::time_point intended;
  clock_type::time_point actual;
};

/// The measurement key a sender puts in its content: [W{user}-N{seq}-T{intended wall µs}].
struct message_key {
  std::uint64_t user = 0;
  std::uint64_t seq = 0;
  std::int64_t wall_us = 0;
};

bool parse_number(std::string_view& s, char prefix, std::uint64_t& out) {
  if (s.empty() || s.front() != prefix)
    return false;
  s.remove_prefix(1);
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  if (ec != std::errc{})
    return false;
  s.remove_prefix(static_cast<std::size_t>(p - s.data()));
  return true;
}

/// Finds and parses the first key in `body`.
bool find_key(std::string_view body, message_key& k) {
  auto at = body.find("[W");
  if (at == std::string_view::npos)
    return false;
  auto s = body.substr(at + 1);
  std::uint64_t wall = 0;
  if (!parse_number(s, 'W', k.user) || s.empty() || s.front() != '-')
    return false;
  s.remove_prefix(1);
  if (!parse_number(s, 'N', k.seq) || s.empty() || s.front() != '-')
    return false;
  s.remove_prefix(1);
  if (!parse_number(s, 'T', wall) || s.empty() || s.front() != ']')
    return false;
  k.wall_us = static_cast<std::int64_t>(wall);
  return true;
}

std::int64_t wall_now_us() {
  using namespace std::chrono;
  return duration_cast<microseconds>(system_clock::now().time_since_epoch()).count();
}

template<class D>
std::int64_t to_us(D d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

/// splitmix64: a small, fast generator for behaviours' random numbers.
std::uint64_t splitmix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

/// A received MESSAGE as behaviours see it.
class frame_message final : public message_view {
public:
  frame_message(const stomp::frame_view& f, std::string_view sub, bool room)
      : f_(f), sub_(sub), room_(room) {}
  std::string_view destination() const override {
    return f_.get("destination").value_or(std::string_view{});
  }
  std::string_view subscription() const override {
    return sub_;
  }
  std::string_view body() const override {
    return f_.body;
  }
  std::optional<std::string_view> header(std::string_view name) const override {
    return f_.get(name);
  }
  bool from_room() const override {
    return room_;
  }

private:
  const stomp::frame_view& f_;
  std::string_view sub_;
  bool room_;
};

/// The room subscription's id; behaviours' own subscriptions are sub-1, sub-2, ...
constexpr std::string_view room_subscription = "sub-0";

/// n of a behaviour subscription id `sub-<n>`; 0 for anything else (the room's `sub-0` too).
std::uint64_t own_subscription_number(std::string_view id) noexcept {
  constexpr std::string_view prefix = "sub-";
  if (id.size() <= prefix.size() || id.substr(0, prefix.size()) != prefix ||
      id[prefix.size()] == '0')
    return 0;
  std::uint64_t n = 0;
  const auto* end = id.data() + id.size();
  auto [p, e] = std::from_chars(id.data() + prefix.size(), end, n);
  return e == std::errc{} && p == end ? n : 0;
}

class session_impl final : public user_session,
                           public net::ws_handler,
                           public behaviour_context,
                           public std::enable_shared_from_this<session_impl> {
public:
  session_impl(asio::io_context& ioc, io_aggregate& agg,
               std::shared_ptr<const session_settings> settings, user_identity id, listener l)
      : ioc_(ioc), agg_(agg), settings_(std::move(settings)), id_(std::move(id)),
        listener_(std::move(l)), stomp_(make_client_options()), parser_(settings_->limits),
        heartbeat_timer_(ioc), deadline_timer_(ioc) {
    if (id_.behaviour < settings_->behaviours.size())
      slot_ = &settings_->behaviours[id_.behaviour];
    rng_ = settings_->random_seed * 0x100000001B3ull + id_.index + 1;
  }

  // -- user_session ---------------------------------------------------------------------------

  void start() override {
    asio::post(ioc_, [self = shared_from_this()] { self->do_start(); });
  }

  void stop() override {
    asio::post(ioc_, [self = shared_from_this()] { self->do_stop(); });
  }

  void abort(std::error_code reason) override {
    asio::post(ioc_, [self = shared_from_this(), reason] {
      if (self->client_)
        self->client_->close(false, reason);
    });
  }

  void inject(user_fault f, bool on) override {
    asio::post(ioc_, [self = shared_from_this(), f, on] { self->do_inject(f, on); });
  }

  user_identity take_identity() override {
    return std::move(id_);
  }

  void stage_changed(std::uint32_t stage) override {
    asio::post(ioc_, [self = shared_from_this(), stage] {
      if (self->behaviour_ && self->can_send())
        self->run_hook("on_stage_changed",
                       [&] { self->behaviour_->on_stage_changed(*self, stage); });
    });
  }

  // -- ws_handler (on the IO thread) ----------------------------------------------------------

  void on_open(std::chrono::nanoseconds elapsed) override {
    open_ = true;
    opened_at_ = clock_type::now();
    agg_.open_sessions++;
    agg_.counters.connects_ok++;
    agg_.histograms.ws_connect_us.record(to_us(elapsed));
    std::string out;
    stomp_.connect(out);
    stomp_sent_at_ = clock_type::now();
    write(std::move(out));
    arm_deadline(settings_->stomp_connect_timeout, net::transport_errc::handshake_timeout);
  }

  void on_upgrade_declined(unsigned status, std::string_view reason) override {
    // A 404 (wrong path) and a 401 (no or bad token) look alike as upgrade_rejected: the
    // status tells them apart in the reports and the nothing-connects line.
    agg_.upgrade_refusal = "WebSocket upgrade answered HTTP " + std::to_string(status);
    if (!reason.empty())
      agg_.upgrade_refusal.append(" ").append(printable(reason.substr(0, 64)));
  }

  void on_tls_failure(std::string_view reason) override {
    // Kept for the one-line diagnosis and the reports; the error itself is counted on close.
    agg_.tls_failure.assign(reason);
  }

  void on_message(std::string_view data) override {
    agg_.counters.bytes_in += data.size();
    parser_.feed(data);
    stomp::frame_view f;
    for (;;) {
      auto st = parser_.next(f);
      if (st == stomp::parse_status::frame) {
        if (!on_frame(f))
          return;
      } else if (st == stomp::parse_status::heartbeat) {
        continue;
      } else if (st == stomp::parse_status::need_more) {
        // Between messages a session keeps no parse buffer (a WebSocket message is usually
        // one whole frame): memory per quiet user over a malloc per message.
        parser_.release_buffer();
        return;
      } else {
        fail(parser_.error());
        return;
      }
    }
  }

  void on_closed(std::error_code ec) override {
    heartbeat_timer_.cancel();
    deadline_timer_.cancel();
    for (auto& t : timers_)
      t->timer.cancel();
    auto now = clock_type::now();
    if (open_) {
      agg_.open_sessions--;
      agg_.histograms.connection_duration_ms.record(
          std::chrono::duration_cast<std::chrono::milliseconds>(now - opened_at_).count());
    }
    if (subscribed_) {
      agg_.subscribed_sessions--;
      if (slot_)
        figures().connected--;
    }
    // Own messages still in flight are resolved here: too old ones are lost, younger ones
    // can no longer be confirmed by this session and leave the in-flight gauge.
    expire_pending(now);
    agg_.in_flight -= static_cast<std::int64_t>(pending_.size());
    agg_.counters.unresolved += pending_.size();
    pending_.clear();
    // A failure we diagnosed ourselves (ERROR frame, heart-beat) wins over the transport's view.
    auto reason = failure_ ? failure_ : ec;
    // Once heart-beats are agreed, the transport's idle timeout is the heart-beat deadline:
    // silence past it is a lost heart-beat, counted as such.
    if (heartbeat_watch_ && reason == net::transport_errc::idle_timeout)
      reason = stomp::errc::heartbeat_timeout;
    // After our DISCONNECT the server may end the connection at once, before or after its
    // RECEIPT and without a WebSocket close (STOMP 1.2 "connection lingering"; RabbitMQ does):
    // that is the end we asked for, not a failure.
    if (stopping_ && (!reason || reason == net::transport_errc::closed_by_peer ||
                      (disconnect_sent_ && reason == net::transport_errc::connection_reset)))
      reason = {};
    if (reason)
      agg_.counters.add_error(classify(reason));
    if (!ended_) {
      ended_ = true;
      server_seq_.end(agg_.ledger);
      agg_.ledger.sessions.push_back(
          {id_.index,
           reason ? metrics::session_record::ended_failed : metrics::session_record::ended_graceful,
           id_.room, wall_now_us()});
    }
    if (behaviour_ && reason) {
      closing_ = true;
      run_hook("on_error", [&] { behaviour_->on_error(*this, reason); });
    }
    closing_ = true;
    client_.reset();
    if (listener_) {
      auto l = std::move(listener_);
      l(session_event{session_event::closed, reason, restart_ && !reason});
    }
  }

  // -- behaviour_context (on the IO thread, from the behaviour's hooks) ------------------------

  std::uint32_t user_index() const override {
    return id_.index;
  }
  std::int64_t member_id() const override {
    return id_.member_id;
  }
  std::int64_t room() const override {
    return id_.room;
  }
  std::uint32_t behaviour_index() const override {
    return id_.behaviour_index;
  }
  const std::string& label() const override {
    return slot_->label;
  }
  const behaviour_params& params() const override {
    return slot_->params;
  }
  const std::string& room_destination() const override {
    return send_destination_;
  }
  const std::string& room_topic() const override {
    return room_topic_;
  }
  std::uint64_t random() override {
    return splitmix(rng_);
  }
  clock::time_point now() const override {
    return clock_type::now();
  }

  /// Sends the message that was due at `due` (drift-free schedules pass the slot's time, not
  /// the time the timer ran).
  void send_chat(clock::time_point due) override {
    if (!can_send() || sending_paused())
      return;
    auto intended = due;
    auto now = clock_type::now();
    auto lateness = now - intended;
    agg_.histograms.send_lateness_us.record(to_us(lateness));
    if (lateness > settings_->late_tolerance)
      agg_.counters.late_sends++;
    expire_pending(now);
    // Unique per user across its sessions, without gaps: the key of message accounting.
    auto seq = settings_->keys ? settings_->keys->next(id_.index) : ++seq_;
    // The key carries the intended send time as wall-clock µs, for receivers in other processes.
    auto intended_wall = wall_now_us() - to_us(lateness);
    auto& content = agg_.scratch.content;
    content.clear();
    content += "[W";
    content += std::to_string(id_.index);
    content += "-N";
    content += std::to_string(seq);
    content += "-T";
    content += std::to_string(intended_wall);
    content += "] load test message";
    template_vars v;
    v.user = id_.index;
    v.member = id_.member_id;
    v.room = id_.room;
    v.seq = seq;
    v.content = content;
    auto out = compose_send(v);
    pending_.push_back({seq, intended, now});
    agg_.ledger.sent.push_back({id_.index, seq, id_.room, intended_wall});
    agg_.in_flight++;
    agg_.counters.messages_sent++;
    figures().messages_sent++;
    write(std::move(out));
    arm_loss_timer();
  }

  /// While own messages are in flight, a wait until the oldest one's round-trip timeout: it is
  /// counted lost then, not at this user's next send (which may come much later, or never).
  /// Uses the deadline timer, which is idle between CONNECTED and the DISCONNECT (that
  /// re-arms it, cancelling this wait; the session's end resolves what is left).
  void arm_loss_timer() {
    if (loss_timer_armed_ || pending_.empty() || stopping_ || closing_ || !client_)
      return;
    loss_timer_armed_ = true;
    deadline_timer_.expires_at(pending_.front().intended + settings_->round_trip_timeout +
                               std::chrono::milliseconds(1));
    deadline_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& e) {
      auto self = w.lock();
      if (!self)
        return;
      self->loss_timer_armed_ = false;
      if (e || !self->client_ || self->stopping_ || self->closing_)
        return;
      self->expire_pending(clock_type::now());
      self->arm_loss_timer();
    });
  }

  /// The SEND frame of a chat message whose template variables are `v` (its timestamp is added
  /// here), composed in the IO thread's scratch buffers.
  std::string compose_send(template_vars& v) {
    auto& sc = agg_.scratch;
    sc.created_at = iso8601_now();
    v.created_at = sc.created_at;
    sc.body.clear();
    settings_->body.render(v, sc.body);
    std::string out;
    out.reserve(sc.body.size() + send_destination_.size() + 64);
    stomp_.send(out, send_destination_, sc.body, settings_->content_type);
    return out;
  }

  void say(std::string_view text) override {
    if (!can_send() || sending_paused())
      return;
    std::string escaped;
    json_escape_to(text, escaped);
    template_vars v;
    v.user = id_.index;
    v.member = id_.member_id;
    v.room = id_.room;
    v.seq = ++seq_;
    v.content = escaped;
    auto out = compose_send(v);
    figures().messages_sent++;
    write(std::move(out));
  }

  void send(std::string_view destination, std::string_view body, std::string_view content_type,
            bool receipt) override {
    if (!can_send() || sending_paused())
      return;
    std::string out;
    out.reserve(body.size() + destination.size() + 64);
    if (receipt) {
      auto rid = "r-" + std::to_string(++receipt_seq_);
      receipts_.push_back({rid, clock_type::now()});
      stomp_.send(out, destination, body, content_type, std::string_view{rid});
    } else {
      stomp_.send(out, destination, body, content_type);
    }
    figures().messages_sent++;
    write(std::move(out));
  }

  std::string subscribe(std::string_view destination, std::string_view ack) override {
    const auto n = ++sub_seq_;
    auto id = "sub-" + std::to_string(n);
    if (!can_send())
      return id;
    std::string out;
    stomp_.subscribe(out, id, destination, ack);
    own_subscriptions_.push_back(n);
    write(std::move(out));
    return id;
  }

  void unsubscribe(std::string_view subscription_id) override {
    if (!can_send() || subscription_id == room_subscription)
      return;
    const auto n = own_subscription_number(subscription_id);
    auto it = std::find(own_subscriptions_.begin(), own_subscriptions_.end(), n);
    if (n == 0 || it == own_subscriptions_.end())
      return; // not one of ours, or already ended: nothing to send
    own_subscriptions_.erase(it);
    std::string out;
    stomp_.unsubscribe(out, subscription_id);
    write(std::move(out));
  }

  void ack(const message_view& m) override {
    acknowledge(m, false);
  }
  void nack(const message_view& m) override {
    acknowledge(m, true);
  }

  void deliver_room_messages(bool on) override {
    room_delivery_ = on;
  }

  timer_id after(std::chrono::milliseconds delay) override {
    return add_timer(clock_type::now() + delay, std::chrono::milliseconds{0});
  }

  timer_id every(std::chrono::milliseconds period, std::chrono::milliseconds first) override {
    if (period.count() <= 0)
      period = std::chrono::milliseconds{1};
    return add_timer(clock_type::now() + first, period);
  }

  void cancel(timer_id id) override {
    for (auto it = timers_.begin(); it != timers_.end(); ++it)
      if ((*it)->id == id) {
        (*it)->timer.cancel();
        timers_.erase(it);
        return;
      }
  }

  bool rooms_over_rest() const override {
    return settings_->room_rest.has_value();
  }

  std::uint32_t join_room(std::int64_t room) override {
    return room_call(room, 0);
  }

  std::uint32_t open_private_room(std::int64_t other_member) override {
    return room_call(0, other_member);
  }

  void say_in(std::int64_t room, std::string_view text) override {
    if (!can_send() || sending_paused())
      return;
    std::string escaped;
    json_escape_to(text, escaped);
    template_vars v;
    v.user = id_.index;
    v.member = id_.member_id;
    v.room = room;
    v.seq = ++seq_;
    v.content = escaped;
    auto created_at = iso8601_now();
    v.created_at = created_at;
    std::string body, dest;
    settings_->body.render(v, body);
    settings_->send_destination.render(v, dest);
    std::string out;
    out.reserve(body.size() + dest.size() + 64);
    stomp_.send(out, dest, body, settings_->content_type);
    figures().messages_sent++;
    write(std::move(out));
  }

  std::optional<std::int64_t> member_of(std::uint32_t k) const override {
    const auto& all = settings_->behaviour_members;
    if (id_.behaviour >= all.size() || k >= all[id_.behaviour].size())
      return std::nullopt;
    return all[id_.behaviour][k];
  }

  void count(std::string_view name, std::uint64_t n) override {
    figures().count(name, n);
  }

  void record_latency(std::string_view name, std::chrono::microseconds value) override {
    figures().record(name, value.count());
  }

  void end_session() override {
    if (closing_)
      return;
    asio::post(ioc_, [self = shared_from_this()] { self->do_stop(); });
  }

  void restart_session() override {
    if (closing_)
      return;
    restart_ = true;
    asio::post(ioc_, [self = shared_from_this()] { self->do_stop(); });
  }

private:
  /// A timer of the behaviour.
  struct behaviour_timer {
    behaviour_timer(asio::io_context& ioc, timer_id i) : id(i), timer(ioc) {}
    timer_id id;
    asio::steady_timer timer;
    clock_type::time_point due;
    std::chrono::milliseconds period{0};
  };

  struct pending_receipt {
    std::string id;
    clock_type::time_point sent;
  };

  metrics::behaviour_figures& figures() {
    return agg_.behaviours[id_.behaviour];
  }

  /// Joins `room` (or, with `room` 0, opens the private room with `other`): over REST when the
  /// run joins rooms that way (asynchronous, on this IO thread), then SUBSCRIBE; the outcome
  /// reaches `on_room_joined` from a later turn of the IO thread.
  std::uint32_t room_call(std::int64_t room, std::int64_t other) {
    auto request = ++room_request_seq_;
    auto finish = [w = weak_from_this(), request](std::int64_t r, std::error_code ec) {
      auto self = w.lock();
      if (!self || !self->behaviour_ || !self->can_send())
        return;
      room_joined ev;
      ev.request = request;
      ev.error = ec;
      if (!ec) {
        ev.room = r;
        template_vars v;
        v.user = self->id_.index;
        v.member = self->id_.member_id;
        v.room = r;
        std::string topic;
        self->settings_->subscribe_destination.render(v, topic);
        ev.subscription = self->subscribe(topic, "auto");
      }
      self->run_hook("on_room_joined", [&] { self->behaviour_->on_room_joined(*self, ev); });
    };
    if (!settings_->room_rest) {
      auto ec =
          room != 0 ? std::error_code{} : std::make_error_code(std::errc::operation_not_supported);
      asio::post(ioc_, [finish, room, ec] { finish(room, ec); });
      return request;
    }
    auto started = clock_type::now();
    net::async_http_request(
        ioc_, room_request(*settings_->room_rest, id_.token, room, other),
        [w = weak_from_this(), finish, room, started](std::error_code ec, net::http_response r) {
          auto self = w.lock();
          if (!self)
            return;
          std::int64_t joined = room;
          std::string why;
          if (!parse_room_response(ec, r, joined, why)) {
            if (self->slot_)
              self->figures().count("room_rest_failed", 1);
            finish(0, ec ? ec : std::make_error_code(std::errc::permission_denied));
            return;
          }
          if (self->slot_)
            self->figures().record("room_rest", to_us(clock_type::now() - started));
          finish(joined, {});
        });
    return request;
  }

  bool can_send() const {
    return client_ && !stopping_ && !closing_ && subscribed_;
  }

  /// Live control paused sending: messages due now are skipped (not sent, not measured).
  bool sending_paused() const {
    auto& p = settings_->sending_paused;
    return p && p->load(std::memory_order_relaxed);
  }

  void acknowledge(const message_view& m, bool negative) {
    if (!can_send())
      return;
    auto id = m.header("ack");
    if (!id)
      id = m.header("message-id");
    if (!id)
      return;
    std::string out;
    if (negative)
      stomp_.nack(out, *id);
    else
      stomp_.ack(out, *id);
    write(std::move(out));
  }

  timer_id add_timer(clock_type::time_point due, std::chrono::milliseconds period) {
    auto t = std::make_unique<behaviour_timer>(ioc_, ++timer_seq_);
    t->due = due;
    t->period = period;
    auto* raw = t.get();
    timers_.push_back(std::move(t));
    arm(*raw);
    return raw->id;
  }

  void arm(behaviour_timer& t) {
    t.timer.expires_at(t.due);
    t.timer.async_wait([w = weak_from_this(), id = t.id](const boost::system::error_code& e) {
      auto self = w.lock();
      if (e || !self || !self->client_ || self->stopping_ || !self->behaviour_)
        return;
      self->fire(id);
    });
  }

  void fire(timer_id id) {
    behaviour_timer* t = nullptr;
    for (auto& p : timers_)
      if (p->id == id)
        t = p.get();
    if (t == nullptr)
      return;
    timer_event ev{id, t->due};
    if (t->period.count() > 0) {
      // Drift-free: the next firing is one period after this one was due, however late it ran.
      t->due += t->period;
      run_hook("on_timer", [&] { behaviour_->on_timer(*this, ev); });
      // The hook may have cancelled the timer (or ended the session).
      for (auto& p : timers_)
        if (p->id == id && client_ && !stopping_)
          arm(*p);
    } else {
      cancel(id);
      run_hook("on_timer", [&] { behaviour_->on_timer(*this, ev); });
    }
  }

  stomp::client_options make_client_options() const {
    auto opts = settings_->stomp;
    if (settings_->bearer_on_connect && !id_.token.empty())
      opts.connect_headers.emplace_back("Authorization", "Bearer " + id_.token);
    return opts;
  }

  void do_start() {
    // On the IO thread, which alone touches its aggregate. Every session of a run has the same
    // behaviours, so this sizes the vector once per thread, before anything refers to an entry.
    if (agg_.behaviours.size() < settings_->behaviours.size()) {
      agg_.behaviours.resize(settings_->behaviours.size());
      for (std::size_t i = 0; i < settings_->behaviours.size(); ++i)
        agg_.behaviours[i].label = settings_->behaviours[i].label;
    }
    if (needs_relogin()) {
      relogin();
      return;
    }
    connect();
  }

  /// True when our token is a JWT that has expired or is about to (a user restarted late in a
  /// long run): connecting with it would only earn an ERROR frame.
  bool needs_relogin() const {
    if (!settings_->relogin || id_.token.empty())
      return false;
    if (id_.token_expired)
      return true; // an injected token expiry
    auto exp = jwt_expiry(id_.token);
    if (!exp)
      return false;
    auto now = std::chrono::duration_cast<std::chrono::seconds>(
                   std::chrono::system_clock::now().time_since_epoch())
                   .count();
    return *exp <= now + settings_->relogin_margin.count();
  }

  void relogin() {
    net::async_http_request(ioc_, login_request(*settings_->relogin, id_.member_id),
                            [w = weak_from_this()](std::error_code ec, net::http_response r) {
                              auto self = w.lock();
                              if (!self)
                                return;
                              std::string token, why;
                              auto member = self->id_.member_id;
                              if (!r.error_detail.empty())
                                self->agg_.tls_failure = r.error_detail;
                              if (self->stopping_ ||
                                  !parse_login_response(ec, r, token, member, why)) {
                                if (!self->failure_ && !self->stopping_)
                                  self->failure_ = login_failed_error;
                                self->on_closed({});
                                return;
                              }
                              self->id_.token = std::move(token);
                              self->stomp_ = stomp::client_session{self->make_client_options()};
                              self->connect();
                            });
  }

  void connect() {
    auto opts = settings_->ws;
    if (settings_->bearer_on_upgrade && !id_.token.empty())
      opts.headers.emplace_back("Authorization", "Bearer " + id_.token);
    if (!id_.source_address.empty())
      opts.source_address = id_.source_address;
    if (id_.ws_port != 0)
      opts.target.port = id_.ws_port;
    agg_.counters.connect_attempts++;
    client_ = net::make_ws_client(ioc_, std::move(opts), shared_from_this());
    client_->start();
  }

  void do_inject(user_fault f, bool on) {
    if (f == user_fault::stop_heartbeats) {
      heartbeats_stopped_ = on;
      return;
    }
    if (!client_ || (stopping_ && on))
      return;
    switch (f) {
    case user_fault::stop_reading:
      client_->pause_reading(on);
      break;
    case user_fault::drop:
      if (on) {
        failure_ = injected_fault_error();
        client_->reset(failure_);
      }
      break;
    case user_fault::close:
    case user_fault::token_expiry:
      if (on) {
        failure_ = injected_fault_error();
        client_->close(true, failure_);
      }
      break;
    case user_fault::malformed_frame:
      if (on && stomp_.state() == stomp::client_state::connected) {
        // content-length must be a number (STOMP 1.2): a server answers ERROR and closes.
        std::string frame =
            "SEND\ndestination:" + send_destination_ + "\ncontent-length:not-a-number\n\nmalformed";
        frame.push_back('\0');
        write(std::move(frame));
      }
      break;
    case user_fault::crash:
    case user_fault::stop_heartbeats:
      break;
    }
  }

  void do_stop() {
    if (stopping_)
      return;
    stopping_ = true; // no more sends
    if (!client_)
      return; // not connected yet (or logging in again): the login callback ends the session
    if (stomp_.state() != stomp::client_state::connected) {
      agg_.counters.connects_abandoned++; // stopped before CONNECTED: not a success, not an error
      client_->close(false, {});
      return;
    }
    if (behaviour_) {
      // The behaviour's last word: it may still send (can_send() ignores stopping_ here).
      stopping_ = false;
      const bool ok =
          run_hook("on_before_disconnect", [&] { behaviour_->on_before_disconnect(*this); });
      stopping_ = true;
      if (!ok || !client_)
        return; // a throw there failed the session: no DISCONNECT after it
    }
    if (pending_.empty()) {
      send_disconnect();
      return;
    }
    // Own messages still on their way: let them come back first (bounded), so that a stop does
    // not turn them into unresolved ones.
    draining_ = true;
    deadline_timer_.expires_after(settings_->disconnect_timeout);
    deadline_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& e) {
      auto self = w.lock();
      if (!e && self && self->client_ && self->draining_)
        self->send_disconnect();
    });
  }

  /// DISCONNECT with a receipt; the RECEIPT (or the deadline) closes the WebSocket.
  void send_disconnect() {
    draining_ = false;
    deadline_timer_.cancel();
    if (!client_ || stomp_.state() != stomp::client_state::connected)
      return;
    std::string out;
    stomp_.disconnect(out, "disconnect");
    write(std::move(out));
    disconnect_sent_ = true;
    agg_.counters.disconnects_graceful++;
    arm_deadline(settings_->disconnect_timeout, {});
  }

  void write(std::string bytes) {
    if (!client_)
      return;
    agg_.counters.bytes_out += bytes.size();
    last_write_ = clock_type::now();
    client_->send(std::move(bytes));
  }

  /// Runs a behaviour's hook (or factory). What it throws ends this session, counted as a
  /// `behaviour_error` (the supervisor restarts the user as after any failure), and never
  /// reaches the IO thread's loop: one broken hook must not end the run. The first few are
  /// told on stderr with the behaviour, the hook and the user. False when it threw.
  template<class F>
  bool run_hook(const char* hook, F&& f) {
    try {
      f();
      return true;
    } catch (const std::exception& e) {
      hook_threw(hook, e.what());
    } catch (...) {
      hook_threw(hook, "an exception that is not a std::exception");
    }
    return false;
  }

  void hook_threw(const char* hook, std::string_view what) {
    static std::atomic<unsigned> told{0};
    constexpr unsigned tell_at_most = 5;
    const auto n = told.fetch_add(1, std::memory_order_relaxed);
    const std::string& name = slot_ ? slot_->label : std::string();
    if (n < tell_at_most)
      std::fprintf(stderr, "stompede: behaviour %s threw in %s (user %u): %s%s\n", name.c_str(),
                   hook, static_cast<unsigned>(id_.index), printable(what.substr(0, 256)).c_str(),
                   n + 1 == tell_at_most ? " (further ones are only counted, as behaviour_error)"
                                         : "");
    const std::error_code ec{behaviour_code, session_category()};
    if (ended_ || closing_) {
      // The session is ending already (on_error, the last word before DISCONNECT): its own
      // reason stands; the throw is counted besides it.
      agg_.counters.add_error(error_type::behaviour_error);
      return;
    }
    fail(ec);
  }

  void fail(std::error_code ec) {
    if (!failure_)
      failure_ = ec;
    if (client_)
      client_->close(false, ec);
  }

  /// A deadline for the current step; on expiry the session ends with `ec` (or, with an
  /// empty `ec` during a stop, closes gracefully).
  void arm_deadline(std::chrono::milliseconds d, std::error_code ec) {
    deadline_timer_.expires_after(d);
    deadline_timer_.async_wait([w = weak_from_this(), ec](const boost::system::error_code& e) {
      auto self = w.lock();
      if (e || !self || !self->client_)
        return;
      if (ec)
        self->fail(ec);
      else
        self->client_->close(true, {});
    });
  }

  bool on_frame(const stomp::frame_view& f) {
    if (f.cmd == stomp::command::message) {
      // The hot path: count and measure without the client state machine, after the checks
      // STOMP 1.2 makes of every MESSAGE (a server that breaks them is not counted as
      // delivering): it comes after CONNECTED and names its subscription, destination and id.
      const auto sub = f.get("subscription");
      if (const auto st = stomp_.state();
          st == stomp::client_state::idle || st == stomp::client_state::connecting) {
        fail(make_error_code(stomp::errc::unexpected_frame));
        return false;
      }
      if (!sub || !f.get("message-id") || !f.get("destination")) {
        fail(make_error_code(stomp::errc::missing_header));
        return false;
      }
      const bool room = *sub == room_subscription;
      if (!room) {
        // A behaviour's subscription: live ones count; one we unsubscribed may still see
        // MESSAGEs the server sent before our UNSUBSCRIBE reached it (ignored, not counted); an
        // id this session never used is the server's error, not a delivery.
        const auto n = own_subscription_number(*sub);
        if (n == 0 || n > sub_seq_) {
          fail(make_error_code(stomp::errc::unknown_subscription));
          return false;
        }
        if (std::find(own_subscriptions_.begin(), own_subscriptions_.end(), n) ==
            own_subscriptions_.end())
          return true;
      }
      agg_.counters.messages_received++;
      measure(f.body, room);
      if (slot_ == nullptr)
        return true;
      figures().messages_received++;
      // Behaviours that look at no message cost nothing more per message.
      if (behaviour_ && (!own_subscriptions_.empty() || room_delivery_))
        deliver(f);
      return client_ != nullptr;
    }
    auto ev = stomp_.on_frame(f);
    switch (ev.kind) {
    case stomp::client_event::connected:
      on_connected(ev.heartbeat);
      return client_ != nullptr;
    case stomp::client_event::message:
      return true;
    case stomp::client_event::receipt:
      if (ev.disconnect_done && client_) {
        deadline_timer_.cancel();
        client_->close(true, {});
        return false;
      }
      on_receipt(ev.text);
      return client_ != nullptr;
    case stomp::client_event::error:
      // What the server said, for the one-line diagnosis and the reports (counted on close).
      agg_.server_error = printable(ev.text);
      fail(stomp::errc::error_frame);
      return false;
    case stomp::client_event::protocol_violation:
      fail(ev.error_code ? ev.error_code : make_error_code(stomp::errc::unexpected_frame));
      return false;
    }
    return true;
  }

  void deliver(const stomp::frame_view& f) {
    auto sub = f.get("subscription").value_or(std::string_view{});
    bool room = sub == room_subscription;
    if (room && !room_delivery_)
      return;
    frame_message m{f, sub, room};
    run_hook("on_message", [&] { behaviour_->on_message(*this, m); });
  }

  void on_receipt(std::string_view id) {
    for (auto it = receipts_.begin(); it != receipts_.end(); ++it) {
      if (it->id == id) {
        auto sent = it->sent;
        receipts_.erase(it);
        figures().record("receipt", to_us(clock_type::now() - sent));
        if (behaviour_)
          run_hook("on_receipt", [&] { behaviour_->on_receipt(*this, id); });
        return;
      }
    }
  }

  void on_connected(const stomp::heartbeat_plan& hb) {
    deadline_timer_.cancel();
    agg_.counters.stomp_connected++;
    agg_.histograms.stomp_connect_us.record(to_us(clock_type::now() - stomp_sent_at_));
    if (hb.dead_after.count() > 0) {
      client_->set_idle_timeout(hb.dead_after);
      heartbeat_watch_ = true;
    }
    if (hb.send_every.count() > 0)
      schedule_heartbeat(hb.send_every);
    std::string out;
    template_vars v;
    v.user = id_.index;
    v.member = id_.member_id;
    v.room = id_.room;
    room_topic_.clear();
    settings_->subscribe_destination.render(v, room_topic_);
    stomp_.subscribe(out, room_subscription, room_topic_);
    write(std::move(out));
    subscribed_ = true;
    agg_.subscribed_sessions++;
    agg_.counters.subscribed++;
    send_destination_.clear();
    settings_->send_destination.render(v, send_destination_);
    if (slot_) {
      auto& fig = figures();
      fig.sessions++;
      fig.connected++;
      if (slot_->make && run_hook("the factory", [&] { behaviour_ = slot_->make(*this); }) &&
          !behaviour_)
        hook_threw("the factory", "it returned no behaviour (nullptr)");
      if (behaviour_)
        run_hook("on_connected", [&] { behaviour_->on_connected(*this); });
    }
    if (listener_)
      listener_(session_event{session_event::subscribed, {}});
  }

  void schedule_heartbeat(std::chrono::milliseconds every) {
    heartbeat_timer_.expires_after(every);
    heartbeat_timer_.async_wait([w = weak_from_this(), every](const boost::system::error_code& e) {
      auto self = w.lock();
      if (e || !self || !self->client_)
        return;
      // Anything written counts as a heart-beat; only an idle session sends an EOL.
      if (!self->heartbeats_stopped_ && clock_type::now() - self->last_write_ >= every / 2)
        self->write("\n");
      self->schedule_heartbeat(every);
    });
  }

  void expire_pending(clock_type::time_point now) {
    auto expired = pending_.begin();
    while (expired != pending_.end() && now - expired->intended > settings_->round_trip_timeout)
      ++expired;
    const auto n = static_cast<std::int64_t>(expired - pending_.begin());
    pending_.erase(pending_.begin(), expired);
    agg_.in_flight -= n;
    agg_.counters.lost += static_cast<std::uint64_t>(n);
  }

  /// A MESSAGE on the room subscription, for message accounting: the first one confirms the
  /// subscription; each one's server seq is checked against the previous one; a keyed one is
  /// a receipt (flagged when its sender's numbers did not go up).
  void account(std::string_view body, const message_key* k) {
    auto& l = agg_.ledger;
    if (!confirmed_) {
      confirmed_ = true;
      l.sessions.push_back(
          {id_.index, metrics::session_record::confirmed, id_.room, wall_now_us()});
    }
    std::uint64_t server_seq = 0;
    if (metrics::find_server_seq(body.data(), body.size(), server_seq))
      server_seq_.see(server_seq, l);
    if (k != nullptr && k->user <= std::numeric_limits<std::uint32_t>::max()) {
      auto sender = static_cast<std::uint32_t>(k->user);
      l.deliveries.push_back(
          {static_cast<std::uint32_t>(k->seq), sender, id_.index, window_.behind(sender, k->seq)});
    }
  }

  void measure(std::string_view body, bool room) {
    message_key k;
    bool keyed = find_key(body, k);
    if (room)
      account(body, keyed ? &k : nullptr);
    if (!keyed)
      return;
    if (k.user != id_.index) {
      agg_.histograms.fanout_us.record(wall_now_us() - k.wall_us);
      return;
    }
    // Our own message back through the room: usually the oldest pending one.
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      if (it->seq == k.seq) {
        auto now = clock_type::now();
        agg_.histograms.round_trip_intended_us.record(to_us(now - it->intended));
        agg_.histograms.round_trip_actual_us.record(to_us(now - it->actual));
        agg_.counters.own_received++;
        agg_.in_flight--;
        pending_.erase(it);
        if (draining_ && pending_.empty())
          send_disconnect();
        return;
      }
    }
  }

  asio::io_context& ioc_;
  io_aggregate& agg_;
  std::shared_ptr<const session_settings> settings_;
  user_identity id_;
  listener listener_;
  stomp::client_session stomp_;
  stomp::parser parser_;
  std::shared_ptr<net::ws_client> client_;
  asio::steady_timer heartbeat_timer_;
  asio::steady_timer deadline_timer_;
  clock_type::time_point opened_at_{};
  clock_type::time_point stomp_sent_at_{};
  clock_type::time_point last_write_{};
  /// Own messages awaiting their round trip, oldest first. A vector, not a deque: a session
  /// has a handful at most in flight, and an empty deque already holds ~600 bytes.
  std::vector<pending_send> pending_;
  std::string send_destination_;
  std::string room_topic_;
  std::uint64_t seq_ = 0;
  std::error_code failure_;
  bool open_ = false;
  bool subscribed_ = false;
  bool stopping_ = false;
  /// The deadline timer waits for an own message's round-trip timeout (arm_loss_timer).
  bool loss_timer_armed_ = false;
  /// The session is closing: the behaviour may no longer act.
  bool closing_ = false;
  /// Close and connect again (the behaviour asked for it).
  bool restart_ = false;
  // The behaviour and what it set up.
  const behaviour_slot* slot_ = nullptr;
  std::unique_ptr<behaviour> behaviour_;
  std::vector<std::unique_ptr<behaviour_timer>> timers_;
  std::vector<pending_receipt> receipts_;
  /// Heart-beats from the server were agreed: the idle timeout watches them.
  bool heartbeat_watch_ = false;
  std::uint64_t rng_ = 0;
  timer_id timer_seq_ = 0;
  std::uint64_t sub_seq_ = 0;
  std::uint64_t receipt_seq_ = 0;
  std::uint32_t room_request_seq_ = 0;
  /// The behaviour's live subscriptions, by the number in their id (`sub-<n>`, n ≥ 1).
  std::vector<std::uint64_t> own_subscriptions_;
  bool room_delivery_ = false;
  /// Stopping, waiting for our own messages in flight before DISCONNECT.
  bool draining_ = false;
  /// DISCONNECT was written: the server may now close the connection without a close frame.
  bool disconnect_sent_ = false;
  /// Fault injection: send no heart-beats.
  bool heartbeats_stopped_ = false;
  // Message accounting.
  /// A room MESSAGE arrived: the server has our subscription.
  bool confirmed_ = false;
  /// The session's end is recorded.
  bool ended_ = false;
  /// The server's per-room seq numbers seen on the room subscription.
  metrics::server_seq_check server_seq_;
  /// Per sender, the highest key sequence number seen.
  metrics::sender_window window_;
};

} // namespace

std::shared_ptr<user_session> make_user_session(asio::io_context& ioc, io_aggregate& agg,
                                                std::shared_ptr<const session_settings> settings,
                                                user_identity id, user_session::listener l) {
  return std::make_shared<session_impl>(ioc, agg, std::move(settings), std::move(id), std::move(l));
}

} // namespace stompede
