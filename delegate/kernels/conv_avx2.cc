// AVX2 + FMA instantiation of the pattern-conv kernel (8 floats per vector).
// Compiled with -mavx2 -mfma; only called after dispatch.cc checked the CPU.
#include <immintrin.h>

#include "delegate/kernels/conv_simd_impl.h"
#include "delegate/kernels/transpose_x86.h"

namespace patternlite {
namespace {

struct Avx2 {
  using V = __m256;
  // Output rows per input-stationary tile, stride 1 and 2: the input tile
  // ((R-1)*S+3 rows x 3 taps) and R accumulators must fit the register file.
  static constexpr int kStationaryRows = 2, kStationaryRows2 = 1;
  // Vectors per tile of the narrow (flattened) layout: 9 taps x NV input
  // vectors stay in registers.
  static constexpr int kNarrowVectors = 1;
  static constexpr int kLanes = 8;
  static V Zero() { return _mm256_setzero_ps(); }
  static V Broadcast(float x) { return _mm256_set1_ps(x); }
  static V Load(const float* p) { return _mm256_loadu_ps(p); }
  static void Store(float* p, V v) { _mm256_storeu_ps(p, v); }
  static constexpr int kTile = 8;
  static void TransposeTile(const float* const src[8], float* const dst[8]) { Transpose8x8(src, dst); }
  static V Add(V a, V b) { return _mm256_add_ps(a, b); }
  static V Min(V a, V b) { return _mm256_min_ps(a, b); }
  static V Max(V a, V b) { return _mm256_max_ps(a, b); }
  static V Fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
};

}  // namespace

void ConvRowsAvx2(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                  int oy0, int oy1, Workspace* ws) {
  simd_impl::ConvRows<Avx2>(g, w, input, output, n, oy0, oy1, ws);
}

}  // namespace patternlite
