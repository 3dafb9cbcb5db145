// AVX-512 form of requantize.h's MultiplyByQuantizedMultiplier with the final
// shift's ties rounded up (CONV_2D's rule, docs/int8.md "Numerics"), 16 output
// channels per vector, each with its own multiplier and shifts. Included by
// the AVX-512 kernel files after their target pragmas.
//
// TFLite rounds twice: y = floor((x*m + 2^30) / 2^31), then
// floor((y + 2^(r-1)) / 2^r). The two nest into one exact 64-bit step,
// floor((x*m + 2^30 + 2^(30+r)) / 2^(31+r)), since floor(floor(a/b)/c) =
// floor(a/(b*c)) (the 2^(30+r) term only for r > 0). So each half of the
// lanes costs one multiply, one add and one variable arithmetic shift; |x*m|
// < 2^62, so nothing overflows. The per-lane constants are made once per
// block of 16 channels and reused for every pixel.
#ifndef PATTERNLITE_DELEGATE_KERNELS_REQUANTIZE_AVX512_H_
#define PATTERNLITE_DELEGATE_KERNELS_REQUANTIZE_AVX512_H_

#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "delegate/kernels/block_int8_kernels.h"
#include "delegate/kernels/conv_int8_kernel.h"

namespace patternlite {

struct Avx512LaneQuant {
  __m512i left, m_even, m_odd, k_even, k_odd, s_even, s_odd;
};

// Lanes `om` of 16 channels: Q31 multipliers, left shifts (>= 0) and right
// shifts (>= 0); lanes outside `om` requantise to the zero point.
inline Avx512LaneQuant MakeAvx512LaneQuant(__m512i m, __m512i left, __m512i right) {
  Avx512LaneQuant l;
  l.left = left;
  l.m_even = m;  // vpmuldq reads the low dword of each qword
  l.m_odd = _mm512_srli_epi64(m, 32);
  const __m512i r_even = _mm512_and_si512(right, _mm512_set1_epi64(0xFFFFFFFF));
  const __m512i r_odd = _mm512_srli_epi64(right, 32);
  const __m512i half = _mm512_set1_epi64(int64_t(1) << 30);
  const __m512i zero = _mm512_setzero_si512();
  l.k_even = _mm512_add_epi64(half, _mm512_maskz_sllv_epi64(_mm512_cmpgt_epi64_mask(r_even, zero), half, r_even));
  l.k_odd = _mm512_add_epi64(half, _mm512_maskz_sllv_epi64(_mm512_cmpgt_epi64_mask(r_odd, zero), half, r_odd));
  l.s_even = _mm512_add_epi64(r_even, _mm512_set1_epi64(31));
  l.s_odd = _mm512_add_epi64(r_odd, _mm512_set1_epi64(31));
  return l;
}

// Lanes [o, o + 16) of a channel-block pack's requantisation (every lane
// rounding ties up).
inline Avx512LaneQuant MakeAvx512LaneQuant(const Int8BlockRequantView& rq, size_t o) {
  return MakeAvx512LaneQuant(_mm512_loadu_si512(rq.multiplier + o), _mm512_loadu_si512(rq.left + o),
                             _mm512_loadu_si512(rq.right + o));
}

// From TFLite's signed shift per channel (left = max(shift, 0), right =
// max(-shift, 0)).
inline Avx512LaneQuant MakeAvx512LaneQuantFromShift(__m512i m, __m512i shift) {
  const __m512i zero = _mm512_setzero_si512();
  return MakeAvx512LaneQuant(m, _mm512_max_epi32(shift, zero), _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero));
}

// Every lane the same channel (the pixel-lane 3x3 kernel: 16 pixels of one
// output channel): the constants from scalars, no per-lane shuffling.
// The scalars behind it, for kernels that make them once per call and
// broadcast them from memory on every tile.
struct UniformQuant {
  int64_t k, s;  // rounding term and total right shift of the 64-bit product
  int32_t left, m;
};
inline UniformQuant MakeUniformQuant(int32_t m, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  return {(int64_t(1) << 30) + (right > 0 ? int64_t(1) << (30 + right) : 0), 31 + right, left, m};
}
inline Avx512LaneQuant MakeAvx512LaneQuantUniform(const UniformQuant& u) {
  Avx512LaneQuant l;
  l.left = _mm512_set1_epi32(u.left);
  l.m_even = l.m_odd = _mm512_set1_epi32(u.m);
  l.k_even = l.k_odd = _mm512_set1_epi64(u.k);
  l.s_even = l.s_odd = _mm512_set1_epi64(u.s);
  return l;
}
inline Avx512LaneQuant MakeAvx512LaneQuantUniform(int32_t m, int shift) {
  return MakeAvx512LaneQuantUniform(MakeUniformQuant(m, shift));
}

// acc -> 16 requantised int32 values, before the output zero point.
inline __m512i RequantizeAvx512Int32(__m512i acc, const Avx512LaneQuant& l) {
  const __m512i x = _mm512_sllv_epi32(acc, l.left);
  const __m512i even = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, l.m_even), l.k_even), l.s_even);
  const __m512i x_odd = _mm512_shuffle_epi32(x, _MM_PERM_CDAB);  // odd dwords to the low halves
  const __m512i odd = _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x_odd, l.m_odd), l.k_odd), l.s_odd);
  // Odd lanes take the low dword of their qword of `odd`.
  return _mm512_mask_shuffle_epi32(even, __mmask16(0xAAAA), odd, _MM_PERM_CDAB);
}

// acc -> 16 int8 outputs: requantised, plus the output zero point, clamped to
// the activation range.
inline __m128i RequantizeAvx512(__m512i acc, const Avx512LaneQuant& l, const Int8Quant& q) {
  __m512i r = _mm512_add_epi32(RequantizeAvx512Int32(acc, l), _mm512_set1_epi32(q.zp_out));
  r = _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(q.act_min)), _mm512_set1_epi32(q.act_max));
  return _mm512_cvtepi32_epi8(r);
}

// The output stage of four requantised vectors (RequantizeAvx512Int32) at
// once: saturating packs to int16, the zero point added with int16
// saturation, a saturating pack to int8, the clamp on bytes. Exact: the
// clamp range lies inside int8 and every saturation is monotone, so a value
// saturated on the way ends on the same bound as the int32 clamp. Returns
// the 16 bytes of r_j in 128-bit lane j (dword order restored by one vpermd).
struct Avx512OutputStage {
  __m512i zp16, lo, hi, order;
  explicit Avx512OutputStage(const Int8Quant& q)
      : zp16(_mm512_set1_epi16(int16_t(q.zp_out))),
        lo(_mm512_set1_epi8(int8_t(q.act_min))),
        hi(_mm512_set1_epi8(int8_t(q.act_max))),
        // The packs interleave 4-byte pieces per 128-bit lane: piece L of r_j
        // lands at dword 4L + j; it belongs at dword 4j + L.
        order(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15)) {}
  __m512i Pack4(__m512i r0, __m512i r1, __m512i r2, __m512i r3) const {
    const __m512i a = _mm512_adds_epi16(_mm512_packs_epi32(r0, r1), zp16);
    const __m512i b = _mm512_adds_epi16(_mm512_packs_epi32(r2, r3), zp16);
    const __m512i y = _mm512_min_epi8(_mm512_max_epi8(_mm512_packs_epi16(a, b), lo), hi);
    return _mm512_permutexvar_epi32(order, y);
  }
  // Stores 128-bit lane j of a Pack4 result (pixel j's channels `m`) at
  // dst + j * stride, for the first `count` pixels. kFull: all 16 channels,
  // plain stores (measured faster than masked ones in the depthwise kernel).
  template <bool kFull = false>
  static void Store4(__m512i y, int8_t* dst, ptrdiff_t stride, int count, __mmask16 m) {
    const auto put = [m](int8_t* p, __m128i v) {
      if constexpr (kFull) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(p), v);
      } else {
        _mm_mask_storeu_epi8(p, m, v);
      }
    };
    put(dst, _mm512_castsi512_si128(y));
    if (count > 1) put(dst + stride, _mm512_extracti32x4_epi32(y, 1));
    if (count > 2) put(dst + 2 * stride, _mm512_extracti32x4_epi32(y, 2));
    if (count > 3) put(dst + 3 * stride, _mm512_extracti32x4_epi32(y, 3));
  }
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_REQUANTIZE_AVX512_H_
