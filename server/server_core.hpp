#pragma once

// The server's internals shared by the listener, the connections, the REST handlers and the
// fault interface. Not part of the public API (it includes Asio).

#include "server/faults.hpp"
#include "server/jwt.hpp"
#include "server/room_registry.hpp"
#include "server/server.hpp"
#include "server/server_stats_counters.hpp"
#include "server/topic_registry.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <vector>

namespace boost::asio::ssl {
class context;
} // namespace boost::asio::ssl

namespace stompede::server::detail {

class connection;

/// A MESSAGE frame shared by every subscriber of one topic: the wire bytes are
/// prefix + subscription id + suffix, so only the tiny id differs per subscriber.
struct broadcast_frame {
  std::string prefix; ///< "MESSAGE\n...headers...\nsubscription:"
  std::string suffix; ///< "\n\n" + body + NUL
  /// "\nack:" + message-id, put after the subscription id for a subscription that
  /// acknowledges (ack:client, ack:client-individual).
  std::string ack_header;
  /// Not UTF-8 (a broker-mode body of bytes): sent in binary WebSocket messages, since a text
  /// message must be UTF-8 (RFC 6455 8.1) and clients close the connection on one that is not.
  bool binary = false;
};

/// One IO thread: its io_context, the connections it owns, and its housekeeping timer.
struct io_shard {
  explicit io_shard(std::uint32_t i) : index(i), timer(ioc) {}
  std::uint32_t index;
  boost::asio::io_context ioc{1};
  boost::asio::steady_timer timer;
  std::thread thread;
  /// Touched only on this shard's thread.
  std::unordered_set<connection*> connections;
  /// Connections with frames queued since the last flush pass, and whether that pass is
  /// posted. Writes wait for the pass so that every frame queued while the reactor's ready
  /// handlers run leaves in one write per connection (this shard's thread only).
  std::vector<std::shared_ptr<connection>> dirty;
  std::vector<std::shared_ptr<connection>> flushing;
  bool flush_posted = false;
  /// Reads completed on this shard; a flush pass that finds more reads completed since it was
  /// posted goes to the back of the queue again (a few times at most), because Beast delivers
  /// a message already buffered through a post, which would otherwise land after the flush.
  std::uint64_t reads = 0;
  std::uint64_t flush_mark = 0;
  /// A stall fault's handler is queued on this shard (this shard's thread only).
  bool stall_queued = false;
  unsigned flush_deferrals = 0;
  std::minstd_rand rng{std::random_device{}()};
  /// Broadcasts for this shard's subscribers, in the order they were handed over (with several
  /// IO threads). Asio runs a thread's posts to its own io_context only after the handler that
  /// made them, so posting each broadcast would let another thread's later one overtake; one
  /// inbox drained in order keeps every room's seq order.
  struct delivery {
    std::shared_ptr<const subscriber_list> subs;
    std::shared_ptr<const broadcast_frame> frame;
  };
  std::mutex inbox_mutex;
  std::vector<delivery> inbox; // guarded by inbox_mutex
  bool inbox_posted = false;   // guarded by inbox_mutex
};

/// The shard whose thread is running (null off the IO threads).
io_shard* current_shard() noexcept;

class server_core {
public:
  explicit server_core(server_config cfg);
  ~server_core();

  std::error_code start();
  void stop();

  /// Why start() failed, in words (empty otherwise).
  const std::string& start_problem() const noexcept {
    return start_problem_;
  }
  /// The listener's TLS context; null = plain TCP.
  boost::asio::ssl::context* tls_context() const noexcept {
    return tls_.get();
  }

  const server_config& config() const noexcept {
    return cfg_;
  }

  // --- fan-out -------------------------------------------------------------------------
  /// Sends `body` as a MESSAGE to every subscriber of `topic`. Applies the broadcast faults.
  void publish(const std::string& topic, const std::string& message_id,
               const std::string& content_type, std::string body, std::uint64_t room_for_faults);
  /// Delivers a prepared frame to a subscriber list, posting to other shards once each.
  void fan_out(const std::shared_ptr<const subscriber_list>& subs,
               const std::shared_ptr<const broadcast_frame>& frame);

  // --- fault helpers -------------------------------------------------------------------
  /// Runs f(connection&) for a random `fraction` of the STOMP sessions of every shard that
  /// are in `who` (null = all).
  void for_sessions(double fraction, std::shared_ptr<const fault_cohort> who,
                    std::function<void(connection&)> f);
  void restart_listener();
  /// Starts the stall fault's handler on every IO thread (stall_ms must be set first).
  void start_stall();
  /// True (and counted) when the drop fault takes this broadcast of `room` by `sender`.
  bool maybe_drop_broadcast(std::uint64_t room, std::uint64_t sender);
  /// The delay the delay fault puts on this broadcast (0 = none; counted when not).
  std::int64_t broadcast_delay(std::uint64_t room, std::uint64_t sender);
  /// True when the session of `member` is in the cohort (null = everyone).
  bool in_cohort(const fault_cohort* who, std::uint64_t member) const;
  /// True when reads of the session of `member` are paused.
  bool reads_paused_for(std::uint64_t member) const;
  /// True when a session of `member` must be refused at CONNECT (a refuse fault on a cohort).
  bool refused_at_connect(std::uint64_t member) const;

  /// Called by a connection on its shard thread when it has fully closed.
  void on_connection_closed(connection& c);

  counters stats;
  jwt_codec jwt;
  room_registry rooms;
  topic_registry topics;
  fault_control faults;
  std::atomic<std::uint64_t> personal_subscriptions{0};
  /// WebSocket sessions from their upgrade until they close (CONNECTed or not): what
  /// max_sessions bounds. Taken at the upgrade, so two IO threads cannot both take the last
  /// place.
  std::atomic<std::size_t> upgraded_sessions{0};
  std::atomic<std::uint64_t> message_ids{0};

  // fault state
  std::atomic<bool> reading_paused{false};
  std::atomic<bool> refusing{false};
  std::atomic<std::int64_t> broadcast_delay_ms{0};
  std::atomic<double> drop_fraction{0.0};
  /// The stall fault: each turn of an IO thread's queue is held this long (0 = off).
  std::atomic<std::int64_t> stall_ms{0};
  // Each fault's cohort (null = the whole server), read with std::atomic_load.
  std::shared_ptr<const fault_cohort> pause_cohort;
  std::shared_ptr<const fault_cohort> delay_cohort;
  std::shared_ptr<const fault_cohort> drop_cohort;
  std::shared_ptr<const fault_cohort> refuse_cohort;
  mutable std::mutex dropped_mutex;
  std::map<std::uint64_t, std::uint64_t> dropped_per_room;

  std::uint16_t port() const noexcept {
    return port_.load();
  }
  const std::string& host() const noexcept {
    return host_;
  }

private:
  void do_accept();
  void stall_turn(io_shard& s);
  void admit(io_shard& target, boost::asio::ip::tcp::socket socket);
  std::error_code open_acceptor();
  void arm_sweep(io_shard& s);
  void sweep(io_shard& s);
  io_shard& next_shard();

  server_config cfg_;
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::string start_problem_;
  std::string host_;
  std::atomic<std::uint16_t> port_{0};
  std::vector<std::unique_ptr<io_shard>> shards_;
  std::vector<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> guards_;
  std::optional<boost::asio::ip::tcp::acceptor> acceptor_;
  std::uint32_t next_shard_ = 0;
  std::chrono::milliseconds sweep_period_{1000};
  bool started_ = false;
  /// Set by stop() on the caller's thread, read by the accept loop on an IO thread.
  std::atomic<bool> stopped_{false};
};

} // namespace stompede::server::detail
