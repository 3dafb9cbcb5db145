// Fluent testers of the microkernels, in the style of XNNPACK's:
//
//   PatternConvTester().height(9).width(9).channels(37).filters(21).stride(2).keep(0.5).Test(Isa::kAvx512);
//   PointwiseTester().width(13).channels(70).filters(17).zeros(Zeros::kBlock).Test(isa);
//   DepthwiseTester().height(6).width(33).channels(37).stride(2).padding(Padding::kValid).Test(isa);
//
// Each packs random weights with the delegate's packing, runs the ISA's
// kernel from the dispatch table (KernelsFor) over a thread-like split of the
// output, and checks it against two oracles: the scalar kernel (which reads
// the packs' other, per-filter form) and a plain double-precision direct
// convolution of the dense weights. The error is the largest difference
// scaled by the largest |reference| (as tests/native/lifecycle_check.cc
// measures it), and must stay within 1e-4 for fp32.
//
// The 3x3 kernel's scratch is allocated at exactly the size its ConvScratchFn
// asks for and filled with NaN first, so that a sanitizer build catches a
// kernel that writes past it and any kernel that reads scratch it did not
// write shows up as a wrong output. Outputs start as NaN too: a pixel the
// kernels skip fails the check.
#ifndef PATTERNLITE_TESTS_NATIVE_KERNEL_TESTER_H_
#define PATTERNLITE_TESTS_NATIVE_KERNEL_TESTER_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
#endif

#include "delegate/contract_generated.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/packing/block_pack.h"
#include "delegate/packing/pattern_pack.h"

namespace patternlite {
namespace testing {

constexpr double kTolerance = 1e-4;  // fp32, scaled by the output's largest magnitude

enum class Padding { kSame, kValid };
// TFLite's fused activations, as the clamps the kernels apply.
enum class Activation { kNone, kRelu, kReluN1To1, kRelu6 };
// Where the pruned weights lie: independently at random, or in whole channel
// blocks (a block of kBlock filters shares its kept inputs / its pattern),
// the structure the converter produces.
enum class Zeros { kScattered, kBlock };

inline const char* Name(Padding p) { return p == Padding::kSame ? "SAME" : "VALID"; }
inline const char* Name(Activation a) {
  switch (a) {
    case Activation::kNone: return "NONE";
    case Activation::kRelu: return "RELU";
    case Activation::kReluN1To1: return "RELU_N1_TO_1";
    default: return "RELU6";
  }
}
inline const char* Name(Zeros z) { return z == Zeros::kScattered ? "scattered" : "block"; }

// Largest |a - b| relative to the largest |ref| (NaN anywhere: infinite).
inline double ScaledError(const std::vector<float>& ref, const std::vector<float>& out) {
  if (ref.size() != out.size()) return INFINITY;
  double scale = 1e-6, err = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    scale = std::max(scale, double(std::fabs(ref[i])));
    const double d = std::fabs(double(ref[i]) - double(out[i]));
    err = std::isnan(d) ? INFINITY : std::max(err, d);
  }
  return err / scale;
}

// Scratch of exactly the bytes asked for (rounded to the alignment, as
// aligned_alloc wants), NaN-filled.
class ExactScratch {
 public:
  explicit ExactScratch(size_t bytes) : bytes_(bytes) {
    if (bytes == 0) return;
    const size_t rounded = rounded_ = (bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
    data_.reset(static_cast<float*>(std::aligned_alloc(kScratchAlign, rounded)));
    if (!data_) std::abort();
    std::fill(data_.get(), data_.get() + rounded / sizeof(float), std::numeric_limits<float>::quiet_NaN());
#if defined(__SANITIZE_ADDRESS__)
    // The rounding's slack is out of bounds too.
    ASAN_POISON_MEMORY_REGION(reinterpret_cast<char*>(data_.get()) + bytes, rounded - bytes);
#endif
  }
  ~ExactScratch() {
#if defined(__SANITIZE_ADDRESS__)
    if (data_) ASAN_UNPOISON_MEMORY_REGION(data_.get(), rounded_);
#endif
  }
  ExactScratch(const ExactScratch&) = delete;
  ExactScratch& operator=(const ExactScratch&) = delete;
  void* data() const { return data_.get(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  size_t bytes_, rounded_ = 0;
};

// The setters every kind shares; Derived is the tester (CRTP), so that each
// setter returns it and the chain goes on with the kind's own setters.
template <class Derived>
class TesterBase {
 public:
  Derived& batch(int v) { batch_ = v; return self(); }
  Derived& height(int v) { height_ = v; return self(); }
  Derived& width(int v) { width_ = v; return self(); }
  Derived& channels(int v) { channels_ = v; return self(); }
  Derived& stride(int v) { stride_h_ = stride_w_ = v; return self(); }
  Derived& stride_h(int v) { stride_h_ = v; return self(); }
  Derived& stride_w(int v) { stride_w_ = v; return self(); }
  Derived& activation(Activation v) { activation_ = v; return self(); }
  // Fraction of the weights kept (kernels for the 3x3 conv, weights for the
  // 1x1 conv, taps for the depthwise conv).
  Derived& keep(double v) { keep_ = v; return self(); }
  Derived& zeros(Zeros v) { zeros_ = v; return self(); }
  Derived& seed(uint32_t v) { seed_ = v; return self(); }

 protected:
  Derived& self() { return static_cast<Derived&>(*this); }

  // The output size and leading padding of one dimension, as TFLite computes
  // them; false when the input is too small.
  static bool OutputSize(Padding padding, int in, int stride, int kernel, int* out, int* pad) {
    if (padding == Padding::kSame) {
      *out = (in + stride - 1) / stride;
      *pad = std::max((*out - 1) * stride + kernel - in, 0) / 2;
    } else {
      *out = (in + stride - kernel) / stride;
      *pad = 0;
    }
    return *out > 0;
  }

  bool MakeGeometry(Padding padding, int out_c, int kernel, ConvGeometry* g) const {
    g->batch = batch_;
    g->in_h = height_;
    g->in_w = width_;
    g->in_c = channels_;
    g->out_c = out_c;
    g->stride_h = stride_h_;
    g->stride_w = stride_w_;
    const float inf = std::numeric_limits<float>::infinity();
    switch (activation_) {
      case Activation::kNone: g->act_min = -inf; g->act_max = inf; break;
      case Activation::kRelu: g->act_min = 0; g->act_max = inf; break;
      case Activation::kReluN1To1: g->act_min = -1; g->act_max = 1; break;
      case Activation::kRelu6: g->act_min = 0; g->act_max = 6; break;
    }
    return batch_ > 0 && OutputSize(padding, height_, stride_h_, kernel, &g->out_h, &g->pad_top) &&
           OutputSize(padding, width_, stride_w_, kernel, &g->out_w, &g->pad_left);
  }

  std::vector<float> RandomInput(std::mt19937* rng) const {
    std::normal_distribution<float> normal;
    std::vector<float> x(size_t(batch_) * height_ * width_ * channels_);
    for (float& v : x) v = normal(*rng);
    return x;
  }

  // The double-precision direct convolution: `weight(o, c, t)` is the dense
  // weight of output o, input channel c, tap t (3*ky+kx of a k x k filter).
  template <class Weight>
  static std::vector<float> Direct(const ConvGeometry& g, int kernel, bool depthwise, const std::vector<float>& x,
                                   const std::vector<float>& bias, Weight weight) {
    std::vector<float> y(size_t(g.batch) * g.out_h * g.out_w * g.out_c);
    for (int n = 0; n < g.batch; ++n) {
      for (int oy = 0; oy < g.out_h; ++oy) {
        for (int ox = 0; ox < g.out_w; ++ox) {
          for (int o = 0; o < g.out_c; ++o) {
            double acc = bias[size_t(o)];
            for (int c = depthwise ? o : 0; c < (depthwise ? o + 1 : g.in_c); ++c) {
              for (int t = 0; t < kernel * kernel; ++t) {
                const int iy = oy * g.stride_h - g.pad_top + t / kernel;
                const int ix = ox * g.stride_w - g.pad_left + t % kernel;
                if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
                acc += double(weight(o, c, t)) * x[((size_t(n) * g.in_h + iy) * g.in_w + ix) * g.in_c + c];
              }
            }
            acc = std::min<double>(std::max<double>(acc, g.act_min), g.act_max);
            y[((size_t(n) * g.out_h + oy) * g.out_w + ox) * g.out_c + o] = float(acc);
          }
        }
      }
    }
    return y;
  }

  // Checks `out` of `isa` against both oracles; prints the case on failure.
  bool Check(const char* kind, Isa isa, const std::string& what, const std::vector<float>& direct,
             const std::vector<float>& scalar, const std::vector<float>& out) const {
    const double vs_direct = ScaledError(direct, out), vs_scalar = ScaledError(scalar, out);
    const double scalar_vs_direct = ScaledError(direct, scalar);
    if (vs_direct <= kTolerance && vs_scalar <= kTolerance && scalar_vs_direct <= kTolerance) return true;
    std::printf("FAIL %s %s: batch=%d height=%d width=%d channels=%d stride=%dx%d act=%s keep=%.2f zeros=%s seed=%u"
                "%s: scaled error %.3g vs direct, %.3g vs scalar (scalar vs direct %.3g)\n",
                kind, IsaName(isa), batch_, height_, width_, channels_, stride_h_, stride_w_, Name(activation_),
                keep_, Name(zeros_), seed_, what.c_str(), vs_direct, vs_scalar, scalar_vs_direct);
    return false;
  }

  int batch_ = 1, height_ = 5, width_ = 5, channels_ = 4;
  int stride_h_ = 1, stride_w_ = 1;
  Activation activation_ = Activation::kNone;
  double keep_ = 0.5;
  Zeros zeros_ = Zeros::kScattered;
  uint32_t seed_ = 1;
};

// Every 4-tap mask of the 3x3 grid (the shapes packing admits for the 3x3 conv).
inline const std::vector<uint16_t>& FourTapMasks() {
  static const std::vector<uint16_t> masks = [] {
    std::vector<uint16_t> m;
    for (uint16_t bits = 0; bits < (1u << contract::kKernelTaps); ++bits) {
      if (contract::TapCount(bits) == contract::kPatternTaps) m.push_back(bits);
    }
    return m;
  }();
  return masks;
}

// A random mask of exactly `taps` of the 9 taps.
inline uint16_t RandomMask(int taps, std::mt19937* rng) {
  int order[contract::kKernelTaps];
  for (int t = 0; t < contract::kKernelTaps; ++t) order[t] = t;
  std::shuffle(order, order + contract::kKernelTaps, *rng);
  uint16_t m = 0;
  for (int i = 0; i < taps; ++i) m = uint16_t(m | (1u << order[i]));
  return m;
}

// A 3x3 pattern-pruned CONV_2D: every kept kernel has one 4-tap pattern.
class PatternConvTester : public TesterBase<PatternConvTester> {
 public:
  PatternConvTester& filters(int v) { filters_ = v; return *this; }
  PatternConvTester& padding(Padding v) { padding_ = v; return *this; }
  // Output rows per kernel call (0: the whole image in one call), as the
  // thread split cuts them.
  PatternConvTester& rows_per_call(int v) { rows_per_call_ = v; return *this; }
  // Filters per channel-major block (0: the kernels' default for the geometry).
  PatternConvTester& filter_block(int v) { filter_block_ = v; return *this; }

  bool Test(Isa isa) const {
    ConvGeometry g;
    if (!MakeGeometry(padding_, filters_, contract::kKernelSize, &g)) {
      std::printf("FAIL conv: the case has no output (height=%d width=%d %s)\n", height_, width_, Name(padding_));
      return false;
    }
    std::mt19937 rng(seed_);
    std::normal_distribution<float> normal;
    const std::vector<float> x = RandomInput(&rng);
    const int O = filters_, C = channels_, kTaps = contract::kKernelTaps;
    // Kept kernels: each on its own, or per (block of kBlock filters, channel).
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    std::vector<uint8_t> block_keeps(size_t((O + kBlock - 1) / kBlock) * C);
    for (uint8_t& k : block_keeps) k = uniform(rng) < keep_;
    const std::vector<uint16_t>& library = FourTapMasks();
    std::vector<uint16_t> masks(size_t(O) * C, 0);
    std::vector<float> ohwi(size_t(O) * kTaps * C, 0.f), bias(static_cast<size_t>(O));
    for (int o = 0; o < O; ++o) {
      for (int c = 0; c < C; ++c) {
        const bool kept = zeros_ == Zeros::kBlock ? block_keeps[size_t(o / kBlock) * C + c] != 0 : uniform(rng) < keep_;
        if (!kept) continue;
        const uint16_t m = library[rng() % library.size()];
        masks[size_t(o) * C + c] = m;
        for (int t = 0; t < kTaps; ++t) {
          if ((m >> t) & 1) ohwi[(size_t(o) * kTaps + t) * C + c] = normal(rng);
        }
      }
    }
    for (float& b : bias) b = normal(rng);

    const KernelTable& kernels = KernelsFor(isa);
    PackedConv packed;
    PackPatternConv(ohwi.data(), O, C, masks.data(), bias.data(), &packed);
    if (kernels.lanes > 1) {
      PackChannelMajor(filter_block_ > 0 ? filter_block_ : StationaryFilterBlock(g, kernels.lanes), &packed);
    }
    const ConvKernelParams params = MakeParams(g, packed);

    const std::vector<float> direct = Direct(g, contract::kKernelSize, false, x, bias, [&](int o, int c, int t) {
      return ohwi[(size_t(o) * kTaps + t) * C + c];
    });
    const std::vector<float> scalar = Run(KernelsFor(Isa::kScalar), params, x, g.out_h);
    const std::vector<float> out = Run(kernels, params, x, rows_per_call_ > 0 ? rows_per_call_ : g.out_h);
    return Check("conv", isa, Describe(), direct, scalar, out);
  }

 private:
  std::string Describe() const {
    char buf[160];
    std::snprintf(buf, sizeof buf, " filters=%d padding=%s rows_per_call=%d filter_block=%d", filters_,
                  Name(padding_), rows_per_call_, filter_block_);
    return buf;
  }

  // Every image in row ranges of `rows`, each call with its own exact scratch.
  static std::vector<float> Run(const KernelTable& kernels, const ConvKernelParams& params,
                                const std::vector<float>& x, int rows) {
    const ConvGeometry& g = params.geometry;
    std::vector<float> y(size_t(g.batch) * g.out_h * g.out_w * g.out_c, std::numeric_limits<float>::quiet_NaN());
    for (int n = 0; n < g.batch; ++n) {
      for (int oy0 = 0; oy0 < g.out_h; oy0 += rows) {
        const int oy1 = std::min(g.out_h, oy0 + rows);
        ExactScratch scratch(kernels.conv3x3_scratch_bytes(params, oy1 - oy0));
        kernels.conv3x3(params, x.data(), y.data(), n, oy0, oy1, scratch.data(), scratch.bytes());
      }
    }
    return y;
  }

  int filters_ = 4;
  Padding padding_ = Padding::kSame;
  int rows_per_call_ = 0;
  int filter_block_ = 0;
};

// A sparse 1x1 CONV_2D (a 1x1 filter never pads).
class PointwiseTester : public TesterBase<PointwiseTester> {
 public:
  PointwiseTester& filters(int v) { filters_ = v; return *this; }
  // Output pixels per kernel call (0: the whole batch in one call).
  PointwiseTester& pixels_per_call(int v) { pixels_per_call_ = v; return *this; }

  bool Test(Isa isa) const {
    ConvGeometry g;
    if (!MakeGeometry(Padding::kValid, filters_, 1, &g)) {
      std::printf("FAIL pointwise: the case has no output\n");
      return false;
    }
    std::mt19937 rng(seed_);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const std::vector<float> x = RandomInput(&rng);
    const int O = filters_, C = channels_;
    std::vector<uint8_t> block_keeps(size_t((O + kBlock - 1) / kBlock) * C);
    for (uint8_t& k : block_keeps) k = uniform(rng) < keep_;
    std::vector<uint8_t> kept(size_t(O) * C);
    std::vector<float> filter(size_t(O) * C, 0.f), bias(static_cast<size_t>(O));
    for (int o = 0; o < O; ++o) {
      for (int c = 0; c < C; ++c) {
        const bool k = zeros_ == Zeros::kBlock ? block_keeps[size_t(o / kBlock) * C + c] != 0 : uniform(rng) < keep_;
        kept[size_t(o) * C + c] = k;
        if (k) filter[size_t(o) * C + c] = normal(rng);
      }
    }
    for (float& b : bias) b = normal(rng);
    PackedPointwise packed;
    PackPointwise(filter.data(), O, C, kept, bias.data(), &packed);
    const PointwiseKernelParams params = MakeParams(g, packed);

    const std::vector<float> direct =
        Direct(g, 1, false, x, bias, [&](int o, int c, int) { return filter[size_t(o) * C + c]; });
    const int64_t pixels = int64_t(g.batch) * g.out_h * g.out_w;
    const std::vector<float> scalar = Run(KernelsFor(Isa::kScalar), params, x, pixels);
    const std::vector<float> out = Run(KernelsFor(isa), params, x, pixels_per_call_ > 0 ? pixels_per_call_ : pixels);
    char buf[96];
    std::snprintf(buf, sizeof buf, " filters=%d pixels_per_call=%d", filters_, pixels_per_call_);
    return Check("pointwise", isa, buf, direct, scalar, out);
  }

 private:
  static std::vector<float> Run(const KernelTable& kernels, const PointwiseKernelParams& params,
                                const std::vector<float>& x, int64_t per_call) {
    const ConvGeometry& g = params.geometry;
    const int64_t pixels = int64_t(g.batch) * g.out_h * g.out_w;
    std::vector<float> y(size_t(pixels) * g.out_c, std::numeric_limits<float>::quiet_NaN());
    for (int64_t p0 = 0; p0 < pixels; p0 += per_call) {
      kernels.pointwise(params, x.data(), y.data(), p0, std::min(pixels, p0 + per_call));
    }
    return y;
  }

  int filters_ = 4;
  int pixels_per_call_ = 0;
};

// A pattern-pruned 3x3 DEPTHWISE_CONV_2D, depth multiplier 1.
class DepthwiseTester : public TesterBase<DepthwiseTester> {
 public:
  DepthwiseTester& padding(Padding v) { padding_ = v; return *this; }
  // With Zeros::kBlock: the taps each block's one pattern keeps (0: 9 * keep,
  // rounded). With Zeros::kScattered each channel keeps each tap at random.
  DepthwiseTester& block_taps(int v) { block_taps_ = v; return *this; }
  // Output rows per kernel call (0: the whole image in one call).
  DepthwiseTester& rows_per_call(int v) { rows_per_call_ = v; return *this; }

  bool Test(Isa isa) const {
    ConvGeometry g;
    if (!MakeGeometry(padding_, channels_, contract::kKernelSize, &g)) {
      std::printf("FAIL depthwise: the case has no output (height=%d width=%d %s)\n", height_, width_,
                  Name(padding_));
      return false;
    }
    std::mt19937 rng(seed_);
    std::normal_distribution<float> normal;
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const std::vector<float> x = RandomInput(&rng);
    const int C = channels_, kTaps = contract::kKernelTaps;
    const int taps = block_taps_ > 0 ? block_taps_ : int(std::lround(kTaps * keep_));
    std::vector<uint16_t> masks(size_t(C), 0);
    uint16_t block_mask = 0;
    for (int c = 0; c < C; ++c) {
      if (zeros_ == Zeros::kBlock) {
        if (c % kBlock == 0) block_mask = RandomMask(std::min(taps, kTaps), &rng);
        masks[size_t(c)] = block_mask;
      } else {
        for (int t = 0; t < kTaps; ++t) {
          if (uniform(rng) < keep_) masks[size_t(c)] = uint16_t(masks[size_t(c)] | (1u << t));
        }
      }
    }
    std::vector<float> filter(size_t(kTaps) * C, 0.f), bias(static_cast<size_t>(C));
    for (int c = 0; c < C; ++c) {
      for (int t = 0; t < kTaps; ++t) {
        if ((masks[size_t(c)] >> t) & 1) filter[size_t(t) * C + c] = normal(rng);
      }
    }
    for (float& b : bias) b = normal(rng);
    PackedDepthwise packed;
    PackDepthwise(filter.data(), C, masks, bias.data(), &packed);
    const DepthwiseKernelParams params = MakeParams(g, packed);

    const std::vector<float> direct = Direct(g, contract::kKernelSize, true, x, bias, [&](int o, int, int t) {
      return filter[size_t(t) * C + o];
    });
    const std::vector<float> scalar = Run(KernelsFor(Isa::kScalar), params, x, g.out_h);
    const std::vector<float> out = Run(KernelsFor(isa), params, x, rows_per_call_ > 0 ? rows_per_call_ : g.out_h);
    char buf[128];
    std::snprintf(buf, sizeof buf, " padding=%s block_taps=%d rows_per_call=%d", Name(padding_), block_taps_,
                  rows_per_call_);
    return Check("depthwise", isa, buf, direct, scalar, out);
  }

 private:
  static std::vector<float> Run(const KernelTable& kernels, const DepthwiseKernelParams& params,
                                const std::vector<float>& x, int rows) {
    const ConvGeometry& g = params.geometry;
    std::vector<float> y(size_t(g.batch) * g.out_h * g.out_w * g.out_c, std::numeric_limits<float>::quiet_NaN());
    for (int n = 0; n < g.batch; ++n) {
      for (int oy0 = 0; oy0 < g.out_h; oy0 += rows) {
        kernels.depthwise(params, x.data(), y.data(), n, oy0, std::min(g.out_h, oy0 + rows));
      }
    }
    return y;
  }

  Padding padding_ = Padding::kSame;
  int block_taps_ = 0;
  int rows_per_call_ = 0;
};

}  // namespace testing
}  // namespace patternlite

#endif  // PATTERNLITE_TESTS_NATIVE_KERNEL_TESTER_H_
