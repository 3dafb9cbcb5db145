// AVX2 instantiation of the int8 pattern-conv kernel, for CPUs without VNNI:
// 8 int32 lanes. The tap dwords are split at build time into their even and
// odd bytes as int16 (u in 0..255) and a kept kernel is two vpmaddwd against
// its weights as int16 pairs: exact, unlike vpmaddubsw, whose int16 sums
// saturate. Compiled with the AVX2 flags; called after dispatch checked avx2.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "delegate/kernels/conv_int8_kernel.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif

#include "delegate/kernels/conv_int8_simd_impl.h"
#include "delegate/kernels/conv_int8_x86.h"

namespace patternlite {
namespace {

struct Avx2Int8 {
  static constexpr int kLanes = 8, kRows = 4, kParts = 2;
  static constexpr bool kSignedInput = false;
  using V = __m256i;
  struct W {
    __m256i lo, hi;  // weights (0, 2) and (1, 3) as int16 pairs
  };
  static void Build(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3, int32_t* dst) {
    const __m256i u = int8_x86::Interleave8(p0, p1, p2, p3);
    const __m256i m = _mm256_set1_epi32(0x00FF00FF);
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst), _mm256_and_si256(u, m));
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst + kLanes), _mm256_and_si256(_mm256_srli_epi32(u, 8), m));
  }
  static W Weights(int32_t w) {
    const auto pair = [](int32_t a, int32_t b) { return int32_t(uint32_t(uint16_t(int16_t(a))) | (uint32_t(uint16_t(int16_t(b))) << 16)); };
    const int32_t w0 = int8_t(w), w1 = int8_t(w >> 8), w2 = int8_t(w >> 16), w3 = int8_t(w >> 24);
    return {_mm256_set1_epi32(pair(w0, w2)), _mm256_set1_epi32(pair(w1, w3))};
  }
  static V Set1(int32_t v) { return _mm256_set1_epi32(v); }
  static V Load(const int32_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
  static void Store(int32_t* p, V v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
  static V Dot(V acc, const int32_t* tile, const W& w) {
    const __m256i lo = _mm256_madd_epi16(Load(tile), w.lo), hi = _mm256_madd_epi16(Load(tile + kLanes), w.hi);
    return _mm256_add_epi32(acc, _mm256_add_epi32(lo, hi));
  }
  static void Requantize(V acc, int32_t m, int shift, const Int8Quant& q, int8_t* dst) {
    int8_x86::Requantize8(acc, m, shift, q, dst);
  }
  static void WriteStage(const int8_t* stage, int o_stride, int O, int cols, int8_t* out_row) {
    int8_x86::WriteStage(stage, o_stride, O, cols, out_row);
  }
};

}  // namespace

void Int8ConvRowsAvx2(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0, int oy1,
                      void* scratch, size_t scratch_bytes) {
  int8_impl::ConvRows<Avx2Int8>(p, input, output, n, oy0, oy1, scratch, scratch_bytes);
}

size_t Int8ConvScratchAvx2(const Int8ConvKernelParams& p, int rows) { return int8_impl::ScratchBytes<Avx2Int8>(p, rows); }

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
