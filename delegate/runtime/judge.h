// Judging a node (IsNodeSupported, in TFLite's delegate-utility terms): which
// kind of the contract's table (contract::kKindRules) a CONV_2D or
// DEPTHWISE_CONV_2D node is, and whether the delegate can run it exactly.
// A judge only reads and checks (parameters, tensors, the metadata record,
// the weights against it, the sparsity); Build (runtime/build.h) packs.
//
// Adding a kind: its row in spec/contract.toml, one Judge (judge_<kind>.cc,
// a case in Judge), one Build case and its kernels. An element type of an
// existing kind (int8 conv3x3) is the same: a judge, a Build case, kernels.
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

// What a node is: the rule of its kind and the element type of its input,
// which picks the judge (a quantized conv3x3 goes to the int8 judge).
struct NodeKind {
  const contract::KindRule* rule = nullptr;  // null: an op no kind is made of
  TfLiteType dtype = kTfLiteNoType;          // the input tensor's type (kTfLiteNoType: unreadable)
};

// The kind of a node of op `builtin_code`: the rule whose filter shape the
// node has, else the op's first rule (whose judge then declines the node and
// names its filter shape); and the node's input type.
NodeKind FindKind(const TfLiteContext* context, const TfLiteNode* node, int builtin_code);

// Claims the node as `kind`, or declines it with a reason.
Verdict Judge(const JudgeEnv& env, TfLiteContext* context, int node_index, const TfLiteNode* node,
              const NodeKind& kind);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_JUDGE_H_
