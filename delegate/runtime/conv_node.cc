#include "delegate/runtime/conv_node.h"

#include <algorithm>

namespace patternlite {
namespace {

// Target size of one thread's channel-planar input block: well inside the
// L2 of current x86 and big arm cores, so the taps re-read it from cache.
constexpr size_t kBlockBudgetBytes = 384 * 1024;

// The narrow layout computes whole tiles of 32 flattened pixels: a block
// gets at least two of them (or the whole image), whatever the budget says.
constexpr int kMinNarrowPixels = 64;

// Row blocks are cut at multiples of the SIMD kernels' register tile height.
constexpr int kRowQuantum = 4;

}  // namespace

bool PlanConv(int batch, int in_h, int in_w, int in_c, int out_c, TfLitePadding padding, int stride_h,
              int stride_w, float act_min, float act_max, int threads, size_t macs_per_pixel, int lanes,
              ConvPlan* plan, const PlanChoice* choice) {
  ConvGeometry g;
  if (!MakeGeometry(batch, in_h, in_w, in_c, out_c, padding, stride_h, stride_w, act_min, act_max, 3, &g)) {
    return false;
  }
  // Row blocks: as tall as the cache budget allows, then split further so
  // every thread gets an equal share on small images.
  const size_t bytes_per_row = InputBytesPerOutputRow(g, lanes);
  int rows = int(std::max<size_t>(1, kBlockBudgetBytes / std::max<size_t>(bytes_per_row, 1)));
  if (!UseWideLayout(g, lanes)) rows = std::max(rows, (kMinNarrowPixels + g.out_w - 1) / g.out_w);
  rows = std::max(1, std::min(rows, g.out_h));
  int blocks = (g.out_h + rows - 1) / rows;
  const size_t macs = size_t(batch) * g.out_h * g.out_w * macs_per_pixel;
  if (choice != nullptr) {
    threads = std::max(1, std::min(threads, choice->threads));
  } else if (!ParallelPays(macs)) {
    threads = 1;
  }
  if (choice != nullptr && choice->row_blocks > 0) {
    blocks = std::min(g.out_h, choice->row_blocks);
  } else {
    blocks = BalanceRowBlocks(g.out_h, batch, blocks, threads);
  }
  plan->geometry = g;
  plan->block_rows = (g.out_h + blocks - 1) / blocks;
  // Whole register tiles (4 rows) per block where blocks are taller than one.
  if (plan->block_rows > kRowQuantum) plan->block_rows = (plan->block_rows + kRowQuantum - 1) / kRowQuantum * kRowQuantum;
  plan->filter_block = lanes > 1 ? StationaryFilterBlock(g, lanes) : 0;
  if (choice != nullptr && choice->filter_block > 0 && lanes > 1) plan->filter_block = choice->filter_block;
  plan->blocks_per_image = (g.out_h + plan->block_rows - 1) / plan->block_rows;
  plan->threads = threads;
  return true;
}

void PackForPlan(const ConvPlan& plan, PackedConv* packed) {
  if (plan.filter_block > 0 && packed->channel_major.filter_block != plan.filter_block) {
    PackChannelMajor(plan.filter_block, packed);
  }
}

void RunConv(const ConvPlan& plan, const PackedConv& packed, const KernelTable& kernels, ThreadPool* pool,
             std::vector<Workspace>* workspaces, const float* input, float* output) {
  const ConvGeometry& g = plan.geometry;
  if (plan.threads <= 1) pool = nullptr;
  const ConvKernelParams params = MakeParams(g, packed);
  // Every task has at most block_rows rows: that much scratch serves them all.
  const size_t scratch_bytes = kernels.conv3x3_scratch_bytes(params, std::min(plan.block_rows, g.out_h));
  ForEachRowBlock(g.batch, g.out_h, plan.block_rows, pool, workspaces, scratch_bytes,
                  [&](int n, int oy0, int oy1, void* scratch) {
                    kernels.conv3x3(params, input, output, n, oy0, oy1, scratch, scratch_bytes);
                  });
}

ConvNode::ConvNode(const ConvNodeConfig& config, PackedConv packed, std::shared_ptr<ThreadPool> pool,
                   std::shared_ptr<NodeCounters> counters, std::shared_ptr<PlanCache> tuning)
    : config_(config),
      packed_(std::move(packed)),
      pool_(std::move(pool)),
      counters_(std::move(counters)),
      kernels_(&KernelsFor(config.isa)),
      tuning_(std::move(tuning)) {}

void ConvNode::Publish(bool tuned) {
  counters_->plan_threads.store(plan_.threads, std::memory_order_relaxed);
  counters_->plan_filter_block.store(plan_.filter_block, std::memory_order_relaxed);
  counters_->plan_row_blocks.store(plan_.blocks_per_image, std::memory_order_relaxed);
  counters_->plan_tuned.store(tuned, std::memory_order_relaxed);
}

TfLiteStatus ConvNode::Prepare(TfLiteContext* context) {
  const TfLiteTensor& input = context->tensors[config_.input_tensor];
  TfLiteTensor& output = context->tensors[config_.output_tensor];
  if (input.dims == nullptr || input.dims->size != 4 || input.dims->data[3] != packed_.in_channels) {
    context->ReportError(context, "patternlite: conv input must be NHWC with %d channels", packed_.in_channels);
    return kTfLiteError;
  }
  const int threads = pool_ ? pool_->size() : 1;
  const size_t macs_per_pixel = packed_.kept_kernels() * contract::kPatternTaps;
  const int lanes = IsaLanes(config_.isa);
  auto plan = [&](const PlanChoice* choice, ConvPlan* out) {
    return PlanConv(input.dims->data[0], input.dims->data[1], input.dims->data[2], input.dims->data[3],
                    packed_.out_channels, config_.padding, config_.stride_h, config_.stride_w, config_.act_min,
                    config_.act_max, threads, macs_per_pixel, lanes, out, choice);
  };
  if (!plan(nullptr, &plan_)) {
    context->ReportError(context, "patternlite: input %dx%d is too small for this 3x3 conv",
                         input.dims->data[1], input.dims->data[2]);
    return kTfLiteError;
  }
  candidate_plans_.clear();
  candidate_packs_.clear();
  tuner_ = PlanTuner();
  bool tuned = false;
  if (tuning_) {
    const ConvGeometry& g = plan_.geometry;
    tune_key_ = PlanKey(IsaName(config_.isa), g.batch, g.in_h, g.in_w, g.in_c, g.out_c, g.stride_h, g.stride_w,
                        g.pad_top, g.pad_left, packed_.kept_kernels(), threads);
    PlanChoice cached;
    if (tuning_->Find(tune_key_, &cached)) {
      plan(&cached, &plan_);
      tuned = true;
    } else {
      const size_t macs = size_t(g.batch) * g.out_h * g.out_w * macs_per_pixel;
      tuner_.Start(PlanCandidates(g.out_c, plan_.filter_block, threads, macs, plan_.blocks_per_image));
      if (tuner_.active()) {
        for (const PlanChoice& c : tuner_.candidates()) {
          ConvPlan p;
          plan(&c, &p);
          candidate_plans_.push_back(p);
        }
      } else {
        plan(&tuner_.winner(), &plan_);  // a single candidate
      }
    }
  }
  // While tuning, each candidate filter block gets its own channel-major pack.
  for (const ConvPlan& p : candidate_plans_) {
    if (p.filter_block > 0 && candidate_packs_.count(p.filter_block) == 0) {
      ChannelMajorPack saved = std::move(packed_.channel_major);
      PackChannelMajor(p.filter_block, &packed_);
      candidate_packs_[p.filter_block] = std::move(packed_.channel_major);
      packed_.channel_major = std::move(saved);
    }
  }
  if (!tuner_.active()) {
    candidate_plans_.clear();
    candidate_packs_.clear();
    PackForPlan(plan_, &packed_);
  }
  Publish(tuned);
  const ConvGeometry& g = plan_.geometry;
  const int shape[4] = {g.batch, g.out_h, g.out_w, g.out_c};
  return ResizeOutput(context, &output, shape);
}

TfLiteStatus ConvNode::Eval(TfLiteContext* context) {
  const EvalTimer timer;
  const TfLiteTensor& input = context->tensors[config_.input_tensor];
  TfLiteTensor& output = context->tensors[config_.output_tensor];
  const float* in = static_cast<const float*>(input.data);
  float* out = static_cast<float*>(output.data);
  if (in == nullptr || out == nullptr) {
    context->ReportError(context, "patternlite: conv tensors are not allocated");
    return kTfLiteError;
  }
  // The buffers must be exactly what Prepare planned for; anything else would
  // read or write out of bounds, so refuse instead.
  if (!TensorsMatch(plan_.geometry, input, output)) {
    context->ReportError(context, "patternlite: conv tensors changed shape after Prepare");
    return kTfLiteError;
  }
  if (tuner_.active()) {
    RunTuningCandidate(in, out);
  } else {
    RunConv(plan_, packed_, *kernels_, pool_.get(), &workspaces_, in, out);
  }
  timer.Record(counters_.get());
  return kTfLiteOk;
}

void ConvNode::RunTuningCandidate(const float* in, float* out) {
  const int i = tuner_.next();
  const ConvPlan& p = candidate_plans_[size_t(i)];
  // Lend the candidate's pack to packed_ for this run only.
  const auto pack = candidate_packs_.find(p.filter_block);
  if (pack != candidate_packs_.end()) std::swap(packed_.channel_major, pack->second);
  const EvalTimer run;
  RunConv(p, packed_, *kernels_, pool_.get(), &workspaces_, in, out);
  const uint64_t ns = run.Nanoseconds();
  if (pack != candidate_packs_.end()) std::swap(packed_.channel_major, pack->second);
  if (!tuner_.Record(ns)) return;
  // Chosen: keep the winner's plan and pack, drop the others.
  plan_ = candidate_plans_[size_t(tuner_.winner_index())];
  const auto won = candidate_packs_.find(plan_.filter_block);
  if (won != candidate_packs_.end()) packed_.channel_major = std::move(won->second);
  candidate_plans_.clear();
  candidate_packs_.clear();
  if (tuning_) tuning_->Store(tune_key_, tuner_.winner());
  Publish(true);
}

}  // namespace patternlite
