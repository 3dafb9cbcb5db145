// Scalar reference kernel: the oracle of the tests, and the fallback on CPUs
// without a SIMD kernel. It reads NHWC directly and bounds-checks every tap,
// so it shares no indexing tricks with the SIMD kernels it checks. It needs
// no scratch.
#include <algorithm>

#include "delegate/kernels/conv_kernel.h"

namespace patternlite {

size_t ConvScratchScalar(const ConvKernelParams& /*p*/, int /*rows*/) { return 0; }

void ConvRowsScalar(const ConvKernelParams& p, const float* input, float* output, int n, int oy0, int oy1,
                    void* /*scratch*/, size_t /*scratch_bytes*/) {
  const ConvGeometry& g = p.geometry;
  const PackedConvView& w = p.weights;
  const float* in_n = input + size_t(n) * g.in_h * g.in_w * g.in_c;
  float* out_n = output + size_t(n) * g.out_h * g.out_w * g.out_c;
  for (int oy = oy0; oy < oy1; ++oy) {
    for (int ox = 0; ox < g.out_w; ++ox) {
      float* out_px = out_n + (size_t(oy) * g.out_w + ox) * g.out_c;
      for (int f = 0; f < g.out_c; ++f) {
        const int o = w.filter_order[f];
        float acc = w.bias[o];
        for (int gi = w.filter_groups[f]; gi < w.filter_groups[f + 1]; ++gi) {
          const PackedGroup& grp = w.groups[gi];
          for (int k = grp.begin; k < grp.end; ++k) {
            const int c = w.kernel_channel[k];
            for (int t = 0; t < contract::kPatternTaps; ++t) {
              const int iy = oy * g.stride_h - g.pad_top + grp.taps[t] / contract::kKernelSize;
              const int ix = ox * g.stride_w - g.pad_left + grp.taps[t] % contract::kKernelSize;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              acc += w.kernel_weights[size_t(k) * contract::kPatternTaps + t] *
                     in_n[(size_t(iy) * g.in_w + ix) * g.in_c + c];
            }
          }
        }
        out_px[o] = std::min(std::max(acc, g.act_min), g.act_max);
      }
    }
  }
}

}  // namespace patternlite
