#include "delegate/runtime/cpu_node.h"

namespace patternlite {

bool MakeGeometry(int batch, int in_h, int in_w, int in_c, int out_c, TfLitePadding padding, int stride_h,
                  int stride_w, float act_min, float act_max, int kernel, ConvGeometry* out) {
  ConvGeometry g;
  g.batch = batch;
  g.in_h = in_h;
  g.in_w = in_w;
  g.in_c = in_c;
  g.out_c = out_c;
  g.stride_h = stride_h;
  g.stride_w = stride_w;
  g.act_min = act_min;
  g.act_max = act_max;
  if (batch <= 0 || !ComputeOutputSize(padding, in_h, stride_h, &g.out_h, &g.pad_top, kernel) ||
      !ComputeOutputSize(padding, in_w, stride_w, &g.out_w, &g.pad_left, kernel)) {
    return false;
  }
  *out = g;
  return true;
}

bool TensorsMatch(const ConvGeometry& g, const TfLiteTensor& input, const TfLiteTensor& output,
                  size_t element_bytes) {
  const size_t in_bytes = size_t(g.batch) * g.in_h * g.in_w * g.in_c * element_bytes;
  const size_t out_bytes = size_t(g.batch) * g.out_h * g.out_w * g.out_c * element_bytes;
  return input.dims != nullptr && input.dims->size == 4 && input.dims->data[0] == g.batch &&
         input.dims->data[1] == g.in_h && input.dims->data[2] == g.in_w && input.bytes == in_bytes &&
         output.bytes == out_bytes;
}

}  // namespace patternlite
