#include "delegate/runtime/judge.h"

#include <algorithm>
#include <cstdio>
#include <utility>
#include <vector>

#include "delegate/kernels/conv_int8_kernel.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/runtime/judge_steps.h"

namespace patternlite {

namespace {

// The types TFLite's quantized convs take as activations: int8 (full
// integer), int16 (16x8) and uint8 (the old asymmetric scheme).
bool IsQuantizedType(TfLiteType t) { return t == kTfLiteInt8 || t == kTfLiteInt16 || t == kTfLiteUInt8; }

// The fraction of (block of 16 consecutive output channels, input channel)
// pairs in which some filter of the block keeps the channel: the filter-lane
// kernel's work (packing/pattern_pack_int8.cc forms its blocks over the
// original filter order, as here). `masks` per kernel [o*I+i], 0: pruned.
double NonEmptyBlockPairs(const std::vector<uint16_t>& masks, int out_channels, int in_channels) {
  constexpr int kFl = 16;
  const int blocks = (out_channels + kFl - 1) / kFl;
  if (blocks <= 0 || in_channels <= 0) return 1.0;
  size_t non_empty = 0;
  for (int b = 0; b < blocks; ++b) {
    for (int c = 0; c < in_channels; ++c) {
      for (int o = b * kFl; o < std::min(out_channels, (b + 1) * kFl); ++o) {
        if (masks[size_t(o) * in_channels + c] != 0) {
          ++non_empty;
          break;
        }
      }
    }
  }
  return double(non_empty) / (double(blocks) * in_channels);
}

// The shared-pattern kernel's entries over the filter-lane kernel's pairs:
// the distinct patterns per non-empty (block, channel) pair, averaged (1.0
// when every block reads each kept channel through one pattern). From the
// masks alone: a kernel whose int8 weights include a 0 may have been given
// another fitting pattern (no metadata), which the packing merges and this
// count does not, so it errs towards declining.
double SharedPatternEntriesPerPair(const std::vector<uint16_t>& masks, int out_channels, int in_channels) {
  constexpr int kFl = 16;
  const int blocks = (out_channels + kFl - 1) / kFl;
  size_t pairs = 0, entries = 0;
  for (int b = 0; b < blocks; ++b) {
    for (int c = 0; c < in_channels; ++c) {
      uint16_t seen[kFl];
      int n = 0;
      for (int o = b * kFl; o < std::min(out_channels, (b + 1) * kFl); ++o) {
        const uint16_t m = masks[size_t(o) * in_channels + c];
        if (m != 0 && std::find(seen, seen + n, m) == seen + n) seen[n++] = m;
      }
      pairs += n > 0;
      entries += size_t(n);
    }
  }
  return pairs == 0 ? 1.0 : double(entries) / double(pairs);
}

// What every int8 auto decline ends with.
constexpr const char* kAutoTail = "; int8='auto' leaves it to TFLite (int8='all' claims it)";

// "" when the `isa` option gives the AVX-512 VNNI int8 kernels, the only ones
// measured faster than XNNPACK's; else which kernel it gives instead.
std::string OtherThanAvx512Vnni(const JudgeEnv& env) {
  const Isa isa = env.options->isa == Isa::kAuto ? BestIsa() : env.options->isa;
  const Int8Variant variant = Int8VariantForIsa(isa);
  if (variant == Int8Variant::kAvx512Vnni) return "";
  return std::string("the isa option gives the ") + Int8VariantName(variant) + " kernel";
}

// Under int8='auto', why an exact int8 conv3x3 is left to TFLite, or "" when
// it is claimed. Claimed where its kernel measured faster than XNNPACK's int8
// dense kernel (docs/int8.md; 1 thread, the ResNet-18 layers), always on
// AVX-512 VNNI with at least 64 output channels:
//  * blocks of 16 filters reading each kept channel through one pattern (the
//    converter's `shared` connectivity): the shared-pattern kernel measured
//    1.17-1.49x at keep 1.0 and 2.7-4.4x at 0.28 ("Shared patterns");
//  * non-empty (block, input channel) pairs at most 0.6 of all (block-
//    structured pruning): the filter-lane kernel measured 1.5-2.6x at 0.28
//    and 1.2-1.6x at 0.5, but only 0.8-1.0x at 1.0, and the converter's
//    per-kernel pruning leaves ~every pair non-empty. The `avx512vnni`
//    kernel hands a layer to filter lanes by Int8FilterLanesPay
//    (conv_int8_kernel.h): required too, so a claim runs the kernel measured;
//  * at most 0.35 of the kernels kept, in any structure, where the
//    pixel-lane kernel measured 1.0-1.5x per layer at keep 0.28 but 0.8-1.2x
//    at 0.5 ("Round 2").
std::string Int8Conv3x3AutoPolicy(const JudgeEnv& env, const Claim& claim) {
  constexpr double kMaxPairs = 0.6;
  constexpr double kMaxKeptAnyStructure = 0.35;
  const std::string head =
      "the int8 conv3x3 kernel is exact but not yet faster than XNNPACK's int8 dense kernel on this layer (it "
      "is with AVX-512 VNNI, at least 64 output channels, and either one pattern per (16-filter block, input "
      "channel), at most 0.35 of the kernels kept, or at most 0.6 of the (16-filter block, input channel) pairs "
      "non-empty: --connectivity shared or block): ";
  const std::string tail = kAutoTail;
  if (const std::string other = OtherThanAvx512Vnni(env); !other.empty()) return head + other + tail;
  const int O = claim.info.out_channels, I = claim.info.in_channels;
  if (O < kInt8FilterLanesMinOutChannels) return head + "it has " + std::to_string(O) + " output channels" + tail;
  const double per_pair = SharedPatternEntriesPerPair(claim.masks, O, I);
  if (Int8SharedPatternsPay(O, per_pair, 1.0)) return "";
  const double kept = double(claim.info.kept_kernels) / (double(O) * I);
  if (kept <= kMaxKeptAnyStructure) return "";
  const double pairs = NonEmptyBlockPairs(claim.masks, O, I);
  if (pairs > kMaxPairs || !Int8FilterLanesPay(O, pairs, kept)) {
    char figures[160];
    std::snprintf(figures, sizeof figures,
                  "%.2f of its pairs are non-empty, with %.2f of its kernels kept and %.2f patterns per pair", pairs,
                  kept, per_pair);
    return head + figures + tail;
  }
  return "";
}

// The fraction of (block of 16 consecutive filters, aligned group of
// kInputQuad inputs) pairs in which some filter of the block keeps some input
// of the group: the int8 1x1 kernel's work against a dense layer's
// (packing/block_pack_int8.cc forms the same blocks). `kept` per weight
// [o*I+i].
double TouchedQuads(const std::vector<uint8_t>& kept, int out_channels, int in_channels) {
  constexpr int kQ = contract::kInputQuad, kB = contract::kChannelBlock;
  const int blocks = (out_channels + kB - 1) / kB, quads = (in_channels + kQ - 1) / kQ;
  if (blocks <= 0 || quads <= 0) return 1.0;
  size_t touched = 0;
  for (int b = 0; b < blocks; ++b) {
    for (int q = 0; q < quads; ++q) {
      bool any = false;
      for (int o = b * kB; o < std::min(out_channels, (b + 1) * kB) && !any; ++o) {
        for (int i = q * kQ; i < std::min(in_channels, (q + 1) * kQ) && !any; ++i) {
          any = kept[size_t(o) * in_channels + i] != 0;
        }
      }
      touched += any;
    }
  }
  return double(touched) / (double(blocks) * quads);
}

// Under int8='auto', why an exact int8 1x1 conv is left to TFLite, or "" when
// it is claimed. Measured (docs/int8.md, "int8 1x1 and depthwise", third
// round; 1 thread, AVX-512 VNNI): with the kept inputs of each block in
// aligned groups of four (the converter's pointwise_quads) at keep 0.28,
// every layer of the suite with at least 24 inputs and 24 outputs ran
// 1.05-2.2x faster than XNNPACK's int8 dense kernel, MobileNetV2's 112x112
// 16 -> 96 1.25x (its 32 -> 16, 0.86x, stays below kQuadMinOutputs); with inputs kept one by
// one (~73% of the groups touched) the layers ran 0.7-1.1x.
std::string Int8PointwiseAutoPolicy(const JudgeEnv& env, const Claim& claim) {
  constexpr double kMaxTouched = 0.35;
  constexpr int kMinIn = contract::kQuadMinInputs, kMinOut = contract::kQuadMinOutputs;
  const std::string head =
      "the int8 pointwise kernel is exact but not yet faster than XNNPACK's int8 dense kernel on this layer (it "
      "is with AVX-512 VNNI, at least " + std::to_string(kMinIn) + " inputs and " + std::to_string(kMinOut) +
      " outputs, and at most 0.35 of the (16-filter block, aligned four of inputs) pairs touched, as "
      "--pointwise-quads gives at low keep): ";
  const std::string tail = kAutoTail;
  if (const std::string other = OtherThanAvx512Vnni(env); !other.empty()) return head + other + tail;
  const int O = claim.info.out_channels, I = claim.info.in_channels;
  if (I < kMinIn || O < kMinOut) {
    return head + "it has " + std::to_string(I) + " inputs and " + std::to_string(O) + " outputs" + tail;
  }
  const double touched = TouchedQuads(claim.kept, O, I);
  if (touched > kMaxTouched) {
    char figures[96];
    std::snprintf(figures, sizeof figures, "%.2f of its pairs are touched", touched);
    return head + figures + tail;
  }
  return "";
}

// Under int8='auto', why an exact int8 depthwise conv is left to TFLite, or
// "" when it is claimed. The AVX-512 kernel runs each block's taps four at a
// time in one dot product (depthwise_int8_avx512.cc). Measured (docs/int8.md,
// "int8 1x1 and depthwise", third round; 1 thread): with one 4-tap pattern
// per block of 16 channels, as the converter prunes, MobileNetV2's depthwise
// layers ran 1.0-1.3x XNNPACK's int8 dense kernel (efficiency 0.44-0.59). A
// block whose channels keep different taps needs a dot product per four taps
// of their union (up to 9: three), which was not measured to gain.
std::string Int8DepthwiseAutoPolicy(const JudgeEnv& env, const Claim& claim) {
  constexpr int kB = contract::kChannelBlock, kMaxTaps = contract::kInputQuad;  // one 4-byte dot product
  const std::string head =
      "the int8 depthwise3x3 kernel is exact but not yet faster than XNNPACK's int8 dense kernel on this layer "
      "(it is with AVX-512 VNNI and at most " + std::to_string(kMaxTaps) + " taps kept in each block of " +
      std::to_string(kB) + " channels, as the converter's one pattern per block gives): ";
  const std::string tail = kAutoTail;
  if (const std::string other = OtherThanAvx512Vnni(env); !other.empty()) return head + other + tail;
  const int C = int(claim.masks.size());
  for (int c0 = 0; c0 < C; c0 += kB) {
    uint16_t taps = 0;
    for (int c = c0; c < std::min(C, c0 + kB); ++c) taps |= claim.masks[size_t(c)];
    if (__builtin_popcount(taps) > kMaxTaps) {
      return head + "channels " + std::to_string(c0) + "-" + std::to_string(std::min(C, c0 + kB) - 1) + " keep " +
             std::to_string(__builtin_popcount(taps)) + " taps between them" + tail;
    }
  }
  return "";
}

// Whether the int8 option lets the delegate take an int8 node it can run
// exactly; else why not. Under `auto` a kind is taken only where its int8
// kernel is measured faster than XNNPACK's int8 dense kernel on the layers of
// the benchmark suite (docs/int8.md, "Speed"): block-structured sparse 3x3
// convs on AVX-512 VNNI (Int8Conv3x3AutoPolicy), 1x1 convs whose kept inputs
// come in aligned fours (Int8PointwiseAutoPolicy), depthwise convs with one
// 4-tap pattern per block (Int8DepthwiseAutoPolicy). `all` runs every exact
// one anyway.
std::string Int8Policy(const JudgeEnv& env, const contract::KindRule& rule, const Claim& claim) {
  switch (env.options->int8) {
    case Int8Claims::kAll: return "";
    case Int8Claims::kNone: return "int8 claims are off (int8='none')";
    case Int8Claims::kAuto: break;
  }
  if (rule.value == contract::kKindConv3x3) return Int8Conv3x3AutoPolicy(env, claim);
  if (rule.value == contract::kKindPointwise) return Int8PointwiseAutoPolicy(env, claim);
  if (rule.value == contract::kKindDepthwise3x3) return Int8DepthwiseAutoPolicy(env, claim);
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
  if (reason.empty() && quantized) reason = Int8Policy(env, rule, claim);
  if (!reason.empty()) return Decline{claim.info.filter, reason};
  return Verdict(std::move(claim));
}

}  // namespace patternlite
