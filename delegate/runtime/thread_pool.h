// A small fixed-size thread pool for splitting one conv over output tiles.
//
// The calling thread is worker 0 and takes tasks too, so a pool of size 1
// spawns no thread at all. Tasks are claimed through one atomic word that
// holds (job generation, task count, next task), so:
//  * a worker that wakes late, or not at all, never holds the caller up: the
//    caller claims whatever is left and only waits for tasks that a running
//    worker has actually started. This matters beside XNNPACK, whose own
//    pool keeps spinning threads on the same cores;
//  * a claim can never mix one job's task index with another job's function.
// Idle workers spin for a few microseconds before sleeping, because the next
// conv of a network usually arrives within microseconds.
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
  // At most 2^20 - 1 tasks.
  void ParallelFor(int num_tasks, const std::function<void(int, int)>& fn);

 private:
  void WorkerLoop(int worker);
  // Claims and runs tasks of generation `gen` until none is left.
  void RunTasks(uint64_t gen, int worker);

  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // serialises ParallelFor calls from different threads
  std::mutex mu_;      // guards sleeping and waking
  std::condition_variable start_cv_;
  std::condition_variable done_cv_;
  const std::function<void(int, int)>* job_ = nullptr;
  std::atomic<uint64_t> state_{0};  // generation << 40 | task count << 20 | next task
  std::atomic<int> done_{0};        // tasks of the current generation finished
  std::atomic<bool> caller_sleeping_{false};
  std::atomic<bool> stop_{false};
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_THREAD_POOL_H_
