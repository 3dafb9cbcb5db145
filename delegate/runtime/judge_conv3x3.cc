// conv3x3: a pattern-pruned 3x3 CONV_2D (every kept kernel keeps 4 taps).
#include <set>

#include "delegate/runtime/judge_steps.h"
#include "delegate/runtime/weight_checks.h"

namespace patternlite {

std::string JudgeConv3x3(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                         const contract::KindRule& rule, Claim* claim) {
  NodeParams& p = claim->params;
  NodeTensors& t = claim->tensors;
  ClaimInfo& info = claim->info;
  std::string why = ReadNodeParams(node, rule, &p);
  if (!why.empty()) return why;
  why = ReadNodeTensors(context, node, rule, &info, &t);
  if (!why.empty()) return why;
  if (t.input->dims->data[3] != t.I) return "grouped conv (input channels != filter channels) is not supported";
  const LayerRecord* record = nullptr;
  why = FindRecord(env, info.filter, &record);
  if (!why.empty()) return why;
  if (record != nullptr && record->kind != rule.value) {
    return "pattern metadata describes this filter as another kind of layer";
  }
  if (!AssignKernelMasks(t.weights, t.O, t.I, record, PatternLibrary(env, record), &claim->masks, &why)) return why;
  // Every zero counts here: the kernels skip pruned kernels and pruned taps alike.
  size_t zeros = 0;
  const size_t total = size_t(t.O) * size_t(rule.kernel_h * rule.kernel_w) * size_t(t.I);
  for (size_t i = 0; i < total; ++i) zeros += t.weights[i] == 0.0f;
  why = CheckSparsity(env, double(zeros) / double(total), "");
  if (!why.empty()) return why;

  std::set<uint16_t> distinct;
  size_t kept = 0;
  for (uint16_t m : claim->masks) {
    if (m != 0) distinct.insert(m), ++kept;
  }
  FillClaim(env, context, rule, p, record, &info);
  info.out_channels = t.O;
  info.in_channels = t.I;
  info.kept_kernels = kept;
  info.total_kernels = size_t(t.O) * t.I;
  info.distinct_patterns = int(distinct.size());
  return "";
}

}  // namespace patternlite
