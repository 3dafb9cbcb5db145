// Claimed int8 nodes of the channel-block kinds: a sparse 1x1 CONV_2D
// (PointwiseInt8Node) and a pattern-pruned 3x3 DEPTHWISE_CONV_2D
// (DepthwiseInt8Node) in TFLite's full-integer scheme. They are BlockNodes:
// the same Prepare (plan, thread choice, output shape), Eval (the optional
// 1-thread-or-pool tuning) and work splits as the fp32 nodes, with the int8
// kernels of the delegate's isa (Int8VariantForIsa) and int8 tensors.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_BLOCK_INT8_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_BLOCK_INT8_NODE_H_

#include <memory>

#include "delegate/kernels/block_int8_kernels.h"
#include "delegate/packing/block_pack_int8.h"
#include "delegate/runtime/block_node.h"

namespace patternlite {

class PointwiseInt8Node : public BlockNode {
 public:
  PointwiseInt8Node(const ConvNodeConfig& config, const Int8Quant& quant, Int8Variant variant,
                    PackedPointwiseInt8 packed, std::shared_ptr<ThreadPool> pool,
                    std::shared_ptr<NodeCounters> counters, bool autotune)
      : BlockNode(config, std::move(pool), std::move(counters), autotune),
        quant_(quant),
        packed_(std::move(packed)),
        kernel_(Int8BlockKernelsFor(variant).pointwise) {}
  const char* name() const override { return "PatternLitePointwiseInt8"; }

 protected:
  bool Plan(const TfLiteIntArray& input_dims, ConvGeometry* g) const override;
  size_t MacsPerPixel() const override { return packed_.block_macs_per_pixel(); }
  int Split(int threads) override { return SplitPixels(threads, &pixels_per_task_); }
  void RunTask(int task, const void* in, void* out) const override;
  size_t ElementBytes() const override { return sizeof(int8_t); }

 private:
  Int8Quant quant_;
  PackedPointwiseInt8 packed_;
  PointwiseInt8Fn kernel_;
  int64_t pixels_per_task_ = 1;
};

class DepthwiseInt8Node : public BlockNode {
 public:
  DepthwiseInt8Node(const ConvNodeConfig& config, const Int8Quant& quant, Int8Variant variant,
                    PackedDepthwiseInt8 packed, std::shared_ptr<ThreadPool> pool,
                    std::shared_ptr<NodeCounters> counters, bool autotune)
      : BlockNode(config, std::move(pool), std::move(counters), autotune),
        quant_(quant),
        packed_(std::move(packed)),
        kernel_(Int8BlockKernelsFor(variant).depthwise) {}
  const char* name() const override { return "PatternLiteDepthwiseInt8"; }

 protected:
  bool Plan(const TfLiteIntArray& input_dims, ConvGeometry* g) const override;
  size_t MacsPerPixel() const override { return packed_.block_taps_total() * size_t(kBlock); }
  int Split(int threads) override { return SplitRows(threads, &rows_per_task_); }
  void RunTask(int task, const void* in, void* out) const override;
  size_t ElementBytes() const override { return sizeof(int8_t); }

 private:
  Int8Quant quant_;
  PackedDepthwiseInt8 packed_;
  DepthwiseInt8Fn kernel_;
  int rows_per_task_ = 1;
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_BLOCK_INT8_NODE_H_
