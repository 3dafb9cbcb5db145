// The int8 3x3 pattern-conv sweep: every int8 variant this build has and this
// CPU runs (scalar, AVX2, AVX-VNNI, AVX-512 VNNI, NEON sdot), through
// Int8PatternConvTester, bit-exact against the scalar kernel and a direct
// int8 convolution with TFLite's requantisation. Edge sizes first: 1x1
// images, widths around 4/8/16/32/64, channels 1..70, filters 1..70, both
// strides, SAME and VALID, every activation, keep 1.0/0.5/0.28, zero points
// at -128 and 127, extreme scales, thread splits and chunk sizes.
//
//   int8_kernel_tests                  # every available variant
//   int8_kernel_tests avx2 avxvnni ... # only these
//
// Exits 1 on any failure, 2 on a bad argument.
#include <cstdio>
#include <random>
#include <vector>

#include "tests/native/int8_kernel_tester.h"
#include "tests/native/int8_variant_main.h"

namespace {

using patternlite::Int8Variant;
using patternlite::testing::Int8Activation;
using patternlite::testing::Int8Padding;
using patternlite::testing::Int8PatternConvTester;

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

void Sweep(Int8Variant v, Counts* c) {
  uint32_t seed = 1000;
  // 1x1 and tiny images (SAME only: VALID needs 3x3).
  for (int h = 1; h <= 3; ++h) {
    for (int w = 1; w <= 3; ++w) {
      c->Add(Int8PatternConvTester().height(h).width(w).channels(5).filters(7).seed(++seed).Test(v));
    }
  }
  // Widths around the vector widths and tile edges.
  for (int w : {3, 4, 5, 7, 8, 9, 15, 16, 17, 23, 31, 32, 33, 47, 63, 64, 65, 70}) {
    for (int s = 1; s <= 2; ++s) {
      for (Int8Padding p : kPaddings) {
        c->Add(Int8PatternConvTester().height(5).width(w).channels(6).filters(19).stride(s).padding(p).seed(++seed)
                   .Test(v));
      }
    }
  }
  // Heights around the row tile (4) and thread splits.
  for (int h = 3; h <= 10; ++h) {
    for (int rows : {0, 1, 3}) {
      c->Add(Int8PatternConvTester().height(h).width(9).channels(3).filters(9).stride(1 + h % 2).rows_per_call(rows)
                 .seed(++seed).Test(v));
    }
  }
  // Channels 1..70 and filters 1..70 (the transposes' 16-blocks and remainders).
  for (int ch = 1; ch <= 70; ch += 3) {
    c->Add(Int8PatternConvTester().height(6).width(17).channels(ch).filters(17).stride(1 + ch % 2).seed(++seed)
               .Test(v));
  }
  for (int f = 1; f <= 70; f += 3) {
    c->Add(Int8PatternConvTester().height(5).width(16).channels(6).filters(f).seed(++seed).Test(v));
  }
  // Activations x keep x padding x stride, with the pattern count varied.
  for (Int8Activation a : kActivations) {
    for (double k : kKeeps) {
      for (Int8Padding p : kPaddings) {
        for (int s = 1; s <= 2; ++s) {
          c->Add(Int8PatternConvTester().height(9).width(18).channels(21).filters(23).stride(s).padding(p)
                     .activation(a).keep(k).patterns(s == 1 ? 8 : 126).seed(++seed).Test(v));
        }
      }
    }
  }
  // Zero points at the ends of the range and in between, on both sides.
  for (int zi : {-128, -127, -1, 0, 1, 64, 127}) {
    for (int zo : {-128, 0, 127}) {
      c->Add(Int8PatternConvTester().height(7).width(20).channels(13).filters(18).input_zero_point(zi)
                 .output_zero_point(zo).activation(zo == 0 ? Int8Activation::kRelu : Int8Activation::kNone)
                 .seed(++seed).Test(v));
    }
  }
  // Extreme scales: multipliers >= 1 (left shifts), tiny ones (right shifts
  // of 31 and the underflow to 0), and large biases. Then powers of two
  // (2^-6, 2^-5): many accumulators land exactly on ties of the final shift,
  // where its rounding (CONV_2D's: up) decides.
  const struct {
    float s_in, s_out, w_lo, w_hi;
  } scales[] = {{1.0f, 1e-3f, 0.5f, 2.0f},         {0.5f, 0.01f, 0.01f, 0.1f},       {1e-4f, 10.f, 1e-5f, 1e-4f},
                {1e-6f, 100.f, 1e-6f, 1e-6f},       {0.02f, 0.02f, 1e-3f, 1.0f},      {3.0f, 0.1f, 0.1f, 0.3f},
                {0.5f, 0.25f, 1 / 128.f, 1 / 128.f}, {1.0f, 2.0f, 1 / 16.f, 1 / 16.f}};
  for (const auto& s : scales) {
    for (int32_t br : {0, 20000, 1 << 28}) {
      c->Add(Int8PatternConvTester().height(6).width(19).channels(11).filters(21).input_scale(s.s_in)
                 .output_scale(s.s_out).filter_scales(s.w_lo, s.w_hi).bias_range(br).seed(++seed).Test(v));
    }
  }
  // Chunking: tiny slot budgets (many chunks, accumulators through the buffer).
  for (int slots : {1, 2, 5, 17, 64}) {
    for (double k : kKeeps) {
      c->Add(Int8PatternConvTester().height(8).width(21).channels(37).filters(29).keep(k).patterns(20)
                 .chunk_slots(slots).seed(++seed).Test(v));
    }
  }
  // Mixed strides, batches, and layer-like shapes.
  c->Add(Int8PatternConvTester().height(11).width(10).channels(9).filters(13).stride_h(1).stride_w(2).seed(++seed)
             .Test(v));
  c->Add(Int8PatternConvTester().height(10).width(11).channels(9).filters(13).stride_h(2).stride_w(1).seed(++seed)
             .Test(v));
  for (int b = 1; b <= 3; ++b) {
    c->Add(Int8PatternConvTester().batch(b).height(7).width(8).channels(5).filters(9).rows_per_call(3).seed(++seed)
               .Test(v));
  }
  c->Add(Int8PatternConvTester().height(28).width(28).channels(32).filters(48).rows_per_call(8).keep(0.28)
             .seed(++seed).Test(v));
  c->Add(Int8PatternConvTester().height(14).width(14).channels(64).filters(40).stride(2).seed(++seed).Test(v));
  c->Add(Int8PatternConvTester().height(7).width(7).channels(70).filters(70).keep(1.0).seed(++seed).Test(v));
  c->Add(Int8PatternConvTester().height(56).width(56).channels(16).filters(16).rows_per_call(14).seed(++seed)
             .Test(v));
  // Many input channels: the AVX-512 filter-lane kernel reads its row tables
  // directly instead of copying the tile's windows (over 32 KiB of records).
  c->Add(Int8PatternConvTester().height(9).width(13).channels(200).filters(40).keep(0.5).seed(++seed).Test(v));
  c->Add(Int8PatternConvTester().height(7).width(7).channels(257).filters(33).stride(2).rows_per_call(3)
             .seed(++seed).Test(v));
  c->Add(Int8PatternConvTester().height(6).width(30).channels(130).filters(18).stride_w(2).padding(Int8Padding::kValid)
             .rows_per_call(5).seed(++seed).Test(v));
  // Random cases over every parameter at once (reproducible: fixed seeds).
  std::mt19937 rng(7);
  const auto pick = [&](int lo, int hi) { return lo + int(rng() % unsigned(hi - lo + 1)); };
  for (int i = 0; i < 80; ++i) {
    const Int8Padding p = kPaddings[rng() % 2];
    const int lo = p == Int8Padding::kValid ? 3 : 1;
    c->Add(Int8PatternConvTester().batch(pick(1, 2)).height(pick(lo, 20)).width(pick(lo, 70)).channels(pick(1, 70))
               .filters(pick(1, 70)).stride_h(pick(1, 2)).stride_w(pick(1, 2)).padding(p)
               .activation(kActivations[rng() % 4]).keep(kKeeps[rng() % 3]).patterns(pick(1, 126))
               .input_zero_point(pick(-128, 127)).output_zero_point(pick(-128, 127)).rows_per_call(pick(0, 5))
               .chunk_slots(pick(1, 160)).seed(++seed).Test(v));
  }
}

}  // namespace

int main(int argc, char** argv) {
  return patternlite::Int8VariantMain(argc, argv, "int8_kernel_tests",
                                      {Int8Variant::kScalar, Int8Variant::kAvx2, Int8Variant::kAvxVnni,
                                       Int8Variant::kAvx512Vnni, Int8Variant::kNeonDot,
                                       Int8Variant::kAvx512VnniFilterLanes, Int8Variant::kAvx512VnniSharedPatterns},
                                      [](Int8Variant v) {
                                        Counts c;
                                        Sweep(v, &c);
                                        std::printf("int8_kernel_tests: %-10s conv3x3 %4d cases, %d failed\n",
                                                    patternlite::Int8VariantName(v), c.run, c.failed);
                                        return c.failed;
                                      });
}
