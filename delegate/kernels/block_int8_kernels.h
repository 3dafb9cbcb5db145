// The int8 channel-block microkernels (docs/int8.md, "int8 1x1 and
// depthwise"): the int8 counterparts of block_kernels.h. Raw pointers, one
// params struct, no scratch; one block of kBlock (16) output channels across
// the int32 lanes, NHWC in and out.
//  * pointwise (sparse 1x1): a block's weights are stored per aligned quad of
//    input channels (4q..4q+3) that any of its filters keeps, as 16 dwords of
//    4 int8 weights (0 where a filter does not keep the channel). Per output
//    pixel a quad's 4 input bytes are one dword load from the NHWC pixel, and
//    one 4-byte dot product per lane (vpdpbusd / sdot / 2 x vpmaddwd). Any
//    kept set runs exactly; kept inputs grouped in aligned fours waste no
//    lane byte.
//  * depthwise (3x3, depth multiplier 1): per output pixel and block, the
//    block's kept taps, each 16 input bytes widened to int32 and multiplied
//    by its 16 weights (int32 multiply-accumulate).
// Both requantise per lane with TFLite's double rounding (requantize.h), its
// final shift rounding ties per lane as the op's builtin kernel does.
#ifndef PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_KERNELS_H_
#define PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "delegate/kernels/block_kernels.h"
#include "delegate/kernels/conv_int8_kernel.h"

namespace patternlite {

// Per-lane requantisation of one block: Q31 multiplier, left shift
// (max(shift, 0)), right shift (max(-shift, 0)), the rounding mask
// (2^right - 1) and how the final shift rounds ties: `away` is -1 where away
// from zero, 0 where up (requantize.h: all up for CONV_2D, per channel for
// DEPTHWISE_CONV_2D); blocks * kBlock each, padded lanes 0.
struct Int8BlockRequantView {
  const int32_t* multiplier = nullptr;
  const int32_t* left = nullptr;
  const int32_t* right = nullptr;
  const int32_t* mask = nullptr;
  const int32_t* away = nullptr;
};

struct PackedPointwiseInt8View {
  int out_channels = 0;
  int in_channels = 0;
  int blocks = 0;
  const int32_t* block_begin = nullptr;  // blocks + 1: block b's quads [block_begin[b], block_begin[b+1])
  const int32_t* quad_channel = nullptr; // per quad: its first input channel (a multiple of 4)
  const int32_t* quad_weights = nullptr; // per quad: kBlock dwords, byte j = weight of channel +j
  const int32_t* bias_u8 = nullptr;      // blocks*kBlock: bias - (zp_in+128)*sum(w): u8 x s8 kernels
  const int32_t* bias_s8 = nullptr;      // blocks*kBlock: bias - zp_in*sum(w): s8 x s8 kernels
  Int8BlockRequantView requant;
  // The scalar form (the oracle): per output channel o, kept (input, weight)
  // pairs [filter_begin[o], filter_begin[o+1]), TFLite's bias, multiplier, shift.
  const int32_t* filter_begin = nullptr;
  const int32_t* filter_channel = nullptr;
  const int8_t* filter_weight = nullptr;
  const int32_t* bias = nullptr;
  const int32_t* multiplier = nullptr;
  const int32_t* shift = nullptr;
};

// Input bytes a pointwise chunk of pixels may span: every SIMD pointwise
// kernel walks its pixels in such chunks, which stay in L2 while each block
// of filters passes over them.
constexpr size_t kPointwiseInt8ChunkBytes = 128 * 1024;

// Groups of four taps a depthwise block's 9 taps at most take.
constexpr int kTapQuads = 3;

struct PackedDepthwiseInt8View {
  int channels = 0;
  int blocks = 0;
  const uint8_t* block_taps = nullptr;       // blocks * 9, the first block_tap_count[b] used
  const uint8_t* block_tap_count = nullptr;  // blocks
  const int32_t* weights = nullptr;          // blocks * 9 * kBlock: tap t of block b at (b*9 + t)*kBlock
  const int32_t* bias = nullptr;             // blocks * kBlock: TFLite's bias (border pixels)
  const int32_t* bias_interior = nullptr;    // blocks * kBlock: bias - zp_in * sum(block taps' weights)
  // The dot-product form: block b's taps in groups of four, group j at
  // (b * kTapQuads + j) * kBlock: per channel a dword of 4 int8 weights (taps
  // 4j..4j+3 of the block's list; 0 past its count); and the bias for inputs
  // offset to u8 (x + 128): bias - (zp_in + 128) * sum(block taps' weights).
  const int32_t* tap_quads = nullptr;
  const int32_t* bias_u8 = nullptr;
  Int8BlockRequantView requant;
  // The scalar form.
  const uint16_t* channel_mask = nullptr;   // channels
  const int8_t* channel_weights = nullptr;  // channels * 9, tap 3*ky+kx
  const int32_t* channel_bias = nullptr;    // channels
  const int32_t* multiplier = nullptr;      // channels
  const int32_t* shift = nullptr;           // channels
};

struct PointwiseInt8Params {
  ConvGeometry geometry;  // strides; act_min/act_max unused (quant has the int8 range)
  Int8Quant quant;
  PackedPointwiseInt8View weights;
};

struct DepthwiseInt8Params {
  ConvGeometry geometry;
  Int8Quant quant;
  PackedDepthwiseInt8View weights;
};

// Output pixels [p0, p1) over the batch, as PointwiseFn.
using PointwiseInt8Fn = void (*)(const PointwiseInt8Params& p, const int8_t* input, int8_t* output, int64_t p0,
                                 int64_t p1);
// Output rows [oy0, oy1) of image n, as DepthwiseFn.
using DepthwiseInt8Fn = void (*)(const DepthwiseInt8Params& p, const int8_t* input, int8_t* output, int n, int oy0,
                                 int oy1);

struct Int8BlockKernels {
  Int8Variant variant;
  PointwiseInt8Fn pointwise;
  DepthwiseInt8Fn depthwise;
};

#define PL_DECLARE_INT8_BLOCK_KERNELS(SUFFIX)                                                                 \
  void PointwiseInt8##SUFFIX(const PointwiseInt8Params& p, const int8_t* input, int8_t* output, int64_t p0,  \
                             int64_t p1);                                                                    \
  void DepthwiseInt8##SUFFIX(const DepthwiseInt8Params& p, const int8_t* input, int8_t* output, int n, int oy0, \
                             int oy1);

PL_DECLARE_INT8_BLOCK_KERNELS(Scalar)
#if defined(PL_HAVE_X86)
PL_DECLARE_INT8_BLOCK_KERNELS(Avx2)
PL_DECLARE_INT8_BLOCK_KERNELS(AvxVnni)
PL_DECLARE_INT8_BLOCK_KERNELS(Avx512Vnni)
#endif
#if defined(PL_HAVE_NEON)
PL_DECLARE_INT8_BLOCK_KERNELS(NeonDot)
#endif
#undef PL_DECLARE_INT8_BLOCK_KERNELS

// The kernels of a variant (Int8VariantForIsa picks it, as for int8 3x3); the
// scalar ones when this build or CPU lacks it.
const Int8BlockKernels& Int8BlockKernelsFor(Int8Variant v);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_KERNELS_H_
