// x86 pieces of the int8 kernels (conv_int8_simd_impl.h) shared by the
// AVX-512 VNNI, AVX-VNNI and AVX2 instantiations. Include it only after the
// including file's target pragmas: its inline functions take their flags.
#ifndef PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_X86_H_
#define PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_X86_H_

#include <immintrin.h>

#include <cstdint>

#include "delegate/kernels/conv_int8_kernel.h"

namespace patternlite {
namespace int8_x86 {

// 16 pixels' tap dwords from the 4 tap rows: byte i of pixel x is p_i[x].
inline void Interleave16(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3, __m128i d[4]) {
  const __m128i t0 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p0));
  const __m128i t1 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p1));
  const __m128i t2 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p2));
  const __m128i t3 = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p3));
  const __m128i a0 = _mm_unpacklo_epi8(t0, t1), a1 = _mm_unpackhi_epi8(t0, t1);
  const __m128i b0 = _mm_unpacklo_epi8(t2, t3), b1 = _mm_unpackhi_epi8(t2, t3);
  d[0] = _mm_unpacklo_epi16(a0, b0);  // pixels 0..3
  d[1] = _mm_unpackhi_epi16(a0, b0);  // 4..7
  d[2] = _mm_unpacklo_epi16(a1, b1);  // 8..11
  d[3] = _mm_unpackhi_epi16(a1, b1);  // 12..15
}

// 8 pixels' tap dwords.
inline __m256i Interleave8(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3) {
  const __m128i t0 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p0));
  const __m128i t1 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p1));
  const __m128i t2 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p2));
  const __m128i t3 = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(p3));
  const __m128i a = _mm_unpacklo_epi8(t0, t1), b = _mm_unpacklo_epi8(t2, t3);
  return _mm256_set_m128i(_mm_unpackhi_epi16(a, b), _mm_unpacklo_epi16(a, b));
}

// requantize.h's MultiplyByQuantizedMultiplier with CONV_2D's ties (up) on 8
// lanes of one output channel: (x << left) * m + 2^30 >> 31 in 64 bits (the
// doubling high multiply; a logical shift gives the right low dword), then the
// rounding right shift, ties up: + 1 where the remainder exceeds half.
inline __m256i MultiplyByQuantizedMultiplier8(__m256i x, int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  x = _mm256_sll_epi32(x, _mm_cvtsi32_si128(left));
  const __m256i mv = _mm256_set1_epi32(m), rnd = _mm256_set1_epi64x(int64_t(1) << 30);
  const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, mv), rnd), 31);
  const __m256i odd = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), mv), rnd), 31);
  const __m256i y = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  const int32_t mask = int32_t((uint32_t(1) << right) - 1);
  const __m256i rem = _mm256_and_si256(y, _mm256_set1_epi32(mask));
  const __m256i thr = _mm256_set1_epi32(mask >> 1);
  const __m256i ys = _mm256_sra_epi32(y, _mm_cvtsi32_si128(right));
  return _mm256_sub_epi32(ys, _mm256_cmpgt_epi32(rem, thr));
}

inline void Requantize8(__m256i acc, int32_t m, int shift, const Int8Quant& q, int8_t* dst) {
  __m256i y = _mm256_add_epi32(MultiplyByQuantizedMultiplier8(acc, m, shift), _mm256_set1_epi32(q.zp_out));
  y = _mm256_min_epi32(_mm256_max_epi32(y, _mm256_set1_epi32(q.act_min)), _mm256_set1_epi32(q.act_max));
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(y), _mm256_extracti128_si256(y, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm_packs_epi16(w16, w16));
}

// 16x16 byte transpose in place (byte j of r[i] -> byte i of r[j]): four
// rounds of unpacks, which leave the rows in natural order.
inline void Transpose16x16(__m128i r[16]) {
  __m128i t[16];
  for (int i = 0; i < 8; ++i) {
    t[i] = _mm_unpacklo_epi8(r[2 * i], r[2 * i + 1]);
    t[i + 8] = _mm_unpackhi_epi8(r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm_unpacklo_epi16(t[2 * i], t[2 * i + 1]);
    r[i + 4] = _mm_unpackhi_epi16(t[2 * i], t[2 * i + 1]);
    r[i + 8] = _mm_unpacklo_epi16(t[8 + 2 * i], t[8 + 2 * i + 1]);
    r[i + 12] = _mm_unpackhi_epi16(t[8 + 2 * i], t[8 + 2 * i + 1]);
  }
  for (int h = 0; h < 4; ++h) {
    for (int i = 0; i < 2; ++i) {
      t[4 * h + i] = _mm_unpacklo_epi32(r[4 * h + 2 * i], r[4 * h + 2 * i + 1]);
      t[4 * h + i + 2] = _mm_unpackhi_epi32(r[4 * h + 2 * i], r[4 * h + 2 * i + 1]);
    }
  }
  for (int h = 0; h < 4; ++h) {
    r[4 * h] = _mm_unpacklo_epi64(t[4 * h], t[4 * h + 1]);
    r[4 * h + 1] = _mm_unpackhi_epi64(t[4 * h], t[4 * h + 1]);
    r[4 * h + 2] = _mm_unpacklo_epi64(t[4 * h + 2], t[4 * h + 3]);
    r[4 * h + 3] = _mm_unpackhi_epi64(t[4 * h + 2], t[4 * h + 3]);
  }
}

// Staging [o][o_stride] -> NHWC row: 16x16 byte transposes, the rest scalar.
inline void WriteStage(const int8_t* stage, int o_stride, int O, int cols, int8_t* out_row) {
  int o = 0;
  if (cols == 16 || cols == 8) {
    for (; o + 16 <= O; o += 16) {
      __m128i r[16];
      for (int i = 0; i < 16; ++i) {
        r[i] = cols == 16 ? _mm_loadu_si128(reinterpret_cast<const __m128i*>(stage + size_t(o + i) * o_stride))
                          : _mm_loadl_epi64(reinterpret_cast<const __m128i*>(stage + size_t(o + i) * o_stride));
      }
      Transpose16x16(r);
      for (int x = 0; x < cols; ++x) _mm_storeu_si128(reinterpret_cast<__m128i*>(out_row + size_t(x) * O + o), r[x]);
    }
  }
  for (int x = 0; x < cols; ++x) {
    int8_t* dst = out_row + size_t(x) * O;
    for (int oo = o; oo < O; ++oo) dst[oo] = stage[size_t(oo) * o_stride + x];
  }
}

}  // namespace int8_x86
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_X86_H_
