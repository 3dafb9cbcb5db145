// Judging a node (IsNodeSupported, in TFLite's delegate-utility terms): which
// kind of the contract's table (contract::kKindRules) a CONV_2D or
// DEPTHWISE_CONV_2D node is, and whether the delegate can run it exactly.
// A judge only reads and checks (parameters, tensors, the metadata record,
// the weights against it, the sparsity); Build (runtime/build.h) packs.
//
// Adding a kind: its row in spec/contract.toml, one Judge (judge_<kind>.cc,
// a case in Judge), one Build case and its kernels.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_JUDGE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_JUDGE_H_

#include <string>

#include "delegate/abi/tflite_abi.h"
#include "delegate/contract_generated.h"
#include "delegate/metadata/metadata_reader.h"
#include "delegate/runtime/claim.h"
#include "delegate/runtime/options.h"

namespace patternlite {

// What every judge reads besides the node.
struct JudgeEnv {
  const DelegateOptions* options = nullptr;
  const PatternMetadata* metadata = nullptr;  // null: none found, or unreadable
  std::string metadata_error;                 // why the model's metadata could not be read
};

// The rule of the kind a node of op `builtin_code` is: the one whose filter
// shape the node has, else the op's first rule (whose judge then declines the
// node and names its filter shape). Null for an op no kind is made of.
const contract::KindRule* FindKind(const TfLiteContext* context, const TfLiteNode* node, int builtin_code);

// Claims the node as kind `rule`, or declines it with a reason.
Verdict Judge(const JudgeEnv& env, TfLiteContext* context, int node_index, const TfLiteNode* node,
              const contract::KindRule& rule);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_JUDGE_H_
