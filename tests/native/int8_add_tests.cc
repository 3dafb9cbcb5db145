// The int8 ADD kernels (delegate/kernels/add_int8.h), bit-exact against an
// int64 oracle written here from TFLite's add.cc and AddElementwiseInt8: for
// each parameter set, every one of the 65536 (a, b) input pairs, laid out so
// that all of them fall in whole groups of 16 and some again in the tail.
// Parameter sets: equal and very different input scales, output scales that
// leave the fast float path (fast = false), every fused activation, zero
// points at the ends of int8, and random ones; the output also aliased onto
// an input. The fast kernel's recomputed near-tie lanes are counted, so a
// sweep that never reached them would show it.
//
//   int8_add_tests            # every kernel this CPU runs
//
// Exits 1 on any failure.
#include <cstdint>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "delegate/kernels/add_int8.h"
#include "delegate/packing/add_int8_params.h"

namespace {

using patternlite::AddInt8Fn;
using patternlite::AddInt8Params;
using patternlite::Int8Affine;
using patternlite::Isa;

// floor((a * b + 2^30) / 2^31) for b > 0: gemmlowp's SaturatingRoundingDoublingHighMul.
int64_t HighMul(int64_t a, int64_t b) {
  const int64_t v = a * b + (int64_t(1) << 30);
  return v >= 0 ? v >> 31 : -((-v + (int64_t(1) << 31) - 1) >> 31);
}

// x / 2^e rounded half away from zero: gemmlowp's RoundingDivideByPOT.
int64_t DivPot(int64_t x, int e) {
  if (e == 0) return x;
  const int64_t m = int64_t(1) << e;
  const int64_t q = (x >= 0 ? x : -x) / m, r = (x >= 0 ? x : -x) % m;
  const int64_t rounded = q + (2 * r >= m ? 1 : 0);
  return x >= 0 ? rounded : -rounded;
}

int Clamp(int64_t v, int lo, int hi) { return int(v < lo ? lo : v > hi ? hi : v); }

// AddElementwiseInt8's vector code (whole groups of 16).
int OracleGroup(const AddInt8Params& p, int a, int b) {
  const int64_t xa = int64_t(a + p.offset_a) * (int64_t(1) << (p.left_shift + p.shift_a));
  const int64_t xb = int64_t(b + p.offset_b) * (int64_t(1) << (p.left_shift + p.shift_b));
  const int64_t raw = DivPot(HighMul(HighMul(xa, p.multiplier_a) + HighMul(xb, p.multiplier_b), p.multiplier_out),
                             -p.shift_out);
  const int16_t narrow = int16_t(uint16_t(uint64_t(raw)));          // vmovn_s32
  const int16_t with_zp = int16_t(uint16_t(narrow + p.zp_out));     // vaddq_s16
  return Clamp(Clamp(with_zp, -128, 127), p.act_min, p.act_max);    // vqmovn_s16, then the range
}

// Its scalar code (the last size % 16 elements).
int OracleTail(const AddInt8Params& p, int a, int b) {
  const int64_t left = int64_t(1) << p.left_shift;
  const int64_t ya = DivPot(HighMul(int64_t(a + p.offset_a) * left, p.multiplier_a), -p.shift_a);
  const int64_t yb = DivPot(HighMul(int64_t(b + p.offset_b) * left, p.multiplier_b), -p.shift_b);
  return Clamp(DivPot(HighMul(ya + yb, p.multiplier_out), -p.shift_out) + p.zp_out, p.act_min, p.act_max);
}

struct Case {
  Int8Affine a, b, out;
  int act_min, act_max;
};

struct Counts {
  int sets = 0, declined = 0, slow = 0, failed = 0;
  long long ties = 0;
};

// Every (a, b) pair in whole groups, then 13 of them again as the tail.
void RunCase(const char* name, AddInt8Fn fn, const Case& c, Counts* counts) {
  AddInt8Params p;
  if (!PrepareAddInt8(c.a, c.b, c.out, c.act_min, c.act_max, &p).empty()) {
    ++counts->declined;
    return;
  }
  ++counts->sets;
  counts->slow += !p.fast;
  constexpr size_t kPairs = 65536, kTail = 13;
  std::vector<int8_t> a(kPairs + kTail), b(kPairs + kTail), out(kPairs + kTail);
  for (size_t i = 0; i < kPairs; ++i) {
    a[i] = int8_t(int(i >> 8) - 128);
    b[i] = int8_t(int(i & 255) - 128);
  }
  for (size_t i = 0; i < kTail; ++i) {
    a[kPairs + i] = a[i * 5003 % kPairs];
    b[kPairs + i] = b[i * 5003 % kPairs];
  }
  const auto check = [&](const std::vector<int8_t>& got, const char* how) {
    for (size_t i = 0; i < got.size(); ++i) {
      const int want = i < kPairs ? OracleGroup(p, a[i], b[i]) : OracleTail(p, a[i], b[i]);
      if (got[i] != want) {
        std::printf("FAIL %s %s: scales %g %g %g zps %d %d %d range [%d, %d]: a %d b %d at %zu: %d, want %d\n", name,
                    how, double(c.a.scale), double(c.b.scale), double(c.out.scale), c.a.zero_point,
                    c.b.zero_point, c.out.zero_point, c.act_min, c.act_max, a[i], b[i], i, got[i], want);
        ++counts->failed;
        return;
      }
    }
  };
  fn(p, a.data(), b.data(), out.data(), a.size());
  check(out, "out of place");
  std::vector<int8_t> in_place = b;
  fn(p, a.data(), in_place.data(), in_place.data(), a.size());
  check(in_place, "out aliasing b");
  if (p.fast) {
    // How many lanes the float path had to hand back (near a tie).
    for (size_t i = 0; i < kPairs; ++i) {
      const float t = float(a[i]) * p.coef_a + (float(b[i]) * p.coef_b + p.bias);
      const float frac = t - float(int64_t(t + (t >= 0 ? 0.5f : -0.5f)));
      counts->ties += (frac >= 0.5f - p.near || frac <= -(0.5f - p.near));
    }
  }
}

std::vector<Case> Cases() {
  std::vector<Case> cases;
  const int ranges[][2] = {{-128, 127}, {-100, 127}, {-128, 90}, {-20, 40}};
  // Chosen: equal scales, one input 2^19 finer, an output far finer than the
  // inputs (slow path), zero points at the ends.
  const Case fixed[] = {
      {{0.05f, -3}, {0.04f, 7}, {0.08f, 1}, -128, 127},
      {{0.05f, 0}, {0.05f, 0}, {0.1f, 0}, -128, 127},
      {{0.05f, -128}, {0.05f, 127}, {0.02f, -128}, -128, 127},
      {{0.1f, 127}, {0.1f / 524288, -128}, {0.2f, 127}, -128, 127},
      {{1.0f, 5}, {0.9f, -5}, {0.005f, 0}, -128, 127},
      {{1.0f, 5}, {0.9f, -5}, {0.0001f, 0}, -128, 127},
      {{0.25f, 0}, {0.5f, 0}, {0.125f, 0}, -128, 127},
  };
  for (const Case& c : fixed) {
    for (const auto& r : ranges) cases.push_back({c.a, c.b, c.out, r[0], r[1]});
  }
  std::mt19937 rng(4242);
  std::uniform_real_distribution<float> log_scale(-9.f, 1.f), ratio(-6.f, 3.f);
  std::uniform_int_distribution<int> zp(-128, 127), range(0, 3);
  for (int i = 0; i < 120; ++i) {
    const float sa = std::exp2(log_scale(rng)), sb = sa * std::exp2(ratio(rng)), so = sa * std::exp2(ratio(rng));
    const auto& r = ranges[range(rng)];
    cases.push_back({{sa, zp(rng)}, {sb, zp(rng)}, {so, zp(rng)}, r[0], r[1]});
  }
  return cases;
}

}  // namespace

int main() {
  struct Kernel {
    const char* name;
    Isa isa;
  };
  const Kernel kernels[] = {{"scalar", Isa::kScalar}, {"avx512", Isa::kAvx512}};
  int failed = 0, tested = 0;
  const std::vector<Case> cases = Cases();
  for (const Kernel& k : kernels) {
    const AddInt8Fn fn = patternlite::IsaAvailable(k.isa) ? patternlite::AddInt8KernelFor(k.isa) : nullptr;
    if (fn == nullptr) {
      std::printf("int8_add_tests: %s not available here, skipped\n", k.name);
      continue;
    }
    ++tested;
    Counts counts;
    for (const Case& c : cases) RunCase(k.name, fn, c, &counts);
    std::printf(
        "int8_add_tests: %-7s %d parameter sets x 65549 elements (%d on the exact path only), %d declined, "
        "%lld near-tie lanes recomputed, %d failed\n",
        k.name, counts.sets, counts.slow, counts.declined, counts.ties, counts.failed);
    failed += counts.failed;
  }
  if (tested == 0) {
    std::printf("int8_add_tests: no kernel available\n");
    return 1;
  }
  std::printf("int8_add_tests: %s\n", failed == 0 ? "all passed" : "FAILED");
  return failed == 0 ? 0 : 1;
}
