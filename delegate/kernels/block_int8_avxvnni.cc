// AVX-VNNI instantiation of the int8 channel-block kernels
// (block_int8_simd_impl.h): the 256-bit VEX vpdpbusd, 8 int32 lanes, two
// vectors per block. vpdpbusd is u8 x s8: the input dword is offset to
// x ^ 0x80 = x + 128 and the packed bias corrects by -(zp_in + 128) * sum(w).
// avxvnni is enabled for this file by the target pragma; dispatch calls it
// only when the CPU has it.
#include <immintrin.h>

#include <cstdint>

#include "delegate/kernels/block_int8_kernels.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avxvnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,avxvnni")
#endif

#include "delegate/kernels/block_int8_simd_impl.h"
#include "delegate/kernels/block_int8_x86.h"

namespace patternlite {
namespace {

struct Traits : block_int8_x86::Lanes8 {
  static constexpr bool kSignedInput = false;
  static constexpr bool kLaneQuant = false;  // requantises through StoreBlock
  struct Lane {};
  using W = __m256i;
  using X = __m256i;
  static W Weights(const int32_t* w) { return block_int8_x86::Load8(w); }
  static X Input(int32_t d) { return _mm256_set1_epi32(int32_t(uint32_t(d) ^ 0x80808080u)); }
  static V Dot(V acc, X x, W w) { return _mm256_dpbusd_avx_epi32(acc, x, w); }
};

}  // namespace

void PointwiseInt8AvxVnni(const PointwiseInt8Params& p, const int8_t* input, int8_t* output, int64_t p0, int64_t p1) {
  block_int8_impl::PointwiseRange<Traits>(p, input, output, p0, p1);
}

void DepthwiseInt8AvxVnni(const DepthwiseInt8Params& p, const int8_t* input, int8_t* output, int n, int oy0, int oy1) {
  block_int8_impl::DepthwiseRows<Traits>(p, input, output, n, oy0, oy1);
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
