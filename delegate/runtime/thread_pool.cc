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

// A pause is ~10-140 cycles depending on the core: this is a few microseconds.
constexpr int kSpinIterations = 200;
constexpr uint64_t kFieldMask = (uint64_t{1} << 20) - 1;

uint64_t Generation(uint64_t s) { return s >> 40; }
uint64_t TaskCount(uint64_t s) { return (s >> 20) & kFieldMask; }
uint64_t NextTask(uint64_t s) { return s & kFieldMask; }

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

void ThreadPool::RunTasks(uint64_t gen, int worker) {
  uint64_t s = state_.load(std::memory_order_acquire);
  for (;;) {
    if (Generation(s) != gen || NextTask(s) >= TaskCount(s)) return;
    if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
    // The claim succeeded, so the caller is still inside ParallelFor(gen),
    // waiting for this task: job_ belongs to gen.
    (*job_)(int(NextTask(s)), worker);
    const int total = int(TaskCount(s));
    // seq_cst on done_ and caller_sleeping_: either this thread sees the caller
    // asleep, or the caller sees the count; no wake-up is lost.
    if (done_.fetch_add(1) + 1 == total && caller_sleeping_.load()) {
      std::lock_guard<std::mutex> lock(mu_);
      done_cv_.notify_one();
    }
    s = state_.load(std::memory_order_acquire);
  }
}

void ThreadPool::ParallelFor(int num_tasks, const std::function<void(int, int)>& fn) {
  if (num_tasks <= 0) return;
  std::lock_guard<std::mutex> run_lock(run_mu_);
  if (workers_.empty() || num_tasks == 1 || uint64_t(num_tasks) > kFieldMask) {
    for (int t = 0; t < num_tasks; ++t) fn(t, 0);
    return;
  }
  job_ = &fn;
  done_.store(0, std::memory_order_relaxed);
  const uint64_t gen = Generation(state_.load()) + 1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    state_.store(gen << 40 | uint64_t(num_tasks) << 20, std::memory_order_release);
  }
  start_cv_.notify_all();
  RunTasks(gen, 0);
  // Only tasks a running worker already claimed remain: wait for those.
  for (int i = 0; i < kSpinIterations * 50 && done_.load(std::memory_order_acquire) != num_tasks; ++i) {
    PL_CPU_RELAX();
  }
  if (done_.load(std::memory_order_acquire) != num_tasks) {
    std::unique_lock<std::mutex> lock(mu_);
    caller_sleeping_.store(true);
    done_cv_.wait(lock, [&] { return done_.load() == num_tasks; });
    caller_sleeping_.store(false);
  }
}

void ThreadPool::WorkerLoop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    for (int i = 0; i < kSpinIterations && Generation(state_.load(std::memory_order_acquire)) == seen &&
                    !stop_.load();
         ++i) {
      PL_CPU_RELAX();
    }
    if (Generation(state_.load(std::memory_order_acquire)) == seen && !stop_.load()) {
      std::unique_lock<std::mutex> lock(mu_);
      start_cv_.wait(lock, [&] {
        return stop_.load() || Generation(state_.load(std::memory_order_acquire)) != seen;
      });
    }
    if (stop_.load()) return;
    seen = Generation(state_.load(std::memory_order_acquire));
    RunTasks(seen, worker);
  }
}

}  // namespace patternlite
