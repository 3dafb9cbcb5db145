// The pattern-conv microkernel interface, shared by every ISA.
//
// Like XNNPACK's, a microkernel takes raw pointers and one params struct:
// operator setup (runtime/conv_node.cc) decides the geometry and the work
// split once, packing (packing/pattern_pack.h) owns the weight arrays and
// hands out a view of them, and the per-ISA kernels only compute a block of
// output rows of one image. Scratch memory is the caller's: the kernel table
// (dispatch.h) says how many bytes a call needs.
#ifndef PATTERNLITE_DELEGATE_KERNELS_CONV_KERNEL_H_
#define PATTERNLITE_DELEGATE_KERNELS_CONV_KERNEL_H_

#include <cstddef>
#include <cstdint>

#include "delegate/contract_generated.h"

namespace patternlite {

struct ConvGeometry {
  int batch = 0, in_h = 0, in_w = 0, in_c = 0;
  int out_h = 0, out_w = 0, out_c = 0;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0;
  float act_min = 0, act_max = 0;  // fused activation as a clamp (+-inf for NONE)
};

// The SIMD kernels' two input layouts (conv_simd_impl.h): planar rows when an
// output row rounded up to whole vectors wastes at most a quarter of the
// lanes (strides 1 and 2), else a 9-tap im2col over the flattened pixels.
inline bool UseWideLayout(const ConvGeometry& g, int lanes) {
  if (g.stride_h != g.stride_w || g.stride_h > 2) return false;
  const int padded = (g.out_w + lanes - 1) / lanes * lanes;
  return 8 * (padded - g.out_w) <= 2 * padded;
}

// Filters per channel-major block: the block's output tile buffer (128 x
// 4 rows x 16 lanes, or 256 x 32 pixels narrow = 32 KiB) stays in L1, and the
// narrow layout's shorter tiles need more kernels per channel to amortise
// loading the channel's taps (measured: benchmarks/kernel_bench.py).
inline int StationaryFilterBlock(const ConvGeometry& g, int lanes) { return UseWideLayout(g, lanes) ? 128 : 256; }

// Bytes of the input layout per output row, to size row blocks.
inline size_t InputBytesPerOutputRow(const ConvGeometry& g, int lanes) {
  if (UseWideLayout(g, lanes)) {
    const size_t pp = size_t(g.out_w) + 2 * size_t(lanes);
    return size_t(g.in_c) * g.stride_h * g.stride_w * pp * sizeof(float);
  }
  return size_t(g.in_c) * contract::kKernelTaps * g.out_w * sizeof(float);
}

// One run of kept kernels sharing a pattern (docs/packed-layout.md).
struct PackedGroup {
  uint16_t mask = 0;   // 9-bit pattern, bit 3*ky+kx
  uint8_t taps[contract::kPatternTaps] = {};  // tap indices 3*ky+kx, ascending
  int32_t begin = 0;   // first kernel (index into kernel_channel)
  int32_t end = 0;     // one past the last kernel
};

// Read-only views of the packed arrays (packing/pattern_pack.h has their
// meaning and owns them); the fields are named as the arrays they view.

// The channel-major form the SIMD kernels read.
struct ChannelMajorView {
  int filter_block = 0;  // 0: not built (the scalar kernel does not need it)
  int blocks = 0;
  const int32_t* group_index = nullptr;   // blocks * in_channels + 1
  const PackedGroup* groups = nullptr;
  const int32_t* kernel_filter = nullptr;  // per kernel
  const float* kernel_weights = nullptr;   // per kernel: kPatternTaps weights
};

// The filter-major form the scalar kernel reads, the bias, and the channel-major form.
struct PackedConvView {
  int out_channels = 0;
  int in_channels = 0;
  size_t kept_kernels = 0;
  const int32_t* filter_order = nullptr;   // out_channels
  const int32_t* filter_groups = nullptr;  // out_channels + 1
  const PackedGroup* groups = nullptr;
  const int32_t* kernel_channel = nullptr;  // kept_kernels
  const float* kernel_weights = nullptr;    // kept_kernels * kPatternTaps
  const float* bias = nullptr;              // out_channels, by original output channel
  ChannelMajorView channel_major;
};

struct ConvKernelParams {
  ConvGeometry geometry;
  PackedConvView weights;
};

// Computes output rows [oy0, oy1) of image n. `input` and `output` are whole
// NHWC tensors. `scratch` is 64-byte aligned and holds at least the bytes the
// ISA's ConvScratchFn asks for rows [oy0, oy1); a kernel that needs none
// accepts null.
using ConvRowsFn = void (*)(const ConvKernelParams& p, const float* input, float* output, int n, int oy0, int oy1,
                            void* scratch, size_t scratch_bytes);
// Bytes of scratch a call of the matching ConvRowsFn needs for `rows` output
// rows (at most; fewer rows never need more).
using ConvScratchFn = size_t (*)(const ConvKernelParams& p, int rows);

// The alignment a kernel's scratch must have: whole cache lines, so that
// plane rows whose pitch is a multiple of the vector width give aligned
// (single-line) vector loads.
constexpr size_t kScratchAlign = 64;

#define PL_DECLARE_CONV_KERNELS(SUFFIX)                                                                           \
  void ConvRows##SUFFIX(const ConvKernelParams& p, const float* input, float* output, int n, int oy0, int oy1, \
                        void* scratch, size_t scratch_bytes);                                                   \
  size_t ConvScratch##SUFFIX(const ConvKernelParams& p, int rows);

PL_DECLARE_CONV_KERNELS(Scalar)
#if defined(PL_HAVE_X86)
PL_DECLARE_CONV_KERNELS(Avx2)
PL_DECLARE_CONV_KERNELS(Avx512)
#endif
#if defined(PL_HAVE_NEON)
PL_DECLARE_CONV_KERNELS(Neon)
#endif
#undef PL_DECLARE_CONV_KERNELS

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_CONV_KERNEL_H_
