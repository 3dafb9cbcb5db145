// Scalar int8 channel-block kernels: the oracle of the int8 block tests and
// the fallback. They read the per-channel form of the packs
// (packing/block_pack_int8.h), never the blocks, compute sum w * (x - zp_in)
// directly with a bounds check per tap, and requantise with requantize.h.
#include "delegate/kernels/block_int8_kernels.h"
#include "delegate/kernels/requantize.h"

namespace patternlite {

void PointwiseInt8Scalar(const PointwiseInt8Params& params, const int8_t* input, int8_t* output, int64_t p0,
                         int64_t p1) {
  const ConvGeometry& g = params.geometry;
  const Int8Quant& q = params.quant;
  const PackedPointwiseInt8View& w = params.weights;
  const int64_t per_image = int64_t(g.out_h) * g.out_w;
  for (int64_t p = p0; p < p1; ++p) {
    const int64_t n = p / per_image, oy = p % per_image / g.out_w, ox = p % g.out_w;
    const int8_t* x = input + ((n * g.in_h + oy * g.stride_h) * g.in_w + ox * g.stride_w) * g.in_c;
    int8_t* y = output + p * g.out_c;
    for (int o = 0; o < g.out_c; ++o) {
      int32_t acc = 0;
      for (int k = w.filter_begin[o]; k < w.filter_begin[o + 1]; ++k) {
        acc += int32_t(w.filter_weight[k]) * (int32_t(x[w.filter_channel[k]]) - q.zp_in);
      }
      acc = int32_t(uint32_t(acc) + uint32_t(w.bias[o]));
      y[o] = requant::RequantizeConv2D(acc, w.multiplier[o], w.shift[o], q.zp_out, q.act_min, q.act_max);
    }
  }
}

void DepthwiseInt8Scalar(const DepthwiseInt8Params& params, const int8_t* input, int8_t* output, int n, int oy0,
                         int oy1) {
  const ConvGeometry& g = params.geometry;
  const Int8Quant& q = params.quant;
  const PackedDepthwiseInt8View& w = params.weights;
  const int C = g.in_c;
  const int8_t* in_n = input + size_t(n) * g.in_h * g.in_w * C;
  int8_t* out_n = output + size_t(n) * g.out_h * g.out_w * C;
  for (int oy = oy0; oy < oy1; ++oy) {
    for (int ox = 0; ox < g.out_w; ++ox) {
      int8_t* y = out_n + (size_t(oy) * g.out_w + ox) * C;
      for (int c = 0; c < C; ++c) {
        int32_t acc = 0;
        for (int t = 0; t < contract::kKernelTaps; ++t) {
          if (!((w.channel_mask[c] >> t) & 1)) continue;
          const int iy = oy * g.stride_h - g.pad_top + t / contract::kKernelSize;
          const int ix = ox * g.stride_w - g.pad_left + t % contract::kKernelSize;
          if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
          acc += int32_t(w.channel_weights[size_t(c) * contract::kKernelTaps + t]) *
                 (int32_t(in_n[(size_t(iy) * g.in_w + ix) * C + c]) - q.zp_in);
        }
        acc = int32_t(uint32_t(acc) + uint32_t(w.channel_bias[c]));
        y[c] = requant::RequantizeDepthwiseConv2D(acc, w.multiplier[c], w.shift[c], q.zp_out, q.act_min, q.act_max, c,
                                                  C);
      }
    }
  }
}

const Int8BlockKernels& Int8BlockKernelsFor(Int8Variant v) {
  static const Int8BlockKernels kScalar{Int8Variant::kScalar, PointwiseInt8Scalar, DepthwiseInt8Scalar};
#if defined(PL_HAVE_X86)
  static const Int8BlockKernels kAvx2{Int8Variant::kAvx2, PointwiseInt8Avx2, DepthwiseInt8Avx2};
  static const Int8BlockKernels kAvxVnni{Int8Variant::kAvxVnni, PointwiseInt8AvxVnni, DepthwiseInt8AvxVnni};
  static const Int8BlockKernels kAvx512Vnni{Int8Variant::kAvx512Vnni, PointwiseInt8Avx512Vnni,
                                            DepthwiseInt8Avx512Vnni};
#endif
#if defined(PL_HAVE_NEON)
  static const Int8BlockKernels kNeonDot{Int8Variant::kNeonDot, PointwiseInt8NeonDot, DepthwiseInt8NeonDot};
#endif
  if (!Int8VariantAvailable(v)) return kScalar;
  switch (v) {
#if defined(PL_HAVE_X86)
    case Int8Variant::kAvx2: return kAvx2;
    case Int8Variant::kAvxVnni: return kAvxVnni;
    case Int8Variant::kAvx512Vnni: return kAvx512Vnni;
#endif
#if defined(PL_HAVE_NEON)
    case Int8Variant::kNeonDot: return kNeonDot;
#endif
    default: return kScalar;
  }
}

}  // namespace patternlite
