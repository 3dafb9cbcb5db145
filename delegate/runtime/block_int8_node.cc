#include "delegate/runtime/block_int8_node.h"

#include <algorithm>

namespace patternlite {

bool PointwiseInt8Node::Plan(const TfLiteIntArray& dims, ConvGeometry* g) const {
  // A 1x1 filter never pads, whatever the padding mode says.
  return dims.data[3] == packed_.in_channels && PlanGeometry(dims, packed_.out_channels, 1, g);
}

void PointwiseInt8Node::RunTask(int task, const void* in, void* out) const {
  const ConvGeometry& g = geometry_;
  const int64_t pixels = int64_t(g.batch) * g.out_h * g.out_w;
  const int64_t p0 = int64_t(task) * pixels_per_task_;
  kernel_(MakeParams(g, quant_, packed_), static_cast<const int8_t*>(in), static_cast<int8_t*>(out), p0,
          std::min(pixels, p0 + pixels_per_task_));
}

bool DepthwiseInt8Node::Plan(const TfLiteIntArray& dims, ConvGeometry* g) const {
  return dims.data[3] == packed_.channels && PlanGeometry(dims, packed_.channels, 3, g);
}

void DepthwiseInt8Node::RunTask(int task, const void* in, void* out) const {
  const ConvGeometry& g = geometry_;
  const int blocks = (g.out_h + rows_per_task_ - 1) / rows_per_task_;
  const int n = task / blocks, oy0 = (task % blocks) * rows_per_task_;
  kernel_(MakeParams(g, quant_, packed_), static_cast<const int8_t*>(in), static_cast<int8_t*>(out), n, oy0,
          std::min(g.out_h, oy0 + rows_per_task_));
}

}  // namespace patternlite
