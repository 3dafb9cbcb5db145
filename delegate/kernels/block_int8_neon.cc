// NEON sdot (ARMv8.2 dotprod) instantiation of the int8 channel-block kernels
// (block_int8_simd_impl.h): 4 int32 lanes, four vectors per block. A
// pointwise quad is one sdot (s8 x s8) per vector against the input dword
// duplicated across the register: the input stays signed and the packed
// bias corrects by -zp_in * sum(w). Requantisation uses sqrdmulh (gemmlowp's
// SaturatingRoundingDoublingHighMul exactly). dotprod is enabled for this
// file by the target pragma; dispatch calls it only with HWCAP_ASIMDDP.
#include <cstdint>

#include "delegate/kernels/block_int8_kernels.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("dotprod"))), apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("arch=armv8.2-a+dotprod")
#endif

#include <arm_neon.h>

#include "delegate/kernels/block_int8_simd_impl.h"

namespace patternlite {
namespace {

struct Traits {
  static constexpr int kLanes = 4, kPixels = 6;
  static constexpr bool kSignedInput = true;
  static constexpr bool kLaneQuant = false;  // requantises through StoreBlock
  struct Lane {};
  using V = int32x4_t;
  using W = int8x16_t;
  using X = int8x16_t;
  static W Weights(const int32_t* w) { return vreinterpretq_s8_s32(vld1q_s32(w)); }
  static X Input(int32_t d) { return vreinterpretq_s8_s32(vdupq_n_s32(d)); }
  static V Dot(V acc, X x, W w) { return vdotq_s32(acc, w, x); }
  static V Load(const int32_t* p) { return vld1q_s32(p); }
  static V Set1(int32_t v) { return vdupq_n_s32(v); }
  static V Widen(const int8_t* p) {
    int32_t d;
    __builtin_memcpy(&d, p, 4);
    const int16x8_t h = vmovl_s8(vreinterpret_s8_s32(vdup_n_s32(d)));
    return vmovl_s16(vget_low_s16(h));
  }
  static V Sub(V a, V b) { return vsubq_s32(a, b); }
  static V MulAdd(V acc, V x, V w) { return vmlaq_s32(acc, x, w); }
  // requantize.h's Requantize per lane; the tie rule is per lane (an `away`
  // lane adds 1 to the threshold for negatives), so no vrshl here.
  static void Requantize(V acc, const int32_t* m, const int32_t* l, const int32_t* r, const int32_t* mk,
                         const int32_t* aw, const Int8Quant& q, int8_t* dst) {
    const int32x4_t y = vqrdmulhq_s32(vshlq_s32(acc, vld1q_s32(l)), vld1q_s32(m));
    const int32x4_t mask = vld1q_s32(mk);
    const int32x4_t rem = vandq_s32(y, mask);
    const int32x4_t thr = vsubq_s32(vshrq_n_s32(mask, 1), vandq_s32(vshrq_n_s32(y, 31), vld1q_s32(aw)));
    const int32x4_t ys = vshlq_s32(y, vnegq_s32(vld1q_s32(r)));
    int32x4_t o = vsubq_s32(ys, vreinterpretq_s32_u32(vcgtq_s32(rem, thr)));
    o = vaddq_s32(o, vdupq_n_s32(q.zp_out));
    o = vminq_s32(vmaxq_s32(o, vdupq_n_s32(q.act_min)), vdupq_n_s32(q.act_max));
    const int16x4_t o16 = vmovn_s32(o);
    const int8x8_t o8 = vmovn_s16(vcombine_s16(o16, o16));
    vst1_lane_s32(reinterpret_cast<int32_t*>(dst), vreinterpret_s32_s8(o8), 0);
  }
};

}  // namespace

void PointwiseInt8NeonDot(const PointwiseInt8Params& p, const int8_t* input, int8_t* output, int64_t p0,
                          int64_t p1) {
  block_int8_impl::PointwiseRange<Traits>(p, input, output, p0, p1);
}

void DepthwiseInt8NeonDot(const DepthwiseInt8Params& p, const int8_t* input, int8_t* output, int n, int oy0,
                          int oy1) {
  block_int8_impl::DepthwiseRows<Traits>(p, input, output, n, oy0, oy1);
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
