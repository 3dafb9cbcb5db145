// AVX2 + FMA instantiation of the channel-block kernels (block_simd_impl.h).
// Compiled with this ISA's flags; only called after dispatch.cc checked the CPU.
#include "delegate/kernels/block_simd_impl.h"
#include "delegate/kernels/vec_avx2.h"

namespace patternlite {

void PointwiseAvx2(const PointwiseKernelParams& p, const float* input, float* output, int64_t p0, int64_t p1) {
  block_impl::PointwiseRange<vec::Avx2>(p.geometry, p.weights, input, output, p0, p1);
}

void DepthwiseAvx2(const DepthwiseKernelParams& p, const float* input, float* output, int n, int oy0, int oy1) {
  block_impl::DepthwiseRows<vec::Avx2>(p.geometry, p.weights, input, output, n, oy0, oy1);
}

}  // namespace patternlite
