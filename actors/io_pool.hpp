#pragma once

// The IO threads of a load run: N io_contexts, each run by exactly one thread. A session is
// bound to one context for its whole life, so everything a session touches — its stream, its
// STOMP state, the per-thread measurement aggregate — is used by one thread only, without locks
// or strands. Measurements leave a thread only as a once-a-second delta (see collect()).

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

namespace boost::asio {
class io_context;
} // namespace boost::asio

namespace stompede {

class io_pool {
public:
  /// Starts `threads` IO threads (0 = one per core).
  explicit io_pool(std::size_t threads);
  ~io_pool();

  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  std::size_t size() const noexcept {
    return contexts_.size();
  }

  /// The context of thread `i`.
  boost::asio::io_context& context(std::size_t i);

  /// Round-robin choice of a context for a new session.
  std::size_t next_index() noexcept;

  /// Runs `fn(i)` on IO thread `i`.
  void post(std::size_t i, std::function<void()> fn);

  /// Index of the IO thread the caller runs on, or npos when not on an IO thread.
  static std::size_t current_index() noexcept;
  static constexpr std::size_t npos = static_cast<std::size_t>(-1);

  /// Stops all contexts and joins the threads (idempotent).
  void stop();

private:
  std::vector<std::unique_ptr<boost::asio::io_context>> contexts_;
  std::vector<std::thread> threads_;
  /// The contexts' work guards (type-erased to keep Asio out of this header); dropping them
  /// lets run() return.
  std::shared_ptr<void> guards_;
  std::atomic<std::size_t> next_{0};
  bool stopped_ = false;
};

} // namespace stompede
