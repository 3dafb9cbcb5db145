// AVX2 + FMA instantiation of the channel-block kernels (block_simd_impl.h).
// Compiled with this ISA's flags; only called after dispatch.cc checked the CPU.
#include "delegate/kernels/block_simd_impl.h"
#include "delegate/kernels/vec_avx2.h"

namespace patternlite {

void PointwiseAvx2(const ConvGeometry& g, const PackedPointwise& w, const float* input, float* output, int64_t p0,
                  int64_t p1) {
  block_impl::PointwiseRange<vec::Avx2>(g, w, input, output, p0, p1);
}

void DepthwiseAvx2(const ConvGeometry& g, const PackedDepthwise& w, const float* input, float* output, int n, int oy0,
                  int oy1) {
  block_impl::DepthwiseRows<vec::Avx2>(g, w, input, output, n, oy0, oy1);
}

}  // namespace patternlite
