// Claimed nodes of the channel-block kinds: a sparse 1x1 CONV_2D
// (PointwiseNode) and a pattern-pruned 3x3 DEPTHWISE_CONV_2D (DepthwiseNode).
// NodeKernels like ConvNode: the delegate builds one in PrepareGraph, TFLite
// owns it through the delegate kernel's user_data, Prepare shapes the output
// and splits the work, Eval runs it over the pool.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_BLOCK_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_BLOCK_NODE_H_

#include <memory>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/node/node_kernel.h"
#include "delegate/packing/block_pack.h"
#include "delegate/runtime/autotune.h"
#include "delegate/runtime/cpu_node.h"
#include "delegate/runtime/thread_pool.h"

namespace patternlite {

class BlockNode : public NodeKernel {
 public:
  // `autotune`: the first runs time the node on one thread and on the whole
  // pool, alternating, and keep the faster (beside XNNPACK's pool, a second
  // thread does not always pay on small nodes).
  BlockNode(const ConvNodeConfig& config, std::shared_ptr<ThreadPool> pool, std::shared_ptr<NodeCounters> counters,
            bool autotune)
      : config_(config), pool_(std::move(pool)), counters_(std::move(counters)), autotune_(autotune) {}

  TfLiteStatus Prepare(TfLiteContext* context) override;
  TfLiteStatus Eval(TfLiteContext* context) override;
  const char* name() const override { return "PatternLiteBlock"; }

 protected:
  // The kind's output geometry for the current input; false if it is too small.
  virtual bool Plan(const TfLiteIntArray& input_dims, ConvGeometry* g) const = 0;
  // The geometry of this node's config on `dims` with `out_c` outputs and a
  // `kernel` x `kernel` filter (what each kind's Plan builds on).
  bool PlanGeometry(const TfLiteIntArray& dims, int out_c, int kernel, ConvGeometry* g) const;
  // Multiply-accumulates per output pixel, to decide whether threads pay.
  virtual size_t MacsPerPixel() const = 0;
  // Cuts the planned work into tasks for `threads` threads; returns their count.
  virtual int Split(int threads) = 0;
  // `in` and `out` are the tensors' data, of the kind's element type.
  virtual void RunTask(int task, const void* in, void* out) const = 0;
  // Bytes per tensor element: 4 (float32), 1 for the int8 nodes.
  virtual size_t ElementBytes() const { return sizeof(float); }
  // The two splits the kinds use (each kind's Split calls one): output pixels
  // over the batch (1x1), or rows of each image (depthwise).
  int SplitPixels(int threads, int64_t* pixels_per_task) const;
  int SplitRows(int threads, int* rows_per_task) const;

  ConvNodeConfig config_;
  ConvGeometry geometry_;
  int threads_ = 1;  // threads the plan uses (1: the calling thread only)
  int tasks_ = 1;

 private:
  void Run(int threads, int tasks, const void* in, void* out);

  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<NodeCounters> counters_;
  bool autotune_ = false;
  PlanTuner tuner_;  // one thread against the pool, on the first runs (ties: one thread)
};

class PointwiseNode : public BlockNode {
 public:
  PointwiseNode(const ConvNodeConfig& config, PackedPointwise packed, std::shared_ptr<ThreadPool> pool,
                std::shared_ptr<NodeCounters> counters, bool autotune)
      : BlockNode(config, std::move(pool), std::move(counters), autotune),
        packed_(std::move(packed)),
        kernel_(KernelsFor(config.isa).pointwise) {}

 protected:
  bool Plan(const TfLiteIntArray& input_dims, ConvGeometry* g) const override;
  size_t MacsPerPixel() const override { return packed_.block_macs_per_pixel(); }
  int Split(int threads) override { return SplitPixels(threads, &pixels_per_task_); }
  void RunTask(int task, const void* in, void* out) const override;

 private:
  PackedPointwise packed_;
  PointwiseFn kernel_;
  int64_t pixels_per_task_ = 1;
};

class DepthwiseNode : public BlockNode {
 public:
  DepthwiseNode(const ConvNodeConfig& config, PackedDepthwise packed, std::shared_ptr<ThreadPool> pool,
                std::shared_ptr<NodeCounters> counters, bool autotune)
      : BlockNode(config, std::move(pool), std::move(counters), autotune),
        packed_(std::move(packed)),
        kernel_(KernelsFor(config.isa).depthwise) {}

 protected:
  bool Plan(const TfLiteIntArray& input_dims, ConvGeometry* g) const override;
  size_t MacsPerPixel() const override { return packed_.block_taps_total() * size_t(kBlock); }
  int Split(int threads) override { return SplitRows(threads, &rows_per_task_); }
  void RunTask(int task, const void* in, void* out) const override;

 private:
  PackedDepthwise packed_;
  DepthwiseFn kernel_;
  int rows_per_task_ = 1;
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_BLOCK_NODE_H_
