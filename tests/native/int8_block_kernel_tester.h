// Fluent testers of the int8 channel-block kernels (sparse 1x1 and pattern
// depthwise), in the style of int8_kernel_tester.h:
//
//   Int8PointwiseTester().height(7).width(9).channels(37).filters(21).keep(0.28)
//       .zeros(Int8Zeros::kBlock).Test(Int8Variant::kAvx512Vnni);
//   Int8DepthwiseTester().height(9).width(9).channels(40).stride(2).block_taps(4)
//       .Test(Int8Variant::kAvx2);
//
// Each packs random pruned int8 weights with the delegate's packing (the kept
// table or masks from the delegate's weight checks), runs the variant over
// split ranges (pixels or rows per call), and requires BIT-EXACT agreement
// with the scalar kernel (which reads the pack's per-channel form) and with a
// direct convolution of the dense weights (int64 sums, padded taps skipped)
// followed by the op's TFLite requantisation. Failures print the case, the number of
// differing outputs and the largest difference.
#ifndef PATTERNLITE_TESTS_NATIVE_INT8_BLOCK_KERNEL_TESTER_H_
#define PATTERNLITE_TESTS_NATIVE_INT8_BLOCK_KERNEL_TESTER_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "delegate/kernels/block_int8_kernels.h"
#include "delegate/kernels/requantize.h"
#include "delegate/packing/block_pack_int8.h"
#include "delegate/runtime/weight_checks.h"
#include "tests/native/int8_kernel_tester.h"

namespace patternlite {
namespace testing {

// How pointwise zeros fall: kBlock, a block of 16 filters keeps the same
// random inputs (the converter's structure); kQuad, it keeps whole aligned
// quads of inputs (kept inputs grouped in fours); kScattered, each weight on
// its own (exact, but no block skips much).
enum class Int8Zeros { kBlock, kQuad, kScattered };

// What both testers share: quantisation, activation, the two figures.
template <class Self>
class Int8BlockTesterBase {
 public:
  Self& batch(int v) { batch_ = v; return self(); }
  Self& height(int v) { height_ = v; return self(); }
  Self& width(int v) { width_ = v; return self(); }
  Self& channels(int v) { channels_ = v; return self(); }
  Self& stride(int v) { stride_h_ = stride_w_ = v; return self(); }
  Self& stride_h(int v) { stride_h_ = v; return self(); }
  Self& stride_w(int v) { stride_w_ = v; return self(); }
  Self& activation(Int8Activation v) { activation_ = v; return self(); }
  Self& keep(double v) { keep_ = v; return self(); }
  Self& input_zero_point(int v) { zp_in_ = v; return self(); }
  Self& output_zero_point(int v) { zp_out_ = v; return self(); }
  Self& input_scale(float v) { s_in_ = v; return self(); }
  Self& output_scale(float v) { s_out_ = v; return self(); }
  Self& filter_scales(float lo, float hi) { s_w_lo_ = lo; s_w_hi_ = hi; return self(); }
  Self& bias_range(int32_t v) { bias_range_ = v; return self(); }
  Self& seed(uint32_t v) { seed_ = v; return self(); }

 protected:
  Self& self() { return static_cast<Self&>(*this); }
  struct Diff {
    size_t count = 0;
    int max = 0;
  };
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
  Int8Quant Quant() const {
    Int8Quant q;
    q.zp_in = zp_in_;
    q.zp_out = zp_out_;
    Int8ActivationRange(activation_, s_out_, zp_out_, &q.act_min, &q.act_max);
    return q;
  }
  void Draw(std::mt19937& rng, int channels, std::vector<int32_t>* bias, std::vector<float>* s_w,
            std::vector<int8_t>* x) const {
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    bias->resize(size_t(channels));
    std::uniform_int_distribution<int32_t> b(-bias_range_, bias_range_);
    for (int32_t& v : *bias) v = b(rng);
    s_w->resize(size_t(channels));
    for (float& s : *s_w) s = float(s_w_lo_ * std::pow(double(s_w_hi_) / s_w_lo_, uniform(rng)));
    x->resize(size_t(batch_) * height_ * width_ * channels_);
    std::uniform_int_distribution<int> byte(-128, 127);
    for (int8_t& v : *x) v = int8_t(byte(rng));
  }
  static int8_t Weight(std::mt19937& rng) {
    int v = int(rng() % 255) - 127;
    if (v == 0) v = 1;  // a kept weight stays non-zero (the kept set is read off the non-zeros)
    if (rng() % 16 == 0) v = rng() % 2 ? 127 : -128;  // the extremes
    return int8_t(v);
  }
  bool Report(const char* kind, Int8Variant v, const std::string& extra, const std::vector<int8_t>& direct,
              const std::vector<int8_t>& scalar, const std::vector<int8_t>& out) const {
    const Diff vd = Compare(direct, out), vs = Compare(scalar, out), sd = Compare(direct, scalar);
    if (vd.count == 0 && vs.count == 0 && sd.count == 0) return true;
    std::printf("FAIL int8 %s %s: batch=%d height=%d width=%d channels=%d stride=%dx%d act=%s keep=%.2f zp_in=%d "
                "zp_out=%d s_in=%g s_out=%g s_w=[%g,%g] seed=%u %s: %zu outputs differ from direct (max %d), %zu "
                "from scalar (max %d); scalar vs direct %zu (max %d) of %zu\n",
                kind, Int8VariantName(v), batch_, height_, width_, channels_, stride_h_, stride_w_,
                Int8Name(activation_), keep_, zp_in_, zp_out_, s_in_, s_out_, s_w_lo_, s_w_hi_, seed_, extra.c_str(),
                vd.count, vd.max, vs.count, vs.max, sd.count, sd.max, out.size());
    return false;
  }

  int batch_ = 1, height_ = 5, width_ = 5, channels_ = 8;
  int stride_h_ = 1, stride_w_ = 1;
  Int8Activation activation_ = Int8Activation::kNone;
  double keep_ = 0.5;
  int zp_in_ = -3, zp_out_ = 5;
  float s_in_ = 0.05f, s_out_ = 0.2f, s_w_lo_ = 0.002f, s_w_hi_ = 0.02f;
  int32_t bias_range_ = 20000;
  uint32_t seed_ = 1;
};

class Int8PointwiseTester : public Int8BlockTesterBase<Int8PointwiseTester> {
 public:
  Int8PointwiseTester& filters(int v) { filters_ = v; return *this; }
  Int8PointwiseTester& zeros(Int8Zeros v) { zeros_ = v; return *this; }
  // Output pixels per kernel call (0: the whole batch in one call).
  Int8PointwiseTester& pixels_per_call(int v) { pixels_per_call_ = v; return *this; }

  bool Test(Int8Variant variant) const {
    ConvGeometry g;
    g.batch = batch_;
    g.in_h = height_;
    g.in_w = width_;
    g.in_c = channels_;
    g.out_c = filters_;
    g.stride_h = stride_h_;
    g.stride_w = stride_w_;
    g.out_h = (height_ - 1) / stride_h_ + 1;  // a 1x1 conv: SAME and VALID agree
    g.out_w = (width_ - 1) / stride_w_ + 1;
    std::mt19937 rng(seed_);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const int O = filters_, I = channels_;
    std::vector<int8_t> w(size_t(O) * I, 0);
    for (int o0 = 0; o0 < O; o0 += kBlock) {
      const int o1 = std::min(O, o0 + kBlock);
      std::vector<uint8_t> block_keeps(static_cast<size_t>(I));
      for (int i = 0; i < I; ++i) {
        block_keeps[size_t(i)] = zeros_ == Int8Zeros::kQuad ? (i % 4 == 0 ? uniform(rng) < keep_ : block_keeps[size_t(i - i % 4)])
                                                            : uniform(rng) < keep_;
      }
      for (int o = o0; o < o1; ++o) {
        for (int i = 0; i < I; ++i) {
          const bool on = zeros_ == Int8Zeros::kScattered ? uniform(rng) < keep_ : block_keeps[size_t(i)] != 0;
          if (on) w[size_t(o) * I + i] = Weight(rng);
        }
      }
    }
    std::vector<int32_t> bias;
    std::vector<float> s_w;
    std::vector<int8_t> x;
    Draw(rng, O, &bias, &s_w, &x);
    const Int8Quant quant = Quant();
    const std::vector<float> wf(w.begin(), w.end());
    std::vector<uint8_t> kept;
    std::string reason;
    PackedPointwiseInt8 packed;
    const Int8ConvQuantization q{s_in_, zp_in_, s_w.data(), s_out_};
    if (!AssignPointwise(wf.data(), O, I, nullptr, &kept, &reason) ||
        !PackPointwiseInt8(w.data(), O, I, kept, bias.data(), q, &packed, &reason)) {
      std::printf("FAIL int8 pointwise: packing refused: %s\n", reason.c_str());
      return false;
    }
    const PointwiseInt8Params params = MakeParams(g, quant, packed);
    // Direct: dense weights, int64 sums.
    const int64_t pixels = int64_t(g.batch) * g.out_h * g.out_w;
    std::vector<int8_t> direct(size_t(pixels) * O);
    for (int64_t p = 0; p < pixels; ++p) {
      const int64_t n = p / (int64_t(g.out_h) * g.out_w), oy = p / g.out_w % g.out_h, ox = p % g.out_w;
      const int8_t* px = &x[size_t(((n * g.in_h + oy * stride_h_) * g.in_w + ox * stride_w_) * I)];
      for (int o = 0; o < O; ++o) {
        int64_t acc = bias[size_t(o)];
        for (int i = 0; i < I; ++i) acc += int64_t(w[size_t(o) * I + i]) * (int64_t(px[i]) - zp_in_);
        direct[size_t(p) * O + o] = requant::RequantizeConv2D(int32_t(acc), packed.multiplier[size_t(o)],
                                                              packed.shift[size_t(o)], zp_out_, quant.act_min,
                                                              quant.act_max);
      }
    }
    const auto run = [&](PointwiseInt8Fn fn, int64_t per) {
      std::vector<int8_t> y(direct.size(), int8_t(0x5A));
      // The input in a buffer of exactly its size, so that a read past the end faults under ASan.
      const std::vector<int8_t> in(x);
      for (int64_t p0 = 0; p0 < pixels; p0 += per) fn(params, in.data(), y.data(), p0, std::min(pixels, p0 + per));
      return y;
    };
    const std::vector<int8_t> scalar = run(PointwiseInt8Scalar, pixels);
    const std::vector<int8_t> out =
        run(Int8BlockKernelsFor(variant).pointwise, pixels_per_call_ > 0 ? pixels_per_call_ : pixels);
    const char* zname = zeros_ == Int8Zeros::kBlock ? "block" : zeros_ == Int8Zeros::kQuad ? "quad" : "scattered";
    return Report("pointwise", Int8BlockKernelsFor(variant).variant,
                  "filters=" + std::to_string(O) + " zeros=" + zname + " pixels_per_call=" +
                      std::to_string(pixels_per_call_),
                  direct, scalar, out);
  }

 private:
  int filters_ = 16;
  Int8Zeros zeros_ = Int8Zeros::kBlock;
  int pixels_per_call_ = 0;
};

class Int8DepthwiseTester : public Int8BlockTesterBase<Int8DepthwiseTester> {
 public:
  Int8DepthwiseTester& padding(Int8Padding v) { padding_ = v; return *this; }
  // Taps of each block's one pattern (0: every channel its own random mask).
  Int8DepthwiseTester& block_taps(int v) { block_taps_ = v; return *this; }
  Int8DepthwiseTester& rows_per_call(int v) { rows_per_call_ = v; return *this; }

  bool Test(Int8Variant variant) const {
    ConvGeometry g;
    g.batch = batch_;
    g.in_h = height_;
    g.in_w = width_;
    g.in_c = g.out_c = channels_;
    g.stride_h = stride_h_;
    g.stride_w = stride_w_;
    if (!OutputSize(height_, stride_h_, &g.out_h, &g.pad_top) || !OutputSize(width_, stride_w_, &g.out_w, &g.pad_left)) {
      std::printf("FAIL int8 depthwise: the case has no output\n");
      return false;
    }
    std::mt19937 rng(seed_);
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const int C = channels_;
    const auto random_mask = [&](int taps) {
      uint16_t m = 0;
      while (__builtin_popcount(m) < taps) m |= uint16_t(1u << (rng() % 9));
      return m;
    };
    std::vector<int8_t> w(size_t(9) * C, 0);  // [1, 3, 3, C]
    for (int c0 = 0; c0 < C; c0 += kBlock) {
      const uint16_t block_mask = random_mask(block_taps_ > 0 ? block_taps_ : 4);
      for (int c = c0; c < std::min(C, c0 + kBlock); ++c) {
        if (uniform(rng) >= keep_) continue;  // a pruned channel
        const uint16_t m = block_taps_ > 0 ? block_mask : random_mask(1 + int(rng() % 9));
        for (int t = 0; t < 9; ++t) {
          if ((m >> t) & 1) w[size_t(t) * C + c] = Weight(rng);
        }
      }
    }
    std::vector<int32_t> bias;
    std::vector<float> s_w;
    std::vector<int8_t> x;
    Draw(rng, C, &bias, &s_w, &x);
    const Int8Quant quant = Quant();
    const std::vector<float> wf(w.begin(), w.end());
    std::vector<uint16_t> masks;
    std::string reason;
    PackedDepthwiseInt8 packed;
    const Int8ConvQuantization q{s_in_, zp_in_, s_w.data(), s_out_};
    if (!AssignDepthwise(wf.data(), C, nullptr, {}, &masks, &reason) ||
        !PackDepthwiseInt8(w.data(), C, masks, bias.data(), q, &packed, &reason)) {
      std::printf("FAIL int8 depthwise: packing refused: %s\n", reason.c_str());
      return false;
    }
    const DepthwiseInt8Params params = MakeParams(g, quant, packed);
    std::vector<int8_t> direct(size_t(g.batch) * g.out_h * g.out_w * C);
    for (int n = 0; n < g.batch; ++n) {
      for (int oy = 0; oy < g.out_h; ++oy) {
        for (int ox = 0; ox < g.out_w; ++ox) {
          for (int c = 0; c < C; ++c) {
            int64_t acc = bias[size_t(c)];
            for (int t = 0; t < 9; ++t) {
              const int iy = oy * stride_h_ - g.pad_top + t / 3, ix = ox * stride_w_ - g.pad_left + t % 3;
              if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
              acc += int64_t(w[size_t(t) * C + c]) *
                     (int64_t(x[((size_t(n) * g.in_h + iy) * g.in_w + ix) * C + c]) - zp_in_);
            }
            direct[((size_t(n) * g.out_h + oy) * g.out_w + ox) * C + c] = requant::RequantizeDepthwiseConv2D(
                int32_t(acc), packed.multiplier[size_t(c)], packed.shift[size_t(c)], zp_out_, quant.act_min,
                quant.act_max, c, C);
          }
        }
      }
    }
    const auto run = [&](DepthwiseInt8Fn fn, int rows) {
      std::vector<int8_t> y(direct.size(), int8_t(0x5A));
      const std::vector<int8_t> in(x);
      for (int n = 0; n < g.batch; ++n) {
        for (int oy0 = 0; oy0 < g.out_h; oy0 += rows) fn(params, in.data(), y.data(), n, oy0, std::min(g.out_h, oy0 + rows));
      }
      return y;
    };
    const std::vector<int8_t> scalar = run(DepthwiseInt8Scalar, g.out_h);
    const std::vector<int8_t> out =
        run(Int8BlockKernelsFor(variant).depthwise, rows_per_call_ > 0 ? rows_per_call_ : g.out_h);
    return Report("depthwise", Int8BlockKernelsFor(variant).variant,
                  std::string(padding_ == Int8Padding::kSame ? "SAME" : "VALID") + " block_taps=" +
                      std::to_string(block_taps_) + " rows_per_call=" + std::to_string(rows_per_call_),
                  direct, scalar, out);
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

  Int8Padding padding_ = Int8Padding::kSame;
  int block_taps_ = 4;
  int rows_per_call_ = 0;
};

}  // namespace testing
}  // namespace patternlite

#endif  // PATTERNLITE_TESTS_NATIVE_INT8_BLOCK_KERNEL_TESTER_H_
