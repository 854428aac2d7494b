#pragma once

// Live control of a running load test: change the target population, pause and resume sending,
// end the current stage. Commands come from console keys (when stdin is a terminal) and from a
// small HTTP endpoint on loopback; both hand them to one handler (the engine's), which forwards
// them to the stage director, the sessions' send switch and the time series.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <thread>

namespace stompede {

/// One change to a running test.
struct control_command {
  enum kind_t {
    /// Hold `users` until the current stage ends.
    set_target,
    /// Stop sending chat messages (sessions stay connected).
    pause,
    /// Send again.
    resume,
    /// End the current stage now.
    end_stage,
  } kind = pause;
  std::uint32_t users = 0;
};

/// "target=500", "pause", "resume", "end-stage": how a command is logged.
std::string describe(const control_command& c);

/// The command of an HTTP request, or nullopt with `status` and `error` set (404 for an unknown
/// path, 405 for a method other than POST, 400 for a bad parameter). Paths: /target?users=N,
/// /pause, /resume, /end-stage.
std::optional<control_command> parse_control_request(std::string_view method,
                                                     std::string_view target, unsigned& status,
                                                     std::string& error);

/// The command of a console key: `p` pause/resume (by `paused`), `n` end the stage, `+`/`-` the
/// target up/down by 10% (at least 1) of `current_target`; nullopt for other keys.
std::optional<control_command> command_for_key(char key, std::uint32_t current_target, bool paused);

/// What the engine does with a command; returns the line that answers it.
using control_handler = std::function<std::string(const control_command&)>;

/// HTTP/1.1 on loopback, one request per connection, on its own thread. Never throws.
class control_server {
public:
  /// Listens on "HOST:PORT" (port 0 picks one); nullptr with `ec` on failure.
  static std::unique_ptr<control_server> start(const std::string& listen, control_handler h,
                                               std::error_code& ec);
  ~control_server();
  control_server(const control_server&) = delete;
  control_server& operator=(const control_server&) = delete;

  /// The port listened on.
  std::uint16_t port() const noexcept {
    return port_;
  }

private:
  control_server() = default;
  void serve();
  void answer(int fd);

  int listen_fd_ = -1;
  std::uint16_t port_ = 0;
  control_handler handler_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

/// Reads single keys from a terminal on stdin (no echo, no Enter needed) on its own thread and
/// restores the terminal when destroyed. Does nothing when stdin is not a terminal.
class console_keys {
public:
  /// `target` tells the current target population (for +/-), `paused` whether sending is off.
  console_keys(control_handler h, std::function<std::uint32_t()> target,
               std::function<bool()> paused);
  ~console_keys();
  console_keys(const console_keys&) = delete;
  console_keys& operator=(const console_keys&) = delete;

  /// True when keys are being read.
  bool active() const noexcept {
    return active_;
  }

private:
  bool active_ = false;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  struct saved_terminal;
  std::unique_ptr<saved_terminal> saved_;
};

} // namespace stompede
