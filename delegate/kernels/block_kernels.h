// The channel-block microkernels (pointwise and depthwise), shared by every
// ISA. As for the 3x3 kernels (conv_kernel.h), a kernel takes raw pointers and
// one params struct: operator setup (runtime/block_node.cc) decides the
// geometry and the work split, packing (packing/block_pack.h) owns the arrays
// the params view, and a kernel computes one range of output. Neither kind
// needs scratch memory.
#ifndef PATTERNLITE_DELEGATE_KERNELS_BLOCK_KERNELS_H_
#define PATTERNLITE_DELEGATE_KERNELS_BLOCK_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "delegate/contract_generated.h"
#include "delegate/kernels/conv_kernel.h"

namespace patternlite {

// Output channels per block: the SIMD lanes of both kinds.
constexpr int kBlock = contract::kChannelBlock;

// Read-only views of the packs (packing/block_pack.h has their meaning and
// owns them); the fields are named as the arrays they view.
struct PackedPointwiseView {
  int out_channels = 0;
  int in_channels = 0;
  int blocks = 0;
  const int32_t* block_begin = nullptr;    // blocks + 1
  const int32_t* entry_channel = nullptr;  // per entry
  const float* entry_weights = nullptr;    // per entry: kBlock weights
  const float* bias = nullptr;             // blocks * kBlock, zero-padded
  // The scalar form.
  const int32_t* filter_begin = nullptr;  // out_channels + 1
  const int32_t* filter_channel = nullptr;
  const float* filter_weight = nullptr;
};

struct PackedDepthwiseView {
  int channels = 0;
  int blocks = 0;
  const uint8_t* block_taps = nullptr;       // blocks * 9
  const uint8_t* block_tap_count = nullptr;  // blocks
  const float* weights = nullptr;            // blocks * 9 * kBlock
  const float* bias = nullptr;               // blocks * kBlock, zero-padded
  // The scalar form.
  const uint16_t* channel_mask = nullptr;  // channels
  const float* channel_weights = nullptr;  // channels * 9
};

// `geometry` has the conv's strides; a 1x1 conv never pads.
struct PointwiseKernelParams {
  ConvGeometry geometry;
  PackedPointwiseView weights;
};

// A 3x3 depthwise conv, depth multiplier 1 (in_c == out_c == channels).
struct DepthwiseKernelParams {
  ConvGeometry geometry;
  PackedDepthwiseView weights;
};

// The input pixel of output pixel p (counted over the batch) of a 1x1 conv
// on an NHWC `input` of either element type.
template <class E>
inline const E* PointwisePixel(const ConvGeometry& g, const E* input, int64_t p) {
  if (g.stride_h == 1 && g.stride_w == 1) return input + p * g.in_c;
  const int64_t per_image = int64_t(g.out_h) * g.out_w;
  const int64_t n = p / per_image, oy = p % per_image / g.out_w, ox = p % g.out_w;
  return input + ((n * g.in_h + oy * g.stride_h) * g.in_w + ox * g.stride_w) * g.in_c;
}

// Output pixels [p0, p1) of a 1x1 conv, counted over the whole batch
// (p = (n * out_h + oy) * out_w + ox).
using PointwiseFn = void (*)(const PointwiseKernelParams& p, const float* input, float* output, int64_t p0,
                             int64_t p1);
// Output rows [oy0, oy1) of image n of a 3x3 depthwise conv.
using DepthwiseFn = void (*)(const DepthwiseKernelParams& p, const float* input, float* output, int n, int oy0,
                             int oy1);

#define PL_DECLARE_BLOCK_KERNELS(SUFFIX)                                                                      \
  void Pointwise##SUFFIX(const PointwiseKernelParams& p, const float* input, float* output, int64_t p0,        \
                         int64_t p1);                                                                          \
  void Depthwise##SUFFIX(const DepthwiseKernelParams& p, const float* input, float* output, int n, int oy0, \
                         int oy1);

PL_DECLARE_BLOCK_KERNELS(Scalar)
#if defined(PL_HAVE_X86)
PL_DECLARE_BLOCK_KERNELS(Avx2)
PL_DECLARE_BLOCK_KERNELS(Avx512)
#endif
#if defined(PL_HAVE_NEON)
PL_DECLARE_BLOCK_KERNELS(Neon)
#endif
#undef PL_DECLARE_BLOCK_KERNELS

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_BLOCK_KERNELS_H_
