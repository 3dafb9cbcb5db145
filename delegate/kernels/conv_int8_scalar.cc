// Scalar int8 reference kernel: the oracle of the int8 tests and the fallback
// without a dot-product kernel. It reads the filter-major form and NHWC
// directly, with a bounds check per tap (a padded tap is x = zp_in, which
// contributes 0), and TFLite's requantisation (requantize.h). No scratch.
#include "delegate/kernels/conv_int8_kernel.h"
#include "delegate/kernels/requantize.h"

namespace patternlite {

size_t Int8ConvScratchScalar(const Int8ConvKernelParams& /*p*/, int /*rows*/) { return 0; }

void Int8ConvRowsScalar(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0, int oy1,
                        void* /*scratch*/, size_t /*scratch_bytes*/) {
  const ConvGeometry& g = p.geometry;
  const Int8Quant& q = p.quant;
  const PackedConvInt8View& w = p.weights;
  const int8_t* in_n = input + size_t(n) * g.in_h * g.in_w * g.in_c;
  int8_t* out_n = output + size_t(n) * g.out_h * g.out_w * g.out_c;
  for (int oy = oy0; oy < oy1; ++oy) {
    for (int ox = 0; ox < g.out_w; ++ox) {
      int8_t* out_px = out_n + (size_t(oy) * g.out_w + ox) * g.out_c;
      for (int f = 0; f < g.out_c; ++f) {
        const int o = w.filter_order[f];
        int32_t acc = 0;
        for (int gi = w.filter_groups[f]; gi < w.filter_groups[f + 1]; ++gi) {
          const PackedGroup& grp = w.groups[gi];
          for (int k = grp.begin; k < grp.end; ++k) {
            const int c = w.kernel_channel[k];
            for (int t = 0; t < 4; ++t) {
              const int iy = oy * g.stride_h - g.pad_top + grp.taps[t] / 3;
              const int ix = ox * g.stride_w - g.pad_left + grp.taps[t] % 3;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              acc += int32_t(w.kernel_weights[size_t(k) * 4 + t]) *
                     (int32_t(in_n[(size_t(iy) * g.in_w + ix) * g.in_c + c]) - q.zp_in);
            }
          }
        }
        acc = int32_t(uint32_t(acc) + uint32_t(w.bias[o]));
        out_px[o] = requant::RequantizeConv2D(acc, w.multiplier[o], w.shift[o], q.zp_out, q.act_min, q.act_max);
      }
    }
  }
}

}  // namespace patternlite
