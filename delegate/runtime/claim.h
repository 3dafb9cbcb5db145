// What judging a node produces: a Claim (everything Build needs to make the
// node's kernel, and what the stats report of it) or a Decline (why TFLite
// keeps the node). Judges fill these; nothing here packs or allocates kernels.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_CLAIM_H_
#define PATTERNLITE_DELEGATE_RUNTIME_CLAIM_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/contract_generated.h"
#include "delegate/node/node_kernel.h"

namespace patternlite {

// A claimed node as the stats export reports it.
struct ClaimInfo {
  int node = -1;
  std::string kind;  // a metadata kind name (contract::kKindNames)
  std::string filter;
  int out_channels = 0, in_channels = 0;
  int stride_h = 1, stride_w = 1;
  std::string padding, activation, source;
  size_t kept_kernels = 0, total_kernels = 0;
  int distinct_patterns = 0;
  int threads = 1;
  std::string backend = "cpu";  // where the node runs: "cpu" or "opencl"
  std::string dtype = "float32";   // what the kernels compute in: "float32" or "int8"
  std::string int8_kernel;         // int8 claims: the int8 kernel variant (Int8VariantName)
  std::string int8_tiles;          // int8 conv3x3 on avx512vnni: which tiles run it (Int8TilesName)
  std::shared_ptr<NodeCounters> counters;  // made by Build
};

struct DeclineInfo {
  int node = -1;
  std::string filter;
  std::string reason;
};

// A node's tensors, checked: indices, the input, and the constant weights.
// The pointers are TFLite's own buffers, valid while the delegate prepares.
struct NodeTensors {
  int in_idx = -1, filter_idx = -1, out_idx = -1;
  const TfLiteTensor* input = nullptr;
  const float* weights = nullptr;
  const float* bias = nullptr;  // null: no bias
  int O = 0, I = 0;             // filter dims 0 and 3
};

// A node's builtin parameters, checked, with its activation as a clamp.
struct NodeParams {
  int stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
  TfLitePadding padding = kTfLitePaddingUnknown;
  TfLiteFusedActivation activation = kTfLiteActNone;
  float act_min = 0, act_max = 0;
  const char* act_name = nullptr;
};

// An int8 node's constant tensors and quantisation (TFLite's full-integer
// scheme), checked by the int8 judge. Filter and bias are TFLite's buffers.
struct Int8Tensors {
  const int8_t* weights = nullptr;  // OHWI, per-channel symmetric (zero point 0)
  const int32_t* bias = nullptr;    // null: no bias
  float input_scale = 1, output_scale = 1;
  int32_t input_zero_point = 0, output_zero_point = 0;
  std::vector<float> filter_scales;  // one per output channel (a per-tensor scale broadcast)
  int32_t act_min = -128, act_max = 127;  // the fused activation folded into the int8 range
};

struct Claim {
  uint32_t kind = contract::kKindCount;  // contract::kKind*
  TfLiteType dtype = kTfLiteFloat32;     // kTfLiteInt8: tensors.weights/bias are null, int8 has them
  NodeTensors tensors;
  Int8Tensors int8;
  NodeParams params;
  // What the weight checks decided (runtime/weight_checks.h), for packing:
  std::vector<uint16_t> masks;  // conv3x3: per kernel [o*I+i]; depthwise3x3: per channel (0: pruned)
  std::vector<uint8_t> kept;    // pointwise: per weight [o*I+i]
  ClaimInfo info;
};

struct Decline {
  std::string filter;  // the filter tensor's name, when the judge got that far
  std::string reason;
};

using Verdict = std::variant<Claim, Decline>;

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_CLAIM_H_
