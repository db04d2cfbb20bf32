// One persistent pool of worker threads for the whole process: kernels split their work with
// parallel_for instead of creating threads per operation. The calling thread takes part, and
// workers spin briefly before sleeping, so a decode step's many short parallel regions cost
// microseconds, not a thread start each.
#pragma once

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace rwkv {

class ThreadPool {
 public:
  // n_threads counts the caller: 1 means no workers.
  explicit ThreadPool(int n_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return n_threads_; }

  // Calls fn(thread_index) once on each of the n threads (the caller is index 0) and waits.
  void run_on_all(const std::function<void(int)>& fn);

  // Thread i's share of [0, n) split into `threads` contiguous ranges whose bounds are multiples
  // of `grain` (the last range ends at n): [begin, end), possibly empty.
  static std::pair<int64_t, int64_t> share(int64_t n, int64_t grain, int i, int threads) {
    const int64_t blocks = (n + grain - 1) / grain;
    return {std::min(n, blocks * i / threads * grain), std::min(n, blocks * (i + 1) / threads * grain)};
  }

  // Splits [0, n) into contiguous ranges, one per thread, rounded to multiples of `grain`,
  // and calls fn(begin, end) for each non-empty range. Runs inline when n is small.
  template <typename F>
  void parallel_for(int64_t n, int64_t grain, F&& fn) {
    if (grain < 1) grain = 1;
    const int64_t blocks = (n + grain - 1) / grain;
    const int threads = static_cast<int>(std::min<int64_t>(n_threads_, blocks));
    if (threads <= 1) {
      if (n > 0) fn(int64_t{0}, n);
      return;
    }
    run_on_all([&](int i) {
      if (i >= threads) return;
      const auto [begin, end] = share(n, grain, i, threads);
      if (begin < end) fn(begin, end);
    });
  }

  // The number of physical cores (the default thread count), at least 1.
  static int physical_cores();

 private:
  void worker_loop(int index);

  int n_threads_;
  std::vector<std::thread> workers_;
  const std::function<void(int)>* task_ = nullptr;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<int> sleeping_{0};
};

}  // namespace rwkv
