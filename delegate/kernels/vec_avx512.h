// The AVX-512F vector traits the kernel templates are instantiated with
// (conv_simd_impl.h, block_simd_impl.h). Include only from files compiled for
// this ISA (-mavx512f).
#ifndef PATTERNLITE_DELEGATE_KERNELS_VEC_AVX512_H_
#define PATTERNLITE_DELEGATE_KERNELS_VEC_AVX512_H_

#include <immintrin.h>

#include "delegate/kernels/transpose_x86.h"

namespace patternlite {
namespace vec {

struct Avx512 {
  using V = __m512;
  // Output rows per input-stationary tile, stride 1 and 2: the input tile
  // ((R-1)*S+3 rows x 3 taps) and R accumulators must fit the register file.
  static constexpr int kStationaryRows = 4, kStationaryRows2 = 3;
  // Vectors per tile of the narrow (flattened) layout: 9 taps x NV input
  // vectors stay in registers.
  static constexpr int kNarrowVectors = 2;
  static constexpr int kLanes = 16;
  static V Zero() { return _mm512_setzero_ps(); }
  static V Broadcast(float x) { return _mm512_set1_ps(x); }
  static V Load(const float* p) { return _mm512_loadu_ps(p); }
  static void Store(float* p, V v) { _mm512_storeu_ps(p, v); }
  static constexpr int kTile = 8;
  static void TransposeTile(const float* const src[8], float* const dst[8]) { Transpose8x8(src, dst); }
  static V Add(V a, V b) { return _mm512_add_ps(a, b); }
  static V Min(V a, V b) { return _mm512_min_ps(a, b); }
  static V Max(V a, V b) { return _mm512_max_ps(a, b); }
  static V Fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  // The first n (< kLanes) lanes; the others read as zero / are left alone.
  static V LoadN(const float* p, int n) { return _mm512_maskz_loadu_ps(__mmask16((1u << n) - 1), p); }
  static void StoreN(float* p, V v, int n) { _mm512_mask_storeu_ps(p, __mmask16((1u << n) - 1), v); }
  // Pixels per pointwise register tile: R accumulators + 1 weight of 32 registers.
  static constexpr int kPointwisePixels = 12;
};

}  // namespace vec
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_VEC_AVX512_H_
