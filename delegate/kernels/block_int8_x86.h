// 256-bit pieces of the int8 channel-block kernels shared by the AVX2 and
// AVX-VNNI instantiations (block_int8_simd_impl.h). Include only after the
// including file's target pragmas: the inline functions take its flags.
#ifndef PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_X86_H_
#define PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_X86_H_

#include <immintrin.h>

#include <cstdint>

#include "delegate/kernels/block_int8_kernels.h"

namespace patternlite {
namespace block_int8_x86 {

// requantize.h's Requantize on 8 lanes, each with its own multiplier, shift
// and tie rounding: (x << left) * m + 2^30 >> 31 in 64 bits per even/odd lane
// (the doubling high multiply), the rounding right shift (+ 1 where the
// remainder exceeds half, or half plus 1 for a negative in an `away` lane),
// zero point and clamp; 8 int8 results to dst.
inline void Requantize8(__m256i acc, const int32_t* m, const int32_t* left, const int32_t* right, const int32_t* mask,
                        const int32_t* away, const Int8Quant& q, int8_t* dst) {
  const auto load = [](const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); };
  const __m256i x = _mm256_sllv_epi32(acc, load(left));
  const __m256i mv = load(m), rnd = _mm256_set1_epi64x(int64_t(1) << 30);
  const __m256i even = _mm256_srli_epi64(_mm256_add_epi64(_mm256_mul_epi32(x, mv), rnd), 31);
  const __m256i odd = _mm256_srli_epi64(
      _mm256_add_epi64(_mm256_mul_epi32(_mm256_srli_epi64(x, 32), _mm256_srli_epi64(mv, 32)), rnd), 31);
  const __m256i y = _mm256_blend_epi32(even, _mm256_slli_epi64(odd, 32), 0xAA);
  const __m256i mk = load(mask);
  const __m256i rem = _mm256_and_si256(y, mk);
  const __m256i neg_away = _mm256_and_si256(_mm256_srai_epi32(y, 31), load(away));
  const __m256i thr = _mm256_sub_epi32(_mm256_srli_epi32(mk, 1), neg_away);
  __m256i r = _mm256_sub_epi32(_mm256_srav_epi32(y, load(right)), _mm256_cmpgt_epi32(rem, thr));
  r = _mm256_add_epi32(r, _mm256_set1_epi32(q.zp_out));
  r = _mm256_min_epi32(_mm256_max_epi32(r, _mm256_set1_epi32(q.act_min)), _mm256_set1_epi32(q.act_max));
  const __m128i w16 = _mm_packs_epi32(_mm256_castsi256_si128(r), _mm256_extracti128_si256(r, 1));
  _mm_storel_epi64(reinterpret_cast<__m128i*>(dst), _mm_packs_epi16(w16, w16));
}

inline __m256i Load8(const int32_t* p) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)); }
inline __m256i Widen8(const int8_t* p) {
  return _mm256_cvtepi8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
}
inline __m256i MulAdd8(__m256i acc, __m256i x, __m256i w) { return _mm256_add_epi32(acc, _mm256_mullo_epi32(x, w)); }

// The Traits members block_int8_simd_impl.h needs beyond the quad dot product,
// the same for both 256-bit instantiations: each derives its Traits from this
// and adds only its input/weight forms (kSignedInput, W, X, Weights, Input, Dot).
struct Lanes8 {
  static constexpr int kLanes = 8, kPixels = 4;
  using V = __m256i;
  static V Load(const int32_t* p) { return Load8(p); }
  static V Set1(int32_t v) { return _mm256_set1_epi32(v); }
  static V Widen(const int8_t* p) { return Widen8(p); }
  static V Sub(V a, V b) { return _mm256_sub_epi32(a, b); }
  static V MulAdd(V acc, V x, V w) { return MulAdd8(acc, x, w); }
  static void Requantize(V acc, const int32_t* m, const int32_t* l, const int32_t* r, const int32_t* mk,
                         const int32_t* aw, const Int8Quant& q, int8_t* dst) {
    Requantize8(acc, m, l, r, mk, aw, q, dst);
  }
};

}  // namespace block_int8_x86
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_X86_H_
