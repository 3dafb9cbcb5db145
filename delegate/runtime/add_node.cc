#include "delegate/runtime/add_node.h"

#include <cstdlib>
#include <cstring>

namespace patternlite {
namespace {

size_t ElementCount(const TfLiteIntArray& dims) {
  size_t n = 1;
  for (int d = 0; d < dims.size; ++d) n *= size_t(dims.data[d] < 0 ? 0 : dims.data[d]);
  return n;
}

bool SameDims(const TfLiteIntArray* a, const TfLiteIntArray* b) {
  return a != nullptr && b != nullptr && a->size == b->size &&
         std::memcmp(a->data, b->data, sizeof(int) * size_t(a->size)) == 0;
}

}  // namespace

void AddClamp(const float* a, const float* b, float* out, size_t n, float lo, float hi) {
  // TFLite's ActivationFunctionWithMinMax: min(max(x, lo), hi), a NaN sum
  // stays NaN. Written so the compiler vectorises it.
  for (size_t i = 0; i < n; ++i) {
    float v = a[i] + b[i];
    v = v < lo ? lo : v;
    v = hi < v ? hi : v;
    out[i] = v;
  }
}

TfLiteStatus AddNode::Prepare(TfLiteContext* context) {
  const TfLiteTensor& a = context->tensors[config_.input_a];
  const TfLiteTensor& b = context->tensors[config_.input_b];
  TfLiteTensor& out = context->tensors[config_.output];
  // The judge took only equal shapes; a resize that breaks that fails here
  // (no broadcasting), as it would have to for TFLite to re-plan.
  if (!SameDims(a.dims, b.dims)) {
    context->ReportError(context, "patternlite: ADD inputs no longer have one shape");
    return kTfLiteError;
  }
  elements_ = ElementCount(*a.dims);
  counters_->plan_threads.store(1, std::memory_order_relaxed);
  if (SameDims(a.dims, out.dims)) return kTfLiteOk;
  if (context->ResizeTensorExplicit != nullptr) {
    return context->ResizeTensorExplicit(context, &out, a.dims->size, a.dims->data);
  }
  // ResizeTensor takes ownership and frees with free(), as TfLiteIntArrayFree does.
  auto* dims = static_cast<TfLiteIntArray*>(std::malloc(sizeof(TfLiteIntArray) + sizeof(int) * size_t(a.dims->size)));
  if (dims == nullptr) return kTfLiteError;
  dims->size = a.dims->size;
  std::memcpy(dims->data, a.dims->data, sizeof(int) * size_t(a.dims->size));
  return context->ResizeTensor(context, &out, dims);
}

TfLiteStatus AddNode::Eval(TfLiteContext* context) {
  const EvalTimer timer;
  const TfLiteTensor& a = context->tensors[config_.input_a];
  const TfLiteTensor& b = context->tensors[config_.input_b];
  TfLiteTensor& out = context->tensors[config_.output];
  const size_t bytes = elements_ * (config_.int8 != nullptr ? sizeof(int8_t) : sizeof(float));
  if (a.data == nullptr || b.data == nullptr || out.data == nullptr || a.bytes != bytes || b.bytes != bytes ||
      out.bytes != bytes) {
    context->ReportError(context, "patternlite: ADD tensors changed shape after Prepare");
    return kTfLiteError;
  }
  if (config_.int8 != nullptr) {
    config_.int8(config_.int8_params, static_cast<const int8_t*>(a.data), static_cast<const int8_t*>(b.data),
                 static_cast<int8_t*>(out.data), elements_);
  } else {
    AddClamp(static_cast<const float*>(a.data), static_cast<const float*>(b.data), static_cast<float*>(out.data),
             elements_, config_.act_min, config_.act_max);
  }
  timer.Record(counters_.get());
  return kTfLiteOk;
}

}  // namespace patternlite
