// Per-layer timing of one int8 kernel variant without Python or TensorFlow
// (docs/int8.md, "Speed"): the layers of tools/bench_int8_layers.py, weights
// masked with 8 centre-keeping 4-tap patterns at keep 1.0/0.5/0.28, 1 thread,
// the row blocks patternlite_int8_conv3x3 uses, median of `rounds` rounds of
// `reps` whole-image runs. With the AVX-512 kernel built with
// -DPL_INT8_PHASE_TIMERS it also prints the kernel's cycle split by phase.
//
// Not part of the build: compile it against a build's delegate objects, e.g.
//   O=build/rel/CMakeFiles/patternlite_delegate_objects.dir
//   g++ -O2 -std=c++17 -I. tests/native/int8_kernel_bench.cc $(find $O -name '*.o') -lpthread -ldl -o bench
//   ./bench [avx512vnni|avxvnni|avx2|avx512vnni_fl[,...]] [rounds]
// Several comma-separated variants run back to back on the same weights.
// avx512vnni hands dense packs to the filter-lane kernel (Int8PreferFilterLanes).
// BLOCKPRUNE=1 prunes by blocks of 16 consecutive filters (the filters of a
// block keep the same input channels, each with its own pattern) instead of
// per kernel: what the filter-lane kernel needs to skip work.
// For the phase split, recompile conv_int8_avx512.cc with the macro (and the
// AVX-512 flags of delegate/sources.cmake) and link that object instead.
#include <x86intrin.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "delegate/kernels/conv_int8_kernel.h"
#include "delegate/packing/pattern_pack_int8.h"
#include "delegate/runtime/weight_checks.h"

#if defined(PL_INT8_PHASE_TIMERS)
namespace patternlite {
extern uint64_t g_int8_phase_cycles[];  // conv_int8_avx512.cc
extern const char* const g_int8_phase_names[];
extern const int g_int8_phases;
}  // namespace patternlite
#endif

namespace {

using namespace patternlite;

struct Layer {
  int hw, c, o, stride;
};

double TscPerSecond() {
  const auto t0 = std::chrono::steady_clock::now();
  const uint64_t c0 = __rdtsc();
  while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(100)) {
  }
  const uint64_t c1 = __rdtsc();
  return double(c1 - c0) / std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

int main(int argc, char** argv) {
  const std::string name = argc > 1 ? argv[1] : "avx512vnni";
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const char* only = std::getenv("LAYER");  // e.g. LAYER=56x56x64 runs the layers whose name starts so
  std::vector<Int8Variant> variants;
  for (size_t at = 0; at <= name.size();) {
    const size_t comma = std::min(name.find(',', at), name.size());
    const std::string one = name.substr(at, comma - at);
    at = comma + 1;
    bool found = false;
    for (Int8Variant v : {Int8Variant::kAvx2, Int8Variant::kAvxVnni, Int8Variant::kAvx512Vnni,
                          Int8Variant::kAvx512VnniFilterLanes, Int8Variant::kAvx512VnniSharedPatterns}) {
      if (one == Int8VariantName(v) && Int8VariantAvailable(v)) {
        variants.push_back(v);
        found = true;
      }
    }
    if (!found) {
      std::printf("%s not available\n", one.c_str());
      return 1;
    }
  }
  const int block_mode = std::getenv("BLOCKPRUNE") != nullptr ? std::atoi(std::getenv("BLOCKPRUNE")) : 0;
  const bool block_prune = block_mode != 0;
  const bool shared = block_mode == 2;  // the block's filters share each kept channel's pattern
  const Layer layers[] = {{56, 64, 64, 1},   {28, 128, 128, 1},  {14, 256, 256, 1}, {7, 512, 512, 1},
                          {56, 64, 128, 2}, {28, 128, 256, 2}, {14, 256, 512, 2}};
  std::mt19937 rng(0);
  std::vector<uint16_t> centre;
  for (uint16_t m = 0; m < 512; ++m) {
    if (__builtin_popcount(m) == 4 && (m & 16)) centre.push_back(m);
  }
  const double tsc = TscPerSecond();
  for (const Layer& L : layers) {
    char label[64];
    std::snprintf(label, sizeof label, "%dx%dx%d->%d s%d", L.hw, L.hw, L.c, L.o, L.stride);
    if (only != nullptr && std::strncmp(label, only, std::strlen(only)) != 0) continue;
    std::printf("| %s |", label);
    for (double keep : {1.0, 0.5, 0.28}) {
      std::shuffle(centre.begin(), centre.end(), rng);
      const std::vector<uint16_t> lib(centre.begin(), centre.begin() + 8);
      std::vector<int8_t> ohwi(size_t(L.o) * 9 * L.c, 0);
      std::uniform_real_distribution<double> u(0, 1);
      std::normal_distribution<double> wn(0, 40);
      std::vector<char> block_keeps(size_t((L.o + 15) / 16) * L.c);
      for (char& b : block_keeps) b = u(rng) < keep;
      for (int o = 0; o < L.o; ++o) {
        for (int c = 0; c < L.c; ++c) {
          if (block_prune ? !block_keeps[size_t(o / 16) * L.c + c] : u(rng) >= keep) continue;
          const uint16_t m = shared ? lib[(size_t(o / 16) * 131 + size_t(c) * 7) % 8] : lib[rng() % 8];
          for (int t = 0; t < 9; ++t) {
            if ((m >> t) & 1) {
              int v = std::clamp(int(wn(rng)), -127, 127);
              ohwi[(size_t(o) * 9 + t) * L.c + c] = int8_t(v == 0 ? 1 : v);
            }
          }
        }
      }
      std::vector<int32_t> bias(L.o);
      for (int32_t& b : bias) b = int32_t(rng() % 20001) - 10000;
      std::vector<float> s_w(L.o, 0.002f);
      std::vector<uint16_t> masks;
      std::string reason;
      PackedConvInt8 packed;
      const Int8ConvQuantization q{0.05f, -3, s_w.data(), 0.2f};
      const int chunk_slots = std::getenv("CHUNK") ? std::atoi(std::getenv("CHUNK")) : kInt8DefaultChunkSlots;
      if (!AssignKernelMasksInt8(ohwi.data(), L.o, L.c, nullptr, {}, &masks, &reason) ||
          !PackPatternConvInt8(ohwi.data(), L.o, L.c, masks.data(), bias.data(), q, chunk_slots, &packed,
                               &reason)) {
        std::printf("pack failed: %s\n", reason.c_str());
        return 1;
      }
      ConvGeometry g;
      g.batch = 1;
      g.in_h = g.in_w = L.hw;
      g.in_c = L.c;
      g.out_c = L.o;
      g.stride_h = g.stride_w = L.stride;
      g.out_h = g.out_w = (L.hw + L.stride - 1) / L.stride;
      g.pad_top = g.pad_left = std::max((g.out_h - 1) * L.stride + 3 - L.hw, 0) / 2;
      const Int8Quant quant{-3, -5, -128, 127};
      const Int8ConvKernelParams p = MakeParams(g, quant, packed);
      // patternlite_int8_conv3x3's row blocks (delegate/runtime/plugin.cc).
      const size_t plane_row = size_t(L.c) * L.stride * L.stride * (size_t(g.out_w) + 34);
      int rows = int(std::min<size_t>(size_t(g.out_h), std::max<size_t>(4, (65536 / plane_row) / 4 * 4)));
      if (std::getenv("MINPIX")) {  // calls of at least MINPIX output pixels, rows balanced
        rows = std::max(rows, std::min(g.out_h, (std::atoi(std::getenv("MINPIX")) + g.out_w - 1) / g.out_w));
        const int calls = (g.out_h + rows - 1) / rows;
        rows = (g.out_h + calls - 1) / calls;
      }
      if (const char* r = std::getenv("ROWS")) rows = std::min(g.out_h, std::atoi(r));
      for (Int8Variant variant : variants) {
        const Int8ConvKernel& k = Int8KernelFor(variant);
        const size_t bytes = k.scratch_bytes(p, rows);
        struct Free {
          void operator()(void* v) const { std::free(v); }
        };
        std::unique_ptr<void, Free> scratch(std::aligned_alloc(kScratchAlign, (bytes + kScratchAlign) / kScratchAlign *
                                                                                  kScratchAlign));
        std::vector<int8_t> x(size_t(L.hw) * L.hw * L.c), y(size_t(g.out_h) * g.out_w * L.o);
        for (int8_t& v : x) v = int8_t(rng());
        const auto run = [&] {
          for (int oy = 0; oy < g.out_h; oy += rows) k.rows(p, x.data(), y.data(), 0, oy, std::min(oy + rows, g.out_h),
                                                             scratch.get(), bytes);
        };
        const double macs = double(packed.kept_kernels()) * 4 * g.out_h * g.out_w;
        const int reps = std::max(5, int(2e9 / macs));
        for (int i = 0; i < 3; ++i) run();
        std::vector<double> med;
        std::vector<std::vector<double>> phases;  // per run: each phase's share of the run
        for (int r = 0; r < rounds; ++r) {
          std::vector<double> ts;
          for (int i = 0; i < reps; ++i) {
  #if defined(PL_INT8_PHASE_TIMERS)
            std::fill(g_int8_phase_cycles, g_int8_phase_cycles + g_int8_phases, 0);
  #endif
            const uint64_t c0 = __rdtsc();
            run();
            ts.push_back(double(__rdtsc() - c0) / tsc);
  #if defined(PL_INT8_PHASE_TIMERS)
            phases.emplace_back(g_int8_phase_cycles, g_int8_phase_cycles + g_int8_phases);
  #endif
          }
          std::nth_element(ts.begin(), ts.begin() + ts.size() / 2, ts.end());
          med.push_back(ts[ts.size() / 2]);
        }
        std::nth_element(med.begin(), med.begin() + med.size() / 2, med.end());
        const double t = med[med.size() / 2];
        std::printf(" %.3f ms (%.2f vpdpbusd-zmm/ns)", t * 1e3, macs / 64 / (t * 1e9));
  #if defined(PL_INT8_PHASE_TIMERS)
        // Per phase, the median over runs (a preempted run inflates one phase of one run).
        std::printf(" [");
        for (int i = 0; i < g_int8_phases; ++i) {
          std::vector<double> v;
          for (const auto& ph : phases) v.push_back(ph[i]);
          std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
          std::printf("%s%s %.3f", i ? ", " : "", g_int8_phase_names[i], v[v.size() / 2] / tsc * 1e3);
        }
        std::printf("]");
  #endif
        std::printf(" |");
        std::fflush(stdout);
      }
    }
    std::printf("\n");
  }
  return 0;
}
