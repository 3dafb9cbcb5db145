// Claiming the cheap ops next to claimed convs (not metadata kinds: the
// contract's kKindRules lists those). Each claimed conv is its own delegate
// kernel, so the ops between two of them (a ResNet's residual ADD) would be
// left to XNNPACK as a partition of one op each: about ten tiny partitions
// per network, whose spinning pool fights ours over the cores at 2 threads.
// Taking those ops removes the partitions (docs/threads.md measures it).
//
// The table kOpRules lists the ops that may be claimed, each with a Judge
// (can the delegate run this node exactly?) and a Build (its NodeKernel).
// An op is claimed only when its judge accepts it AND it touches a claimed
// conv: one of its inputs is a claimed conv's output, or its output feeds a
// claimed conv. Everything else stays with TFLite (and XNNPACK).
//
// Adding an op: a row in kOpRules (op_claim.cc) with its judge and build.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_OP_CLAIM_H_
#define PATTERNLITE_DELEGATE_RUNTIME_OP_CLAIM_H_

#include <memory>
#include <string>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/node/node_kernel.h"
#include "delegate/runtime/add_node.h"

namespace patternlite {

// A claimed op as the stats export reports it ("claimed_ops").
struct OpClaimInfo {
  int node = -1;
  std::string op;      // the builtin op's name, "ADD"
  std::string reason;  // why it was taken: "between claimed convs 3 and 5"
  std::string dtype = "float32";
  std::string activation;
  std::shared_ptr<NodeCounters> counters;  // made by BuildOp
};

// An op of the table the delegate left to TFLite, and why ("declined_ops").
struct OpDeclineInfo {
  int node = -1;
  std::string op;
  std::string reason;
};

struct OpRule;

// What an op's judge checked: everything its build needs.
struct OpClaim {
  const OpRule* rule = nullptr;
  std::vector<int> inputs, outputs;  // tensor indices
  Isa isa = Isa::kAuto;              // the delegate's kernel choice (set before the judge runs)
  AddNodeConfig add;                 // an ADD's node, as its judge filled it
  OpClaimInfo info;
};

struct OpRule {
  int builtin_code;
  const char* name;
  // Empty when the delegate can run the node exactly (filling `claim`); else why not.
  std::string (*judge)(const TfLiteContext* context, const TfLiteNode* node, OpClaim* claim);
  std::unique_ptr<NodeKernel> (*build)(const OpClaim& claim);
};

// The verdicts on every node of `plan` whose op is in the table, given the
// conv nodes already claimed (`claimed_convs`, node indices) and the ISA the
// delegate runs (`isa`, resolved: never kAuto).
struct OpVerdicts {
  std::vector<OpClaim> claims;
  std::vector<OpDeclineInfo> declines;
};
OpVerdicts JudgeOps(TfLiteContext* context, const std::vector<int>& plan, const std::vector<int>& claimed_convs,
                    Isa isa);

// The claimed op's kernel, with fresh counters in claim->info.
std::unique_ptr<NodeKernel> BuildOp(OpClaim* claim);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_OP_CLAIM_H_
