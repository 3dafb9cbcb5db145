// The pattern-conv microkernel interface, shared by every ISA.
//
// Like XNNPACK, operator setup (runtime/conv_node.cc) decides the geometry and
// the work split once; the per-ISA kernels only compute a block of output rows
// of one image from the packed weights (packing/pattern_pack.h).
#ifndef PATTERNLITE_DELEGATE_KERNELS_CONV_KERNEL_H_
#define PATTERNLITE_DELEGATE_KERNELS_CONV_KERNEL_H_

#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

#include "delegate/packing/pattern_pack.h"

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
  return size_t(g.in_c) * 9 * g.out_w * sizeof(float);
}

// Cache-line-aligned allocation, so that plane rows whose pitch is a multiple
// of the vector width give aligned (single-line) vector loads.
template <class T, size_t kAlign = 64>
struct AlignedAllocator {
  using value_type = T;
  AlignedAllocator() = default;
  template <class U>
  AlignedAllocator(const AlignedAllocator<U, kAlign>&) {}  // NOLINT: allocator rebinding
  template <class U>
  struct rebind {
    using other = AlignedAllocator<U, kAlign>;
  };
  T* allocate(size_t n) {
    const size_t bytes = (n * sizeof(T) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, bytes);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, size_t) { std::free(p); }
  bool operator==(const AlignedAllocator&) const { return true; }
  bool operator!=(const AlignedAllocator&) const { return false; }
};

using AlignedFloats = std::vector<float, AlignedAllocator<float>>;

// Per-thread scratch memory, grown on demand and reused across invocations.
struct Workspace {
  AlignedFloats input_planes;   // the block's input in the kernel's tap layout
  AlignedFloats accumulators;   // one output tile of one filter block
};

// Computes output rows [oy0, oy1) of image n. `input` and `output` are whole
// NHWC tensors.
using ConvRowsFn = void (*)(const ConvGeometry& g, const PackedConv& w, const float* input, float* output,
                            int n, int oy0, int oy1, Workspace* ws);

void ConvRowsScalar(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                    int oy0, int oy1, Workspace* ws);
#if defined(PL_HAVE_X86)
void ConvRowsAvx2(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                  int oy0, int oy1, Workspace* ws);
void ConvRowsAvx512(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                    int oy0, int oy1, Workspace* ws);
#endif
#if defined(PL_HAVE_NEON)
void ConvRowsNeon(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                  int oy0, int oy1, Workspace* ws);
#endif

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_CONV_KERNEL_H_
