// libFuzzer harness of the delegate's 1x1 and depthwise path (docs/fuzzing.md):
// weights and an optional metadata record through AssignPointwise /
// AssignDepthwise and packing to one kernel run per ISA this CPU has, each
// against a plain double-precision loop.
//
// The fuzz input decides, byte by byte (fuzz::ByteReader): the kind (1x1 or
// 3x3 depthwise); batch 1..2, height and width 1..12 (up to 32 in one input of
// four), channels 1..40 and, for 1x1, filters 1..40; strides 1..2 each; SAME
// or VALID; the fused activation; a bias or none; the sparsity (blocks of 16
// sharing their structure, as the converter makes it, or scattered); with or
// without a metadata record of the right kind, and sometimes a violation the
// reader of the record must refuse (a non-zero weight where the record says
// pruned, or outside a channel's pattern).
//
// Values are multiples of 1/8 in [-16, 16): every partial sum is exact in
// float, so any kernel output that differs from the double reference is a
// bug. Aborts (a libFuzzer crash) on such a difference, on an accepted
// violation or a refused valid record, and on output sizes other than
// TFLite's formulas. tools/fuzz.sh builds it with ASan and UBSan.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <string>
#include <vector>

#include "delegate/contract_generated.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/metadata/metadata_reader.h"
#include "delegate/packing/block_pack.h"
#include "delegate/runtime/conv_node.h"
#include "delegate/runtime/weight_checks.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

namespace pl = patternlite;
namespace contract = patternlite::contract;
using pl::fuzz::Die;

constexpr int kTaps = contract::kKernelTaps;
// Library patterns (4 taps with the centre), as a converter would pick them.
const std::vector<uint16_t> kLibrary = {0x03a, 0x0b2, 0x09a, 0x0b8, 0x033, 0x1b0};

float Value(uint8_t b) { return float(int8_t(b)) / 8.0f; }
float NonZero(uint8_t b) { return b == 0 ? 0.125f : Value(b); }

int OutSize(bool same, int in, int stride, int k) {  // TFLite's formulas, written out again
  if (same) return (in + stride - 1) / stride;
  return in >= k ? (in - k) / stride + 1 : 0;
}

void Run(pl::fuzz::ByteReader& r) {
  const bool depthwise = r.Byte() & 1;
  const int k = depthwise ? 3 : 1;
  const int batch = 1 + r.Byte() % 2;
  const int side = (r.Byte() % 4 == 0) ? 32 : 12;
  const int h = 1 + r.Byte() % side, w = 1 + r.Byte() % side;
  const int c = 1 + r.Byte() % 40;
  const int o = depthwise ? c : 1 + r.Byte() % 40;
  const int stride_h = 1 + r.Byte() % 2, stride_w = 1 + r.Byte() % 2;
  const bool same = r.Byte() & 1;
  const int act = r.Byte() % 4;  // NONE, RELU, RELU_N1_TO_1, RELU6
  const bool has_bias = r.Byte() & 1, blocked = r.Byte() & 1, with_record = r.Byte() & 1;
  const int violation = with_record ? r.Byte() % 8 : 0;  // 1: one violation, else none
  const int oh = OutSize(same, h, stride_h, k), ow = OutSize(same, w, stride_w, k);
  if (oh <= 0 || ow <= 0) return;

  // Weights: [O,1,1,I] or [1,3,3,C]; the record: O x I (0 / PRUNED) or C x 1 (pattern / PRUNED).
  std::vector<float> filter(depthwise ? size_t(kTaps) * c : size_t(o) * c, 0.0f);
  pl::LayerRecord record;
  record.tensor_name = "f";
  record.kind = depthwise ? contract::kKindDepthwise3x3 : contract::kKindPointwise;
  record.out_channels = uint32_t(o);
  record.in_channels = depthwise ? 1 : uint32_t(c);
  record.kernel_pattern.assign(depthwise ? size_t(c) : size_t(o) * c, contract::kPrunedKernel);
  if (depthwise) {
    int block_id = 0;
    for (int ch = 0; ch < c; ++ch) {
      if (!blocked || ch % pl::kBlock == 0) block_id = r.Byte() % int(kLibrary.size());
      if (r.Byte() % 5 == 0) continue;  // a pruned channel
      record.kernel_pattern[size_t(ch)] = uint8_t(block_id);
      for (int t = 0; t < kTaps; ++t) {
        if ((kLibrary[size_t(block_id)] >> t) & 1) filter[size_t(t) * c + ch] = Value(r.Byte());  // zeros allowed
      }
    }
  } else {
    std::vector<uint8_t> block_keep(static_cast<size_t>(c));
    for (int oc = 0; oc < o; ++oc) {
      if (!blocked || oc % pl::kBlock == 0) {
        for (int ic = 0; ic < c; ++ic) block_keep[size_t(ic)] = r.Byte() % 3 == 0;
      }
      for (int ic = 0; ic < c; ++ic) {
        if (!block_keep[size_t(ic)]) continue;
        record.kernel_pattern[size_t(oc) * c + ic] = 0;
        filter[size_t(oc) * c + ic] = Value(r.Byte());
      }
    }
  }
  bool must_refuse = false;
  if (violation == 1) {
    // A non-zero weight the record does not allow.
    const size_t at = r.U16() % filter.size();
    const bool allowed = depthwise ? record.kernel_pattern[at % size_t(c)] != contract::kPrunedKernel &&
                                         ((kLibrary[record.kernel_pattern[at % size_t(c)]] >> (at / size_t(c))) & 1)
                                   : record.kernel_pattern[at] != contract::kPrunedKernel;
    if (!allowed) {
      filter[at] = NonZero(r.Byte());
      must_refuse = true;
    }
  }
  std::vector<float> bias(size_t(o), 0.0f), input(size_t(batch) * h * w * c);
  if (has_bias) {
    for (float& b : bias) b = Value(r.Byte());
  }
  for (float& v : input) v = Value(r.Byte());

  // Assignment and packing, through the delegate's own calls.
  std::string why;
  pl::PackedPointwise pw;
  pl::PackedDepthwise dw;
  const pl::LayerRecord* rec = with_record ? &record : nullptr;
  bool accepted;
  if (depthwise) {
    std::vector<uint16_t> masks;
    accepted = pl::AssignDepthwise(filter.data(), c, rec, kLibrary, &masks, &why);
    if (accepted) pl::PackDepthwise(filter.data(), c, masks, has_bias ? bias.data() : nullptr, &dw);
  } else {
    std::vector<uint8_t> kept;
    accepted = pl::AssignPointwise(filter.data(), o, c, rec, &kept, &why);
    if (accepted) pl::PackPointwise(filter.data(), o, c, kept, has_bias ? bias.data() : nullptr, &pw);
  }
  if (must_refuse && accepted) Die("a weight outside the record was accepted");
  if (!must_refuse && !accepted) Die("a valid record was refused: " + why);
  if (!accepted) return;

  pl::ConvGeometry g;
  g.batch = batch, g.in_h = h, g.in_w = w, g.in_c = c, g.out_c = o, g.stride_h = stride_h, g.stride_w = stride_w;
  const char* name = nullptr;
  if (!pl::ActivationRange(TfLiteFusedActivation(act), &g.act_min, &g.act_max, &name)) Die("activation refused");
  const TfLitePadding padding = same ? kTfLitePaddingSame : kTfLitePaddingValid;
  if (!pl::ComputeOutputSize(padding, h, stride_h, &g.out_h, &g.pad_top, k) ||
      !pl::ComputeOutputSize(padding, w, stride_w, &g.out_w, &g.pad_left, k) || g.out_h != oh || g.out_w != ow) {
    Die("output size differs from TFLite's formula");
  }
  if (!depthwise && (g.pad_top != 0 || g.pad_left != 0)) Die("a 1x1 conv padded");

  // The reference: a plain loop over the OHWI / [1,3,3,C] weights, in double.
  std::vector<float> ref(size_t(batch) * oh * ow * o);
  for (int n = 0; n < batch; ++n) {
    for (int y = 0; y < oh; ++y) {
      for (int x = 0; x < ow; ++x) {
        for (int oc = 0; oc < o; ++oc) {
          double acc = bias[size_t(oc)];
          for (int t = 0; t < (depthwise ? kTaps : c); ++t) {
            const int ky = depthwise ? t / 3 : 0, kx = depthwise ? t % 3 : 0, ic = depthwise ? oc : t;
            const int iy = y * stride_h - g.pad_top + ky, ix = x * stride_w - g.pad_left + kx;
            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
            const float wt = depthwise ? filter[size_t(t) * c + oc] : filter[size_t(oc) * c + ic];
            acc += double(wt) * input[((size_t(n) * h + iy) * w + ix) * c + ic];
          }
          ref[((size_t(n) * oh + y) * ow + x) * o + oc] = float(std::min<double>(std::max<double>(acc, g.act_min), g.act_max));
        }
      }
    }
  }
  for (pl::Isa isa : {pl::Isa::kScalar, pl::Isa::kAvx2, pl::Isa::kAvx512, pl::Isa::kNeon}) {
    if (!pl::IsaAvailable(isa)) continue;
    std::vector<float> out(ref.size(), std::numeric_limits<float>::quiet_NaN());
    if (depthwise) {
      for (int n = 0; n < batch; ++n) {
        // Two row ranges, as the thread split cuts them.
        const int cut = oh / 2;
        pl::KernelsFor(isa).depthwise(pl::MakeParams(g, dw), input.data(), out.data(), n, 0, cut);
        pl::KernelsFor(isa).depthwise(pl::MakeParams(g, dw), input.data(), out.data(), n, cut, oh);
      }
    } else {
      const int64_t pixels = int64_t(batch) * oh * ow, cut = pixels / 3;
      pl::KernelsFor(isa).pointwise(pl::MakeParams(g, pw), input.data(), out.data(), 0, cut);
      pl::KernelsFor(isa).pointwise(pl::MakeParams(g, pw), input.data(), out.data(), cut, pixels);
    }
    for (size_t i = 0; i < out.size(); ++i) {
      if (!(out[i] == ref[i])) {
        char buf[256];
        std::snprintf(buf, sizeof buf, "%s %s: output %zu is %g, reference %g (batch=%d h=%d w=%d c=%d o=%d s=%dx%d %s)",
                      pl::IsaName(isa), depthwise ? "depthwise" : "pointwise", i, double(out[i]), double(ref[i]), batch,
                      h, w, c, o, stride_h, stride_w, same ? "SAME" : "VALID");
        Die(buf);
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  pl::fuzz::ByteReader reader(data, size);
  Run(reader);
  return 0;
}
