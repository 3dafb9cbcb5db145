// AVX2 instantiation of the int8 channel-block kernels (block_int8_simd_impl.h),
// for CPUs without VNNI: 8 int32 lanes, two vectors per block. A pointwise
// quad is exact without vpmaddubsw (whose int16 sums saturate): the input
// dword and the weight dwords are split into their even and odd bytes as
// sign-extended int16 pairs, and two vpmaddwd sum the 4 products. The input
// stays signed (the packed bias corrects by -zp_in * sum(w)). Compiled with
// the AVX2 flags; called after dispatch checked avx2.
#include <immintrin.h>

#include <cstdint>

#include "delegate/kernels/block_int8_kernels.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "delegate/kernels/block_int8_simd_impl.h"
#include "delegate/kernels/block_int8_x86.h"

namespace patternlite {
namespace {

struct Traits : block_int8_x86::Lanes8 {
  static constexpr bool kSignedInput = true;
  static constexpr bool kLaneQuant = false;  // requantises through StoreBlock
  struct Lane {};
  struct W {
    __m256i lo, hi;  // weights (0, 2) and (1, 3) as int16 pairs
  };
  using X = W;  // input bytes (0, 2) and (1, 3) as int16 pairs
  static X Split(__m256i d) { return {_mm256_srai_epi16(_mm256_slli_epi16(d, 8), 8), _mm256_srai_epi16(d, 8)}; }
  static W Weights(const int32_t* w) { return Split(block_int8_x86::Load8(w)); }
  static X Input(int32_t d) { return Split(_mm256_set1_epi32(d)); }
  static V Dot(V acc, const X& x, const W& w) {
    return _mm256_add_epi32(acc, _mm256_add_epi32(_mm256_madd_epi16(x.lo, w.lo), _mm256_madd_epi16(x.hi, w.hi)));
  }
};

}  // namespace

void PointwiseInt8Avx2(const PointwiseInt8Params& p, const int8_t* input, int8_t* output, int64_t p0, int64_t p1) {
  block_int8_impl::PointwiseRange<Traits>(p, input, output, p0, p1);
}

void DepthwiseInt8Avx2(const DepthwiseInt8Params& p, const int8_t* input, int8_t* output, int n, int oy0, int oy1) {
  block_int8_impl::DepthwiseRows<Traits>(p, input, output, n, oy0, oy1);
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
