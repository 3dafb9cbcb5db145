// The channel-block microkernels (pointwise and depthwise), shared by every
// ISA. Like the 3x3 kernels, operator setup (runtime/block_node.cc) decides
// the geometry and the work split; a kernel computes one range of output.
#ifndef PATTERNLITE_DELEGATE_KERNELS_BLOCK_KERNELS_H_
#define PATTERNLITE_DELEGATE_KERNELS_BLOCK_KERNELS_H_

#include <cstddef>
#include <cstdint>

#include "delegate/kernels/conv_kernel.h"
#include "delegate/packing/block_pack.h"

namespace patternlite {

// Output pixels [p0, p1) of a 1x1 conv, counted over the whole batch
// (p = (n * out_h + oy) * out_w + ox). `g` has the conv's strides; a 1x1 conv
// never pads.
using PointwiseFn = void (*)(const ConvGeometry& g, const PackedPointwise& w, const float* input, float* output,
                             int64_t p0, int64_t p1);
// Output rows [oy0, oy1) of image n of a 3x3 depthwise conv (depth multiplier 1).
using DepthwiseFn = void (*)(const ConvGeometry& g, const PackedDepthwise& w, const float* input, float* output,
                             int n, int oy0, int oy1);

#define PL_DECLARE_BLOCK_KERNELS(SUFFIX)                                                                     \
  void Pointwise##SUFFIX(const ConvGeometry& g, const PackedPointwise& w, const float* input, float* output, \
                         int64_t p0, int64_t p1);                                                            \
  void Depthwise##SUFFIX(const ConvGeometry& g, const PackedDepthwise& w, const float* input, float* output, \
                         int n, int oy0, int oy1);

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
