// NEON instantiation of the pattern-conv kernel (4 floats per vector), for
// arm64 phones. Built only on aarch64 (see CMakeLists.txt); NEON is part of
// the arm64 baseline, so it needs no run-time check.
#include "delegate/kernels/conv_simd_impl.h"
#include "delegate/kernels/vec_neon.h"

namespace patternlite {

void ConvRowsNeon(const ConvKernelParams& p, const float* input, float* output, int n, int oy0, int oy1,
                  void* scratch, size_t scratch_bytes) {
  simd_impl::ConvRows<vec::Neon>(p, input, output, n, oy0, oy1, scratch, scratch_bytes);
}

size_t ConvScratchNeon(const ConvKernelParams& p, int rows) { return simd_impl::ScratchBytes<vec::Neon>(p, rows); }

}  // namespace patternlite
