#include "delegate/packing/block_pack_int8.h"

#include <algorithm>
#include <cmath>

#include "delegate/kernels/requantize.h"

namespace patternlite {
namespace {

constexpr int kTaps = contract::kKernelTaps;

bool BadScale(double s) { return !(s > 0) || !std::isfinite(s); }

// TFLite's multiplier of each output channel (PopulateConvolutionQuantizationParams).
bool Multipliers(const Int8ConvQuantization& q, int channels, std::vector<int32_t>* multiplier,
                 std::vector<int32_t>* shift, std::string* reason) {
  if (BadScale(q.input_scale) || BadScale(q.output_scale) || q.filter_scales == nullptr) {
    *reason = "int8 conv: input, output and filter scales must be finite and positive";
    return false;
  }
  multiplier->resize(size_t(channels));
  shift->resize(size_t(channels));
  for (int o = 0; o < channels; ++o) {
    if (BadScale(q.filter_scales[o])) {
      *reason = "int8 conv: filter scale of output channel " + std::to_string(o) + " is not finite and positive";
      return false;
    }
    int s = 0;
    QuantizeMultiplier(double(q.input_scale) * double(q.filter_scales[o]) / double(q.output_scale),
                       &(*multiplier)[size_t(o)], &s);
    (*shift)[size_t(o)] = s;
  }
  return true;
}

// `tie(o, channels)`: how output channel o's final shift rounds ties, as the
// op's builtin kernel does (requantize.h).
template <class TieOf>
Int8BlockRequant BlockRequant(const std::vector<int32_t>& multiplier, const std::vector<int32_t>& shift, int blocks,
                              TieOf tie) {
  Int8BlockRequant r;
  const size_t n = size_t(blocks) * kBlock;
  r.multiplier.assign(n, 0);
  r.left.assign(n, 0);
  r.right.assign(n, 0);
  r.mask.assign(n, 0);
  r.away.assign(n, 0);
  const int channels = int(multiplier.size());
  for (int o = 0; o < channels; ++o) {
    const int s = shift[size_t(o)], right = s > 0 ? 0 : -s;
    r.multiplier[size_t(o)] = multiplier[size_t(o)];
    r.left[size_t(o)] = s > 0 ? s : 0;
    r.right[size_t(o)] = right;
    r.mask[size_t(o)] = int32_t((uint32_t(1) << right) - 1);
    r.away[size_t(o)] = tie(o, channels) == requant::Tie::kAwayFromZero ? -1 : 0;
  }
  return r;
}

// bias - c * wsum in wrapping int32, as the kernels' sums wrap.
int32_t Corrected(int32_t bias, int64_t c, int64_t wsum) { return int32_t(uint32_t(bias) - uint32_t(c * wsum)); }

}  // namespace

size_t PointwiseInt8Quads(int out_channels, int in_channels, const std::vector<uint8_t>& kept) {
  size_t n = 0;
  for (int o0 = 0; o0 < out_channels; o0 += kBlock) {
    const int o1 = std::min(out_channels, o0 + kBlock);
    for (int i0 = 0; i0 < in_channels; i0 += 4) {
      bool any = false;
      for (int o = o0; o < o1 && !any; ++o) {
        for (int i = i0; i < std::min(in_channels, i0 + 4) && !any; ++i) any = kept[size_t(o) * in_channels + i] != 0;
      }
      n += any;
    }
  }
  return n;
}

bool PackPointwiseInt8(const int8_t* filter, int out_channels, int in_channels, const std::vector<uint8_t>& kept,
                       const int32_t* bias, const Int8ConvQuantization& q, PackedPointwiseInt8* out,
                       std::string* reason) {
  PackedPointwiseInt8 p;
  if (!Multipliers(q, out_channels, &p.multiplier, &p.shift, reason)) return false;
  const int O = out_channels, I = in_channels;
  p.out_channels = O;
  p.in_channels = I;
  p.blocks = (O + kBlock - 1) / kBlock;
  p.bias.assign(size_t(O), 0);
  if (bias != nullptr) std::copy(bias, bias + O, p.bias.begin());
  const auto on = [&](int o, int i) { return o < O && i < I && kept[size_t(o) * I + i] != 0; };
  std::vector<int64_t> wsum(size_t(O), 0);
  p.block_begin.push_back(0);
  for (int b = 0; b < p.blocks; ++b) {
    const int o0 = b * kBlock;
    for (int i0 = 0; i0 < I; i0 += 4) {
      bool any = false;
      for (int j = 0; j < kBlock && !any; ++j) {
        for (int i = i0; i < i0 + 4 && !any; ++i) any = on(o0 + j, i);
      }
      if (!any) continue;
      p.quad_channel.push_back(i0);
      for (int j = 0; j < kBlock; ++j) {
        uint32_t dword = 0;
        for (int t = 0; t < 4; ++t) {
          const int o = o0 + j, i = i0 + t;
          const int8_t w = on(o, i) ? filter[size_t(o) * I + i] : int8_t(0);
          dword |= uint32_t(uint8_t(w)) << (8 * t);
          if (o < O) wsum[size_t(o)] += w;
        }
        p.quad_weights.push_back(int32_t(dword));
      }
    }
    p.block_begin.push_back(int32_t(p.quad_channel.size()));
  }
  p.bias_u8.assign(size_t(p.blocks) * kBlock, 0);
  p.bias_s8.assign(size_t(p.blocks) * kBlock, 0);
  for (int o = 0; o < O; ++o) {
    p.bias_u8[size_t(o)] = Corrected(p.bias[size_t(o)], int64_t(q.input_zero_point) + 128, wsum[size_t(o)]);
    p.bias_s8[size_t(o)] = Corrected(p.bias[size_t(o)], q.input_zero_point, wsum[size_t(o)]);
  }
  p.requant = BlockRequant(p.multiplier, p.shift, p.blocks, [](int, int) { return requant::Tie::kUp; });
  p.filter_begin.push_back(0);
  for (int o = 0; o < O; ++o) {
    for (int i = 0; i < I; ++i) {
      if (!on(o, i)) continue;
      p.filter_channel.push_back(i);
      p.filter_weight.push_back(filter[size_t(o) * I + i]);
    }
    p.filter_begin.push_back(int32_t(p.filter_channel.size()));
  }
  *out = std::move(p);
  return true;
}

bool PackDepthwiseInt8(const int8_t* filter, int channels, const std::vector<uint16_t>& masks, const int32_t* bias,
                       const Int8ConvQuantization& q, PackedDepthwiseInt8* out, std::string* reason) {
  PackedDepthwiseInt8 p;
  if (!Multipliers(q, channels, &p.multiplier, &p.shift, reason)) return false;
  const int C = channels;
  p.channels = C;
  p.blocks = (C + kBlock - 1) / kBlock;
  p.channel_bias.assign(size_t(C), 0);
  if (bias != nullptr) std::copy(bias, bias + C, p.channel_bias.begin());
  p.block_taps.assign(size_t(p.blocks) * kTaps, 0);
  p.block_tap_count.assign(size_t(p.blocks), 0);
  p.weights.assign(size_t(p.blocks) * kTaps * kBlock, 0);
  p.bias.assign(size_t(p.blocks) * kBlock, 0);
  p.bias_interior.assign(size_t(p.blocks) * kBlock, 0);
  p.tap_quads.assign(size_t(p.blocks) * kTapQuads * kBlock, 0);
  p.bias_u8.assign(size_t(p.blocks) * kBlock, 0);
  for (int b = 0; b < p.blocks; ++b) {
    const int c0 = b * kBlock, c1 = std::min(C, c0 + kBlock);
    uint16_t any = 0;
    for (int c = c0; c < c1; ++c) any |= masks[size_t(c)];
    int n = 0;
    for (int t = 0; t < kTaps; ++t) {
      if (!((any >> t) & 1)) continue;
      p.block_taps[size_t(b) * kTaps + n] = uint8_t(t);
      for (int c = c0; c < c1; ++c) {
        const bool kept = (masks[size_t(c)] >> t) & 1;
        p.weights[(size_t(b) * kTaps + n) * kBlock + (c - c0)] = kept ? filter[size_t(t) * C + c] : 0;
      }
      ++n;
    }
    p.block_tap_count[size_t(b)] = uint8_t(n);
    for (int c = c0; c < c1; ++c) {
      int64_t wsum = 0;
      for (int k = 0; k < n; ++k) wsum += p.weights[(size_t(b) * kTaps + k) * kBlock + (c - c0)];
      p.bias[size_t(c)] = p.channel_bias[size_t(c)];
      p.bias_interior[size_t(c)] = Corrected(p.channel_bias[size_t(c)], q.input_zero_point, wsum);
      p.bias_u8[size_t(c)] = Corrected(p.channel_bias[size_t(c)], int64_t(q.input_zero_point) + 128, wsum);
      for (int k = 0; k < n; ++k) {
        const uint32_t byte = uint8_t(int8_t(p.weights[(size_t(b) * kTaps + k) * kBlock + (c - c0)]));
        uint32_t& dword = reinterpret_cast<uint32_t&>(p.tap_quads[(size_t(b) * kTapQuads + k / 4) * kBlock + (c - c0)]);
        dword |= byte << (8 * (k % 4));
      }
    }
  }
  p.requant = BlockRequant(p.multiplier, p.shift, p.blocks, requant::DepthwiseConv2DTie);
  p.channel_mask = masks;
  p.channel_weights.assign(size_t(C) * kTaps, 0);
  for (int c = 0; c < C; ++c) {
    for (int t = 0; t < kTaps; ++t) {
      if ((masks[size_t(c)] >> t) & 1) p.channel_weights[size_t(c) * kTaps + t] = filter[size_t(t) * C + c];
    }
  }
  *out = std::move(p);
  return true;
}

}  // namespace patternlite
