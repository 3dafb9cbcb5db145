// depthwise3x3: a pattern-pruned 3x3 DEPTHWISE_CONV_2D of depth multiplier 1,
// run in blocks of contract::kChannelBlock channels.
#include <set>

#include "delegate/packing/block_pack.h"
#include "delegate/runtime/judge_steps.h"
#include "delegate/runtime/weight_checks.h"

namespace patternlite {

std::string JudgeDepthwise3x3(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                              const contract::KindRule& rule, Claim* claim) {
  NodeParams& p = claim->params;
  NodeTensors& t = claim->tensors;
  ClaimInfo& info = claim->info;
  std::string why = ReadNodeParams(node, rule, &p);
  if (!why.empty()) return why;
  why = ReadNodeTensors(context, node, rule, &info, &t);
  if (!why.empty()) return why;
  const int C = t.I;
  if (t.O != 1) return "depthwise filter's first dimension is " + std::to_string(t.O) + ", not 1";
  if (t.input->dims->data[3] != C) return "depth multiplier other than 1 is not supported";
  const LayerRecord* record = nullptr;
  why = FindRecord(env, info.filter, &record);
  if (!why.empty()) return why;
  if (!AssignDepthwise(t.weights, C, record, PatternLibrary(env, record), &claim->masks, &why)) return why;
  // Only the taps a whole block skips save time: count those.
  const double block_weights = double(DepthwiseBlockWeights(C, claim->masks));
  why = CheckSparsity(env, 1.0 - block_weights / (double(C) * (rule.kernel_h * rule.kernel_w)),
                      " in whole blocks of " + std::to_string(contract::kChannelBlock) + " channels");
  if (!why.empty()) return why;
  std::set<uint16_t> distinct;
  size_t kept = 0;
  for (uint16_t m : claim->masks) {
    if (m != 0) distinct.insert(m), ++kept;
  }
  FillClaim(env, context, rule, p, record, &info);
  info.out_channels = C;
  info.in_channels = C;
  info.kept_kernels = kept;
  info.total_kernels = size_t(C);
  info.distinct_patterns = int(distinct.size());
  return "";
}

}  // namespace patternlite
