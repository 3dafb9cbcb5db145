#include "delegate/runtime/judge_steps.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "delegate/node/conv_shape.h"

namespace patternlite {
namespace {

std::string TensorName(const TfLiteTensor& t) { return t.name != nullptr ? t.name : ""; }

bool IsConstant(const TfLiteTensor& t) {
  return (t.allocation_type == kTfLiteMmapRo || t.allocation_type == kTfLitePersistentRo) && t.data != nullptr;
}

const char* PaddingName(TfLitePadding p) {
  return p == kTfLitePaddingSame ? "SAME" : p == kTfLitePaddingValid ? "VALID" : "UNKNOWN";
}

// From TfLiteConvParams or TfLiteDepthwiseConvParams (the same field names).
template <class Params>
NodeParams ReadParams(const Params& c) {
  NodeParams p;
  p.stride_h = c.stride_height;
  p.stride_w = c.stride_width;
  p.dilation_h = c.dilation_height_factor;
  p.dilation_w = c.dilation_width_factor;
  p.padding = c.padding;
  p.activation = c.activation;
  return p;
}

// "1 or 2" for the strides 1..max_stride.
std::string StrideRange(int max_stride) {
  if (max_stride <= 1) return "1";
  if (max_stride == 2) return "1 or 2";
  return "1 to " + std::to_string(max_stride);
}

std::string CheckParams(int max_stride, NodeParams* p) {
  if (p->dilation_w != 1 || p->dilation_h != 1) {
    return "dilation " + std::to_string(p->dilation_h) + "x" + std::to_string(p->dilation_w) + " is not supported";
  }
  if (p->stride_h < 1 || p->stride_h > max_stride || p->stride_w < 1 || p->stride_w > max_stride) {
    return "stride " + std::to_string(p->stride_h) + "x" + std::to_string(p->stride_w) + " is not supported (" +
           StrideRange(max_stride) + ")";
  }
  if (p->padding != kTfLitePaddingSame && p->padding != kTfLitePaddingValid) return "unknown padding";
  if (!ActivationRange(p->activation, &p->act_min, &p->act_max, &p->act_name)) {
    return "fused activation " + std::to_string(p->activation) + " is not supported";
  }
  return "";
}

const TfLiteAffineQuantization* Affine(const TfLiteTensor& t) {
  return t.quantization.type == kTfLiteAffineQuantization
             ? static_cast<const TfLiteAffineQuantization*>(t.quantization.params)
             : nullptr;
}

bool ValidScale(float s) { return std::isfinite(s) && s > 0; }

// The filter's per-output-channel scales (a per-tensor one broadcast); all
// zero points must be 0 (symmetric), the channel dimension `channel_dim`.
std::string FilterScales(const TfLiteTensor& filter, int out_channels, int channel_dim, std::vector<float>* scales) {
  const TfLiteAffineQuantization* a = Affine(filter);
  if (a == nullptr || a->scale == nullptr || a->scale->size < 1) return "filter has no quantization parameters";
  const int n = a->scale->size;
  if (n != 1 && n != out_channels) {
    return "filter has " + std::to_string(n) + " scales for " + std::to_string(out_channels) + " output channels";
  }
  if (n > 1 && a->quantized_dimension != channel_dim) {
    return "filter is quantized per channel along dimension " + std::to_string(a->quantized_dimension) +
           " (only " + std::to_string(channel_dim) + ", the output channels, is supported)";
  }
  if (a->zero_point != nullptr) {
    for (int i = 0; i < a->zero_point->size; ++i) {
      if (a->zero_point->data[i] != 0) {
        return "filter zero point " + std::to_string(a->zero_point->data[i]) +
               " is not 0 (only symmetric int8 weights are supported)";
      }
    }
  }
  scales->assign(size_t(out_channels), a->scale->data[0]);
  if (n > 1) scales->assign(a->scale->data, a->scale->data + n);
  for (float sc : *scales) {
    if (!ValidScale(sc)) return "filter scale is not finite and positive";
  }
  return "";
}

int ThreadsFor(const DelegateOptions& options, const TfLiteContext* context) {
  return options.num_threads > 0                   ? options.num_threads
         : context->recommended_num_threads > 0 ? context->recommended_num_threads
                                                : 1;
}

// The first step of ReadNodeTensors and ReadNodeTensorsInt8: the node's
// input, filter, optional bias and output tensor indices, each checked to be
// in range; sets t's indices and input and info's filter name.
std::string LocateTensors(const TfLiteContext* context, const TfLiteNode* node, ClaimInfo* info, NodeTensors* t,
                          int* bias_idx) {
  if (node->inputs == nullptr || node->outputs == nullptr || node->inputs->size < 2 ||
      node->outputs->size != 1) {
    return "unexpected number of inputs/outputs";
  }
  t->in_idx = node->inputs->data[0];
  t->filter_idx = node->inputs->data[1];
  *bias_idx = node->inputs->size >= 3 ? node->inputs->data[2] : kTfLiteOptionalTensor;
  t->out_idx = node->outputs->data[0];
  const int n_tensors = int(context->tensors_size);
  auto valid = [&](int i) { return i >= 0 && i < n_tensors; };
  if (!valid(t->in_idx) || !valid(t->filter_idx) || !valid(t->out_idx) ||
      (*bias_idx != kTfLiteOptionalTensor && !valid(*bias_idx))) {
    return "tensor index out of range";
  }
  const TfLiteTensor& filter = context->tensors[t->filter_idx];
  t->input = &context->tensors[t->in_idx];
  info->filter = TensorName(filter);
  return "";
}

// The shape checks both element types share, after their type checks: a
// constant dense 4-D kh x kw filter of `element_bytes` elements (sets t->O,
// t->I), a 4-D input, and no dynamic input or output.
std::string CheckShapes(const TfLiteTensor& filter, const TfLiteTensor& input, const TfLiteTensor& output, int kh,
                        int kw, size_t element_bytes, NodeTensors* t) {
  if (filter.dims == nullptr || filter.dims->size != 4) return "filter is not 4-D";
  t->O = filter.dims->data[0];
  t->I = filter.dims->data[3];
  if (filter.dims->data[1] != kh || filter.dims->data[2] != kw) {
    return "filter is " + std::to_string(filter.dims->data[1]) + "x" + std::to_string(filter.dims->data[2]) +
           ", only " + std::to_string(kh) + "x" + std::to_string(kw) + " is supported here";
  }
  if (t->O <= 0 || t->I <= 0) return "empty filter";
  if (!IsConstant(filter)) return "filter is not a constant tensor";
  if (filter.sparsity != nullptr) return "filter uses TFLite's sparse tensor encoding";
  if (filter.bytes != size_t(t->O) * kh * kw * t->I * element_bytes) return "filter byte size disagrees with its shape";
  if (input.dims == nullptr || input.dims->size != 4) return "input is not 4-D NHWC";
  if (input.allocation_type == kTfLiteDynamic || output.allocation_type == kTfLiteDynamic) {
    return "input or output is a dynamic tensor (shape known only at run time)";
  }
  return "";
}

}  // namespace

std::string PerTensorQuantization(const TfLiteTensor& t, const std::string& what, float* scale, int32_t* zero_point) {
  const TfLiteAffineQuantization* a = Affine(t);
  if (a == nullptr || a->scale == nullptr || a->scale->size < 1) return what + " has no quantization parameters";
  if (a->scale->size != 1 || (a->zero_point != nullptr && a->zero_point->size > 1)) {
    return what + " is quantized per channel (only per-tensor activations are supported)";
  }
  *scale = a->scale->data[0];
  *zero_point = a->zero_point != nullptr && a->zero_point->size == 1 ? a->zero_point->data[0] : 0;
  if (!ValidScale(*scale)) return what + " scale is not finite and positive";
  if (*zero_point < -128 || *zero_point > 127) return what + " zero point is outside int8";
  return "";
}

std::string ReadNodeParams(const TfLiteNode* node, const contract::KindRule& rule, NodeParams* p) {
  if (rule.builtin_code == kTfLiteBuiltinDepthwiseConv2d) {
    const auto* params = static_cast<const TfLiteDepthwiseConvParams*>(node->builtin_data);
    if (params == nullptr) return "missing depthwise conv parameters";
    *p = ReadParams(*params);
  } else {
    const auto* params = static_cast<const TfLiteConvParams*>(node->builtin_data);
    if (params == nullptr) return "missing conv parameters";
    *p = ReadParams(*params);
  }
  if (rule.any_dilation) p->dilation_h = p->dilation_w = 1;  // dilation does not change a 1x1 conv
  return CheckParams(rule.max_stride, p);
}

std::string ReadNodeTensors(TfLiteContext* context, const TfLiteNode* node, const contract::KindRule& rule,
                            ClaimInfo* info, NodeTensors* t) {
  const int kh = rule.kernel_h, kw = rule.kernel_w;
  const bool depthwise = rule.depth_multiplier > 0;
  int bias_idx = kTfLiteOptionalTensor;
  const std::string located = LocateTensors(context, node, info, t, &bias_idx);
  if (!located.empty()) return located;
  const TfLiteTensor& input = context->tensors[t->in_idx];
  const TfLiteTensor& filter = context->tensors[t->filter_idx];
  const TfLiteTensor& output = context->tensors[t->out_idx];
  if (input.type != kTfLiteFloat32 || output.type != kTfLiteFloat32) {
    return "input/output are not float32 (type " + std::to_string(input.type) + ")";
  }
  if (filter.type != kTfLiteFloat32) return "filter is not float32 (type " + std::to_string(filter.type) + ")";
  const std::string why = CheckShapes(filter, input, output, kh, kw, sizeof(float), t);
  if (!why.empty()) return why;
  t->weights = static_cast<const float*>(filter.data);
  t->bias = nullptr;
  if (bias_idx != kTfLiteOptionalTensor) {
    // One bias per output channel: filter dim 0, or dim 3 for depthwise ([1, kh, kw, C]).
    const int channels = depthwise ? t->I : t->O;
    const TfLiteTensor& b = context->tensors[bias_idx];
    if (b.type != kTfLiteFloat32) return "bias is not float32";
    if (!IsConstant(b)) return "bias is not a constant tensor";
    if (b.bytes != size_t(channels) * sizeof(float)) return "bias size disagrees with the filter";
    t->bias = static_cast<const float*>(b.data);
  }
  return "";
}

void Int8ActivationRange(TfLiteFusedActivation act, float scale, int32_t zero_point, int32_t* lo, int32_t* hi) {
  const auto quantize = [&](float f) { return zero_point + int32_t(std::round(f / scale)); };
  *lo = -128;
  *hi = 127;
  if (act == kTfLiteActRelu || act == kTfLiteActRelu6) *lo = std::max(*lo, quantize(0.0f));
  if (act == kTfLiteActRelu6) *hi = std::min(*hi, quantize(6.0f));
  if (act == kTfLiteActReluN1To1) {
    *lo = std::max(*lo, quantize(-1.0f));
    *hi = std::min(*hi, quantize(1.0f));
  }
}

std::string FindRecord(const JudgeEnv& env, const std::string& filter, const LayerRecord** record) {
  *record = nullptr;
  if (env.options->metadata == MetadataMode::kIgnore) return "";
  if (!env.metadata_error.empty()) return "pattern metadata is corrupt: " + env.metadata_error;
  if (env.metadata != nullptr) {
    auto it = env.metadata->layers.find(filter);
    if (it != env.metadata->layers.end()) *record = &it->second;
  }
  if (*record == nullptr && env.options->metadata == MetadataMode::kRequire) {
    return "no pattern metadata names this filter (metadata=require)";
  }
  return "";
}

const std::vector<uint16_t>& PatternLibrary(const JudgeEnv& env, const LayerRecord* record) {
  static const std::vector<uint16_t> kNoLibrary;
  return record != nullptr ? env.metadata->patterns : kNoLibrary;
}

std::string CheckSparsity(const JudgeEnv& env, double sparsity, const std::string& what) {
  if (sparsity >= env.options->min_sparsity) return "";
  char buf[200];
  std::snprintf(buf, sizeof buf, "only %.1f%% of the weights are zero%s (min_sparsity %.2f)", 100.0 * sparsity,
                what.c_str(), env.options->min_sparsity);
  return buf;
}

void FillClaim(const JudgeEnv& env, const TfLiteContext* context, const contract::KindRule& rule,
               const NodeParams& p, const LayerRecord* record, ClaimInfo* info) {
  info->kind = contract::kKindNames[rule.value];
  info->stride_h = p.stride_h;
  info->stride_w = p.stride_w;
  info->padding = PaddingName(p.padding);
  info->activation = p.act_name;
  info->source = record != nullptr ? "metadata" : "weights";
  info->threads = ThreadsFor(*env.options, context);
}

}  // namespace patternlite

namespace patternlite {

std::string ReadNodeTensorsInt8(TfLiteContext* context, const TfLiteNode* node, const contract::KindRule& rule,
                                ClaimInfo* info, NodeTensors* t, Int8Tensors* q) {
  const int kh = rule.kernel_h, kw = rule.kernel_w;
  const bool depthwise = rule.depth_multiplier > 0;
  int bias_idx = kTfLiteOptionalTensor;
  const std::string located = LocateTensors(context, node, info, t, &bias_idx);
  if (!located.empty()) return located;
  const TfLiteTensor& input = context->tensors[t->in_idx];
  const TfLiteTensor& filter = context->tensors[t->filter_idx];
  const TfLiteTensor& output = context->tensors[t->out_idx];
  if (input.type == kTfLiteInt16) return "int16 activations (16x8 quantization) are not supported";
  if (input.type == kTfLiteUInt8) return "uint8 (asymmetric) quantization is not supported, only int8";
  if (input.type != kTfLiteInt8 || output.type != kTfLiteInt8) {
    return "input/output are not both int8 (types " + std::to_string(input.type) + ", " +
           std::to_string(output.type) + ")";
  }
  if (filter.type != kTfLiteInt8) return "filter is not int8 (type " + std::to_string(filter.type) + ")";
  std::string why = CheckShapes(filter, input, output, kh, kw, 1, t);
  if (!why.empty()) return why;
  why = PerTensorQuantization(input, "input", &q->input_scale, &q->input_zero_point);
  if (!why.empty()) return why;
  why = PerTensorQuantization(output, "output", &q->output_scale, &q->output_zero_point);
  if (!why.empty()) return why;
  // One scale and one bias per output channel: filter dim 0, or dim 3 for depthwise ([1, kh, kw, C]).
  const int channels = depthwise ? t->I : t->O;
  why = FilterScales(filter, channels, depthwise ? 3 : 0, &q->filter_scales);
  if (!why.empty()) return why;
  q->weights = static_cast<const int8_t*>(filter.data);
  q->bias = nullptr;
  if (bias_idx != kTfLiteOptionalTensor) {
    const TfLiteTensor& b = context->tensors[bias_idx];
    if (b.type != kTfLiteInt32) return "bias is not int32 (type " + std::to_string(b.type) + ")";
    if (!IsConstant(b)) return "bias is not a constant tensor";
    if (b.bytes != size_t(channels) * sizeof(int32_t)) return "bias size disagrees with the filter";
    q->bias = static_cast<const int32_t*>(b.data);
  }
  t->weights = nullptr;
  t->bias = nullptr;
  return "";
}

}  // namespace patternlite
