// A small fixed-size thread pool for splitting one conv over output tiles.
//
// The calling thread is worker 0 and takes tasks too, so a pool of size 1
// spawns no thread at all. Tasks are handed out through an atomic counter,
// which balances uneven tiles without a scheduler. Idle workers spin briefly
// before sleeping: consecutive convs of a network arrive microseconds apart,
// and a futex wake-up per conv would cost more than a small conv itself.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_THREAD_POOL_H_
#define PATTERNLITE_DELEGATE_RUNTIME_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace patternlite {

class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int size() const { return int(workers_.size()) + 1; }

  // Runs fn(task, worker) for every task in [0, num_tasks) and returns when
  // all are done. `worker` is in [0, size()) and unique among concurrent calls.
  void ParallelFor(int num_tasks, const std::function<void(int, int)>& fn);

 private:
  void WorkerLoop(int worker);
  void RunTasks(int worker);

  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // serialises ParallelFor calls from different threads
  std::mutex mu_;      // guards sleeping and waking
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  int num_tasks_ = 0;
  std::atomic<int> next_task_{0};
  std::atomic<int> active_workers_{0};
  std::atomic<uint64_t> generation_{0};
  std::atomic<bool> stop_{false};
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_THREAD_POOL_H_
