#include "delegate/runtime/judge.h"

#include <utility>

#include "delegate/runtime/judge_steps.h"

namespace patternlite {

namespace {

// The types TFLite's quantized convs take as activations: int8 (full
// integer), int16 (16x8) and uint8 (the old asymmetric scheme).
bool IsQuantizedType(TfLiteType t) { return t == kTfLiteInt8 || t == kTfLiteInt16 || t == kTfLiteUInt8; }

// Whether the int8 option lets the delegate take an int8 node it can run
// exactly; else why not. Under `auto` a kind is taken only once its int8
// kernel is measured faster than XNNPACK's int8 dense kernel on the layers of
// the benchmark suite (docs/int8.md, "Speed"). No kind has passed that bar
// yet, so `auto` leaves every int8 conv to TFLite; `all` runs them anyway.
std::string Int8Policy(const JudgeEnv& env, const contract::KindRule& rule) {
  switch (env.options->int8) {
    case Int8Claims::kAll: return "";
    case Int8Claims::kNone: return "int8 claims are off (int8='none')";
    case Int8Claims::kAuto: break;
  }
  return std::string("the int8 ") + rule.name +
         " kernel is exact but not yet faster than XNNPACK's int8 dense kernel, so int8='auto' leaves it to "
         "TFLite (int8='all' claims it)";
}

}  // namespace

NodeKind FindKind(const TfLiteContext* context, const TfLiteNode* node, int builtin_code) {
  NodeKind kind;
  // The filter's height and width, when the node has a 4-D filter.
  int fh = -1, fw = -1;
  if (node->inputs != nullptr && node->inputs->size >= 1) {
    const int in = node->inputs->data[0];
    if (in >= 0 && size_t(in) < context->tensors_size) kind.dtype = context->tensors[in].type;
  }
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
    if (rule.kernel_h == fh && rule.kernel_w == fw) {
      kind.rule = &rule;
      return kind;
    }
    if (first == nullptr) first = &rule;
  }
  kind.rule = first;
  return kind;
}

Verdict Judge(const JudgeEnv& env, TfLiteContext* context, int node_index, const TfLiteNode* node,
              const NodeKind& kind) {
  const contract::KindRule& rule = *kind.rule;
  const bool quantized = IsQuantizedType(kind.dtype);
  Claim claim;
  claim.kind = rule.value;
  claim.info.node = node_index;
  std::string reason;
  switch (rule.value) {
    case contract::kKindConv3x3:
      reason = quantized ? JudgeConv3x3Int8(env, context, node, rule, &claim)
                         : JudgeConv3x3(env, context, node, rule, &claim);
      break;
    case contract::kKindPointwise:
      reason = quantized ? JudgePointwiseInt8(env, context, node, rule, &claim)
                         : JudgePointwise(env, context, node, rule, &claim);
      break;
    case contract::kKindDepthwise3x3:
      reason = quantized ? JudgeDepthwise3x3Int8(env, context, node, rule, &claim)
                         : JudgeDepthwise3x3(env, context, node, rule, &claim);
      break;
    default: reason = std::string("no judge for kind ") + rule.name; break;
  }
  // The policy comes last, so a node the delegate could not run exactly is
  // declined with that reason rather than the policy's.
  if (reason.empty() && quantized) reason = Int8Policy(env, rule);
  if (!reason.empty()) return Decline{claim.info.filter, reason};
  return Verdict(std::move(claim));
}

}  // namespace patternlite
