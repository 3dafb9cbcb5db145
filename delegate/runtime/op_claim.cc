#include "delegate/runtime/op_claim.h"

#include <algorithm>
#include <cfloat>
#include <cstring>
#include <map>
#include <set>

#include "delegate/node/conv_shape.h"
#include "delegate/packing/add_int8_params.h"
#include "delegate/runtime/add_node.h"
#include "delegate/runtime/judge_steps.h"

namespace patternlite {
namespace {

bool ValidTensor(const TfLiteContext* context, int t) { return t >= 0 && size_t(t) < context->tensors_size; }

bool SameDims(const TfLiteIntArray* a, const TfLiteIntArray* b) {
  return a != nullptr && b != nullptr && a->size == b->size &&
         std::memcmp(a->data, b->data, sizeof(int) * size_t(a->size)) == 0;
}

std::string Shape(const TfLiteIntArray* dims) {
  if (dims == nullptr) return "[?]";
  std::string s = "[";
  for (int d = 0; d < dims->size; ++d) s += (d ? "," : "") + std::to_string(dims->data[d]);
  return s + "]";
}

// TFLite's int8 ADD (kernels/add_int8.h) with fused activation `act`, once
// JudgeAdd has checked what both types share. Claimed only where the ISA has a
// vector kernel (XNNPACK's int8 ADD is faster than a scalar one), or when the
// scalar kernels are forced.
std::string JudgeAddInt8(const TfLiteTensor& ta, const TfLiteTensor& tb, const TfLiteTensor& to,
                         TfLiteFusedActivation act, OpClaim* claim) {
  claim->add.int8 = AddInt8KernelFor(claim->isa);
  if (claim->add.int8 == nullptr) {
    return std::string("int8 ADD: no vector kernel for ") + IsaName(claim->isa) + " (XNNPACK's is faster)";
  }
  Int8Affine qa, qb, qo;
  for (const std::string& why : {PerTensorQuantization(ta, "input 1", &qa.scale, &qa.zero_point),
                                 PerTensorQuantization(tb, "input 2", &qb.scale, &qb.zero_point),
                                 PerTensorQuantization(to, "output", &qo.scale, &qo.zero_point)}) {
    if (!why.empty()) return "int8 ADD: " + why;
  }
  int32_t lo = -128, hi = 127;
  Int8ActivationRange(act, qo.scale, qo.zero_point, &lo, &hi);
  std::string why = PrepareAddInt8(qa, qb, qo, lo, hi, &claim->add.int8_params);
  if (!why.empty()) return why;
  claim->info.dtype = "int8";
  return "";
}

// An ADD of two inputs of one shape, float32 or int8 (JudgeAddInt8). TFLite's
// float ADD: out = ActivationFunctionWithMinMax(a + b) over the range of
// CalculateActivationRange, which is finite (NONE is [-FLT_MAX, FLT_MAX], RELU
// [0, FLT_MAX]), so an overflowing sum clamps as TFLite's does.
std::string JudgeAdd(const TfLiteContext* context, const TfLiteNode* node, OpClaim* claim) {
  if (node->inputs == nullptr || node->inputs->size != 2 || node->outputs == nullptr || node->outputs->size != 1) {
    return "not two inputs and one output";
  }
  const int a = node->inputs->data[0], b = node->inputs->data[1], out = node->outputs->data[0];
  if (!ValidTensor(context, a) || !ValidTensor(context, b) || !ValidTensor(context, out)) return "missing tensor";
  const TfLiteTensor& ta = context->tensors[a];
  const TfLiteTensor& tb = context->tensors[b];
  const TfLiteTensor& to = context->tensors[out];
  const TfLiteType type = ta.type;
  const bool int8 = type == kTfLiteInt8 && tb.type == kTfLiteInt8 && to.type == kTfLiteInt8;
  if (!int8 && (type == kTfLiteInt8 || type == kTfLiteUInt8 || type == kTfLiteInt16)) {
    return "quantized ADD of type " + std::to_string(int(type)) + " (only int8 is reproduced)";
  }
  if (!int8 && (type != kTfLiteFloat32 || tb.type != kTfLiteFloat32 || to.type != kTfLiteFloat32)) {
    return "not float32 (type " + std::to_string(int(type)) + ")";
  }
  if (!SameDims(ta.dims, tb.dims)) {
    return "inputs of different shapes " + Shape(ta.dims) + " and " + Shape(tb.dims) + " (broadcast)";
  }
  const auto* params = static_cast<const TfLiteAddParams*>(node->builtin_data);
  if (params == nullptr) return "no ADD parameters";
  float lo = 0, hi = 0;
  const char* act_name = nullptr;
  if (!ActivationRange(params->activation, &lo, &hi, &act_name)) {
    return "fused activation " + std::to_string(int(params->activation)) + " not supported";
  }
  claim->inputs = {a, b};
  claim->outputs = {out};
  claim->add.input_a = a;
  claim->add.input_b = b;
  claim->add.output = out;
  claim->info.activation = act_name;
  if (int8) return JudgeAddInt8(ta, tb, to, params->activation, claim);
  // TFLite's ranges are finite: NONE is [lowest, max], RELU [0, max].
  lo = std::max(lo, -FLT_MAX);
  hi = std::min(hi, FLT_MAX);
  claim->add.act_min = lo;
  claim->add.act_max = hi;
  return "";
}

std::unique_ptr<NodeKernel> BuildAdd(const OpClaim& claim) {
  return std::make_unique<AddNode>(claim.add, claim.info.counters);
}

const OpRule kOpRules[] = {
    {kTfLiteBuiltinAdd, "ADD", JudgeAdd, BuildAdd},
};

const OpRule* FindOpRule(int builtin_code) {
  for (const OpRule& rule : kOpRules) {
    if (rule.builtin_code == builtin_code) return &rule;
  }
  return nullptr;
}

std::string JoinNodes(const std::vector<int>& nodes) {
  std::string s;
  for (size_t i = 0; i < nodes.size(); ++i) s += (i ? "," : "") + std::to_string(nodes[i]);
  return s;
}

// Why a node touching claimed convs is taken, naming them.
std::string Reason(const std::vector<int>& before, const std::vector<int>& after) {
  if (!before.empty() && !after.empty()) return "between claimed convs " + JoinNodes(before) + " and " + JoinNodes(after);
  if (!before.empty()) return "after claimed conv " + JoinNodes(before);
  return "before claimed conv " + JoinNodes(after);
}

}  // namespace

OpVerdicts JudgeOps(TfLiteContext* context, const std::vector<int>& plan, const std::vector<int>& claimed_convs,
                    Isa isa) {
  OpVerdicts verdicts;
  const std::set<int> claimed(claimed_convs.begin(), claimed_convs.end());
  // Which claimed conv writes each tensor, and which read it.
  std::map<int, int> producer;
  std::map<int, std::vector<int>> consumers;
  for (int node_index : claimed_convs) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (context->GetNodeAndRegistration(context, node_index, &node, &reg) != kTfLiteOk || node == nullptr) continue;
    if (node->outputs != nullptr) {
      for (int i = 0; i < node->outputs->size; ++i) producer[node->outputs->data[i]] = node_index;
    }
    if (node->inputs != nullptr) {
      for (int i = 0; i < node->inputs->size; ++i) consumers[node->inputs->data[i]].push_back(node_index);
    }
  }
  for (int node_index : plan) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (claimed.count(node_index) != 0 ||
        context->GetNodeAndRegistration(context, node_index, &node, &reg) != kTfLiteOk || node == nullptr ||
        reg == nullptr || reg->custom_name != nullptr) {
      continue;
    }
    const OpRule* rule = FindOpRule(reg->builtin_code);
    if (rule == nullptr) continue;
    OpClaim claim;
    claim.rule = rule;
    claim.isa = isa;
    claim.info.node = node_index;
    claim.info.op = rule->name;
    std::string why = rule->judge(context, node, &claim);
    if (why.empty()) {
      std::vector<int> before, after;
      for (int t : claim.inputs) {
        auto it = producer.find(t);
        if (it != producer.end() && std::find(before.begin(), before.end(), it->second) == before.end()) {
          before.push_back(it->second);
        }
      }
      for (int t : claim.outputs) {
        auto it = consumers.find(t);
        if (it == consumers.end()) continue;
        for (int c : it->second) {
          if (std::find(after.begin(), after.end(), c) == after.end()) after.push_back(c);
        }
      }
      if (before.empty() && after.empty()) {
        why = "not next to a claimed conv (XNNPACK keeps it)";
      } else {
        claim.info.reason = Reason(before, after);
        verdicts.claims.push_back(std::move(claim));
        continue;
      }
    }
    verdicts.declines.push_back(OpDeclineInfo{node_index, rule->name, why});
  }
  return verdicts;
}

std::unique_ptr<NodeKernel> BuildOp(OpClaim* claim) {
  claim->info.counters = std::make_shared<NodeCounters>();
  return claim->rule->build(*claim);
}

}  // namespace patternlite
