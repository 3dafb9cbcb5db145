// The AVX2 + FMA vector traits the kernel templates are instantiated with
// (conv_simd_impl.h, block_simd_impl.h). Include only from files compiled for
// this ISA (-mavx2 -mfma).
#ifndef PATTERNLITE_DELEGATE_KERNELS_VEC_AVX2_H_
#define PATTERNLITE_DELEGATE_KERNELS_VEC_AVX2_H_

#include <immintrin.h>

#include "delegate/kernels/transpose_x86.h"

namespace patternlite {
namespace vec {

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
  // The first n (< kLanes) lanes; the others read as zero / are left alone.
  static __m256i LaneMask(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V LoadN(const float* p, int n) { return _mm256_maskload_ps(p, LaneMask(n)); }
  static void StoreN(float* p, V v, int n) { _mm256_maskstore_ps(p, LaneMask(n), v); }
  // Pixels per pointwise register tile: R x 2 accumulators + 2 weights + 1 input.
  static constexpr int kPointwisePixels = 6;
};

}  // namespace vec
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_VEC_AVX2_H_
