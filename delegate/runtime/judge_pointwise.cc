// pointwise: a sparse 1x1 CONV_2D, run in blocks of contract::kChannelBlock filters.
#include <algorithm>

#include "delegate/packing/block_pack.h"
#include "delegate/runtime/judge_steps.h"
#include "delegate/runtime/weight_checks.h"

namespace patternlite {

std::string JudgePointwise(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
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
  if (!AssignPointwise(t.weights, t.O, t.I, record, &claim->kept, &why)) return why;
  // Only the zeros a whole block skips save time: count those.
  const double block_weights = double(PointwiseBlockWeights(t.O, t.I, claim->kept));
  why = CheckSparsity(env, 1.0 - block_weights / (double(t.O) * t.I),
                      " in whole blocks of " + std::to_string(contract::kChannelBlock) + " filters");
  if (!why.empty()) return why;
  FillClaim(env, context, rule, p, record, &info);
  info.out_channels = t.O;
  info.in_channels = t.I;
  info.kept_kernels = size_t(std::count(claim->kept.begin(), claim->kept.end(), uint8_t(1)));
  info.total_kernels = size_t(t.O) * t.I;
  return "";
}

}  // namespace patternlite
