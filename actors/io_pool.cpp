#include "actors/io_pool.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace stompede {

namespace {

thread_local std::size_t current_io_index = io_pool::npos;

using guard_t = boost::asio::executor_work_guard<boost::asio::io_context::executor_type>;

} // namespace

io_pool::io_pool(std::size_t threads) {
  if (threads == 0)
    threads = std::max(1u, std::thread::hardware_concurrency());
  auto guards = std::make_shared<std::vector<guard_t>>();
  for (std::size_t i = 0; i < threads; ++i) {
    // Concurrency hint 1: each context is run by one thread, so Asio can skip internal locking.
    contexts_.emplace_back(std::make_unique<boost::asio::io_context>(1));
    guards->emplace_back(contexts_.back()->get_executor());
  }
  guards_ = guards;
  try {
    for (std::size_t i = 0; i < threads; ++i) {
      threads_.emplace_back([this, i] {
        current_io_index = i;
        contexts_[i]->run();
      });
    }
  } catch (...) {
    // Out of threads (RLIMIT_NPROC, a container's pids limit): join the ones that started,
    // then let the caller report it.
    stop();
    throw;
  }
}

io_pool::~io_pool() {
  stop();
}

boost::asio::io_context& io_pool::context(std::size_t i) {
  return *contexts_.at(i);
}

std::size_t io_pool::next_index() noexcept {
  // Called from several actors at once: an atomic counter keeps the spread even.
  return next_.fetch_add(1, std::memory_order_relaxed) % contexts_.size();
}

void io_pool::post(std::size_t i, std::function<void()> fn) {
  boost::asio::post(*contexts_.at(i), std::move(fn));
}

std::size_t io_pool::current_index() noexcept {
  return current_io_index;
}

void io_pool::stop() {
  if (stopped_)
    return;
  stopped_ = true;
  guards_.reset();
  for (auto& c : contexts_)
    c->stop();
  for (auto& t : threads_)
    if (t.joinable())
      t.join();
}

} // namespace stompede
