// NEON instantiation of the pattern-conv kernel (4 floats per vector), for
// arm64 phones. Built only on aarch64 (see CMakeLists.txt); NEON is part of
// the arm64 baseline, so it needs no run-time check.
#include <arm_neon.h>

#include "delegate/kernels/conv_simd_impl.h"

namespace patternlite {
namespace {

struct Neon {
  using V = float32x4_t;
  static constexpr int kLanes = 4;
  static V Zero() { return vdupq_n_f32(0.0f); }
  static V Broadcast(float x) { return vdupq_n_f32(x); }
  static V Load(const float* p) { return vld1q_f32(p); }
  static void Store(float* p, V v) { vst1q_f32(p, v); }
  static V Fma(V a, V b, V c) { return vfmaq_f32(c, a, b); }
};

}  // namespace

void ConvRowsNeon(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n,
                  int oy0, int oy1, Workspace* ws) {
  simd_impl::ConvRows<Neon>(g, w, input, output, n, oy0, oy1, ws);
}

}  // namespace patternlite
