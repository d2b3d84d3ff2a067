// SPDX-License-Identifier: Apache-2.0
// ThreadPool: see thread_pool.hpp.
#include "jit/thread_pool.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

namespace rtx::jit {

namespace {
size_t default_workers() {
  const unsigned hw = std::thread::hardware_concurrency();
  return hw > 1 ? hw - 1 : 1;
}
}  // namespace

ThreadPool::ThreadPool() : ThreadPool(default_workers()) {}

ThreadPool::ThreadPool(size_t workers) {
  workers_.reserve(workers);
  for (size_t i = 0; i < workers; ++i) workers_.emplace_back([this] { run_worker(); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (auto& w : workers_) w.join();
}

void ThreadPool::run_worker() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping and drained
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    task();
  }
}

void ThreadPool::parallel_for(size_t n, const std::function<void(size_t)>& fn) {
  if (n == 0) return;
  // Shared by the caller and helper tasks. Helpers may start after the loop is finished (their
  // worker was busy); they then find no index left and never touch `fn`, which is why only the
  // state (not fn) must outlive this call.
  struct State {
    std::atomic<size_t> next{0};
    size_t done = 0;
    std::mutex mutex;
    std::condition_variable all_done;
    std::exception_ptr error;
  };
  auto state = std::make_shared<State>();
  const std::function<void(size_t)>* body = &fn;
  auto work = [state, body, n] {
    for (;;) {
      const size_t i = state->next.fetch_add(1);
      if (i >= n) return;
      std::exception_ptr error;
      try {
        (*body)(i);
      } catch (...) {
        error = std::current_exception();
      }
      std::lock_guard lock(state->mutex);
      if (error && !state->error) state->error = error;
      if (++state->done == n) state->all_done.notify_all();
    }
  };
  const size_t helpers = std::min(n - 1, workers_.size());
  if (helpers > 0) {
    {
      std::lock_guard lock(mutex_);
      for (size_t i = 0; i < helpers; ++i) queue_.emplace_back(work);
    }
    wake_.notify_all();
  }
  work();
  std::unique_lock lock(state->mutex);
  state->all_done.wait(lock, [&] { return state->done == n; });
  if (state->error) std::rethrow_exception(state->error);
}

ThreadPool& ThreadPool::shared() {
  static ThreadPool pool([] {
    const char* env = std::getenv("RTX_JIT_THREADS");
    if (env == nullptr) return default_workers();
    char* end = nullptr;
    const long v = std::strtol(env, &end, 10);
    if (end == env || *end != '\0' || v < 1 || v > 1024) return default_workers();
    return size_t(v - 1);
  }());
  return pool;
}

}  // namespace rtx::jit
