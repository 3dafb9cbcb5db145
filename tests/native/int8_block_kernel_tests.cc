// The int8 1x1 and depthwise sweep: every int8 variant this build has and
// this CPU runs (scalar, AVX2, AVX-VNNI, AVX-512 VNNI, NEON sdot), through
// Int8PointwiseTester and Int8DepthwiseTester, bit-exact against the scalar
// kernels and a direct convolution with TFLite's requantisation. Edge sizes
// first (channels and filters 1..70 around the 16-lane blocks and the input
// quads, widths around the pixel tiles, both strides, SAME/VALID), then
// activations x keep x structure, zero points, extreme scales, call splits
// and random cases.
//
//   int8_block_kernel_tests                  # every available variant
//   int8_block_kernel_tests avx2 neondot ... # only these
//
// Exits 1 on any failure, 2 on a bad argument.
#include <cstdio>
#include <random>
#include <vector>

#include "tests/native/int8_block_kernel_tester.h"
#include "tests/native/int8_variant_main.h"

namespace {

using patternlite::Int8Variant;
using patternlite::testing::Int8Activation;
using patternlite::testing::Int8DepthwiseTester;
using patternlite::testing::Int8Padding;
using patternlite::testing::Int8PointwiseTester;
using patternlite::testing::Int8Zeros;

struct Counts {
  int run = 0, failed = 0;
  void Add(bool ok) {
    ++run;
    failed += !ok;
  }
};

constexpr Int8Activation kActivations[] = {Int8Activation::kNone, Int8Activation::kRelu,
                                           Int8Activation::kReluN1To1, Int8Activation::kRelu6};
constexpr double kKeeps[] = {1.0, 0.5, 0.28};
constexpr Int8Padding kPaddings[] = {Int8Padding::kSame, Int8Padding::kValid};
constexpr Int8Zeros kZeros[] = {Int8Zeros::kBlock, Int8Zeros::kQuad, Int8Zeros::kScattered};

// Extreme scales: multipliers >= 1 (left shifts), tiny ones (right shifts of
// 31 and the underflow to 0), and large biases. Then powers of two (2^-6,
// 2^-5): many accumulators land exactly on ties of the final shift, where its
// rounding decides (up for 1x1; for depthwise up in whole eights of channels,
// away from zero in the rest: the depthwise cases' 35 channels have both).
struct Scales {
  float s_in, s_out, w_lo, w_hi;
};
constexpr Scales kScales[] = {{1.0f, 1e-3f, 0.5f, 2.0f},         {0.5f, 0.01f, 0.01f, 0.1f},
                              {1e-4f, 10.f, 1e-5f, 1e-4f},       {1e-6f, 100.f, 1e-6f, 1e-6f},
                              {0.02f, 0.02f, 1e-3f, 1.0f},       {3.0f, 0.1f, 0.1f, 0.3f},
                              {0.5f, 0.25f, 1 / 128.f, 1 / 128.f}, {1.0f, 2.0f, 1 / 16.f, 1 / 16.f}};

void SweepPointwise(Int8Variant v, Counts* c) {
  uint32_t seed = 2000;
  // Widths around the pixel tiles (4, 6, 12), both strides.
  for (int w = 1; w <= 30; ++w) {
    for (int s = 1; s <= 2; ++s) {
      c->Add(Int8PointwiseTester().height(1 + w % 3).width(w).channels(7).filters(19).stride(s).seed(++seed).Test(v));
    }
  }
  // Channels 1..70 (the input quads and the tail quad), filters 1..70 (blocks).
  for (int ch = 1; ch <= 70; ++ch) {
    c->Add(Int8PointwiseTester().height(3).width(5).channels(ch).filters(24).stride(1 + ch % 2)
               .zeros(kZeros[ch % 3]).seed(++seed).Test(v));
  }
  for (int f = 1; f <= 70; f += 2) {
    c->Add(Int8PointwiseTester().height(3).width(5).channels(13).filters(f).seed(++seed).Test(v));
  }
  // Pixel splits over a batch.
  for (int per : {1, 2, 5, 11, 12, 13, 70}) {
    c->Add(Int8PointwiseTester().batch(2).height(5).width(7).channels(9).filters(20).pixels_per_call(per)
               .seed(++seed).Test(v));
  }
  // Activations x keep x structure x stride.
  for (Int8Activation a : kActivations) {
    for (double k : kKeeps) {
      for (Int8Zeros z : kZeros) {
        for (int s = 1; s <= 2; ++s) {
          c->Add(Int8PointwiseTester().height(6).width(9).channels(37).filters(33).stride(s).activation(a).keep(k)
                     .zeros(z).seed(++seed).Test(v));
        }
      }
    }
  }
  // Zero points at the ends of the range and in between.
  for (int zi : {-128, -127, -1, 0, 1, 64, 127}) {
    for (int zo : {-128, 0, 127}) {
      c->Add(Int8PointwiseTester().height(4).width(9).channels(21).filters(18).input_zero_point(zi)
                 .output_zero_point(zo).activation(zo == 0 ? Int8Activation::kRelu : Int8Activation::kNone)
                 .seed(++seed).Test(v));
    }
  }
  for (const Scales& s : kScales) {
    for (int32_t br : {0, 20000, 1 << 28}) {
      c->Add(Int8PointwiseTester().height(4).width(7).channels(30).filters(21).input_scale(s.s_in)
                 .output_scale(s.s_out).filter_scales(s.w_lo, s.w_hi).bias_range(br).seed(++seed).Test(v));
    }
  }
  // Mixed strides and layer-like shapes.
  c->Add(Int8PointwiseTester().height(5).width(6).channels(5).filters(4).stride_h(2).stride_w(1).seed(++seed).Test(v));
  c->Add(Int8PointwiseTester().height(6).width(5).channels(5).filters(4).stride_h(1).stride_w(2).seed(++seed).Test(v));
  c->Add(Int8PointwiseTester().height(12).width(12).channels(600).filters(40).keep(0.28).seed(++seed).Test(v));
  c->Add(Int8PointwiseTester().height(8).width(9).channels(301).filters(70).pixels_per_call(29).seed(++seed).Test(v));
  c->Add(Int8PointwiseTester().height(7).width(7).channels(512).filters(64).keep(0.28).zeros(Int8Zeros::kQuad)
             .seed(++seed).Test(v));
  // More pixels than one chunk of the AVX-512 kernel's input copy holds
  // (128 KiB: 12 groups of 16 pixels at 600 channels, 4 at 2048), with a
  // last group of fewer than 16 pixels.
  c->Add(Int8PointwiseTester().height(19).width(21).channels(600).filters(24).keep(0.28).zeros(Int8Zeros::kQuad)
             .seed(++seed).Test(v));
  c->Add(Int8PointwiseTester().batch(2).height(9).width(9).channels(2048).filters(17).keep(0.1).stride(2)
             .seed(++seed).Test(v));
  std::mt19937 rng(11);
  const auto pick = [&](int lo, int hi) { return lo + int(rng() % unsigned(hi - lo + 1)); };
  for (int i = 0; i < 60; ++i) {
    c->Add(Int8PointwiseTester().batch(pick(1, 2)).height(pick(1, 12)).width(pick(1, 20)).channels(pick(1, 70))
               .filters(pick(1, 70)).stride_h(pick(1, 2)).stride_w(pick(1, 2)).activation(kActivations[rng() % 4])
               .keep(kKeeps[rng() % 3]).zeros(kZeros[rng() % 3]).input_zero_point(pick(-128, 127))
               .output_zero_point(pick(-128, 127)).pixels_per_call(pick(0, 9)).seed(++seed).Test(v));
  }
}

void SweepDepthwise(Int8Variant v, Counts* c) {
  uint32_t seed = 3000;
  // Tiny images (SAME only: VALID needs 3x3).
  for (int h = 1; h <= 3; ++h) {
    for (int w = 1; w <= 3; ++w) c->Add(Int8DepthwiseTester().height(h).width(w).channels(19).seed(++seed).Test(v));
  }
  // Widths, both strides and paddings.
  for (int w : {3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 64, 70}) {
    for (int s = 1; s <= 2; ++s) {
      for (Int8Padding p : kPaddings) {
        c->Add(Int8DepthwiseTester().height(5).width(w).channels(19).stride(s).padding(p).seed(++seed).Test(v));
      }
    }
  }
  // Channels 1..70 (whole and partial blocks).
  for (int ch = 1; ch <= 70; ++ch) {
    c->Add(Int8DepthwiseTester().height(6).width(7).channels(ch).stride(1 + ch % 2).seed(++seed).Test(v));
  }
  // Taps per block 1..9, and per-channel masks (0).
  for (int taps = 0; taps <= 9; ++taps) {
    for (int s = 1; s <= 2; ++s) {
      c->Add(Int8DepthwiseTester().height(7).width(21).channels(48).stride(s).block_taps(taps).seed(++seed).Test(v));
    }
  }
  // Row splits.
  for (int h = 3; h <= 10; ++h) {
    for (int rows : {1, 2, 3}) {
      c->Add(Int8DepthwiseTester().height(h).width(6).channels(16).stride(1 + h % 2).rows_per_call(rows)
                 .seed(++seed).Test(v));
    }
  }
  // Activations x keep x padding x stride.
  for (Int8Activation a : kActivations) {
    for (double k : kKeeps) {
      for (Int8Padding p : kPaddings) {
        for (int s = 1; s <= 2; ++s) {
          c->Add(Int8DepthwiseTester().height(9).width(10).channels(37).stride(s).padding(p).activation(a).keep(k)
                     .seed(++seed).Test(v));
        }
      }
    }
  }
  for (int zi : {-128, -127, -1, 0, 1, 64, 127}) {
    for (int zo : {-128, 0, 127}) {
      c->Add(Int8DepthwiseTester().height(7).width(9).channels(21).input_zero_point(zi).output_zero_point(zo)
                 .activation(zo == 0 ? Int8Activation::kRelu : Int8Activation::kNone).seed(++seed).Test(v));
    }
  }
  for (const Scales& s : kScales) {
    for (int32_t br : {0, 20000, 1 << 28}) {
      c->Add(Int8DepthwiseTester().height(6).width(9).channels(35).input_scale(s.s_in).output_scale(s.s_out)
                 .filter_scales(s.w_lo, s.w_hi).bias_range(br).seed(++seed).Test(v));
    }
  }
  c->Add(Int8DepthwiseTester().height(9).width(8).channels(20).stride_h(1).stride_w(2).seed(++seed).Test(v));
  c->Add(Int8DepthwiseTester().height(8).width(9).channels(20).stride_h(2).stride_w(1).seed(++seed).Test(v));
  c->Add(Int8DepthwiseTester().batch(3).height(7).width(8).channels(33).rows_per_call(3).seed(++seed).Test(v));
  c->Add(Int8DepthwiseTester().height(28).width(28).channels(96).stride(2).seed(++seed).Test(v));
  // Images above the AVX-512 kernel's padded-copy size (32x32 output
  // pixels), whose border pixels check each tap's bounds: both paddings and
  // strides, a partial block, split rows, zero points at the extremes.
  for (Int8Padding p : kPaddings) {
    for (int s = 1; s <= 2; ++s) {
      c->Add(Int8DepthwiseTester().height(36 * s).width(40 * s).channels(37).stride(s).padding(p)
                 .block_taps(s == 1 ? 0 : 5).input_zero_point(s == 1 ? -128 : 127).rows_per_call(s == 1 ? 0 : 7)
                 .activation(Int8Activation::kRelu6).seed(++seed).Test(v));
    }
  }
  std::mt19937 rng(13);
  const auto pick = [&](int lo, int hi) { return lo + int(rng() % unsigned(hi - lo + 1)); };
  for (int i = 0; i < 60; ++i) {
    const Int8Padding p = kPaddings[rng() % 2];
    const int lo = p == Int8Padding::kValid ? 3 : 1;
    c->Add(Int8DepthwiseTester().batch(pick(1, 2)).height(pick(lo, 16)).width(pick(lo, 24)).channels(pick(1, 70))
               .stride_h(pick(1, 2)).stride_w(pick(1, 2)).padding(p).activation(kActivations[rng() % 4])
               .keep(kKeeps[rng() % 3]).block_taps(pick(0, 9)).input_zero_point(pick(-128, 127))
               .output_zero_point(pick(-128, 127)).rows_per_call(pick(0, 4)).seed(++seed).Test(v));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return patternlite::Int8VariantMain(
      argc, argv, "int8_block_kernel_tests",
      {Int8Variant::kScalar, Int8Variant::kAvx2, Int8Variant::kAvxVnni, Int8Variant::kAvx512Vnni,
       Int8Variant::kNeonDot},
      [](Int8Variant v) {
        Counts pw, dw;
        SweepPointwise(v, &pw);
        SweepDepthwise(v, &dw);
        std::printf("int8_block_kernel_tests: %-10s pointwise %4d cases, %d failed; depthwise %4d cases, %d failed\n",
                    patternlite::Int8VariantName(v), pw.run, pw.failed, dw.run, dw.failed);
        return pw.failed + dw.failed;
      });
}
