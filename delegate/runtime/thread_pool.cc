#include "delegate/runtime/thread_pool.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define PL_CPU_RELAX() _mm_pause()
#elif defined(__aarch64__)
#define PL_CPU_RELAX() asm volatile("yield")
#else
#define PL_CPU_RELAX() std::this_thread::yield()
#endif

namespace patternlite {
namespace {
// About 20-50 microseconds of pause instructions on current cores.
constexpr int kSpinIterations = 4000;
}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  for (int w = 1; w < num_threads; ++w) workers_.emplace_back([this, w] { WorkerLoop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  start_cv_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunTasks(int worker) {
  for (int task = next_task_.fetch_add(1); task < num_tasks_; task = next_task_.fetch_add(1)) {
    (*job_)(task, worker);
  }
}

void ThreadPool::ParallelFor(int num_tasks, const std::function<void(int, int)>& fn) {
  if (num_tasks <= 0) return;
  std::lock_guard<std::mutex> run_lock(run_mu_);
  if (workers_.empty() || num_tasks == 1) {
    for (int t = 0; t < num_tasks; ++t) fn(t, 0);
    return;
  }
  job_ = &fn;
  num_tasks_ = num_tasks;
  next_task_.store(0);
  active_workers_.store(int(workers_.size()));
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  start_cv_.notify_all();
  RunTasks(0);
  for (int i = 0; i < kSpinIterations && active_workers_.load(std::memory_order_acquire) != 0; ++i) {
    PL_CPU_RELAX();
  }
  if (active_workers_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mu_);
    done_cv_.wait(lock, [this] { return active_workers_.load(std::memory_order_acquire) == 0; });
  }
  job_ = nullptr;
}

void ThreadPool::WorkerLoop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations && generation_.load(std::memory_order_acquire) == seen && !stop_.load();
         ++i) {
      PL_CPU_RELAX();
    }
    if (generation_.load(std::memory_order_acquire) == seen && !stop_.load()) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] { return stop_.load() || generation_.load(std::memory_order_acquire) != seen; });
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    RunTasks(worker);
    if (active_workers_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
  }
}

}  // namespace patternlite
