// NEON instantiation of the pattern-conv kernel (4 floats per vector), for
// arm64 phones. Built only on aarch64 (see CMakeLists.txt); NEON is part of
// the arm64 baseline, so it needs no run-time check.
#include "delegate/kernels/conv_simd_impl.h"
#include "delegate/kernels/vec_neon.h"

namespace patternlite {

void ConvRowsNeon(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                  int oy0, int oy1, Workspace* ws) {
  simd_impl::ConvRows<vec::Neon>(g, w, input, output, n, oy0, oy1, ws);
}

}  // namespace patternlite
