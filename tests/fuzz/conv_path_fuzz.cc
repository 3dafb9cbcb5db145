// libFuzzer harness of the delegate's conv path (docs/fuzzing.md): from
// (metadata, weights, conv parameters) through mask assignment and packing to
// one kernel run on a small tensor, every ISA this CPU runs against the scalar
// kernel and a plain double-precision loop.
//
// The fuzz input decides, byte by byte (fuzz::ByteReader):
//  * the shape: input and output channels 1..24, height and width 1..12
//    (width up to 32 in one input of four), batch 1..2, strides 1..2 (each),
//    SAME or VALID padding, the fused
//    activation (NONE, RELU, RELU_N1_TO_1, RELU6, or TANH / SIGN_BIT, which
//    must be refused), with or without bias;
//  * with metadata: a library of 1..8 patterns and each kernel's pattern id
//    (or PRUNED), written as a blob (fuzz::EncodeMetadata) and read back by
//    ParsePatternMetadata, as the delegate reads the model's; without: each
//    kernel's support of up to 4 taps (any taps, centre or not), completed by
//    AssignKernelMasks as for models without metadata;
//  * sometimes a violation the delegate must refuse: a non-zero weight
//    outside its kernel's pattern or in a pruned kernel, a record whose shape
//    disagrees with the filter, a kernel of 5 or more taps;
//  * the weights, input and bias values, the planning thread count, and
//    overrides of the plan's row blocks and channel-major filter block
//    (values the planner itself produces for taller or wider convs), so small
//    convs also cross block boundaries.
//
// Values are multiples of 1/8 in [-16, 16) ("exact" inputs): every partial
// sum is a multiple of 1/64 below 2^15, so every kernel's float arithmetic is
// exact whatever its summation order or FMA use, and any difference from the
// reference is a bug. One input in two instead scales weights and input by
// fuzzed factors ("inexact" inputs); then outputs must agree within 1e-4 of
// the output scale (the largest sum of |bias| + |weight x input| over the
// output's terms).
//
// Aborts (a libFuzzer crash) when AssignKernelMasks accepts or refuses
// against an independent check of the weights, assigns other masks, when
// packing loses kernels, when the planner's geometry differs from TFLite's
// formulas, or when any output differs as above. tools/fuzz.sh builds it with
// ASan and UBSan; tests/fuzz/replay_main.cc makes a plain replay program of it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/contract_generated.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/metadata/metadata_reader.h"
#include "delegate/packing/pattern_pack.h"
#include "delegate/runtime/conv_node.h"
#include "delegate/runtime/weight_checks.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace pl = patternlite;
namespace contract = patternlite::contract;
using pl::fuzz::Die;

constexpr int kMaxChannels = 24;
constexpr int kMaxSide = 12;
// Some inputs are wider: the 16-lane AVX-512 kernel takes its wide (planar
// row) layout only for output rows of 12 pixels or more, which stride 2 gives
// from 23 input columns.
constexpr int kMaxWideSide = 32;
constexpr int kMaxLibrary = 8;
constexpr double kTolerance = 1e-4;  // of the output scale, for inexact inputs
constexpr int kTaps = contract::kKernelTaps;
const char kFilterName[] = "conv/filter";

std::vector<uint16_t> MasksWhere(bool (*keep)(uint32_t)) {
  std::vector<uint16_t> out;
  for (uint32_t m = 0; m < contract::kMaskLimit; ++m) {
    if (keep(m)) out.push_back(uint16_t(m));
  }
  return out;
}
// The 56 masks a library may hold, and the 255 supports of 1..4 taps.
const std::vector<uint16_t> kLibraryCandidates = MasksWhere(contract::IsLibraryPattern);
const std::vector<uint16_t> kSmallSupports =
    MasksWhere([](uint32_t m) { return m != 0 && contract::TapCount(m) <= contract::kPatternTaps; });

// A multiple of 1/8 in [-16, 16); zero for one byte value in 256.
float Value(uint8_t b) { return float(int8_t(b)) / 8.0f; }
float NonZero(uint8_t b) { return b == 0 ? 0.125f : Value(b); }

int OutSize(bool same, int in, int stride) {  // TFLite's formulas, written out again
  if (same) return (in + stride - 1) / stride;
  return in >= 3 ? (in - 3) / stride + 1 : 0;
}
int PadBefore(bool same, int in, int out, int stride) {
  return same ? std::max((out - 1) * stride + 3 - in, 0) / 2 : 0;
}

struct Conv {
  int batch = 1, h = 1, w = 1, c = 1, o = 1, stride_h = 1, stride_w = 1, act = 0;
  bool same = true, metadata = false, has_bias = false, exact = true;
  std::vector<float> input, filter, bias;
  float& weight(int oc, int t, int ic) { return filter[(size_t(oc) * kTaps + t) * c + ic]; }
  float weight(int oc, int t, int ic) const { return filter[(size_t(oc) * kTaps + t) * c + ic]; }
  uint16_t support(int oc, int ic) const {
    uint16_t s = 0;
    for (int t = 0; t < kTaps; ++t) s |= uint16_t(weight(oc, t, ic) != 0.0f) << t;
    return s;
  }
};

std::string Describe(const Conv& k) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "batch=%d h=%d w=%d c=%d o=%d stride=%dx%d %s act=%d bias=%d metadata=%d %s", k.batch, k.h, k.w,
                k.c, k.o, k.stride_h, k.stride_w, k.same ? "SAME" : "VALID", k.act, int(k.has_bias),
                int(k.metadata), k.exact ? "exact" : "inexact");
  return buf;
}

// The oracle's loops are left out of the coverage instrumentation (its
// comparison tracing cost more than the code under test); ASan and UBSan still
// check them.
#if defined(__clang__)
#define PL_NO_COVERAGE __attribute__((no_sanitize("coverage")))
#else
#define PL_NO_COVERAGE
#endif

// The output in double precision, and each output's scale: |bias| plus the
// sum of |weight x input| over its terms. A plain loop over the non-zero
// weights of the OHWI filter, sharing nothing with the packed forms.
PL_NO_COVERAGE void Reference(const Conv& k, float lo, float hi, std::vector<float>* out,
                              std::vector<double>* scale) {
  const int oh = OutSize(k.same, k.h, k.stride_h), ow = OutSize(k.same, k.w, k.stride_w);
  const int pad_t = PadBefore(k.same, k.h, oh, k.stride_h), pad_l = PadBefore(k.same, k.w, ow, k.stride_w);
  struct Term {
    int t, ic;
    double w;
  };
  std::vector<std::vector<Term>> terms(k.o);
  for (int oc = 0; oc < k.o; ++oc) {
    for (int t = 0; t < kTaps; ++t) {
      for (int ic = 0; ic < k.c; ++ic) {
        if (k.weight(oc, t, ic) != 0.0f) terms[oc].push_back({t, ic, k.weight(oc, t, ic)});
      }
    }
  }
  out->assign(size_t(k.batch) * oh * ow * k.o, 0.0f);
  scale->assign(out->size(), 0.0);
  for (int n = 0; n < k.batch; ++n)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x)
        for (int oc = 0; oc < k.o; ++oc) {
          const double b = k.has_bias ? k.bias[oc] : 0.0;
          double acc = b, mag = std::fabs(b);
          for (const Term& term : terms[oc]) {
            const int iy = y * k.stride_h + term.t / 3 - pad_t, ix = x * k.stride_w + term.t % 3 - pad_l;
            if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
            const double v = k.input[((size_t(n) * k.h + iy) * k.w + ix) * k.c + term.ic] * term.w;
            acc += v;
            mag += std::fabs(v);
          }
          const size_t at = ((size_t(n) * oh + y) * ow + x) * k.o + oc;
          (*out)[at] = float(std::min(std::max(acc, double(lo)), double(hi)));
          (*scale)[at] = mag;
        }
}

// Compares `got` with `want`: exact inputs must agree exactly, inexact ones
// within kTolerance of the output scale. NaN (an output never written) fails.
PL_NO_COVERAGE void Compare(const Conv& k, const char* what, const std::vector<float>& want,
                            const std::vector<float>& got, const std::vector<double>& scale) {
  double max_scale = 1e-6, max_err = 0;
  size_t worst = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    max_scale = std::max(max_scale, scale[i]);
    const double d = std::fabs(double(want[i]) - double(got[i]));
    if (!(d <= max_err)) max_err = std::isnan(d) ? INFINITY : d, worst = i;
  }
  const bool bad = k.exact ? max_err != 0 : !(max_err <= kTolerance * max_scale);
  if (bad) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%s: output %zu is %.9g, expected %.9g (scaled error %.3g, %s)", what, worst,
                  double(got[worst]), double(want[worst]), max_err / max_scale,
                  k.exact ? "exact inputs must agree exactly" : "limit 1e-4");
    Die(std::string(buf) + "; " + Describe(k));
  }
}

// Sets one tap outside `mask` of kernel (oc, ic) to a non-zero value.
void BreakOutOf(pl::fuzz::ByteReader* in, Conv* k, int oc, int ic, uint16_t mask) {
  std::vector<int> outside;
  for (int t = 0; t < kTaps; ++t) {
    if (!(mask >> t & 1)) outside.push_back(t);
  }
  if (!outside.empty()) k->weight(oc, outside[in->Byte() % outside.size()], ic) = NonZero(in->Byte());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pl::fuzz::ByteReader in(data, size);
  Conv k;
  k.c = 1 + in.Byte() % kMaxChannels;
  k.o = 1 + in.Byte() % kMaxChannels;
  k.h = 1 + in.Byte() % kMaxSide;
  const uint8_t width = in.Byte();
  k.w = 1 + width % kMaxSide;
  const uint8_t flags = in.Byte();
  k.stride_h = 1 + (flags & 1);
  k.stride_w = 1 + (flags >> 1 & 1);
  k.same = flags >> 2 & 1;
  k.batch = 1 + (flags >> 3 & 1);
  k.metadata = flags >> 4 & 1;
  k.has_bias = flags >> 5 & 1;
  const bool violate = (flags >> 6) == 3;  // one input in four
  const uint8_t act = in.Byte();
  k.act = act % 8 < 6 ? act % 8 % 4 : act % 8 - 2;  // 0..3 supported; 4 (TANH) and 5 (SIGN_BIT) are not
  k.exact = !(act >> 3 & 1);
  if ((act >> 4 & 3) == 3) k.w = 1 + width % kMaxWideSide;  // one input in four
  const int O = k.o, I = k.c;

  // The kernels: pattern ids (metadata) or supports, then their weights.
  std::vector<uint16_t> library;
  std::vector<uint8_t> ids;
  k.filter.assign(size_t(O) * kTaps * I, 0.0f);
  if (k.metadata) {
    const int n = 1 + in.Byte() % kMaxLibrary;
    for (int p = 0; p < n; ++p) library.push_back(kLibraryCandidates[in.Byte() % kLibraryCandidates.size()]);
    ids.resize(size_t(O) * I);
    for (int oc = 0; oc < O; ++oc) {
      for (int ic = 0; ic < I; ++ic) {
        const int id = in.Byte() % (n + 1);
        ids[size_t(oc) * I + ic] = id == n ? contract::kPrunedKernel : uint8_t(id);
        if (id == n) continue;
        for (int t = 0; t < kTaps; ++t) {
          if (library[id] >> t & 1) k.weight(oc, t, ic) = Value(in.Byte());  // may be zero: inside the pattern
        }
      }
    }
  } else {
    for (int oc = 0; oc < O; ++oc) {
      for (int ic = 0; ic < I; ++ic) {
        if (in.Byte() % 4 == 0) continue;  // pruned
        const uint16_t s = kSmallSupports[in.Byte() % kSmallSupports.size()];
        for (int t = 0; t < kTaps; ++t) {
          if (s >> t & 1) k.weight(oc, t, ic) = NonZero(in.Byte());
        }
      }
    }
  }

  // A violation the delegate must refuse (the expectation below is computed
  // from the final weights, whatever was intended here).
  bool shape_mismatch = false;
  if (violate) {
    const size_t at = in.U16() % (size_t(O) * I);
    const int oc = int(at / I), ic = int(at % I);
    if (k.metadata) {
      const uint8_t kind = in.Byte() % 3;
      if (kind == 2) {
        shape_mismatch = true;
      } else {
        const uint8_t id = ids[at];
        BreakOutOf(&in, &k, oc, ic, id == contract::kPrunedKernel ? 0 : library[id]);
      }
    } else {
      for (int t = 0; t < kTaps && contract::TapCount(k.support(oc, ic)) < contract::kPatternTaps + 1; ++t) {
        if (k.weight(oc, t, ic) == 0.0f && in.Byte() % 2 == 0) k.weight(oc, t, ic) = NonZero(in.Byte());
      }
    }
  }

  if (k.has_bias) {
    k.bias.resize(O);
    for (float& b : k.bias) b = Value(in.Byte());
  }
  k.input.resize(size_t(k.batch) * k.h * k.w * k.c);
  for (float& v : k.input) v = Value(in.Byte());
  if (!k.exact) {  // factors in [0.5, 1.5): sums are no longer exact
    const float fw = 0.5f + in.Byte() / 256.0f + in.Byte() / 65536.0f;
    const float fi = 0.5f + in.Byte() / 256.0f + in.Byte() / 65536.0f;
    for (float& w : k.filter) w *= fw;
    for (float& v : k.input) v *= fi;
  }
  const int threads = 1 + in.Byte() % 4;
  const uint8_t split = in.Byte(), filter_block = in.Byte();

  // The metadata blob, as the converter would write it (with sometimes a
  // second record for another filter), read back as the delegate reads it.
  pl::PatternMetadata meta;
  const pl::LayerRecord* record = nullptr;
  if (k.metadata) {
    pl::LayerRecord rec, other;
    rec.tensor_name = kFilterName;
    rec.out_channels = uint32_t(O);
    rec.in_channels = uint32_t(I);
    rec.keep = 0.5f;
    rec.kernel_pattern = ids;
    if (shape_mismatch) {  // one dimension one larger, its table to match
      (in.Byte() % 2 ? rec.out_channels : rec.in_channels) += 1;
      rec.kernel_pattern.assign(size_t(rec.out_channels) * rec.in_channels, contract::kPrunedKernel);
    }
    std::vector<const pl::LayerRecord*> records = {&rec};
    if (in.Byte() % 2) {
      other.tensor_name = "conv_1/filter";
      other.out_channels = 1 + in.Byte() % 4;
      other.in_channels = 1 + in.Byte() % 4;
      for (uint32_t j = 0; j < other.out_channels * other.in_channels; ++j) {
        other.kernel_pattern.push_back(in.Byte() % 2 ? contract::kPrunedKernel : uint8_t(0));
      }
      records.insert(records.begin() + in.Byte() % 2, &other);
    }
    const std::vector<uint8_t> blob = pl::fuzz::EncodeMetadata(library, records);
    std::string error;
    if (!pl::ParsePatternMetadata(blob.data(), blob.size(), &meta, &error)) Die("a valid blob is refused: " + error);
    auto it = meta.layers.find(kFilterName);
    if (it == meta.layers.end()) Die("the blob lost the filter's record");
    record = &it->second;
  }

  // What AssignKernelMasks must decide, from the weights alone.
  bool accept = !shape_mismatch;
  for (int oc = 0; oc < O && accept; ++oc) {
    for (int ic = 0; ic < I && accept; ++ic) {
      const uint16_t s = k.support(oc, ic);
      if (k.metadata) {
        const uint8_t id = ids[size_t(oc) * I + ic];
        accept = (s & ~(id == contract::kPrunedKernel ? 0 : library[id])) == 0;
      } else {
        accept = contract::TapCount(s) <= contract::kPatternTaps;
      }
    }
  }
  std::vector<uint16_t> masks;
  std::string reason;
  static const std::vector<uint16_t> kNoLibrary;
  const bool accepted = pl::AssignKernelMasks(k.filter.data(), O, I, record, record ? meta.patterns : kNoLibrary,
                                              &masks, &reason);
  if (accepted != accept) {
    Die(std::string("AssignKernelMasks ") + (accepted ? "accepted" : "refused (" + reason + ")") +
        " weights it should have " + (accept ? "accepted" : "refused") + "; " + Describe(k));
  }
  if (!accepted) {
    if (reason.empty()) Die("AssignKernelMasks refused without a reason");
    return 0;
  }
  size_t kept = 0;
  std::set<uint16_t> distinct;
  for (int oc = 0; oc < O; ++oc) {
    for (int ic = 0; ic < I; ++ic) {
      const size_t at = size_t(oc) * I + ic;
      const uint16_t m = masks[at], s = k.support(oc, ic);
      if (k.metadata) {
        if (m != (ids[at] == contract::kPrunedKernel ? 0 : library[ids[at]])) Die("mask differs from the record");
      } else if (s == 0 ? m != 0 : (!contract::IsTapMask(m) || (s & ~m) != 0)) {
        Die("mask of a kernel without metadata does not complete its support to 4 taps");
      }
      if (m != 0) ++kept, distinct.insert(m);
    }
  }

  pl::PackedConv packed;
  pl::PackPatternConv(k.filter.data(), O, I, masks.data(), k.has_bias ? k.bias.data() : nullptr, &packed);
  if (packed.kept_kernels() != kept || packed.distinct_patterns != int(distinct.size())) {
    Die("packing kept " + std::to_string(packed.kept_kernels()) + " kernels of " + std::to_string(kept));
  }

  float lo = 0, hi = 0;
  const char* act_name = nullptr;
  const bool act_ok = pl::ActivationRange(TfLiteFusedActivation(k.act), &lo, &hi, &act_name);
  if (act_ok != (k.act <= 3)) Die("ActivationRange decided activation " + std::to_string(k.act) + " wrongly");
  if (!act_ok) return 0;

  const int oh = OutSize(k.same, k.h, k.stride_h), ow = OutSize(k.same, k.w, k.stride_w);
  const TfLitePadding padding = k.same ? kTfLitePaddingSame : kTfLitePaddingValid;
  const size_t macs = packed.kept_kernels() * contract::kPatternTaps;
  if (oh <= 0 || ow <= 0) {
    pl::ConvPlan plan;
    if (pl::PlanConv(k.batch, k.h, k.w, k.c, O, padding, k.stride_h, k.stride_w, lo, hi, threads, macs, 1, &plan)) {
      Die("PlanConv accepted an input too small for the conv; " + Describe(k));
    }
    return 0;
  }

  std::vector<float> want, scalar;
  std::vector<double> scale;
  Reference(k, lo, hi, &want, &scale);
  for (pl::Isa isa : {pl::Isa::kScalar, pl::Isa::kAvx2, pl::Isa::kAvx512, pl::Isa::kNeon}) {
    if (!pl::IsaAvailable(isa)) continue;
    pl::ConvPlan plan;
    if (!pl::PlanConv(k.batch, k.h, k.w, k.c, O, padding, k.stride_h, k.stride_w, lo, hi, threads, macs,
                      pl::IsaLanes(isa), &plan)) {
      Die("PlanConv refused; " + Describe(k));
    }
    const pl::ConvGeometry& g = plan.geometry;
    if (g.out_h != oh || g.out_w != ow || g.pad_top != PadBefore(k.same, k.h, oh, k.stride_h) ||
        g.pad_left != PadBefore(k.same, k.w, ow, k.stride_w)) {
      Die("PlanConv's output size or padding differs from TFLite's; " + Describe(k));
    }
    if (plan.block_rows < 1 || plan.blocks_per_image * plan.block_rows < oh) Die("the plan misses output rows");
    if (split & 1) {  // a row block the planner makes for other sizes: 1..4 rows or a multiple of 4
      int rows = 1 + (split >> 1) % oh;
      if (rows > 4) rows = (rows + 3) / 4 * 4;
      plan.block_rows = rows;
      plan.blocks_per_image = (oh + rows - 1) / rows;
    }
    if (plan.filter_block > 0 && (filter_block & 1)) plan.filter_block = 1 + (filter_block >> 1) % O;
    pl::PackedConv p = packed;
    pl::PackForPlan(plan, &p);
    std::vector<pl::Workspace> workspaces;
    std::vector<float> out(want.size(), NAN);
    pl::RunConv(plan, p, pl::KernelsFor(isa), nullptr, &workspaces, k.input.data(), out.data());
    const std::string name = pl::IsaName(isa);
    Compare(k, (name + " vs reference").c_str(), want, out, scale);
    if (isa == pl::Isa::kScalar) {
      scalar = out;
    } else {
      Compare(k, (name + " vs scalar").c_str(), scalar, out, scale);
    }
  }
  return 0;
}
