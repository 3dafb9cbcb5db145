// Packing of the int8 channel-block kinds (docs/int8.md, "int8 1x1 and
// depthwise"): TFLite's per-channel symmetric int8 weights, int32 bias and the
// per-channel fixed-point multipliers, in the layouts block_int8_kernels.h
// describes. Each pack also keeps the per-channel form the scalar oracle
// reads, so the tests' oracle shares no layout with the SIMD kernels.
#ifndef PATTERNLITE_DELEGATE_PACKING_BLOCK_PACK_INT8_H_
#define PATTERNLITE_DELEGATE_PACKING_BLOCK_PACK_INT8_H_

#include <cstdint>
#include <string>
#include <vector>

#include "delegate/kernels/block_int8_kernels.h"
#include "delegate/packing/pattern_pack_int8.h"

namespace patternlite {

// Per-lane multipliers of `blocks` blocks from per-channel ones.
struct Int8BlockRequant {
  std::vector<int32_t> multiplier, left, right, mask, away;
  Int8BlockRequantView View() const {
    return {multiplier.data(), left.data(), right.data(), mask.data(), away.data()};
  }
};

struct PackedPointwiseInt8 {
  int out_channels = 0, in_channels = 0, blocks = 0;
  std::vector<int32_t> block_begin, quad_channel, quad_weights, bias_u8, bias_s8;
  Int8BlockRequant requant;
  std::vector<int32_t> filter_begin, filter_channel;
  std::vector<int8_t> filter_weight;
  std::vector<int32_t> bias, multiplier, shift;

  size_t quads() const { return quad_channel.size(); }
  // Multiply-accumulates per output pixel the SIMD kernels run (4 per quad and lane).
  size_t block_macs_per_pixel() const { return quads() * 4 * size_t(kBlock); }
  PackedPointwiseInt8View View() const {
    PackedPointwiseInt8View v;
    v.out_channels = out_channels;
    v.in_channels = in_channels;
    v.blocks = blocks;
    v.block_begin = block_begin.data();
    v.quad_channel = quad_channel.data();
    v.quad_weights = quad_weights.data();
    v.bias_u8 = bias_u8.data();
    v.bias_s8 = bias_s8.data();
    v.requant = requant.View();
    v.filter_begin = filter_begin.data();
    v.filter_channel = filter_channel.data();
    v.filter_weight = filter_weight.data();
    v.bias = bias.data();
    v.multiplier = multiplier.data();
    v.shift = shift.data();
    return v;
  }
};

struct PackedDepthwiseInt8 {
  int channels = 0, blocks = 0;
  std::vector<uint8_t> block_taps, block_tap_count;
  std::vector<int32_t> weights, bias, bias_interior;
  std::vector<int32_t> tap_quads, bias_u8;
  Int8BlockRequant requant;
  std::vector<uint16_t> channel_mask;
  std::vector<int8_t> channel_weights;
  std::vector<int32_t> channel_bias, multiplier, shift;

  size_t block_taps_total() const {
    size_t n = 0;
    for (uint8_t c : block_tap_count) n += c;
    return n;
  }
  PackedDepthwiseInt8View View() const {
    PackedDepthwiseInt8View v;
    v.channels = channels;
    v.blocks = blocks;
    v.block_taps = block_taps.data();
    v.block_tap_count = block_tap_count.data();
    v.weights = weights.data();
    v.bias = bias.data();
    v.bias_interior = bias_interior.data();
    v.tap_quads = tap_quads.data();
    v.bias_u8 = bias_u8.data();
    v.requant = requant.View();
    v.channel_mask = channel_mask.data();
    v.channel_weights = channel_weights.data();
    v.channel_bias = channel_bias.data();
    v.multiplier = multiplier.data();
    v.shift = shift.data();
    return v;
  }
};

// Aligned input quads the packed pointwise blocks will hold (what the SIMD
// kernels run: 4 x 16 MACs each), from the kept table.
size_t PointwiseInt8Quads(int out_channels, int in_channels, const std::vector<uint8_t>& kept);

// Packs an int8 [O, 1, 1, I] filter; `kept` as for PackPointwise (AssignPointwise);
// `bias` may be null; q.filter_scales has O scales. False with a reason when a
// scale is not finite and positive.
bool PackPointwiseInt8(const int8_t* filter, int out_channels, int in_channels, const std::vector<uint8_t>& kept,
                       const int32_t* bias, const Int8ConvQuantization& q, PackedPointwiseInt8* out,
                       std::string* reason);

// Packs an int8 [1, 3, 3, C] depthwise filter; `masks` as for PackDepthwise
// (AssignDepthwise); q.filter_scales has C scales.
bool PackDepthwiseInt8(const int8_t* filter, int channels, const std::vector<uint16_t>& masks, const int32_t* bias,
                       const Int8ConvQuantization& q, PackedDepthwiseInt8* out, std::string* reason);

inline PointwiseInt8Params MakeParams(const ConvGeometry& g, const Int8Quant& quant, const PackedPointwiseInt8& p) {
  return {g, quant, p.View()};
}
inline DepthwiseInt8Params MakeParams(const ConvGeometry& g, const Int8Quant& quant, const PackedDepthwiseInt8& p) {
  return {g, quant, p.View()};
}

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_PACKING_BLOCK_PACK_INT8_H_
