// pointwise and depthwise3x3 on int8: a sparse 1x1 CONV_2D and a pattern-pruned
// 3x3 DEPTHWISE_CONV_2D (depth multiplier 1) in TFLite's full-integer scheme
// (int8 activations with per-tensor scale and zero point, int8 weights with
// per-channel symmetric scales, int32 bias). The same kinds, structure checks
// and sparsity measure as for fp32 (judge_pointwise.cc,
// judge_depthwise3x3.cc): the weight checks run on the int8 weights' exact
// float copy, since an int8 weight is 0 exactly where the float one was.
// Other quantized schemes are declined as for int8 conv3x3.
#include <algorithm>
#include <set>
#include <vector>

#include "delegate/packing/block_pack.h"
#include "delegate/runtime/judge_steps.h"
#include "delegate/runtime/weight_checks.h"

namespace patternlite {
namespace {

// The int8 steps both kinds share before their structure: parameters,
// tensors and quantization, the activation range, the metadata record.
std::string ReadInt8Node(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                         const contract::KindRule& rule, Claim* claim, const LayerRecord** record) {
  NodeParams& p = claim->params;
  Int8Tensors& q = claim->int8;
  claim->dtype = kTfLiteInt8;
  std::string why = ReadNodeParams(node, rule, &p);
  if (!why.empty()) return why;
  why = ReadNodeTensorsInt8(context, node, rule, &claim->info, &claim->tensors, &q);
  if (!why.empty()) return why;
  Int8ActivationRange(p.activation, q.output_scale, q.output_zero_point, &q.act_min, &q.act_max);
  if (q.act_min > q.act_max) return "the fused activation's range is empty at this output quantization";
  return FindRecord(env, claim->info.filter, record);
}

}  // namespace

std::string JudgePointwiseInt8(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                               const contract::KindRule& rule, Claim* claim) {
  NodeTensors& t = claim->tensors;
  ClaimInfo& info = claim->info;
  const LayerRecord* record = nullptr;
  std::string why = ReadInt8Node(env, context, node, rule, claim, &record);
  if (!why.empty()) return why;
  if (t.input->dims->data[3] != t.I) return "grouped conv (input channels != filter channels) is not supported";
  const std::vector<float> weights(claim->int8.weights, claim->int8.weights + size_t(t.O) * t.I);
  if (!AssignPointwise(weights.data(), t.O, t.I, record, &claim->kept, &why)) return why;
  const double block_weights = double(PointwiseBlockWeights(t.O, t.I, claim->kept));
  why = CheckSparsity(env, 1.0 - block_weights / (double(t.O) * t.I),
                      " in whole blocks of " + std::to_string(contract::kChannelBlock) + " filters");
  if (!why.empty()) return why;
  FillClaim(env, context, rule, claim->params, record, &info);
  info.dtype = "int8";
  info.out_channels = t.O;
  info.in_channels = t.I;
  info.kept_kernels = size_t(std::count(claim->kept.begin(), claim->kept.end(), uint8_t(1)));
  info.total_kernels = size_t(t.O) * t.I;
  return "";
}

std::string JudgeDepthwise3x3Int8(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                                  const contract::KindRule& rule, Claim* claim) {
  NodeTensors& t = claim->tensors;
  ClaimInfo& info = claim->info;
  const LayerRecord* record = nullptr;
  std::string why = ReadInt8Node(env, context, node, rule, claim, &record);
  if (!why.empty()) return why;
  const int C = t.I;
  if (t.O != 1) return "depthwise filter's first dimension is " + std::to_string(t.O) + ", not 1";
  if (t.input->dims->data[3] != C) return "depth multiplier other than 1 is not supported";
  const int taps = rule.kernel_h * rule.kernel_w;
  const std::vector<float> weights(claim->int8.weights, claim->int8.weights + size_t(taps) * C);
  if (!AssignDepthwise(weights.data(), C, record, PatternLibrary(env, record), &claim->masks, &why)) return why;
  const double block_weights = double(DepthwiseBlockWeights(C, claim->masks));
  why = CheckSparsity(env, 1.0 - block_weights / (double(C) * taps),
                      " in whole blocks of " + std::to_string(contract::kChannelBlock) + " channels");
  if (!why.empty()) return why;
  std::set<uint16_t> distinct;
  size_t kept = 0;
  for (uint16_t m : claim->masks) {
    if (m != 0) distinct.insert(m), ++kept;
  }
  FillClaim(env, context, rule, claim->params, record, &info);
  info.dtype = "int8";
  info.out_channels = C;
  info.in_channels = C;
  info.kept_kernels = kept;
  info.total_kernels = size_t(C);
  info.distinct_patterns = int(distinct.size());
  return "";
}

}  // namespace patternlite
