// One claimed int8 3x3 CONV_2D node on the CPU's int8 pattern kernels
// (kernels/conv_int8_kernel.h): its packed weights and multipliers, its row
// split and its Prepare/Eval steps. It runs on the CPU whatever the backend.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_CONV_INT8_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_CONV_INT8_NODE_H_

#include <memory>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/conv_int8_kernel.h"
#include "delegate/kernels/workspace.h"
#include "delegate/node/node_kernel.h"
#include "delegate/packing/pattern_pack_int8.h"
#include "delegate/runtime/autotune.h"
#include "delegate/runtime/cpu_node.h"
#include "delegate/runtime/thread_pool.h"

namespace patternlite {

struct Int8ConvNodeConfig {
  int input_tensor = -1;
  int output_tensor = -1;
  TfLitePadding padding = kTfLitePaddingSame;
  int stride_h = 1, stride_w = 1;
  Int8Quant quant;  // zero points and the activation's int8 range
  Int8Variant variant = Int8Variant::kScalar;
};

// The work split of one int8 conv on one input shape.
struct Int8ConvPlan {
  ConvGeometry geometry;
  int block_rows = 1;
  int blocks_per_image = 1;
  int threads = 1;  // 1: every block on the calling thread
};

// Plans an int8 conv: row blocks whose input planes stay L2-resident, cut
// further so `threads` threads share small images; one thread when the conv
// is too small to repay a second (kMinParallelMacs, as for fp32).
// `macs_per_pixel` is kept kernels x 4. False when the input is too small.
bool PlanInt8Conv(int batch, int in_h, int in_w, int in_c, int out_c, TfLitePadding padding, int stride_h,
                  int stride_w, int threads, size_t macs_per_pixel, Int8ConvPlan* plan);

class Int8ConvNode : public NodeKernel {
 public:
  // `autotune`: where the plan uses the pool, the first runs alternate the
  // pool's plan and a one-thread plan and keep the faster (as BlockNode does:
  // an int8 layer does its MACs 3-4x faster than fp32, so kMinParallelMacs,
  // measured in fp32, lets small int8 layers wake a second thread that does
  // not repay it). Every plan adds each output's terms in the same order, so
  // the outputs do not depend on the choice.
  Int8ConvNode(const Int8ConvNodeConfig& config, PackedConvInt8 packed, std::shared_ptr<ThreadPool> pool,
               std::shared_ptr<NodeCounters> counters, bool autotune);

  TfLiteStatus Prepare(TfLiteContext* context) override;
  TfLiteStatus Eval(TfLiteContext* context) override;
  const char* name() const override { return "PatternLiteConvInt8"; }

 private:
  Int8ConvNodeConfig config_;
  PackedConvInt8 packed_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<NodeCounters> counters_;
  // Runs the conv with `plan`.
  void Run(const Int8ConvPlan& plan, const int8_t* in, int8_t* out);

  const Int8ConvKernel* kernel_ = nullptr;
  Int8ConvPlan plan_;    // the pool's plan, then the tuner's choice
  Int8ConvPlan single_;  // the one-thread plan the tuning compares against
  std::vector<Workspace> workspaces_;
  bool autotune_ = false;
  PlanTuner tuner_;  // candidates {1 thread, the pool}: ties go to one thread
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_CONV_INT8_NODE_H_
