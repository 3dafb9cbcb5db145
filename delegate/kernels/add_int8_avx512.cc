// AVX-512 int8 ADD (add_int8.h): 16 elements per step in float, exact by
// the bound PrepareAddInt8 derives; lanes near a rounding tie are recomputed
// with TFLite's fixed-point formula. Three fixed-point rescales per element
// in int32 (64-bit products) would cost about three times the float form's
// two FMAs. Built with PL_AVX512_FLAGS (AVX-512F is all it needs).
#include <immintrin.h>

#include <cstddef>
#include <cstdint>

#include "delegate/kernels/add_int8.h"

namespace patternlite {

namespace {

// Lanes of the 16 elements at `i` whose float result lies near a rounding
// tie: recomputed with TFLite's formula (rare, out of the hot loop).
__attribute__((noinline)) void FixTies(const AddInt8Params& p, const int8_t* a, const int8_t* b, int8_t* out,
                                       size_t i, __mmask16 tie) {
  for (int j = 0; j < 16; ++j) {
    if ((tie >> j) & 1) out[i + j] = AddInt8GroupElement(p, a[i + j], b[i + j]);
  }
}

struct Constants {
  __m512 coef_a, coef_b, bias, limit;
  __m128i lo, hi;
};

// 16 elements: the float result rounded, saturated and clamped into `*v`; the
// lanes near a tie as a mask.
inline __mmask16 Step16(const Constants& c, const int8_t* a, const int8_t* b, __m128i* v) {
  const __m512 fa = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(a))));
  const __m512 fb = _mm512_cvtepi32_ps(_mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(b))));
  const __m512 t = _mm512_fmadd_ps(fa, c.coef_a, _mm512_fmadd_ps(fb, c.coef_b, c.bias));
  const __m512 r = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  // r is integral and |r| < 2^15: the conversion is exact, then int8 saturation.
  *v = _mm_min_epi8(_mm_max_epi8(_mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(r)), c.lo), c.hi);
  return _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(t, r)), c.limit, _CMP_GE_OQ);
}

}  // namespace

void AddInt8Avx512(const AddInt8Params& p, const int8_t* a, const int8_t* b, int8_t* out, size_t n) {
  if (!p.fast) {
    AddInt8Scalar(p, a, b, out, n);
    return;
  }
  const size_t groups = n / 16 * 16;
  const Constants c{_mm512_set1_ps(p.coef_a), _mm512_set1_ps(p.coef_b), _mm512_set1_ps(p.bias),
                    _mm512_set1_ps(0.5f - p.near), _mm_set1_epi8(int8_t(p.act_min)), _mm_set1_epi8(int8_t(p.act_max))};
  size_t i = 0;
  // Four groups per step, their tie masks tested once. Every group's inputs
  // are read before its output is stored, so `out` may alias an input.
  for (; i + 64 <= groups; i += 64) {
    __m128i v0, v1, v2, v3;
    const __mmask16 t0 = Step16(c, a + i, b + i, &v0), t1 = Step16(c, a + i + 16, b + i + 16, &v1);
    const __mmask16 t2 = Step16(c, a + i + 32, b + i + 32, &v2), t3 = Step16(c, a + i + 48, b + i + 48, &v3);
    alignas(16) int8_t lanes[64];
    int8_t* dst = (t0 | t1 | t2 | t3) != 0 ? lanes : out + i;
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), v0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 16), v1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 32), v2);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + 48), v3);
    if (dst == lanes) {
      FixTies(p, a + i, b + i, lanes, 0, t0);
      FixTies(p, a + i, b + i, lanes, 16, t1);
      FixTies(p, a + i, b + i, lanes, 32, t2);
      FixTies(p, a + i, b + i, lanes, 48, t3);
      for (int k = 0; k < 64; ++k) out[i + k] = lanes[k];
    }
  }
  for (; i < groups; i += 16) {
    __m128i v;
    const __mmask16 tie = Step16(c, a + i, b + i, &v);
    if (tie == 0) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), v);
      continue;
    }
    alignas(16) int8_t lanes[16];
    _mm_store_si128(reinterpret_cast<__m128i*>(lanes), v);
    FixTies(p, a + i, b + i, lanes, 0, tie);
    for (int k = 0; k < 16; ++k) out[i + k] = lanes[k];
  }
  for (; i < n; ++i) out[i] = AddInt8TailElement(p, a[i], b[i]);
}

}  // namespace patternlite
