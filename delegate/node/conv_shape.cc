#include "delegate/node/conv_shape.h"

#include <algorithm>
#include <cstdlib>
#include <limits>

namespace patternlite {

bool ActivationRange(TfLiteFusedActivation act, float* lo, float* hi, const char** name) {
  const float inf = std::numeric_limits<float>::infinity();
  switch (act) {
    case kTfLiteActNone: *lo = -inf; *hi = inf; *name = "NONE"; return true;
    case kTfLiteActRelu: *lo = 0; *hi = inf; *name = "RELU"; return true;
    case kTfLiteActReluN1To1: *lo = -1; *hi = 1; *name = "RELU_N1_TO_1"; return true;
    case kTfLiteActRelu6: *lo = 0; *hi = 6; *name = "RELU6"; return true;
    default: return false;
  }
}

bool ComputeOutputSize(TfLitePadding padding, int in, int stride, int* out, int* pad_before, int kernel) {
  const int kFilter = kernel;
  if (padding == kTfLitePaddingSame) {
    *out = (in + stride - 1) / stride;
    const int total = std::max((*out - 1) * stride + kFilter - in, 0);
    *pad_before = total / 2;
  } else {
    *out = (in + stride - kFilter) / stride;
    *pad_before = 0;
  }
  return *out > 0;
}

TfLiteStatus ResizeOutput(TfLiteContext* context, TfLiteTensor* output, const int shape[4]) {
  const bool same_shape =
      output->dims != nullptr && output->dims->size == 4 && std::equal(shape, shape + 4, output->dims->data);
  if (same_shape) return kTfLiteOk;
  if (context->ResizeTensorExplicit != nullptr) {
    return context->ResizeTensorExplicit(context, output, 4, shape);
  }
  // ResizeTensor takes ownership and frees with free(), as TfLiteIntArrayFree does.
  auto* dims = static_cast<TfLiteIntArray*>(std::malloc(sizeof(TfLiteIntArray) + 4 * sizeof(int)));
  if (dims == nullptr) return kTfLiteError;
  dims->size = 4;
  std::copy(shape, shape + 4, dims->data);
  return context->ResizeTensor(context, output, dims);
}

}  // namespace patternlite
