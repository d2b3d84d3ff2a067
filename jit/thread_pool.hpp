// SPDX-License-Identifier: Apache-2.0
// A small fixed-size std::thread pool for parallel NVRTC compiles. The calling thread takes part
// in the work it submits (parallel_for), so a parallel_for issued from inside a pool task, or
// while every worker is busy with another caller's work, still finishes instead of deadlocking.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace rtx::jit {

/// Fixed set of worker threads; reusable across many parallel_for calls and callers.
class ThreadPool {
 public:
  /// One worker less than std::thread::hardware_concurrency() (at least 1): the workers plus
  /// the calling thread use every core.
  ThreadPool();
  /// Exactly `workers` workers; 0 is allowed (parallel_for then runs on the caller only).
  explicit ThreadPool(size_t workers);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  /// Number of worker threads (the caller of parallel_for adds one more).
  size_t size() const { return workers_.size(); }

  /// Calls fn(i) for every i in [0, n), on the workers and the calling thread, and returns when
  /// all calls have returned. If calls throw, the first exception is rethrown here after all
  /// calls finished.
  void parallel_for(size_t n, const std::function<void(size_t)>& fn);

  /// The process-wide pool used by the JIT (created on first use). Its size is
  /// RTX_JIT_THREADS - 1 workers when that variable is a positive integer, else the default.
  static ThreadPool& shared();

 private:
  void run_worker();
  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::function<void()>> queue_;
  bool stopping_ = false;
};

}  // namespace rtx::jit
