// Weight packing: OHWI 3x3 filters -> the compact filter-kernel-weight layout.
//
// The layout (docs/packed-layout.md) follows PatDNN's FKW format:
//  * filters are reordered by how many kernels they keep (most first), so that
//    the work per filter is regular and the order is recorded in filter_order;
//  * each filter's kept kernels are grouped by pattern, so the kernel loop sees
//    runs of kernels sharing the same 4 tap offsets;
//  * each kept kernel stores its input channel once and exactly 4 weights,
//    in the tap order of its pattern. Pruned kernels and pruned taps are absent.
// The scalar reference kernel reads this filter-major form. The SIMD kernels
// read the channel-major copy (ChannelMajorPack) derived from it, so the
// oracle of the tests shares no layout with the kernels it checks.
#ifndef PATTERNLITE_DELEGATE_PACKING_PATTERN_PACK_H_
#define PATTERNLITE_DELEGATE_PACKING_PATTERN_PACK_H_

#include <cstdint>
#include <vector>

#include "delegate/contract_generated.h"
#include "delegate/kernels/conv_kernel.h"

namespace patternlite {

// PackedGroup, the views and the kernels' params are the microkernel
// interface's (kernels/conv_kernel.h); the packs below own the arrays.

// The same kept kernels in channel-major order, for the input-stationary
// kernel (docs/packed-layout.md): filters in blocks of `filter_block`; within
// a block, for each input channel, the kernels grouped by pattern. A kernel
// stores the position of its filter inside the block and its 4 weights.
struct ChannelMajorPack {
  int filter_block = 0;  // 0: not built (the scalar kernel does not need it)
  int blocks = 0;
  // size blocks*in_channels+1: the groups of block b at channel c are
  // [group_index[b*C+c], group_index[b*C+c+1]).
  std::vector<int32_t> group_index;
  std::vector<PackedGroup> groups;
  std::vector<int32_t> kernel_filter;  // per kernel: filter position within its block
  std::vector<float> kernel_weights;   // per kernel: kPatternTaps (4) weights in tap order

  ChannelMajorView View() const {
    return {filter_block, blocks, group_index.data(), groups.data(), kernel_filter.data(), kernel_weights.data()};
  }
};

struct PackedConv {
  int out_channels = 0;
  int in_channels = 0;
  std::vector<int32_t> filter_order;   // packed position f -> original output channel o
  // size O+1: the groups of filter f are [filter_groups[f], filter_groups[f+1]).
  std::vector<int32_t> filter_groups;
  std::vector<PackedGroup> groups;
  std::vector<int32_t> kernel_channel;  // per kept kernel: its input channel
  std::vector<float> kernel_weights;    // per kept kernel: kPatternTaps (4) weights in tap order
  std::vector<float> bias;              // per original output channel (zeros when the conv has none)
  int distinct_patterns = 0;
  ChannelMajorPack channel_major;      // built for the SIMD kernels by PackChannelMajor

  size_t kept_kernels() const { return kernel_channel.size(); }
  // What the kernels read; valid while this pack lives unchanged.
  PackedConvView View() const {
    return {out_channels,         in_channels,        kept_kernels(),         filter_order.data(),
            filter_groups.data(), groups.data(),      kernel_channel.data(),  kernel_weights.data(),
            bias.data(),          channel_major.View()};
  }
};

// The params of one 3x3 conv kernel call: `g` with a view of `packed`.
inline ConvKernelParams MakeParams(const ConvGeometry& g, const PackedConv& packed) { return {g, packed.View()}; }

// Packs the kept weights in the filter-major form. `masks` (0: pruned) comes
// from AssignKernelMasks (runtime/weight_checks.h); `bias` may be null.
void PackPatternConv(const float* ohwi, int out_channels, int in_channels, const uint16_t* masks,
                     const float* bias, PackedConv* out);

// (Re)builds p->channel_major from the filter-major form with blocks of
// `filter_block` filters.
void PackChannelMajor(int filter_block, PackedConv* p);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_PACKING_PATTERN_PACK_H_
