// What every claimed node shares, whichever backend runs it: the interface
// the delegate's one TfLiteRegistration calls (NodeKernel), the counters the
// stats export reads (NodeCounters) and the timing of Eval (EvalTimer).
//
// This folder sits between the ABI and the two backends: runtime/ (the CPU
// nodes, the delegate) and opencl/ (the device node) both include it, and it
// includes neither, so the two backends form no include cycle.
#ifndef PATTERNLITE_DELEGATE_NODE_NODE_KERNEL_H_
#define PATTERNLITE_DELEGATE_NODE_NODE_KERNEL_H_

#include <atomic>
#include <chrono>
#include <cstdint>

#include "delegate/abi/tflite_abi.h"

namespace patternlite {

// Counters a claimed node shares with the delegate's stats export.
struct NodeCounters {
  std::atomic<uint64_t> invocations{0};
  std::atomic<uint64_t> nanoseconds{0};
  // The plan in use: its threads, filter block and row blocks per image, and
  // whether it was tuned.
  std::atomic<int> plan_threads{0};
  std::atomic<int> plan_filter_block{0};
  std::atomic<int> plan_row_blocks{0};
  std::atomic<bool> plan_tuned{false};
};

// One claimed node as a TFLite delegate kernel: built by the delegate in
// PrepareGraph, owned by TFLite through TfLiteNode::user_data (created in
// Init, destroyed in Free).
class NodeKernel {
 public:
  NodeKernel() = default;
  virtual ~NodeKernel() = default;
  NodeKernel(const NodeKernel&) = delete;
  NodeKernel& operator=(const NodeKernel&) = delete;

  // Shapes the output from the current input and plans the work.
  virtual TfLiteStatus Prepare(TfLiteContext* context) = 0;
  virtual TfLiteStatus Eval(TfLiteContext* context) = 0;
  // The custom_name of the node's delegate kernel (a string literal).
  virtual const char* name() const = 0;
};

// Wall time since construction, in nanoseconds: the one clock of Eval and of
// the tuning runs.
class EvalTimer {
 public:
  EvalTimer() : start_(std::chrono::steady_clock::now()) {}
  uint64_t Nanoseconds() const {
    return uint64_t(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - start_).count());
  }
  // Counts one finished Eval and its time.
  void Record(NodeCounters* counters) const {
    const uint64_t ns = Nanoseconds();
    counters->invocations.fetch_add(1, std::memory_order_relaxed);
    counters->nanoseconds.fetch_add(ns, std::memory_order_relaxed);
  }

 private:
  std::chrono::steady_clock::time_point start_;
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_NODE_NODE_KERNEL_H_
