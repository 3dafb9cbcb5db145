// Packing of int8 3x3 pattern convs (docs/int8.md): TFLite's per-channel
// symmetric int8 weights (zero point 0), int32 bias, and the per-channel
// fixed-point multipliers.
//
// Two forms of the same kept kernels, as for fp32:
//  * filter-major (the fp32 pack's layout with int8 weights), read by the
//    scalar oracle;
//  * chunked, read by the SIMD kernels: the input channels are cut into
//    chunks whose (channel, pattern) slots number at most max_chunk_slots, so
//    that a chunk's tap-dword tiles stay in L1; within a chunk, each output
//    channel's kernels are listed as (slot, 4 weights in one dword), and the
//    kernel keeps that output channel's accumulators in registers over them.
#ifndef PATTERNLITE_DELEGATE_PACKING_PATTERN_PACK_INT8_H_
#define PATTERNLITE_DELEGATE_PACKING_PATTERN_PACK_INT8_H_

#include <cstdint>
#include <string>
#include <vector>

#include "delegate/kernels/conv_int8_kernel.h"

namespace patternlite {

// TFLite's QuantizeMultiplier (kernels/internal/quantization_util.cc), without
// TFLITE_SINGLE_ROUNDING: multiplier in [2^30, 2^31) as Q31 and a power-of-two
// shift, with frexp, round half away from zero, the 2^31 carry and the
// underflow to 0 below 2^-31.
void QuantizeMultiplier(double real_multiplier, int32_t* quantized_multiplier, int* shift);

struct PackedConvInt8 {
  int out_channels = 0;
  int in_channels = 0;
  std::vector<int32_t> filter_order;
  std::vector<int32_t> filter_groups;
  std::vector<PackedGroup> groups;
  std::vector<int32_t> kernel_channel;
  std::vector<int8_t> kernel_weights;
  std::vector<int32_t> bias, bias_u8, bias_s8, multiplier, shift;
  int max_chunk_slots = 0;
  std::vector<int32_t> chunk_slots;
  std::vector<Int8Slot> slots;
  std::vector<int32_t> chunk_kernels;
  std::vector<Int8Kernel> kernels;
  // Filter-lane form (conv_int8_avx512_fl.cc): per block of 16 output
  // channels, the input channels any of its filters keeps (ascending), each
  // with a 64-byte vpermb index (lane f: 4 x (12 * kx + 4 * ky + c % 4), a
  // row-triple table position) and 64 int8
  // weights (lane f: filter 16b+f's 4 weights in tap order, 0 where it prunes
  // the channel). Entries of block b: [fl_block_entries[b], [b+1]).
  std::vector<int32_t> fl_block_entries;
  std::vector<int32_t> fl_channel;
  std::vector<uint8_t> fl_index;
  std::vector<int8_t> fl_weights;
  // Shared-pattern form (conv_int8_avx512_fl.cc, SharedTile): built only where
  // the 16 filters of a block mostly read a kept channel through one pattern
  // (kInt8SharedMaxEntries), as the converter's `shared` connectivity makes
  // them. A slot is a distinct (input channel, pattern), ascending by channel;
  // the slots of channels 4q..4q+3 are [sp_group_slots[q], [q+1]), and a
  // slot's dword holds its 4 taps' row-triple window positions (byte t:
  // 12 * kx + 4 * ky + c % 4). An entry is (block, slot) with 64 weight bytes
  // (lane f: filter 16b+f's 4 weights if it reads the slot, else 0); entries
  // of block b: [sp_block_entries[b], [b+1]). Empty when not built.
  std::vector<int32_t> sp_group_slots;
  std::vector<uint32_t> sp_slot_index;
  std::vector<int32_t> sp_block_entries;
  std::vector<int32_t> sp_entry_slot;
  std::vector<int8_t> sp_weights;

  size_t kept_kernels() const { return kernel_channel.size(); }
  int chunks() const { return int(chunk_slots.size()) - 1; }
  PackedConvInt8View View() const {
    PackedConvInt8View v;
    v.out_channels = out_channels;
    v.in_channels = in_channels;
    v.filter_order = filter_order.data();
    v.filter_groups = filter_groups.data();
    v.groups = groups.data();
    v.kernel_channel = kernel_channel.data();
    v.kernel_weights = kernel_weights.data();
    v.bias = bias.data();
    v.bias_u8 = bias_u8.data();
    v.bias_s8 = bias_s8.data();
    v.multiplier = multiplier.data();
    v.shift = shift.data();
    v.chunks = chunks();
    v.max_chunk_slots = max_chunk_slots;
    v.chunk_slots = chunk_slots.data();
    v.slots = slots.data();
    v.chunk_kernels = chunk_kernels.data();
    v.kernels = kernels.data();
    v.fl_blocks = int(fl_block_entries.size()) - 1;
    v.fl_block_entries = fl_block_entries.data();
    v.fl_channel = fl_channel.data();
    v.fl_index = fl_index.data();
    v.fl_weights = fl_weights.data();
    v.sp_blocks = sp_block_entries.empty() ? 0 : int(sp_block_entries.size()) - 1;
    v.sp_slots = int(sp_slot_index.size());
    v.sp_group_slots = sp_group_slots.data();
    v.sp_slot_index = sp_slot_index.data();
    v.sp_block_entries = sp_block_entries.data();
    v.sp_entry_slot = sp_entry_slot.data();
    v.sp_weights = sp_weights.data();
    return v;
  }
};

// The quantisation of one int8 conv, as TFLite's tensors give it.
struct Int8ConvQuantization {
  float input_scale = 1;
  int32_t input_zero_point = 0;
  const float* filter_scales = nullptr;  // per output channel
  float output_scale = 1;
};

// Default slot budget of a chunk. Fewer, larger chunks cut the per-(filter,
// chunk) accumulator reloads and loop exits, which dominate at 512 channels;
// 256 slots of tap dwords are 64 KiB for the AVX-512 kernel's 4 pixel tiles
// (L1/L2) and 32 KiB for the 8-lane kernels (measured: 128 -> 256 cut
// 7x7x512->512 keep 0.5 by ~30%, no loss on the other layers).
constexpr int kInt8DefaultChunkSlots = 256;

// Packs an int8 OHWI 3x3 filter (`bias` may be null). Any int8 weight is
// exact in every kernel (-128 included). Returns false with a reason when a
// scale is not finite and positive.
bool PackPatternConvInt8(const int8_t* ohwi, int out_channels, int in_channels, const uint16_t* masks,
                         const int32_t* bias, const Int8ConvQuantization& q, int max_chunk_slots, PackedConvInt8* out,
                         std::string* reason);

inline Int8ConvKernelParams MakeParams(const ConvGeometry& g, const Int8Quant& quant, const PackedConvInt8& packed) {
  return {g, quant, packed.View()};
}

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_PACKING_PATTERN_PACK_INT8_H_
