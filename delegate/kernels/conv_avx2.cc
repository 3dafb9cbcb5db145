// AVX2 + FMA instantiation of the pattern-conv kernel (8 floats per vector).
// Compiled with -mavx2 -mfma; only called after dispatch.cc checked the CPU.
#include "delegate/kernels/conv_simd_impl.h"
#include "delegate/kernels/vec_avx2.h"

namespace patternlite {

void ConvRowsAvx2(const ConvKernelParams& p, const float* input, float* output, int n, int oy0, int oy1,
                  void* scratch, size_t scratch_bytes) {
  simd_impl::ConvRows<vec::Avx2>(p, input, output, n, oy0, oy1, scratch, scratch_bytes);
}

size_t ConvScratchAvx2(const ConvKernelParams& p, int rows) { return simd_impl::ScratchBytes<vec::Avx2>(p, rows); }

}  // namespace patternlite
