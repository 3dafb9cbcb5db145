// The microkernel sweep: every kind (3x3 pattern conv, sparse 1x1, pattern
// depthwise) on every ISA this build has and this CPU runs, through the
// fluent testers of kernel_tester.h, against the scalar kernel and a double
// direct convolution. Edge sizes first: 1x1 images, widths around every
// vector width, partial blocks of 16, channels 1..70, both strides, SAME and
// VALID, every activation, keep 1.0/0.5/0.28, block and scattered zeros, and
// the thread splits (row or pixel ranges per call).
//
//   kernel_tests            # every available ISA (scalar included)
//   kernel_tests avx2 ...   # only these ISAs
//
// Runs under CTest (CMakeLists.txt), Bazel (BUILD) and CI's sanitizer build
// (.ci/run). Exits 1 on any failure, 2 on a bad argument.
#include <cstdio>
#include <string>
#include <vector>

#include "tests/native/kernel_tester.h"

namespace {

using patternlite::Isa;
using patternlite::testing::Activation;
using patternlite::testing::DepthwiseTester;
using patternlite::testing::Padding;
using patternlite::testing::PatternConvTester;
using patternlite::testing::PointwiseTester;
using patternlite::testing::Zeros;

constexpr Activation kActivations[] = {Activation::kNone, Activation::kRelu, Activation::kReluN1To1,
                                       Activation::kRelu6};
constexpr double kKeeps[] = {1.0, 0.5, 0.28};
constexpr Zeros kZeros[] = {Zeros::kScattered, Zeros::kBlock};
constexpr Padding kPaddings[] = {Padding::kSame, Padding::kValid};

struct Counts {
  int run = 0, failed = 0;
  void Add(bool ok) {
    ++run;
    failed += !ok;
  }
};

// The input is big enough for a 3x3 filter with this padding.
bool Fits(int h, int w, Padding p) { return p == Padding::kSame || (h >= 3 && w >= 3); }

void SweepConv(Isa isa, Counts* c) {
  uint32_t seed = 100;
  // Widths around the vector widths (4, 8, 16) and the narrow/wide switch.
  for (int w = 1; w <= 40; ++w) {
    for (int s : {1, 2}) {
      for (Padding p : kPaddings) {
        if (!Fits(4, w, p)) continue;
        c->Add(PatternConvTester().height(4).width(w).channels(5).filters(21).stride(s).padding(p).seed(++seed)
                   .Test(isa));
      }
    }
  }
  // Heights, with and without row splits (register tiles of 1..4 rows).
  for (int h = 1; h <= 14; ++h) {
    for (int s : {1, 2}) {
      for (int rows : {0, 1, 3, 4, 5}) {
        c->Add(PatternConvTester().height(h).width(9).channels(3).filters(7).stride(s).rows_per_call(rows)
                   .seed(++seed).Test(isa));
      }
    }
  }
  // Input channels 1..70 (transpose tiles of 4 and 8, their remainders).
  for (int ch = 1; ch <= 70; ++ch) {
    c->Add(PatternConvTester().height(6).width(7).channels(ch).filters(17).stride(1 + ch % 2).seed(++seed).Test(isa));
  }
  // Filters 1..70 (partial blocks and transpose tiles), and small filter blocks.
  for (int f = 1; f <= 70; ++f) {
    c->Add(PatternConvTester().height(5).width(17).channels(6).filters(f).seed(++seed).Test(isa));
  }
  for (int fb : {1, 3, 8, 16, 33}) {
    for (int s : {1, 2}) {
      c->Add(PatternConvTester().height(9).width(9).channels(11).filters(40).stride(s).filter_block(fb)
                 .seed(++seed).Test(isa));
    }
  }
  // Activations x keep x zeros, both strides and paddings.
  for (Activation a : kActivations) {
    for (double k : kKeeps) {
      for (Zeros z : kZeros) {
        for (int s : {1, 2}) {
          for (Padding p : kPaddings) {
            c->Add(PatternConvTester().height(9).width(9).channels(37).filters(21).stride(s).padding(p).activation(a)
                       .keep(k).zeros(z).seed(++seed).Test(isa));
          }
        }
      }
    }
  }
  // Unequal strides (the narrow layout), batches, and two larger layers.
  c->Add(PatternConvTester().height(11).width(10).channels(9).filters(13).stride_h(1).stride_w(2).seed(++seed)
             .Test(isa));
  c->Add(PatternConvTester().height(10).width(11).channels(9).filters(13).stride_h(2).stride_w(1).seed(++seed)
             .Test(isa));
  for (int b = 1; b <= 3; ++b) {
    c->Add(PatternConvTester().batch(b).height(7).width(8).channels(5).filters(9).rows_per_call(3).seed(++seed)
               .Test(isa));
  }
  c->Add(PatternConvTester().height(28).width(28).channels(32).filters(48).rows_per_call(8).seed(++seed).Test(isa));
  c->Add(PatternConvTester().height(14).width(14).channels(64).filters(40).stride(2).seed(++seed).Test(isa));
}

void SweepPointwise(Isa isa, Counts* c) {
  uint32_t seed = 200;
  // Pixel counts around the register tiles (6 and 12 pixels), with splits.
  for (int w = 1; w <= 40; ++w) {
    for (int s : {1, 2}) {
      c->Add(PointwiseTester().height(1 + w % 3).width(w).channels(7).filters(19).stride(s).seed(++seed).Test(isa));
    }
  }
  for (int per : {1, 5, 6, 7, 12, 13}) {
    c->Add(PointwiseTester().batch(2).height(5).width(7).channels(9).filters(20).pixels_per_call(per).seed(++seed)
               .Test(isa));
  }
  for (int ch = 1; ch <= 70; ++ch) {
    c->Add(PointwiseTester().height(3).width(5).channels(ch).filters(24).stride(1 + ch % 2).seed(++seed).Test(isa));
  }
  for (int f = 1; f <= 70; ++f) {
    c->Add(PointwiseTester().height(3).width(5).channels(12).filters(f).seed(++seed).Test(isa));
  }
  for (Activation a : kActivations) {
    for (double k : kKeeps) {
      for (Zeros z : kZeros) {
        for (int s : {1, 2}) {
          c->Add(PointwiseTester().height(6).width(9).channels(37).filters(33).stride(s).activation(a).keep(k).zeros(z)
                     .seed(++seed).Test(isa));
        }
      }
    }
  }
  c->Add(PointwiseTester().height(1).width(1).channels(3).filters(2).seed(++seed).Test(isa));
  c->Add(PointwiseTester().height(5).width(6).channels(5).filters(4).stride_h(2).stride_w(1).seed(++seed).Test(isa));
  // Many inputs per pixel: one block at a time over a chunk, and several
  // chunks (the chunk is 192 KiB of input rows).
  c->Add(PointwiseTester().height(12).width(12).channels(600).filters(40).keep(0.28).zeros(Zeros::kBlock)
             .seed(++seed).Test(isa));
  c->Add(PointwiseTester().height(8).width(9).channels(300).filters(70).pixels_per_call(29).seed(++seed).Test(isa));
}

void SweepDepthwise(Isa isa, Counts* c) {
  uint32_t seed = 300;
  // Widths around the interior quads and pairs, with borders on both sides.
  for (int w = 1; w <= 40; ++w) {
    for (int s : {1, 2}) {
      for (Padding p : kPaddings) {
        if (!Fits(5, w, p)) continue;
        c->Add(DepthwiseTester().height(5).width(w).channels(19).stride(s).padding(p).zeros(Zeros::kBlock)
                   .block_taps(4).seed(++seed).Test(isa));
      }
    }
  }
  for (int h = 1; h <= 12; ++h) {
    for (int rows : {0, 1, 2, 5}) {
      c->Add(DepthwiseTester().height(h).width(6).channels(16).stride(1 + h % 2).rows_per_call(rows).seed(++seed)
                 .Test(isa));
    }
  }
  for (int ch = 1; ch <= 70; ++ch) {
    c->Add(DepthwiseTester().height(6).width(7).channels(ch).stride(1 + ch % 2).zeros(Zeros::kBlock).block_taps(4)
               .seed(++seed).Test(isa));
  }
  // Every tap count of a block (the specialised 3, 4, 5 and 9, and the others).
  for (int taps = 1; taps <= 9; ++taps) {
    for (int s : {1, 2}) {
      c->Add(DepthwiseTester().height(7).width(21).channels(48).stride(s).zeros(Zeros::kBlock).block_taps(taps)
                 .seed(++seed).Test(isa));
    }
  }
  for (Activation a : kActivations) {
    for (double k : kKeeps) {
      for (Zeros z : kZeros) {
        for (int s : {1, 2}) {
          for (Padding p : kPaddings) {
            c->Add(DepthwiseTester().height(9).width(10).channels(37).stride(s).padding(p).activation(a).keep(k)
                       .zeros(z).seed(++seed).Test(isa));
          }
        }
      }
    }
  }
  c->Add(DepthwiseTester().height(9).width(8).channels(20).stride_h(1).stride_w(2).seed(++seed).Test(isa));
  c->Add(DepthwiseTester().height(8).width(9).channels(20).stride_h(2).stride_w(1).seed(++seed).Test(isa));
  for (int b = 1; b <= 3; ++b) {
    c->Add(DepthwiseTester().batch(b).height(6).width(6).channels(33).rows_per_call(2).seed(++seed).Test(isa));
  }
  c->Add(DepthwiseTester().height(28).width(28).channels(96).stride(2).zeros(Zeros::kBlock).block_taps(4)
             .seed(++seed).Test(isa));
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<Isa> isas;
  for (int i = 1; i < argc; ++i) {
    Isa isa;
    if (!patternlite::ParseIsa(argv[i], &isa) || isa == Isa::kAuto) {
      std::fprintf(stderr, "usage: %s [scalar|avx2|avx512|neon ...]\n", argv[0]);
      return 2;
    }
    isas.push_back(isa);
  }
  if (isas.empty()) isas = {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon};
  int failed = 0, tested = 0;
  for (Isa isa : isas) {
    if (!patternlite::IsaAvailable(isa)) {
      std::printf("kernel_tests: %s not available here, skipped\n", patternlite::IsaName(isa));
      continue;
    }
    ++tested;
    const struct {
      const char* kind;
      void (*sweep)(Isa, Counts*);
    } kinds[] = {{"conv3x3", SweepConv}, {"pointwise", SweepPointwise}, {"depthwise", SweepDepthwise}};
    for (const auto& k : kinds) {
      Counts c;
      k.sweep(isa, &c);
      std::printf("kernel_tests: %-7s %-9s %4d cases, %d failed\n", patternlite::IsaName(isa), k.kind, c.run,
                  c.failed);
      failed += c.failed;
    }
  }
  if (tested == 0) {
    std::printf("kernel_tests: no requested ISA is available\n");
    return 1;
  }
  std::printf(failed == 0 ? "kernel_tests: all passed\n" : "kernel_tests: %d FAILED\n", failed);
  return failed == 0 ? 0 : 1;
}
