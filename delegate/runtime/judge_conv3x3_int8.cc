// conv3x3 on int8: a pattern-pruned 3x3 CONV_2D in TFLite's full-integer
// scheme (int8 activations with per-tensor scale and zero point, int8 weights
// with per-channel symmetric scales, int32 bias). Still kind conv3x3: the
// metadata names its filter as for fp32 (TFLite's int8 export keeps the
// float model's tensor names). Other quantized schemes are declined.
#include <algorithm>
#include <cmath>
#include <set>

#include "delegate/runtime/judge_steps.h"
#include "delegate/runtime/weight_checks.h"

namespace patternlite {

std::string JudgeConv3x3Int8(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                             const contract::KindRule& rule, Claim* claim) {
  NodeParams& p = claim->params;
  NodeTensors& t = claim->tensors;
  Int8Tensors& q = claim->int8;
  ClaimInfo& info = claim->info;
  claim->dtype = kTfLiteInt8;
  std::string why = ReadNodeParams(node, rule, &p);
  if (!why.empty()) return why;
  why = ReadNodeTensorsInt8(context, node, rule, &info, &t, &q);
  if (!why.empty()) return why;
  if (t.input->dims->data[3] != t.I) return "grouped conv (input channels != filter channels) is not supported";
  Int8ActivationRange(p.activation, q.output_scale, q.output_zero_point, &q.act_min, &q.act_max);
  if (q.act_min > q.act_max) return "the fused activation's range is empty at this output quantization";
  const LayerRecord* record = nullptr;
  why = FindRecord(env, info.filter, &record);
  if (!why.empty()) return why;
  if (record != nullptr && record->kind != rule.value) {
    return "pattern metadata describes this filter as another kind of layer";
  }
  if (!AssignKernelMasksInt8(q.weights, t.O, t.I, record, PatternLibrary(env, record), &claim->masks, &why)) {
    return why;
  }
  // As for fp32, every zero counts: an int8 weight is 0 exactly where the
  // float one was (symmetric scales).
  const size_t total = size_t(t.O) * size_t(rule.kernel_h * rule.kernel_w) * size_t(t.I);
  const size_t zeros = size_t(std::count(q.weights, q.weights + total, int8_t(0)));
  why = CheckSparsity(env, double(zeros) / double(total), "");
  if (!why.empty()) return why;

  std::set<uint16_t> distinct;
  size_t kept = 0;
  for (uint16_t m : claim->masks) {
    if (m != 0) distinct.insert(m), ++kept;
  }
  FillClaim(env, context, rule, p, record, &info);
  info.dtype = "int8";
  info.out_channels = t.O;
  info.in_channels = t.I;
  info.kept_kernels = kept;
  info.total_kernels = size_t(t.O) * t.I;
  info.distinct_patterns = int(distinct.size());
  return "";
}

}  // namespace patternlite
