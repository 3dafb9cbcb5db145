// NEON sdot (ARMv8.2 dotprod) instantiation of the int8 pattern-conv kernel:
// 4 int32 lanes, one sdot (s8 x s8, 4 bytes per lane) per kept kernel and
// vector. sdot is signed on both sides, so the input bytes are fed as they
// are (no offset) and the packed bias corrects by -zp_in * sum(weights).
// dotprod is enabled for this file alone by the target pragma below (the
// build lists carry no per-file flags); dispatch calls it only when the CPU
// reports HWCAP_ASIMDDP.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "delegate/kernels/conv_int8_kernel.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif

#include <arm_neon.h>

#include "delegate/kernels/conv_int8_simd_impl.h"

namespace patternlite {
namespace {

struct NeonDot {
  static constexpr int kLanes = 4, kRows = 4, kParts = 1;
  static constexpr bool kSignedInput = true;
  using V = int32x4_t;
  using W = int8x16_t;
  static void Build(const uint8_t* p0, const uint8_t* p1, const uint8_t* p2, const uint8_t* p3, int32_t* dst) {
    const uint8x8_t a = vzip1_u8(vld1_u8(p0), vld1_u8(p1)), b = vzip1_u8(vld1_u8(p2), vld1_u8(p3));
    const uint16x4_t a16 = vreinterpret_u16_u8(a), b16 = vreinterpret_u16_u8(b);
    const uint16x8_t d = vcombine_u16(vzip1_u16(a16, b16), vzip2_u16(a16, b16));
    vst1q_s32(dst, vreinterpretq_s32_u16(d));
  }
  static W Weights(int32_t w) { return vreinterpretq_s8_s32(vdupq_n_s32(w)); }
  static V Set1(int32_t v) { return vdupq_n_s32(v); }
  static V Load(const int32_t* p) { return vld1q_s32(p); }
  static void Store(int32_t* p, V v) { vst1q_s32(p, v); }
  static V Dot(V acc, const int32_t* tile, const W& w) {
    return vdotq_s32(acc, vreinterpretq_s8_s32(vld1q_s32(tile)), w);
  }
  static void Requantize(V acc, int32_t m, int shift, const Int8Quant& q, int8_t* dst) {
    const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
    // vqrdmulh is gemmlowp's SaturatingRoundingDoublingHighMul exactly.
    const int32x4_t y = vqrdmulhq_s32(vshlq_s32(acc, vdupq_n_s32(left)), vdupq_n_s32(m));
    // vrshl by -right is the rounding right shift with CONV_2D's ties (up), as ruy's.
    int32x4_t r = vrshlq_s32(y, vdupq_n_s32(-right));
    r = vaddq_s32(r, vdupq_n_s32(q.zp_out));
    r = vminq_s32(vmaxq_s32(r, vdupq_n_s32(q.act_min)), vdupq_n_s32(q.act_max));
    const int16x4_t r16 = vmovn_s32(r);
    const int8x8_t r8 = vmovn_s16(vcombine_s16(r16, r16));
    vst1_lane_s32(reinterpret_cast<int32_t*>(dst), vreinterpret_s32_s8(r8), 0);
  }
  static void WriteStage(const int8_t* stage, int o_stride, int O, int cols, int8_t* out_row) {
    int8_impl::WriteStageScalar(stage, o_stride, O, 0, cols, out_row);
  }
};

}  // namespace

void Int8ConvRowsNeonDot(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0,
                         int oy1, void* scratch, size_t scratch_bytes) {
  int8_impl::ConvRows<NeonDot>(p, input, output, n, oy0, oy1, scratch, scratch_bytes);
}

size_t Int8ConvScratchNeonDot(const Int8ConvKernelParams& p, int rows) {
  return int8_impl::ScratchBytes<NeonDot>(p, rows);
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
