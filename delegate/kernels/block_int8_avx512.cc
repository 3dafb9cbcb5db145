// AVX-512 VNNI instantiation of the int8 channel-block kernels
// (block_int8_simd_impl.h): 16 int32 lanes, one vector per block. A pointwise
// quad is one vpdpbusd (u8 x s8) per pixel: the input dword is offset to
// x ^ 0x80 = x + 128 and the packed bias corrects by -(zp_in + 128) * sum(w).
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
  static constexpr int kLanes = 16, kPixels = 12;
  static constexpr bool kSignedInput = false;
  using V = __m512i;
  using W = __m512i;
  using X = __m512i;
  // Pointwise chunks are flipped to u8 once (Flip); each quad is then one
  // broadcast load (Broadcast) feeding vpdpbusd.
  static constexpr bool kFlipped = true;
  // Requantisation with per-lane constants made once per block and tile or
  // row (requantize_avx512.h): every 1x1 block, and the depthwise blocks
  // whose ties all round up (TiesUp).
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
  static X Broadcast(int32_t d) { return _mm512_set1_epi32(d); }
  static void Flip(const int8_t* src, int n, int8_t* dst) {
    const __m512i flip = _mm512_set1_epi8(char(0x80));
    int i = 0;
    for (; i + 64 <= n; i += 64) _mm512_storeu_si512(dst + i, _mm512_xor_si512(_mm512_loadu_si512(src + i), flip));
    const __mmask64 m = n - i >= 64 ? ~__mmask64(0) : (__mmask64(1) << (n - i)) - 1;
    _mm512_mask_storeu_epi8(dst + i, m, _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + i), flip));
  }
  static W Weights(const int32_t* w) { return _mm512_loadu_si512(w); }
  static X Input(int32_t d) { return _mm512_set1_epi32(int32_t(uint32_t(d) ^ 0x80808080u)); }
  static V Dot(V acc, X x, W w) { return _mm512_dpbusd_epi32(acc, x, w); }
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

void PointwiseInt8Avx512Vnni(const PointwiseInt8Params& p, const int8_t* input, int8_t* output, int64_t p0,
                             int64_t p1) {
  block_int8_impl::PointwiseRange<Traits>(p, input, output, p0, p1);
}

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
