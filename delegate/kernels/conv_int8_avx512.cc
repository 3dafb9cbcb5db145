// AVX-512 VNNI instantiation of the int8 pattern-conv kernel: 16 int32 lanes,
// one vpdpbusd (u8 x s8, 4 bytes per lane) per kept kernel and vector.
// Built with the AVX-512 flags plus VNNI and BW through the target pragma
// below (so that the build lists need no flags of their own); called only
// after dispatch checked avx512_vnni and avx512bw on the CPU.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "delegate/kernels/conv_int8_kernel.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma")
#endif

#include "delegate/kernels/conv_int8_simd_impl.h"
#include "delegate/kernels/conv_int8_x86.h"

namespace patternlite {
namespace {

struct Avx512Vnni {
  static constexpr int kLanes = 16, kRows = 4, kParts = 1;
  static constexpr bool kSignedInput = false;
  using V = __m512i;
  using W = __m512i;
  static void Build(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3, int32_t* dst) {
    __m128i d[4];
    int8_x86::Interleave16(p0, p1, p2, p3, d);
    __m512i v = _mm512_zextsi128_si512(d[0]);
    v = _mm512_inserti32x4(v, d[1], 1);
    v = _mm512_inserti32x4(v, d[2], 2);
    v = _mm512_inserti32x4(v, d[3], 3);
    _mm512_store_si512(dst, v);
  }
  static W Weights(int32_t w) { return _mm512_set1_epi32(w); }
  static V Set1(int32_t v) { return _mm512_set1_epi32(v); }
  static V Load(const int32_t* p) { return _mm512_load_si512(p); }
  static void Store(int32_t* p, V v) { _mm512_store_si512(p, v); }
  static V Dot(V acc, const int32_t* tile, const W& w) { return _mm512_dpbusd_epi32(acc, _mm512_load_si512(tile), w); }
  static void Requantize(V acc, int32_t m, int shift, const Int8Quant& q, int8_t* dst) {
    const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    const __m512i x = _mm512_sll_epi32(acc, _mm_cvtsi32_si128(left));
    const __m512i mv = _mm512_set1_epi32(m), rnd = _mm512_set1_epi64(int64_t(1) << 30);
    const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, mv), rnd), 31);
    const __m512i odd =
        _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), mv), rnd), 31);
    const __m512i y = _mm512_mask_blend_epi32(__mmask16(0xAAAA), even, _mm512_slli_epi64(odd, 32));
    const int32_t mask = int32_t((uint32_t(1) << right) - 1);
    const __m512i rem = _mm512_and_si512(y, _mm512_set1_epi32(mask));
    const __m512i thr = _mm512_sub_epi32(_mm512_set1_epi32(mask >> 1), _mm512_srai_epi32(y, 31));
    const __m512i ys = _mm512_sra_epi32(y, _mm_cvtsi32_si128(right));
    __m512i r = _mm512_mask_add_epi32(ys, _mm512_cmpgt_epi32_mask(rem, thr), ys, _mm512_set1_epi32(1));
    r = _mm512_add_epi32(r, _mm512_set1_epi32(q.zp_out));
    r = _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(q.act_min)), _mm512_set1_epi32(q.act_max));
    _mm_store_si128(reinterpret_cast<__m128i*>(dst), _mm512_cvtepi32_epi8(r));
  }
  static void WriteStage(const int8_t* stage, int o_stride, int O, int cols, int8_t* out_row) {
    int8_x86::WriteStage(stage, o_stride, O, cols, out_row);
  }
};

}  // namespace

void Int8ConvRowsAvx512Vnni(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0,
                            int oy1, void* scratch, size_t scratch_bytes) {
  int8_impl::ConvRows<Avx512Vnni>(p, input, output, n, oy0, oy1, scratch, scratch_bytes);
}

size_t Int8ConvScratchAvx512Vnni(const Int8ConvKernelParams& p, int rows) {
  return int8_impl::ScratchBytes<Avx512Vnni>(p, rows);
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
