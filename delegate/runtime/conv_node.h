// One claimed 3x3 CONV_2D node on the CPU kernels: its packed weights, its
// plan and its Prepare/Eval steps (a NodeKernel, owned by TFLite once built).
#ifndef PATTERNLITE_DELEGATE_RUNTIME_CONV_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_CONV_NODE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/conv_kernel.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/kernels/workspace.h"
#include "delegate/node/conv_shape.h"
#include "delegate/node/node_kernel.h"
#include "delegate/packing/pattern_pack.h"
#include "delegate/runtime/autotune.h"
#include "delegate/runtime/cpu_node.h"
#include "delegate/runtime/thread_pool.h"

namespace patternlite {

// Geometry and work split of one conv on one input shape.
struct ConvPlan {
  ConvGeometry geometry;
  int block_rows = 1;
  int filter_block = 0;  // channel-major block the SIMD kernel wants (0: the scalar kernel)
  int blocks_per_image = 1;
  int threads = 1;       // 1: RunConv runs every block on the calling thread
};

// Plans a conv. Returns false when the input is too small for the padding.
// `macs_per_pixel` (kept kernels x 4) sizes the work: a conv too small to
// repay waking a second thread runs on one.
// `lanes` is the kernel's vector width (IsaLanes), which decides its input layout.
// With `choice`, its thread count (at most `threads`) and filter block replace
// the heuristics.
bool PlanConv(int batch, int in_h, int in_w, int in_c, int out_c, TfLitePadding padding, int stride_h,
              int stride_w, float act_min, float act_max, int threads, size_t macs_per_pixel, int lanes,
              ConvPlan* plan, const PlanChoice* choice = nullptr);

// Builds the channel-major weights the plan's kernel reads, when they are
// missing or blocked differently.
void PackForPlan(const ConvPlan& plan, PackedConv* packed);

// Runs a planned conv with `kernels`' 3x3 kernel over the pool (inline when
// `pool` is null or the plan wants one thread); workspaces[i] is worker i's scratch.
void RunConv(const ConvPlan& plan, const PackedConv& packed, const KernelTable& kernels, ThreadPool* pool,
             std::vector<Workspace>* workspaces, const float* input, float* output);

class ConvNode : public NodeKernel {
 public:
  // `tuning` null: the fixed heuristics; else the first runs time the
  // candidate plans and keep the fastest (shared cache, runtime/autotune.h).
  ConvNode(const ConvNodeConfig& config, PackedConv packed, std::shared_ptr<ThreadPool> pool,
           std::shared_ptr<NodeCounters> counters, std::shared_ptr<PlanCache> tuning = nullptr);

  // Shapes the output from the current input; plans the row blocks.
  TfLiteStatus Prepare(TfLiteContext* context) override;
  TfLiteStatus Eval(TfLiteContext* context) override;
  const char* name() const override { return "PatternLiteConv"; }

 private:
  // One tuning run: the tuner's next candidate, timed; installs the winner
  // once the tuner has chosen.
  void RunTuningCandidate(const float* in, float* out);
  // Copies the plan in use to the stats counters.
  void Publish(bool tuned);

  ConvNodeConfig config_;
  PackedConv packed_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<NodeCounters> counters_;
  const KernelTable* kernels_ = nullptr;
  ConvPlan plan_;
  std::vector<Workspace> workspaces_;
  std::shared_ptr<PlanCache> tuning_;
  std::string tune_key_;
  PlanTuner tuner_;                                 // active until it has chosen
  std::vector<ConvPlan> candidate_plans_;           // one per tuner candidate
  std::map<int, ChannelMajorPack> candidate_packs_;  // by filter block, while tuning
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_CONV_NODE_H_
