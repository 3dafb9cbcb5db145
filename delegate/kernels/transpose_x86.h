// An 8x8 float transpose in AVX registers, shared by the AVX2 and AVX-512
// kernels (both translation units are compiled with -mavx2). Include only
// from files compiled for AVX2.
#ifndef PATTERNLITE_DELEGATE_KERNELS_TRANSPOSE_X86_H_
#define PATTERNLITE_DELEGATE_KERNELS_TRANSPOSE_X86_H_

#include <immintrin.h>

namespace patternlite {

// dst[j][i] = src[i][j] for i, j in [0, 8).
inline void Transpose8x8(const float* const src[8], float* const dst[8]) {
  const __m256 r0 = _mm256_loadu_ps(src[0]), r1 = _mm256_loadu_ps(src[1]);
  const __m256 r2 = _mm256_loadu_ps(src[2]), r3 = _mm256_loadu_ps(src[3]);
  const __m256 r4 = _mm256_loadu_ps(src[4]), r5 = _mm256_loadu_ps(src[5]);
  const __m256 r6 = _mm256_loadu_ps(src[6]), r7 = _mm256_loadu_ps(src[7]);
  const __m256 t0 = _mm256_unpacklo_ps(r0, r1), t1 = _mm256_unpackhi_ps(r0, r1);
  const __m256 t2 = _mm256_unpacklo_ps(r2, r3), t3 = _mm256_unpackhi_ps(r2, r3);
  const __m256 t4 = _mm256_unpacklo_ps(r4, r5), t5 = _mm256_unpackhi_ps(r4, r5);
  const __m256 t6 = _mm256_unpacklo_ps(r6, r7), t7 = _mm256_unpackhi_ps(r6, r7);
  const __m256 s0 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s1 = _mm256_shuffle_ps(t0, t2, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s2 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s3 = _mm256_shuffle_ps(t1, t3, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s4 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s5 = _mm256_shuffle_ps(t4, t6, _MM_SHUFFLE(3, 2, 3, 2));
  const __m256 s6 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(1, 0, 1, 0));
  const __m256 s7 = _mm256_shuffle_ps(t5, t7, _MM_SHUFFLE(3, 2, 3, 2));
  _mm256_storeu_ps(dst[0], _mm256_permute2f128_ps(s0, s4, 0x20));
  _mm256_storeu_ps(dst[1], _mm256_permute2f128_ps(s1, s5, 0x20));
  _mm256_storeu_ps(dst[2], _mm256_permute2f128_ps(s2, s6, 0x20));
  _mm256_storeu_ps(dst[3], _mm256_permute2f128_ps(s3, s7, 0x20));
  _mm256_storeu_ps(dst[4], _mm256_permute2f128_ps(s0, s4, 0x31));
  _mm256_storeu_ps(dst[5], _mm256_permute2f128_ps(s1, s5, 0x31));
  _mm256_storeu_ps(dst[6], _mm256_permute2f128_ps(s2, s6, 0x31));
  _mm256_storeu_ps(dst[7], _mm256_permute2f128_ps(s3, s7, 0x31));
}

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_TRANSPOSE_X86_H_
