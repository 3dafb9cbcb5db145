// AVX-512F instantiation of the pattern-conv kernel (16 floats per vector).
// Compiled with -mavx512f; only called after dispatch.cc checked the CPU.
#include "delegate/kernels/conv_simd_impl.h"
#include "delegate/kernels/vec_avx512.h"

namespace patternlite {

void ConvRowsAvx512(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                    int oy0, int oy1, Workspace* ws) {
  simd_impl::ConvRows<vec::Avx512>(g, w, input, output, n, oy0, oy1, ws);
}

}  // namespace patternlite
