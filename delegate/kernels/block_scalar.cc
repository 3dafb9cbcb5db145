// Scalar reference kernels of the channel-block kinds: the tests' oracle and
// the fallback. They read the per-channel form of the packs (block_pack.h),
// never the blocks, and bounds-check every tap.
#include <algorithm>

#include "delegate/kernels/block_kernels.h"

namespace patternlite {

void PointwiseScalar(const PointwiseKernelParams& params, const float* input, float* output, int64_t p0,
                     int64_t p1) {
  const ConvGeometry& g = params.geometry;
  const PackedPointwiseView& w = params.weights;
  const int64_t per_image = int64_t(g.out_h) * g.out_w;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t n = p / per_image, oy = p % per_image / g.out_w, ox = p % g.out_w;
    const float* x = input + ((n * g.in_h + oy * g.stride_h) * g.in_w + ox * g.stride_w) * g.in_c;
    float* y = output + p * g.out_c;
    for (int o = 0; o < g.out_c; ++o) {
      float acc = w.bias[size_t(o)];
      for (int k = w.filter_begin[size_t(o)]; k < w.filter_begin[size_t(o) + 1]; ++k) {
        acc += w.filter_weight[size_t(k)] * x[w.filter_channel[size_t(k)]];
      }
      y[o] = std::min(std::max(acc, g.act_min), g.act_max);
    }
  }
}

void DepthwiseScalar(const DepthwiseKernelParams& params, const float* input, float* output, int n, int oy0,
                     int oy1) {
  const ConvGeometry& g = params.geometry;
  const PackedDepthwiseView& w = params.weights;
  const int C = g.in_c;
  const float* in_n = input + size_t(n) * g.in_h * g.in_w * C;
  float* out_n = output + size_t(n) * g.out_h * g.out_w * C;
  for (int oy = oy0; oy < oy1; ++oy) {
    for (int ox = 0; ox < g.out_w; ++ox) {
      float* y = out_n + (size_t(oy) * g.out_w + ox) * C;
      for (int c = 0; c < C; ++c) {
        float acc = w.bias[size_t(c)];
        for (int t = 0; t < contract::kKernelTaps; ++t) {
          if (!((w.channel_mask[size_t(c)] >> t) & 1)) continue;
          const int iy = oy * g.stride_h - g.pad_top + t / contract::kKernelSize;
          const int ix = ox * g.stride_w - g.pad_left + t % contract::kKernelSize;
          if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
          acc += w.channel_weights[size_t(c) * contract::kKernelTaps + t] * in_n[(size_t(iy) * g.in_w + ix) * C + c];
        }
        y[c] = std::min(std::max(acc, g.act_min), g.act_max);
      }
    }
  }
}

}  // namespace patternlite
