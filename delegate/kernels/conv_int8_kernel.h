// The int8 pattern-conv microkernel interface (docs/int8.md), the int8
// counterpart of conv_kernel.h: raw pointers, one params struct, a block of
// output rows of one image per call, caller-owned scratch.
#ifndef PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_KERNEL_H_
#define PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_KERNEL_H_

#include <cstddef>
#include <cstdint>

#include "delegate/kernels/conv_kernel.h"

namespace patternlite {

enum class Isa;  // dispatch.h

// The layer's quantisation as the kernels apply it: input zero point, output
// zero point and the fused activation folded into the int8 range (TFLite's
// CalculateActivationRangeQuantized).
struct Int8Quant {
  int32_t zp_in = 0, zp_out = 0;
  int32_t act_min = -128, act_max = 127;
};

// One (input channel, pattern) of a channel chunk: the SIMD kernels build one
// tile of "tap dwords" per slot (for each output pixel, the 4 input bytes
// under the pattern's taps) and every kept kernel reading it is one 4-byte
// dot product per pixel.
struct Int8Slot {
  int32_t channel = 0;
  uint8_t taps[4] = {};  // 3*ky+kx, ascending
  // For the AVX-512 VBMI kernel's tap-major table (conv_int8_avx512.cc): byte
  // k = where tap k's 16 pixels start in the 128-byte table of the 8
  // non-centre taps (tap t < 4 at 16t, t > 4 at 16(t-1)); the centre's byte
  // is 0 and `centre` says which k it is (-1 when the mask lacks it).
  uint32_t table_base = 0;
  int8_t centre = -1;
};

// A kept kernel in the chunked form: its slot (index within the chunk) and its
// 4 weights packed little-endian into one dword, in tap order.
struct Int8Kernel {
  int32_t slot = 0;
  int32_t weights = 0;
};

// Read-only view of PackedConvInt8 (packing/pattern_pack_int8.h has the
// meaning of each array).
struct PackedConvInt8View {
  int out_channels = 0;
  int in_channels = 0;
  // Filter-major form (scalar oracle), in the fp32 pack's layout.
  const int32_t* filter_order = nullptr;
  const int32_t* filter_groups = nullptr;
  const PackedGroup* groups = nullptr;
  const int32_t* kernel_channel = nullptr;
  const int8_t* kernel_weights = nullptr;  // kept_kernels * 4
  // Per original output channel.
  const int32_t* bias = nullptr;        // TFLite's int32 bias (zeros without one)
  const int32_t* bias_u8 = nullptr;     // bias - (zp_in + 128) * sum(kept weights): u8 x s8 kernels
  const int32_t* bias_s8 = nullptr;     // bias - zp_in * sum(kept weights): s8 x s8 kernels
  const int32_t* multiplier = nullptr;  // Q31, TFLite's QuantizeMultiplier
  const int32_t* shift = nullptr;
  // Chunked form (SIMD kernels): chunk k covers slots [chunk_slots[k],
  // chunk_slots[k+1]); its kernels of output channel o are
  // [chunk_kernels[k*O+o], chunk_kernels[k*O+o+1]).
  int chunks = 0;
  int max_chunk_slots = 0;
  const int32_t* chunk_slots = nullptr;    // chunks + 1
  const Int8Slot* slots = nullptr;
  const int32_t* chunk_kernels = nullptr;  // chunks * O + 1
  const Int8Kernel* kernels = nullptr;
  // Filter-lane form (AVX-512 filter-lane kernel): per block of 16 output
  // channels, its non-empty input channels with a 64-byte vpermb index and
  // 64 weight bytes each (pattern_pack_int8.h).
  int fl_blocks = 0;
  const int32_t* fl_block_entries = nullptr;  // fl_blocks + 1
  const int32_t* fl_channel = nullptr;
  const uint8_t* fl_index = nullptr;  // entries * 64
  const int8_t* fl_weights = nullptr;  // entries * 64
  // Shared-pattern form (16 filters reading one channel through one
  // pattern: one broadcast tap dword per pixel); sp_blocks is 0 where the
  // pack does not have it.
  int sp_blocks = 0;
  int sp_slots = 0;
  const int32_t* sp_group_slots = nullptr;    // ceil(in_channels / 4) + 1
  const uint32_t* sp_slot_index = nullptr;    // sp_slots
  const int32_t* sp_block_entries = nullptr;  // sp_blocks + 1
  const int32_t* sp_entry_slot = nullptr;
  const int8_t* sp_weights = nullptr;  // entries * 64
};

struct Int8ConvKernelParams {
  ConvGeometry geometry;  // act_min/act_max unused: quant has the int8 range
  Int8Quant quant;
  PackedConvInt8View weights;
};

// Output rows [oy0, oy1) of image n; input and output are whole NHWC int8
// tensors; scratch is kScratchAlign-aligned with at least the bytes the
// matching Int8ConvScratchFn asks for (null when it asks for none).
using Int8ConvRowsFn = void (*)(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0,
                                int oy1, void* scratch, size_t scratch_bytes);
using Int8ConvScratchFn = size_t (*)(const Int8ConvKernelParams& p, int rows);

// The int8 kernels of one instruction set. A variant is finer than Isa: the
// x86 int8 kernels differ in the dot-product instruction they use.
// kAvx512VnniFilterLanes: the AVX-512 kernel with 16 filters (not 16 pixels)
// per vector, conv_int8_avx512_fl.cc.
// kAvx512VnniSharedPatterns: its shared-pattern tiles (broadcast tap dwords),
// for packs that have the sp_* form.
enum class Int8Variant {
  kScalar,
  kAvx2,
  kAvxVnni,
  kAvx512Vnni,
  kNeonDot,
  kAvx512VnniFilterLanes,
  kAvx512VnniSharedPatterns
};

struct Int8ConvKernel {
  Int8Variant variant;
  int lanes;  // int32 lanes per vector
  Int8ConvRowsFn rows;
  Int8ConvScratchFn scratch_bytes;
};

#define PL_DECLARE_INT8_CONV_KERNELS(SUFFIX)                                                                     \
  void Int8ConvRows##SUFFIX(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0, \
                            int oy1, void* scratch, size_t scratch_bytes);                                      \
  size_t Int8ConvScratch##SUFFIX(const Int8ConvKernelParams& p, int rows);

PL_DECLARE_INT8_CONV_KERNELS(Scalar)
#if defined(PL_HAVE_X86)
PL_DECLARE_INT8_CONV_KERNELS(Avx2)
PL_DECLARE_INT8_CONV_KERNELS(AvxVnni)
PL_DECLARE_INT8_CONV_KERNELS(Avx512Vnni)
PL_DECLARE_INT8_CONV_KERNELS(Avx512VnniFl)
PL_DECLARE_INT8_CONV_KERNELS(Avx512VnniSp)
#endif
#if defined(PL_HAVE_NEON)
PL_DECLARE_INT8_CONV_KERNELS(NeonDot)
#endif
#undef PL_DECLARE_INT8_CONV_KERNELS

// Whether the avx512vnni kernel hands this layer to the filter-lane kernel
// (docs/int8.md, "The filter-lane kernel"): at least 64 output channels and
// a pack whose non-empty (16-filter block, channel) pairs are at most the
// kept-kernel fraction + 0.3 (dense packs, or pruning shared by the filters
// of a block); the rule fits the measured layers' break-even.
bool Int8PreferFilterLanes(const Int8ConvKernelParams& p);

// The filter-lane hand-over rule on a layer's figures: `pairs`, the fraction
// of (16-filter block, input channel) pairs with a kept kernel, and `kept`,
// the fraction of kernels kept. Int8PreferFilterLanes applies it to a pack;
// the delegate's int8='auto' policy applies it to a claim's masks, so both
// decide with one rule.
constexpr int kInt8FilterLanesMinOutChannels = contract::kInt8Conv3x3MinOutputs;
inline bool Int8FilterLanesPay(int out_channels, double pairs, double kept) {
  // Filter-lane work ~ non-empty pairs; pixel-lane work ~ 0.3 + 0.7 x kept
  // kernels (its per-pixel tables and requantisation do not shrink with keep).
  return out_channels >= kInt8FilterLanesMinOutChannels && pairs <= kept + 0.3;
}

// Whether the avx512vnni kernel runs this layer with shared-pattern tiles
// (docs/int8.md, "Shared patterns"): the pack has the form (its 16-filter
// blocks read each kept channel through one pattern, kInt8SharedMaxEntries)
// and at least 64 output channels, the sizes measured.
bool Int8PreferSharedPatterns(const Int8ConvKernelParams& p);

// The packing builds the shared-pattern form when its entries, (block,
// channel, pattern) triples, are at most this many times the non-empty
// (block, channel) pairs: an entry costs one broadcast-operand vpdpbusd per
// pixel where a pair costs a vpermb and a vpdpbusd in the filter-lane
// kernel, so a few pairs with two patterns still pay.
constexpr double kInt8SharedMaxEntries = 1.25;

// The rule on a layer's figures, for the int8='auto' policy.
inline bool Int8SharedPatternsPay(int out_channels, double entries, double pairs) {
  return out_channels >= kInt8FilterLanesMinOutChannels && entries <= kInt8SharedMaxEntries * pairs;
}

const char* Int8VariantName(Int8Variant v);
// Which tiles the avx512vnni kernel runs a pack with: "shared_pattern",
// "filter_lanes" or "pixel_lanes" (stats()' int8_tiles); "" for the other
// variants, which have one design each.
const char* Int8TilesName(const Int8ConvKernelParams& p, Int8Variant v);
// Whether this build has the variant and this CPU runs it (cpuid / getauxval).
bool Int8VariantAvailable(Int8Variant v);
// The kernel of a variant; the scalar one when it is unavailable.
const Int8ConvKernel& Int8KernelFor(Int8Variant v);
// The int8 kernel behind an isa option (docs/int8.md): avx512 -> AVX-512 VNNI
// when the CPU has it, else AVX2; avx2 -> AVX-VNNI when available, else AVX2;
// neon -> sdot when the CPU has dotprod, else scalar; auto -> the best.
Int8Variant Int8VariantForIsa(Isa isa);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_KERNEL_H_
