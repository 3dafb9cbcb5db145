// Weight packing of the two channel-block kinds: sparse 1x1 convs (pointwise)
// and pattern-pruned 3x3 depthwise convs (docs/pointwise-depthwise.md).
//
// Both keep the NHWC tensors as they are and put one block of
// contract::kChannelBlock (16) output channels in the SIMD lanes, so neither
// needs a layout change on the way in or out:
//  * pointwise: a block stores the input channels any of its 16 filters keeps,
//    and for each of them 16 weights (zero for a filter that does not keep it).
//    The kernel's cost is the number of kept inputs per block; the converter
//    makes a block's filters share their inputs so that no lane is wasted;
//  * depthwise: a block stores the taps any of its 16 channels keeps, and for
//    each tap 16 weights. The converter gives a block one pattern, so 4 taps.
// Any zeros run exactly: blocks that do not share only cost speed, which the
// delegate measures (its min_sparsity counts only the zeros a block skips).
//
// Each kind also keeps a per-channel form that the scalar reference kernels
// read, so the tests' oracle shares no layout with the SIMD kernels.
#ifndef PATTERNLITE_DELEGATE_PACKING_BLOCK_PACK_H_
#define PATTERNLITE_DELEGATE_PACKING_BLOCK_PACK_H_

#include <cstdint>
#include <vector>

#include "delegate/contract_generated.h"
#include "delegate/kernels/block_kernels.h"

namespace patternlite {

// kBlock, the views and the kernels' params are the microkernel interface's
// (kernels/block_kernels.h); the packs below own the arrays.

struct PackedPointwise {
  int out_channels = 0;
  int in_channels = 0;
  int blocks = 0;  // ceil(out_channels / kBlock)
  // size blocks+1: block b's kept inputs are entries [block_begin[b], block_begin[b+1]).
  std::vector<int32_t> block_begin;
  std::vector<int32_t> entry_channel;  // per entry: its input channel, ascending within a block
  std::vector<float> entry_weights;    // per entry: kBlock weights, one per filter of the block
  std::vector<float> bias;             // blocks * kBlock, zero-padded
  // The scalar form: per output channel o, its kept (input, weight) pairs
  // [filter_begin[o], filter_begin[o+1]).
  std::vector<int32_t> filter_begin;
  std::vector<int32_t> filter_channel;
  std::vector<float> filter_weight;

  size_t entries() const { return entry_channel.size(); }
  // Multiply-accumulates per output pixel that the SIMD kernels run.
  size_t block_macs_per_pixel() const { return entries() * size_t(kBlock); }
  // What the kernels read; valid while this pack lives unchanged.
  PackedPointwiseView View() const {
    return {out_channels,       in_channels,          blocks,       block_begin.data(),
            entry_channel.data(), entry_weights.data(), bias.data(), filter_begin.data(),
            filter_channel.data(), filter_weight.data()};
  }
};

struct PackedDepthwise {
  int channels = 0;
  int blocks = 0;
  // Per block: how many taps it runs and which (bit 3*ky+kx), ascending.
  std::vector<uint8_t> block_taps;       // blocks * 9, the first block_tap_count[b] used
  std::vector<uint8_t> block_tap_count;  // per block
  std::vector<float> weights;            // blocks * 9 * kBlock: tap t of block b at (b*9 + t)*kBlock
  std::vector<float> bias;               // blocks * kBlock, zero-padded
  // The scalar form: each channel's own mask (0: pruned) and its 9 weights.
  std::vector<uint16_t> channel_mask;
  std::vector<float> channel_weights;  // channels * 9, tap 3*ky+kx

  size_t block_taps_total() const;  // sum of block_tap_count
  // What the kernels read; valid while this pack lives unchanged.
  PackedDepthwiseView View() const {
    return {channels,    blocks,      block_taps.data(),   block_tap_count.data(), weights.data(),
            bias.data(), channel_mask.data(), channel_weights.data()};
  }
};

// The params of one kernel call: `g` with a view of the pack.
inline PointwiseKernelParams MakeParams(const ConvGeometry& g, const PackedPointwise& packed) {
  return {g, packed.View()};
}
inline DepthwiseKernelParams MakeParams(const ConvGeometry& g, const PackedDepthwise& packed) {
  return {g, packed.View()};
}

// Weights the packed block structure will hold (read off the kept table or
// the masks, before anything is packed: the delegate judges a node by it).
// Pointwise: kept inputs x real filters per block; depthwise: taps x real
// channels per block. What is left once the zeros whole blocks skip are gone.
size_t PointwiseBlockWeights(int out_channels, int in_channels, const std::vector<uint8_t>& kept);
size_t DepthwiseBlockWeights(int channels, const std::vector<uint16_t>& masks);

// Packs the weights `kept` (from AssignPointwise, runtime/weight_checks.h)
// marks; `bias` may be null.
void PackPointwise(const float* filter, int out_channels, int in_channels, const std::vector<uint8_t>& kept,
                   const float* bias, PackedPointwise* out);

// Packs each channel's taps inside its mask (from AssignDepthwise,
// runtime/weight_checks.h); `bias` may be null.
void PackDepthwise(const float* filter, int channels, const std::vector<uint16_t>& masks, const float* bias,
                   PackedDepthwise* out);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_PACKING_BLOCK_PACK_H_
