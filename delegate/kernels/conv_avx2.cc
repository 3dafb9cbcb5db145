// AVX2 + FMA instantiation of the pattern-conv kernel (8 floats per vector).
// Compiled with -mavx2 -mfma; only called after dispatch.cc checked the CPU.
#include "delegate/kernels/conv_simd_impl.h"
#include "delegate/kernels/vec_avx2.h"

namespace patternlite {

void ConvRowsAvx2(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                  int oy0, int oy1, Workspace* ws) {
  simd_impl::ConvRows<vec::Avx2>(g, w, input, output, n, oy0, oy1, ws);
}

}  // namespace patternlite
