// The NEON vector traits the kernel templates are instantiated with
// (conv_simd_impl.h, block_simd_impl.h). Include only from files compiled for
// this ISA.
#ifndef PATTERNLITE_DELEGATE_KERNELS_VEC_NEON_H_
#define PATTERNLITE_DELEGATE_KERNELS_VEC_NEON_H_

#include <arm_neon.h>

#include <cstring>

namespace patternlite {
namespace vec {

struct Neon {
  using V = float32x4_t;
  // Output rows per input-stationary tile, stride 1 and 2: the input tile
  // ((R-1)*S+3 rows x 3 taps) and R accumulators must fit the register file.
  static constexpr int kStationaryRows = 4, kStationaryRows2 = 3;
  // Vectors per tile of the narrow (flattened) layout: 9 taps x NV input
  // vectors stay in registers.
  static constexpr int kNarrowVectors = 2;
  static constexpr int kLanes = 4;
  static V Zero() { return vdupq_n_f32(0.0f); }
  static V Broadcast(float x) { return vdupq_n_f32(x); }
  static V Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, V v) { vst1q_f32(p, v); }
  static V Add(V a, V b) { return vaddq_f32(a, b); }
  static V Min(V a, V b) { return vminq_f32(a, b); }
  static V Max(V a, V b) { return vmaxq_f32(a, b); }
  static V Fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
  static constexpr int kTile = 4;
  // dst[j][i] = src[i][j] for a 4x4 tile.
  static void TransposeTile(const float* const src[4], float* const dst[4]) {
    const float32x4x2_t t01 = vtrnq_f32(vld1q_f32(src[0]), vld1q_f32(src[1]));
    const float32x4x2_t t23 = vtrnq_f32(vld1q_f32(src[2]), vld1q_f32(src[3]));
    vst1q_f32(dst[0], vcombine_f32(vget_low_f32(t01.val[0]), vget_low_f32(t23.val[0])));
    vst1q_f32(dst[1], vcombine_f32(vget_low_f32(t01.val[1]), vget_low_f32(t23.val[1])));
    vst1q_f32(dst[2], vcombine_f32(vget_high_f32(t01.val[0]), vget_high_f32(t23.val[0])));
    vst1q_f32(dst[3], vcombine_f32(vget_high_f32(t01.val[1]), vget_high_f32(t23.val[1])));
  }
  // The first n (< kLanes) lanes; the others read as zero / are left alone.
  static V LoadN(const float* p, int n) {
    float buf[4] = {};
    std::memcpy(buf, p, sizeof(float) * size_t(n));
    return vld1q_f32(buf);
  }
  static void StoreN(float* p, V v, int n) {
    float buf[4];
    vst1q_f32(buf, v);
    std::memcpy(p, buf, sizeof(float) * size_t(n));
  }
  // Pixels per pointwise register tile: R x 4 accumulators + 4 weights + 1 input of 32.
  static constexpr int kPointwisePixels = 6;
};

}  // namespace vec
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_VEC_NEON_H_
