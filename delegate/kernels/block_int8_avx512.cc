// AVX-512 VNNI instantiation of the int8 depthwise block kernel
// (block_int8_simd_impl.h): 16 int32 lanes, one vector per block. (The
// AVX-512 pointwise kernel has its own input layout: pointwise_int8_avx512.cc.)
// VNNI and BW are enabled by the target pragma; dispatch calls this only
// after checking avx512_vnni and avx512bw.
#include <immintrin.h>

#include <cstdint>

#include "delegate/kernels/block_int8_kernels.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma")
#endif

#include "delegate/kernels/block_int8_simd_impl.h"
#include "delegate/kernels/requantize_avx512.h"

namespace patternlite {
namespace {

struct Traits {
  static constexpr int kLanes = 16;
  using V = __m512i;
  // Requantisation with per-lane constants made once per block and row
  // (requantize_avx512.h) for the blocks whose ties all round up (TiesUp).
  static constexpr bool kLaneQuant = true;
  using Lane = Avx512LaneQuant;
  static Lane MakeLane(const Int8BlockRequantView& rq, size_t o) {
    return MakeAvx512LaneQuant(_mm512_loadu_si512(rq.multiplier + o), _mm512_loadu_si512(rq.left + o),
                               _mm512_loadu_si512(rq.right + o));
  }
  // Whether lanes [o, o + 16) all round ties up (no `away` lane).
  static bool TiesUp(const Int8BlockRequantView& rq, size_t o) {
    return _mm512_test_epi32_mask(_mm512_loadu_si512(rq.away + o), _mm512_loadu_si512(rq.away + o)) == 0;
  }
  static void StoreLane(__m512i acc, const Lane& l, const Int8Quant& q, int width, int8_t* dst) {
    _mm_mask_storeu_epi8(dst, __mmask16((1u << width) - 1), RequantizeAvx512(acc, l, q));
  }
  static V Load(const int32_t* p) { return _mm512_loadu_si512(p); }
  static V Set1(int32_t v) { return _mm512_set1_epi32(v); }
  static V Widen(const int8_t* p) { return _mm512_cvtepi8_epi32(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p))); }
  static V Sub(V a, V b) { return _mm512_sub_epi32(a, b); }
  static V MulAdd(V acc, V x, V w) { return _mm512_add_epi32(acc, _mm512_mullo_epi32(x, w)); }
  // requantize.h's Requantize per lane (see block_int8_x86.h's Requantize8).
  static void Requantize(V acc, const int32_t* m, const int32_t* l, const int32_t* r, const int32_t* mk,
                         const int32_t* aw, const Int8Quant& q, int8_t* dst) {
    const __m512i x = _mm512_sllv_epi32(acc, _mm512_loadu_si512(l));
    const __m512i mv = _mm512_loadu_si512(m), rnd = _mm512_set1_epi64(int64_t(1) << 30);
    const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, mv), rnd), 31);
    const __m512i odd = _mm512_srli_epi64(
        _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(mv, 32)), rnd), 31);
    const __m512i y = _mm512_mask_blend_epi32(__mmask16(0xAAAA), even, _mm512_slli_epi64(odd, 32));
    const __m512i mask = _mm512_loadu_si512(mk);
    const __m512i rem = _mm512_and_si512(y, mask);
    const __m512i neg_away = _mm512_and_si512(_mm512_srai_epi32(y, 31), _mm512_loadu_si512(aw));
    const __m512i thr = _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), neg_away);
    const __m512i ys = _mm512_srav_epi32(y, _mm512_loadu_si512(r));
    __m512i o = _mm512_mask_add_epi32(ys, _mm512_cmpgt_epi32_mask(rem, thr), ys, _mm512_set1_epi32(1));
    o = _mm512_add_epi32(o, _mm512_set1_epi32(q.zp_out));
    o = _mm512_min_epi32(_mm512_max_epi32(o, _mm512_set1_epi32(q.act_min)), _mm512_set1_epi32(q.act_max));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(o));
  }
};

}  // namespace

void DepthwiseInt8Avx512Vnni(const DepthwiseInt8Params& p, const int8_t* input, int8_t* output, int n, int oy0,
                             int oy1) {
  block_int8_impl::DepthwiseRows<Traits>(p, input, output, n, oy0, oy1);
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
