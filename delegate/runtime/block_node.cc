#include "delegate/runtime/block_node.h"

#include <algorithm>

namespace patternlite {
namespace {

// Tasks per thread: a little slack so that a late worker does not hold the
// caller up (the pool lets the caller take what is left).
constexpr int kTasksPerThread = 2;

}  // namespace

TfLiteStatus BlockNode::Prepare(TfLiteContext* context) {
  const TfLiteTensor& input = context->tensors[config_.input_tensor];
  TfLiteTensor& output = context->tensors[config_.output_tensor];
  if (input.dims == nullptr || input.dims->size != 4 || !Plan(*input.dims, &geometry_)) {
    context->ReportError(context, "patternlite: input shape does not fit this node");
    return kTfLiteError;
  }
  const ConvGeometry& g = geometry_;
  const size_t macs = size_t(g.batch) * g.out_h * g.out_w * MacsPerPixel();
  const int pool_threads = pool_ ? pool_->size() : 1;
  threads_ = ParallelPays(macs) ? pool_threads : 1;
  tasks_ = Split(threads_);
  PlanChoice one, pool;  // PlanChoice's default is one thread; listed first, it wins ties
  pool.threads = threads_;
  tuner_.Start(autotune_ && threads_ > 1 ? std::vector<PlanChoice>{one, pool} : std::vector<PlanChoice>{});
  counters_->plan_threads.store(threads_, std::memory_order_relaxed);
  counters_->plan_tuned.store(false, std::memory_order_relaxed);
  const int shape[4] = {g.batch, g.out_h, g.out_w, g.out_c};
  return ResizeOutput(context, &output, shape);
}

TfLiteStatus BlockNode::Eval(TfLiteContext* context) {
  const EvalTimer timer;
  const TfLiteTensor& input = context->tensors[config_.input_tensor];
  TfLiteTensor& output = context->tensors[config_.output_tensor];
  const void* in = input.data;
  void* out = output.data;
  if (in == nullptr || out == nullptr || !TensorsMatch(geometry_, input, output, ElementBytes())) {
    context->ReportError(context, "patternlite: node tensors changed shape after Prepare");
    return kTfLiteError;
  }
  if (tuner_.active()) {
    const int threads = tuner_.candidates()[size_t(tuner_.next())].threads;
    const EvalTimer run;
    Run(threads, Split(threads), in, out);
    if (tuner_.Record(run.Nanoseconds())) {
      threads_ = tuner_.winner().threads;
      tasks_ = Split(threads_);
      counters_->plan_threads.store(threads_, std::memory_order_relaxed);
      counters_->plan_tuned.store(true, std::memory_order_relaxed);
    }
  } else {
    Run(threads_, tasks_, in, out);
  }
  timer.Record(counters_.get());
  return kTfLiteOk;
}

void BlockNode::Run(int threads, int tasks, const void* in, void* out) {
  if (threads > 1 && pool_) {
    pool_->ParallelFor(tasks, [&](int task, int /*worker*/) { RunTask(task, in, out); });
  } else {
    for (int t = 0; t < tasks; ++t) RunTask(t, in, out);
  }
}

bool BlockNode::PlanGeometry(const TfLiteIntArray& dims, int out_c, int kernel, ConvGeometry* g) const {
  const ConvNodeConfig& c = config_;
  return MakeGeometry(dims.data[0], dims.data[1], dims.data[2], dims.data[3], out_c, c.padding, c.stride_h,
                      c.stride_w, c.act_min, c.act_max, kernel, g);
}

bool PointwiseNode::Plan(const TfLiteIntArray& dims, ConvGeometry* g) const {
  // A 1x1 filter never pads, whatever the padding mode says (the kernels rely on it).
  return dims.data[3] == packed_.in_channels && PlanGeometry(dims, packed_.out_channels, 1, g);
}

int BlockNode::SplitPixels(int threads, int64_t* pixels_per_task) const {
  const ConvGeometry& g = geometry_;
  const int64_t pixels = int64_t(g.batch) * g.out_h * g.out_w;
  const int64_t tasks = threads > 1 ? int64_t(threads) * kTasksPerThread : 1;
  *pixels_per_task = std::max<int64_t>(1, (pixels + tasks - 1) / tasks);
  return int((pixels + *pixels_per_task - 1) / *pixels_per_task);
}

int BlockNode::SplitRows(int threads, int* rows_per_task) const {
  const ConvGeometry& g = geometry_;
  const int per_image = threads > 1 ? (threads * kTasksPerThread + g.batch - 1) / g.batch : 1;
  *rows_per_task = std::max(1, (g.out_h + per_image - 1) / per_image);
  return g.batch * ((g.out_h + *rows_per_task - 1) / *rows_per_task);
}

void PointwiseNode::RunTask(int task, const void* in, void* out) const {
  const ConvGeometry& g = geometry_;
  const int64_t pixels = int64_t(g.batch) * g.out_h * g.out_w;
  const int64_t p0 = int64_t(task) * pixels_per_task_;
  kernel_(MakeParams(g, packed_), static_cast<const float*>(in), static_cast<float*>(out), p0,
          std::min(pixels, p0 + pixels_per_task_));
}

bool DepthwiseNode::Plan(const TfLiteIntArray& dims, ConvGeometry* g) const {
  return dims.data[3] == packed_.channels && PlanGeometry(dims, packed_.channels, 3, g);
}

void DepthwiseNode::RunTask(int task, const void* in, void* out) const {
  const ConvGeometry& g = geometry_;
  const int blocks = (g.out_h + rows_per_task_ - 1) / rows_per_task_;
  const int n = task / blocks, oy0 = (task % blocks) * rows_per_task_;
  kernel_(MakeParams(g, packed_), static_cast<const float*>(in), static_cast<float*>(out), n, oy0,
          std::min(g.out_h, oy0 + rows_per_task_));
}

}  // namespace patternlite
