#include "delegate/runtime/judge.h"

#include <utility>

#include "delegate/runtime/judge_steps.h"

namespace patternlite {

const contract::KindRule* FindKind(const TfLiteContext* context, const TfLiteNode* node, int builtin_code) {
  // The filter's height and width, when the node has a 4-D filter.
  int fh = -1, fw = -1;
  if (node->inputs != nullptr && node->inputs->size >= 2) {
    const int f = node->inputs->data[1];
    if (f >= 0 && size_t(f) < context->tensors_size) {
      const TfLiteIntArray* dims = context->tensors[f].dims;
      if (dims != nullptr && dims->size == 4) fh = dims->data[1], fw = dims->data[2];
    }
  }
  const contract::KindRule* first = nullptr;
  for (const contract::KindRule& rule : contract::kKindRules) {
    if (rule.builtin_code != builtin_code) continue;
    if (rule.kernel_h == fh && rule.kernel_w == fw) return &rule;
    if (first == nullptr) first = &rule;
  }
  return first;
}

Verdict Judge(const JudgeEnv& env, TfLiteContext* context, int node_index, const TfLiteNode* node,
              const contract::KindRule& rule) {
  Claim claim;
  claim.kind = rule.value;
  claim.info.node = node_index;
  std::string reason;
  switch (rule.value) {
    case contract::kKindConv3x3: reason = JudgeConv3x3(env, context, node, rule, &claim); break;
    case contract::kKindPointwise: reason = JudgePointwise(env, context, node, rule, &claim); break;
    case contract::kKindDepthwise3x3: reason = JudgeDepthwise3x3(env, context, node, rule, &claim); break;
    default: reason = std::string("no judge for kind ") + rule.name; break;
  }
  if (!reason.empty()) return Decline{claim.info.filter, reason};
  return Verdict(std::move(claim));
}

}  // namespace patternlite
