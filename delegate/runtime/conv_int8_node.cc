#include "delegate/runtime/conv_int8_node.h"

#include <algorithm>
#include <utility>

#include "delegate/contract_generated.h"

namespace patternlite {
namespace {

// Target size of one block's input planes: the int8 kernels re-read a
// block's rows for every kept kernel, so they should stay in L2 (the budget
// patternlite_int8_conv3x3 measured with).
constexpr size_t kInt8BlockBudgetBytes = 64 * 1024;

// Row blocks are multiples of the int8 kernels' 4-row register tile.
constexpr int kInt8RowQuantum = 4;

// The kernels pad each plane row by up to 34 bytes of tile overhang.
constexpr size_t kInt8RowOverhang = 34;

// Narrow layers get at least this many output pixels per call where the image
// has them: the AVX-512 kernel works in blocks of 4 16-pixel tiles, and a 7x7
// image in two calls of 2 tiles each ran ~10% slower than in one.
constexpr int kInt8MinCallPixels = 128;

}  // namespace

bool PlanInt8Conv(int batch, int in_h, int in_w, int in_c, int out_c, TfLitePadding padding, int stride_h,
                  int stride_w, int threads, size_t macs_per_pixel, Int8ConvPlan* plan) {
  ConvGeometry g;
  // The float activation range is unused: Int8Quant carries the int8 one.
  if (!MakeGeometry(batch, in_h, in_w, in_c, out_c, padding, stride_h, stride_w, 0.0f, 0.0f, 3, &g)) return false;
  const size_t plane_row = size_t(in_c) * size_t(stride_h) * size_t(stride_w) * (size_t(g.out_w) + kInt8RowOverhang);
  const size_t fit = kInt8BlockBudgetBytes / std::max<size_t>(plane_row, 1);
  int rows = int(std::min<size_t>(size_t(g.out_h), std::max<size_t>(kInt8RowQuantum, fit / kInt8RowQuantum * kInt8RowQuantum)));
  rows = std::max(1, rows);
  rows = std::max(rows, std::min(g.out_h, (kInt8MinCallPixels + g.out_w - 1) / g.out_w));
  const size_t macs = size_t(batch) * g.out_h * g.out_w * macs_per_pixel;
  if (!ParallelPays(macs)) threads = 1;
  const int blocks = BalanceRowBlocks(g.out_h, batch, (g.out_h + rows - 1) / rows, threads);
  plan->geometry = g;
  plan->block_rows = (g.out_h + blocks - 1) / blocks;
  if (plan->block_rows > kInt8RowQuantum) {
    plan->block_rows = (plan->block_rows + kInt8RowQuantum - 1) / kInt8RowQuantum * kInt8RowQuantum;
  }
  plan->blocks_per_image = (g.out_h + plan->block_rows - 1) / plan->block_rows;
  plan->threads = threads;
  return true;
}

Int8ConvNode::Int8ConvNode(const Int8ConvNodeConfig& config, PackedConvInt8 packed, std::shared_ptr<ThreadPool> pool,
                           std::shared_ptr<NodeCounters> counters, bool autotune)
    : config_(config),
      packed_(std::move(packed)),
      pool_(std::move(pool)),
      counters_(std::move(counters)),
      kernel_(&Int8KernelFor(config.variant)),
      autotune_(autotune) {}

TfLiteStatus Int8ConvNode::Prepare(TfLiteContext* context) {
  const TfLiteTensor& input = context->tensors[config_.input_tensor];
  TfLiteTensor& output = context->tensors[config_.output_tensor];
  if (input.dims == nullptr || input.dims->size != 4 || input.dims->data[3] != packed_.in_channels) {
    context->ReportError(context, "patternlite: int8 conv input must be NHWC with %d channels", packed_.in_channels);
    return kTfLiteError;
  }
  const int threads = pool_ ? pool_->size() : 1;
  const size_t macs_per_pixel = packed_.kept_kernels() * contract::kPatternTaps;
  const auto plan = [&](int t, Int8ConvPlan* out) {
    return PlanInt8Conv(input.dims->data[0], input.dims->data[1], input.dims->data[2], input.dims->data[3],
                        packed_.out_channels, config_.padding, config_.stride_h, config_.stride_w, t, macs_per_pixel,
                        out);
  };
  if (!plan(threads, &plan_) || !plan(1, &single_)) {
    context->ReportError(context, "patternlite: input %dx%d is too small for this 3x3 conv", input.dims->data[1],
                         input.dims->data[2]);
    return kTfLiteError;
  }
  PlanChoice one, pool;  // PlanChoice's default is one thread
  pool.threads = plan_.threads;
  tuner_.Start(autotune_ && plan_.threads > 1 ? std::vector<PlanChoice>{one, pool} : std::vector<PlanChoice>{});
  counters_->plan_threads.store(plan_.threads, std::memory_order_relaxed);
  counters_->plan_filter_block.store(0, std::memory_order_relaxed);
  counters_->plan_row_blocks.store(plan_.blocks_per_image, std::memory_order_relaxed);
  counters_->plan_tuned.store(false, std::memory_order_relaxed);
  const ConvGeometry& g = plan_.geometry;
  const int shape[4] = {g.batch, g.out_h, g.out_w, g.out_c};
  return ResizeOutput(context, &output, shape);
}

TfLiteStatus Int8ConvNode::Eval(TfLiteContext* context) {
  const EvalTimer timer;
  const TfLiteTensor& input = context->tensors[config_.input_tensor];
  TfLiteTensor& output = context->tensors[config_.output_tensor];
  const int8_t* in = static_cast<const int8_t*>(input.data);
  int8_t* out = static_cast<int8_t*>(output.data);
  if (in == nullptr || out == nullptr) {
    context->ReportError(context, "patternlite: int8 conv tensors are not allocated");
    return kTfLiteError;
  }
  if (!TensorsMatch(plan_.geometry, input, output, sizeof(int8_t))) {
    context->ReportError(context, "patternlite: int8 conv tensors changed shape after Prepare");
    return kTfLiteError;
  }
  if (tuner_.active()) {
    const EvalTimer run;
    Run(tuner_.candidates()[size_t(tuner_.next())].threads > 1 ? plan_ : single_, in, out);
    if (tuner_.Record(run.Nanoseconds())) {
      if (tuner_.winner().threads == 1) plan_ = single_;
      counters_->plan_threads.store(plan_.threads, std::memory_order_relaxed);
      counters_->plan_row_blocks.store(plan_.blocks_per_image, std::memory_order_relaxed);
      counters_->plan_tuned.store(true, std::memory_order_relaxed);
    }
  } else {
    Run(plan_, in, out);
  }
  timer.Record(counters_.get());
  return kTfLiteOk;
}

void Int8ConvNode::Run(const Int8ConvPlan& plan, const int8_t* in, int8_t* out) {
  const ConvGeometry& g = plan.geometry;
  const Int8ConvKernelParams params = MakeParams(g, config_.quant, packed_);
  const size_t scratch_bytes = kernel_->scratch_bytes(params, std::min(plan.block_rows, g.out_h));
  ThreadPool* pool = plan.threads > 1 ? pool_.get() : nullptr;
  const Int8ConvKernel& k = *kernel_;
  ForEachRowBlock(g.batch, g.out_h, plan.block_rows, pool, &workspaces_, scratch_bytes,
                  [&](int n, int oy0, int oy1, void* scratch) {
                    k.rows(params, in, out, n, oy0, oy1, scratch, scratch_bytes);
                  });
}

}  // namespace patternlite
