// Fluent tester of the int8 3x3 pattern-conv kernels, in the style of
// kernel_tester.h:
//
//   Int8PatternConvTester().height(9).width(9).channels(37).filters(21).stride(2).keep(0.5)
//       .input_zero_point(-128).Test(Int8Variant::kAvx512Vnni);
//
// It packs random pattern-pruned int8 weights with the delegate's int8
// packing, runs the variant's kernel over a thread-like split of the output
// rows (each call with scratch of exactly the size asked for, filled with
// garbage), and requires BIT-EXACT agreement with two oracles: the scalar
// kernel (which reads the pack's filter-major form) and a direct int8
// convolution of the dense OHWI weights (int64 accumulation, padded taps at
// the input zero point) followed by TFLite's CONV_2D requantisation. On failure it
// prints the case, the number of differing outputs and the largest difference.
#ifndef PATTERNLITE_TESTS_NATIVE_INT8_KERNEL_TESTER_H_
#define PATTERNLITE_TESTS_NATIVE_INT8_KERNEL_TESTER_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "delegate/kernels/conv_int8_kernel.h"
#include "delegate/kernels/requantize.h"
#include "delegate/packing/pattern_pack_int8.h"
#include "delegate/runtime/weight_checks.h"

namespace patternlite {
namespace testing {

enum class Int8Padding { kSame, kValid };
enum class Int8Activation { kNone, kRelu, kReluN1To1, kRelu6 };

inline const char* Int8Name(Int8Activation a) {
  switch (a) {
    case Int8Activation::kNone: return "NONE";
    case Int8Activation::kRelu: return "RELU";
    case Int8Activation::kReluN1To1: return "RELU_N1_TO_1";
    default: return "RELU6";
  }
}

// TFLite's CalculateActivationRangeQuantized for an int8 output.
inline void Int8ActivationRange(Int8Activation a, float scale, int32_t zp, int32_t* lo, int32_t* hi) {
  const auto quantize = [&](float f) { return zp + int32_t(std::round(f / scale)); };
  *lo = -128;
  *hi = 127;
  switch (a) {
    case Int8Activation::kNone: break;
    case Int8Activation::kRelu: *lo = std::max(*lo, quantize(0.f)); break;
    case Int8Activation::kRelu6:
      *lo = std::max(*lo, quantize(0.f));
      *hi = std::min(*hi, quantize(6.f));
      break;
    case Int8Activation::kReluN1To1:
      *lo = std::max(*lo, quantize(-1.f));
      *hi = std::min(*hi, quantize(1.f));
      break;
  }
}

class Int8PatternConvTester {
 public:
  Int8PatternConvTester& batch(int v) { batch_ = v; return *this; }
  Int8PatternConvTester& height(int v) { height_ = v; return *this; }
  Int8PatternConvTester& width(int v) { width_ = v; return *this; }
  Int8PatternConvTester& channels(int v) { channels_ = v; return *this; }
  Int8PatternConvTester& filters(int v) { filters_ = v; return *this; }
  Int8PatternConvTester& stride(int v) { stride_h_ = stride_w_ = v; return *this; }
  Int8PatternConvTester& stride_h(int v) { stride_h_ = v; return *this; }
  Int8PatternConvTester& stride_w(int v) { stride_w_ = v; return *this; }
  Int8PatternConvTester& padding(Int8Padding v) { padding_ = v; return *this; }
  Int8PatternConvTester& activation(Int8Activation v) { activation_ = v; return *this; }
  Int8PatternConvTester& keep(double v) { keep_ = v; return *this; }
  // How many distinct patterns the weights draw from (126: every 4-of-9 mask).
  Int8PatternConvTester& patterns(int v) { patterns_ = v; return *this; }
  Int8PatternConvTester& input_zero_point(int v) { zp_in_ = v; return *this; }
  Int8PatternConvTester& output_zero_point(int v) { zp_out_ = v; return *this; }
  Int8PatternConvTester& input_scale(float v) { s_in_ = v; return *this; }
  Int8PatternConvTester& output_scale(float v) { s_out_ = v; return *this; }
  // Per-channel filter scales are drawn log-uniformly from [lo, hi].
  Int8PatternConvTester& filter_scales(float lo, float hi) { s_w_lo_ = lo; s_w_hi_ = hi; return *this; }
  // |bias| bound (TFLite's bias is int32 at scale s_in * s_w).
  Int8PatternConvTester& bias_range(int32_t v) { bias_range_ = v; return *this; }
  Int8PatternConvTester& rows_per_call(int v) { rows_per_call_ = v; return *this; }
  Int8PatternConvTester& chunk_slots(int v) { chunk_slots_ = v; return *this; }
  Int8PatternConvTester& seed(uint32_t v) { seed_ = v; return *this; }
  // Blocks of 16 filters keep the same input channels, each through one
  // pattern (the converter's `shared` connectivity), with some int8 weights 0
  // (so that a file without metadata gives some kernels another fitting
  // pattern). Always on for the shared-pattern kernel, which runs only packs
  // that have the shared form.
  Int8PatternConvTester& shared(bool v) { shared_ = v; return *this; }

  // Outputs that differ and the largest difference (the tests' two figures).
  struct Diff {
    size_t count = 0;
    int max = 0;
  };

  bool Test(Int8Variant variant) const {
    ConvGeometry g;
    g.batch = batch_;
    g.in_h = height_;
    g.in_w = width_;
    g.in_c = channels_;
    g.out_c = filters_;
    g.stride_h = stride_h_;
    g.stride_w = stride_w_;
    if (!OutputSize(height_, stride_h_, &g.out_h, &g.pad_top) || !OutputSize(width_, stride_w_, &g.out_w, &g.pad_left)) {
      std::printf("FAIL int8 conv: the case has no output\n");
      return false;
    }
    std::mt19937 rng(seed_);
    const int O = filters_, C = channels_;
    // A library of `patterns_` distinct 4-tap masks.
    std::vector<uint16_t> all;
    for (uint16_t m = 0; m < 512; ++m) {
      if (__builtin_popcount(m) == 4) all.push_back(m);
    }
    std::shuffle(all.begin(), all.end(), rng);
    all.resize(std::max(1, std::min<int>(patterns_, int(all.size()))));
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::uniform_int_distribution<int> weight(-127, 127);
    std::vector<int8_t> ohwi(size_t(O) * 9 * C, 0);
    const bool shared = shared_ || variant == Int8Variant::kAvx512VnniSharedPatterns;
    constexpr int kBlock = 16;
    std::vector<char> block_keeps(size_t((O + kBlock - 1) / kBlock) * C);
    std::vector<uint16_t> block_masks(block_keeps.size());
    for (size_t i = 0; i < block_keeps.size(); ++i) {
      block_keeps[i] = uniform(rng) < keep_;
      block_masks[i] = all[rng() % all.size()];
    }
    for (int o = 0; o < O; ++o) {
      for (int c = 0; c < C; ++c) {
        const size_t bc = size_t(o / kBlock) * C + c;
        if (shared ? !block_keeps[bc] : uniform(rng) >= keep_) continue;
        const uint16_t m = shared ? block_masks[bc] : all[rng() % all.size()];
        for (int t = 0; t < 9; ++t) {
          if (!((m >> t) & 1)) continue;
          int v = weight(rng);
          // Keep the drawn pattern (packing infers it from the non-zeros),
          // except for some shared-pattern weights.
          if (v == 0 || (shared && rng() % 24 == 0)) v = shared && rng() % 2 ? 0 : 1;
          if (rng() % 16 == 0) v = rng() % 2 ? 127 : -127;  // the extremes
          ohwi[(size_t(o) * 9 + t) * C + c] = int8_t(v);
        }
      }
    }
    std::vector<int32_t> bias(O);
    std::uniform_int_distribution<int32_t> b(-bias_range_, bias_range_);
    for (int32_t& v : bias) v = b(rng);
    std::vector<float> s_w(O);
    for (float& s : s_w) s = float(s_w_lo_ * std::pow(double(s_w_hi_) / s_w_lo_, uniform(rng)));
    std::vector<int8_t> x(size_t(batch_) * height_ * width_ * C);
    std::uniform_int_distribution<int> byte(-128, 127);
    for (int8_t& v : x) v = int8_t(byte(rng));

    Int8Quant quant;
    quant.zp_in = zp_in_;
    quant.zp_out = zp_out_;
    Int8ActivationRange(activation_, s_out_, zp_out_, &quant.act_min, &quant.act_max);

    std::vector<uint16_t> masks;
    std::string reason;
    PackedConvInt8 packed;
    Int8ConvQuantization q{s_in_, zp_in_, s_w.data(), s_out_};
    if (!AssignKernelMasksInt8(ohwi.data(), O, C, nullptr, {}, &masks, &reason) ||
        !PackPatternConvInt8(ohwi.data(), O, C, masks.data(), bias.data(), q, chunk_slots_, &packed, &reason)) {
      std::printf("FAIL int8 conv: packing refused: %s\n", reason.c_str());
      return false;
    }
    if (variant == Int8Variant::kAvx512VnniSharedPatterns && packed.sp_block_entries.empty()) {
      std::printf("FAIL int8 conv: the shared-pattern pack was not built (seed=%u)\n", seed_);
      return false;
    }
    const Int8ConvKernelParams params = MakeParams(g, quant, packed);

    const std::vector<int8_t> direct = Direct(g, quant, x, ohwi, bias, packed);
    const std::vector<int8_t> scalar = Run(Int8KernelFor(Int8Variant::kScalar), params, x, g.out_h);
    const Int8ConvKernel& kernel = Int8KernelFor(variant);
    const std::vector<int8_t> out = Run(kernel, params, x, rows_per_call_ > 0 ? rows_per_call_ : g.out_h);
    const Diff vs_direct = Compare(direct, out), vs_scalar = Compare(scalar, out);
    const Diff scalar_vs_direct = Compare(direct, scalar);
    if (vs_direct.count == 0 && vs_scalar.count == 0 && scalar_vs_direct.count == 0) return true;
    std::printf("FAIL int8 conv %s: batch=%d height=%d width=%d channels=%d filters=%d stride=%dx%d %s act=%s "
                "keep=%.2f patterns=%d zp_in=%d zp_out=%d s_in=%g s_out=%g s_w=[%g,%g] rows_per_call=%d "
                "chunk_slots=%d seed=%u: %zu outputs differ from direct (max %d), %zu from scalar (max %d); "
                "scalar vs direct %zu (max %d) of %zu\n",
                Int8VariantName(kernel.variant), batch_, height_, width_, channels_, filters_, stride_h_, stride_w_,
                padding_ == Int8Padding::kSame ? "SAME" : "VALID", Int8Name(activation_), keep_, patterns_, zp_in_,
                zp_out_, s_in_, s_out_, s_w_lo_, s_w_hi_, rows_per_call_, chunk_slots_, seed_, vs_direct.count,
                vs_direct.max, vs_scalar.count, vs_scalar.max, scalar_vs_direct.count, scalar_vs_direct.max,
                out.size());
    return false;
  }

 private:
  bool OutputSize(int in, int stride, int* out, int* pad) const {
    if (padding_ == Int8Padding::kSame) {
      *out = (in + stride - 1) / stride;
      *pad = std::max((*out - 1) * stride + 3 - in, 0) / 2;
    } else {
      *out = (in + stride - 3) / stride;
      *pad = 0;
    }
    return *out > 0;
  }

  static Diff Compare(const std::vector<int8_t>& a, const std::vector<int8_t>& b) {
    Diff d;
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      const int e = std::abs(int(a[i]) - int(b[i]));
      d.count += e != 0;
      d.max = std::max(d.max, e);
    }
    if (a.size() != b.size()) d.count += 1;
    return d;
  }

  // The direct oracle: dense weights, int64 sums, TFLite's requantisation.
  static std::vector<int8_t> Direct(const ConvGeometry& g, const Int8Quant& q, const std::vector<int8_t>& x,
                                    const std::vector<int8_t>& ohwi, const std::vector<int32_t>& bias,
                                    const PackedConvInt8& packed) {
    std::vector<int8_t> y(size_t(g.batch) * g.out_h * g.out_w * g.out_c);
    for (int n = 0; n < g.batch; ++n) {
      for (int oy = 0; oy < g.out_h; ++oy) {
        for (int ox = 0; ox < g.out_w; ++ox) {
          for (int o = 0; o < g.out_c; ++o) {
            int64_t acc = bias[o];
            for (int t = 0; t < 9; ++t) {
              const int iy = oy * g.stride_h - g.pad_top + t / 3, ix = ox * g.stride_w - g.pad_left + t % 3;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              const int8_t* px = &x[((size_t(n) * g.in_h + iy) * g.in_w + ix) * g.in_c];
              const int8_t* wt = &ohwi[(size_t(o) * 9 + t) * g.in_c];
              for (int c = 0; c < g.in_c; ++c) acc += int64_t(wt[c]) * (int64_t(px[c]) - q.zp_in);
            }
            y[((size_t(n) * g.out_h + oy) * g.out_w + ox) * g.out_c + o] = requant::RequantizeConv2D(
                int32_t(acc), packed.multiplier[o], packed.shift[o], q.zp_out, q.act_min, q.act_max);
          }
        }
      }
    }
    return y;
  }

  // Every image in row ranges of `rows`, each call with exact garbage-filled scratch.
  static std::vector<int8_t> Run(const Int8ConvKernel& k, const Int8ConvKernelParams& p, const std::vector<int8_t>& x,
                                 int rows) {
    const ConvGeometry& g = p.geometry;
    std::vector<int8_t> y(size_t(g.batch) * g.out_h * g.out_w * g.out_c, int8_t(0x5A));
    for (int n = 0; n < g.batch; ++n) {
      for (int oy0 = 0; oy0 < g.out_h; oy0 += rows) {
        const int oy1 = std::min(g.out_h, oy0 + rows);
        const size_t bytes = k.scratch_bytes(p, oy1 - oy0);
        struct Free {
          void operator()(void* v) const { std::free(v); }
        };
        std::unique_ptr<void, Free> scratch;
        if (bytes > 0) {
          scratch.reset(std::aligned_alloc(kScratchAlign, (bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign));
          std::memset(scratch.get(), 0xA5, bytes);
        }
        k.rows(p, x.data(), y.data(), n, oy0, oy1, scratch.get(), bytes);
      }
    }
    return y;
  }

  int batch_ = 1, height_ = 5, width_ = 5, channels_ = 4, filters_ = 8;
  int stride_h_ = 1, stride_w_ = 1;
  Int8Padding padding_ = Int8Padding::kSame;
  Int8Activation activation_ = Int8Activation::kNone;
  double keep_ = 0.5;
  int patterns_ = 8;
  bool shared_ = false;
  int zp_in_ = -3, zp_out_ = 5;
  float s_in_ = 0.05f, s_out_ = 0.2f, s_w_lo_ = 0.002f, s_w_hi_ = 0.02f;
  int32_t bias_range_ = 20000;
  int rows_per_call_ = 0;
  int chunk_slots_ = kInt8DefaultChunkSlots;
  uint32_t seed_ = 1;
};

}  // namespace testing
}  // namespace patternlite

#endif  // PATTERNLITE_TESTS_NATIVE_INT8_KERNEL_TESTER_H_
