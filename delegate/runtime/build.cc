#include "delegate/runtime/build.h"

#include <utility>

#include "delegate/packing/block_pack.h"
#include "delegate/packing/block_pack_int8.h"
#include "delegate/packing/pattern_pack.h"
#include "delegate/packing/pattern_pack_int8.h"
#include "delegate/runtime/block_int8_node.h"
#include "delegate/runtime/block_node.h"
#include "delegate/runtime/conv_int8_node.h"
#include "delegate/runtime/conv_node.h"

namespace patternlite {
namespace {

ConvNodeConfig NodeConfig(const Claim& claim, Isa isa) {
  ConvNodeConfig config;
  config.input_tensor = claim.tensors.in_idx;
  config.output_tensor = claim.tensors.out_idx;
  config.padding = claim.params.padding;
  config.stride_h = claim.params.stride_h;
  config.stride_w = claim.params.stride_w;
  config.act_min = claim.params.act_min;
  config.act_max = claim.params.act_max;
  config.isa = isa;
  return config;
}

std::unique_ptr<NodeKernel> BuildConv3x3(Claim* claim, const BuildEnv& env, std::string* decline) {
  const NodeTensors& t = claim->tensors;
  ClaimInfo& info = claim->info;
  PackedConv packed;
  PackPatternConv(t.weights, t.O, t.I, claim->masks.data(), t.bias, &packed);
  if (env.opencl) {
    // The OpenCL backend: weights to the device now; any OpenCL failure
    // declines the node, with the call and error name as the reason.
    ClConvParams cl_params;
    cl_params.padding = claim->params.padding;
    cl_params.stride_h = claim->params.stride_h;
    cl_params.stride_w = claim->params.stride_w;
    cl_params.act_min = claim->params.act_min;
    cl_params.act_max = claim->params.act_max;
    std::unique_ptr<ClConvNode> node =
        ClConvNode::Create(env.opencl, t.in_idx, t.out_idx, packed, cl_params, *t.input, info.counters, decline);
    if (!node) return nullptr;
    info.backend = "opencl";
    info.threads = 0;  // the device schedules its own work
    return node;
  }
  return std::make_unique<ConvNode>(NodeConfig(*claim, env.isa), std::move(packed), env.pool(info.threads),
                                    info.counters, env.autotune ? env.plan_cache : nullptr);
}

// int8 conv3x3 runs on the CPU's int8 kernels whatever the backend (the
// OpenCL program is fp32 only), on the int8 variant of the delegate's isa.
std::unique_ptr<NodeKernel> BuildConv3x3Int8(Claim* claim, const BuildEnv& env, std::string* decline) {
  const NodeTensors& t = claim->tensors;
  const Int8Tensors& q = claim->int8;
  PackedConvInt8 packed;
  const Int8ConvQuantization quantization{q.input_scale, q.input_zero_point, q.filter_scales.data(), q.output_scale};
  if (!PackPatternConvInt8(q.weights, t.O, t.I, claim->masks.data(), q.bias, quantization, kInt8DefaultChunkSlots,
                           &packed, decline)) {
    return nullptr;
  }
  Int8ConvNodeConfig config;
  config.input_tensor = t.in_idx;
  config.output_tensor = t.out_idx;
  config.padding = claim->params.padding;
  config.stride_h = claim->params.stride_h;
  config.stride_w = claim->params.stride_w;
  config.quant = Int8Quant{q.input_zero_point, q.output_zero_point, q.act_min, q.act_max};
  config.variant = Int8VariantForIsa(env.isa);
  claim->info.int8_kernel = Int8VariantName(config.variant);
  claim->info.int8_tiles = Int8TilesName(MakeParams(ConvGeometry{}, config.quant, packed), config.variant);
  return std::make_unique<Int8ConvNode>(config, std::move(packed), env.pool(claim->info.threads),
                                        claim->info.counters, env.autotune);
}

// The channel-block kinds run on the CPU kernels whatever the backend.
std::unique_ptr<NodeKernel> BuildPointwise(Claim* claim, const BuildEnv& env) {
  const NodeTensors& t = claim->tensors;
  PackedPointwise packed;
  PackPointwise(t.weights, t.O, t.I, claim->kept, t.bias, &packed);
  return std::make_unique<PointwiseNode>(NodeConfig(*claim, env.isa), std::move(packed),
                                         env.pool(claim->info.threads), claim->info.counters, env.autotune);
}

std::unique_ptr<NodeKernel> BuildDepthwise3x3(Claim* claim, const BuildEnv& env) {
  const NodeTensors& t = claim->tensors;
  PackedDepthwise packed;
  PackDepthwise(t.weights, t.I, claim->masks, t.bias, &packed);
  return std::make_unique<DepthwiseNode>(NodeConfig(*claim, env.isa), std::move(packed),
                                         env.pool(claim->info.threads), claim->info.counters, env.autotune);
}

// The int8 channel-block kinds: as their fp32 nodes, on the int8 kernels of
// the delegate's isa (Int8VariantForIsa).
std::unique_ptr<NodeKernel> BuildBlockInt8(Claim* claim, const BuildEnv& env, std::string* decline) {
  const NodeTensors& t = claim->tensors;
  const Int8Tensors& q = claim->int8;
  const Int8ConvQuantization quantization{q.input_scale, q.input_zero_point, q.filter_scales.data(), q.output_scale};
  const Int8Quant quant{q.input_zero_point, q.output_zero_point, q.act_min, q.act_max};
  const Int8Variant variant = Int8VariantForIsa(env.isa);
  ClaimInfo& info = claim->info;
  info.int8_kernel = Int8VariantName(variant);
  if (claim->kind == contract::kKindPointwise) {
    PackedPointwiseInt8 packed;
    if (!PackPointwiseInt8(q.weights, t.O, t.I, claim->kept, q.bias, quantization, &packed, decline)) return nullptr;
    return std::make_unique<PointwiseInt8Node>(NodeConfig(*claim, env.isa), quant, variant, std::move(packed),
                                               env.pool(info.threads), info.counters, env.autotune);
  }
  PackedDepthwiseInt8 packed;
  if (!PackDepthwiseInt8(q.weights, t.I, claim->masks, q.bias, quantization, &packed, decline)) return nullptr;
  return std::make_unique<DepthwiseInt8Node>(NodeConfig(*claim, env.isa), quant, variant, std::move(packed),
                                             env.pool(info.threads), info.counters, env.autotune);
}

}  // namespace

std::unique_ptr<NodeKernel> Build(Claim* claim, const BuildEnv& env, std::string* decline) {
  claim->info.counters = std::make_shared<NodeCounters>();
  switch (claim->kind) {
    case contract::kKindConv3x3:
      return claim->dtype == kTfLiteInt8 ? BuildConv3x3Int8(claim, env, decline) : BuildConv3x3(claim, env, decline);
    case contract::kKindPointwise:
      return claim->dtype == kTfLiteInt8 ? BuildBlockInt8(claim, env, decline) : BuildPointwise(claim, env);
    case contract::kKindDepthwise3x3:
      return claim->dtype == kTfLiteInt8 ? BuildBlockInt8(claim, env, decline) : BuildDepthwise3x3(claim, env);
    default: *decline = "no kernel for kind " + std::to_string(claim->kind); return nullptr;
  }
}

}  // namespace patternlite
