// AVX-VNNI instantiation of the int8 pattern-conv kernel: the 256-bit VEX
// vpdpbusd of CPUs with avx_vnni but no AVX-512 (and of AVX-512 CPUs when the
// isa option asks for avx2). 8 int32 lanes. Compiled with the AVX2 flags plus
// avxvnni through the target pragma below; called after dispatch checked it.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "delegate/kernels/conv_int8_kernel.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,avxvnni"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx2,fma,avxvnni")
#endif

#include "delegate/kernels/conv_int8_simd_impl.h"
#include "delegate/kernels/conv_int8_x86.h"

namespace patternlite {
namespace {

struct AvxVnni {
  static constexpr int kLanes = 8, kRows = 4, kParts = 1;
  static constexpr bool kSignedInput = false;
  using V = __m256i;
  using W = __m256i;
  static void Build(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3, int32_t* dst) {
    _mm256_store_si256(reinterpret_cast<__m256i*>(dst), int8_x86::Interleave8(p0, p1, p2, p3));
  }
  static W Weights(int32_t w) { return _mm256_set1_epi32(w); }
  static V Set1(int32_t v) { return _mm256_set1_epi32(v); }
  static V Load(const int32_t* p) { return _mm256_load_si256(reinterpret_cast<const __m256i*>(p)); }
  static void Store(int32_t* p, V v) { _mm256_store_si256(reinterpret_cast<__m256i*>(p), v); }
  static V Dot(V acc, const int32_t* tile, const W& w) { return _mm256_dpbusd_avx_epi32(acc, Load(tile), w); }
  static void Requantize(V acc, int32_t m, int shift, const Int8Quant& q, int8_t* dst) {
    int8_x86::Requantize8(acc, m, shift, q, dst);
  }
  static void WriteStage(const int8_t* stage, int o_stride, int O, int cols, int8_t* out_row) {
    int8_x86::WriteStage(stage, o_stride, O, cols, out_row);
  }
};

}  // namespace

void Int8ConvRowsAvxVnni(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0,
                         int oy1, void* scratch, size_t scratch_bytes) {
  int8_impl::ConvRows<AvxVnni>(p, input, output, n, oy0, oy1, scratch, scratch_bytes);
}

size_t Int8ConvScratchAvxVnni(const Int8ConvKernelParams& p, int rows) {
  return int8_impl::ScratchBytes<AvxVnni>(p, rows);
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
