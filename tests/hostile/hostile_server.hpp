#pragma once

// A STOMP-over-WebSocket server that misbehaves on purpose, for the hostile-server suite. It
// speaks just enough HTTP, WebSocket (RFC 6455, written by hand so that it can break every rule)
// and STOMP to bring a client to the point where each misbehaviour hurts. Every user is
// identified by the member id in the token its REST login got, so one server plays a different
// case per group of users in one run. Blocking sockets, one thread per connection: the suite
// runs tens of sessions, never thousands.

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace stompede::hostile {

/// What the server does to a session.
enum class misbehaviour {
  none,             ///< a well-behaved chat server (echoes SENDs to the room)
  refuse_upgrade,   ///< answers the WebSocket upgrade with HTTP 403
  silent,           ///< upgrades, then never answers CONNECT
  error_on_connect, ///< answers CONNECT with ERROR and closes
  error_frame,      ///< connects, then sends ERROR after the SUBSCRIBE
  malformed,        ///< connects, then a frame whose header has no colon
  oversized,        ///< connects, then a MESSAGE declaring a 10 MB body
  endless,          ///< connects, then a MESSAGE whose body never ends (NUL never comes)
  huge_ws_frame,    ///< connects, then a WebSocket frame header announcing 2^62 bytes
  split_every_byte, ///< a well-behaved server that sends every byte as its own WS message
  stall_mid_frame,  ///< connects with heart-beats, then half a frame and silence
  stop_heartbeats,  ///< connects with heart-beats, sends a few, then stops
  close_mid_frame,  ///< connects, then half a frame and a TCP close (FIN)
  reset,            ///< connects, then half a frame and a TCP reset (RST)
  raw_garbage,      ///< connects, then random bytes outside any WebSocket framing
  binary_garbage,   ///< connects, then a binary WebSocket message of random bytes
  flood,            ///< connects, then MESSAGE frames as fast as the socket takes them
  foreign_message,  ///< connects, then a MESSAGE for a subscription the client never made
};

const char* to_string(misbehaviour m);

/// How REST logins are answered.
enum class login_answer { ok, unauthorized, server_error };

class hostile_server {
public:
  /// Members (1-based) are grouped `per_case` at a time; group g plays `cases[g]` (members past
  /// the list play `none`).
  hostile_server(std::vector<misbehaviour> cases, std::size_t per_case,
                 login_answer login = login_answer::ok);
  ~hostile_server();
  hostile_server(const hostile_server&) = delete;
  hostile_server& operator=(const hostile_server&) = delete;

  std::uint16_t port() const noexcept {
    return port_;
  }
  /// Sessions (WebSocket upgrades) seen per case.
  std::map<misbehaviour, std::size_t> upgrades() const;
  /// MESSAGE frames written by the flood case, all sessions together.
  std::uint64_t flooded() const noexcept {
    return flooded_.load();
  }
  /// Stops accepting, shuts every connection down and joins the threads.
  void stop();

  /// Frames the flood case writes to one session.
  static constexpr std::uint64_t flood_frames = 5000;

private:
  void accept_loop();
  void serve(int fd);
  misbehaviour case_of(std::uint64_t member) const;

  std::vector<misbehaviour> cases_;
  std::size_t per_case_;
  login_answer login_;
  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<std::uint64_t> flooded_{0};
  std::thread acceptor_;
  mutable std::mutex mx_;
  std::vector<std::thread> threads_;
  std::vector<int> fds_;
  std::map<misbehaviour, std::size_t> upgrades_;
};

} // namespace stompede::hostile
