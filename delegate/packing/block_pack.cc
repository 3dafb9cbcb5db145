#include "delegate/packing/block_pack.h"

#include <algorithm>

namespace patternlite {

namespace {
constexpr int kTaps = contract::kKernelTaps;
}  // namespace

void PackPointwise(const float* filter, int out_channels, int in_channels, const std::vector<uint8_t>& kept,
                   const float* bias, PackedPointwise* out) {
  PackedPointwise p;
  p.out_channels = out_channels;
  p.in_channels = in_channels;
  p.blocks = (out_channels + kBlock - 1) / kBlock;
  p.block_begin.push_back(0);
  for (int b = 0; b < p.blocks; ++b) {
    const int o0 = b * kBlock, o1 = std::min(out_channels, o0 + kBlock);
    for (int i = 0; i < in_channels; ++i) {
      bool any = false;
      for (int o = o0; o < o1 && !any; ++o) any = kept[size_t(o) * in_channels + i] != 0;
      if (!any) continue;
      p.entry_channel.push_back(i);
      for (int j = 0; j < kBlock; ++j) {
        const int o = o0 + j;
        const bool on = o < o1 && kept[size_t(o) * in_channels + i] != 0;
        p.entry_weights.push_back(on ? filter[size_t(o) * in_channels + i] : 0.0f);
      }
    }
    p.block_begin.push_back(int32_t(p.entry_channel.size()));
  }
  p.bias.assign(size_t(p.blocks) * kBlock, 0.0f);
  if (bias != nullptr) std::copy(bias, bias + out_channels, p.bias.begin());
  p.filter_begin.push_back(0);
  for (int o = 0; o < out_channels; ++o) {
    for (int i = 0; i < in_channels; ++i) {
      if (!kept[size_t(o) * in_channels + i]) continue;
      p.filter_channel.push_back(i);
      p.filter_weight.push_back(filter[size_t(o) * in_channels + i]);
    }
    p.filter_begin.push_back(int32_t(p.filter_channel.size()));
  }
  *out = std::move(p);
}

size_t PointwiseBlockWeights(int out_channels, int in_channels, const std::vector<uint8_t>& kept) {
  size_t n = 0;
  for (int o0 = 0; o0 < out_channels; o0 += kBlock) {
    const int o1 = std::min(out_channels, o0 + kBlock);
    size_t inputs = 0;  // inputs any filter of the block keeps: the block's entries
    for (int i = 0; i < in_channels; ++i) {
      bool any = false;
      for (int o = o0; o < o1 && !any; ++o) any = kept[size_t(o) * in_channels + i] != 0;
      inputs += any;
    }
    n += inputs * size_t(o1 - o0);
  }
  return n;
}

size_t DepthwiseBlockWeights(int channels, const std::vector<uint16_t>& masks) {
  size_t n = 0;
  for (int c0 = 0; c0 < channels; c0 += kBlock) {
    const int c1 = std::min(channels, c0 + kBlock);
    uint16_t any = 0;  // taps any channel of the block keeps: the block's taps
    for (int c = c0; c < c1; ++c) any |= masks[size_t(c)];
    n += size_t(contract::TapCount(any)) * size_t(c1 - c0);
  }
  return n;
}

size_t PackedDepthwise::block_taps_total() const {
  size_t n = 0;
  for (uint8_t c : block_tap_count) n += c;
  return n;
}

void PackDepthwise(const float* filter, int channels, const std::vector<uint16_t>& masks, const float* bias,
                   PackedDepthwise* out) {
  PackedDepthwise p;
  p.channels = channels;
  p.blocks = (channels + kBlock - 1) / kBlock;
  p.block_taps.assign(size_t(p.blocks) * kTaps, 0);
  p.block_tap_count.assign(size_t(p.blocks), 0);
  p.weights.assign(size_t(p.blocks) * kTaps * kBlock, 0.0f);
  for (int b = 0; b < p.blocks; ++b) {
    const int c0 = b * kBlock, c1 = std::min(channels, c0 + kBlock);
    uint16_t any = 0;
    for (int c = c0; c < c1; ++c) any |= masks[size_t(c)];
    int n = 0;
    for (int t = 0; t < kTaps; ++t) {
      if (!((any >> t) & 1)) continue;
      p.block_taps[size_t(b) * kTaps + n] = uint8_t(t);
      for (int c = c0; c < c1; ++c) {
        const bool on = (masks[size_t(c)] >> t) & 1;
        p.weights[(size_t(b) * kTaps + n) * kBlock + (c - c0)] = on ? filter[size_t(t) * channels + c] : 0.0f;
      }
      ++n;
    }
    p.block_tap_count[size_t(b)] = uint8_t(n);
  }
  p.bias.assign(size_t(p.blocks) * kBlock, 0.0f);
  if (bias != nullptr) std::copy(bias, bias + channels, p.bias.begin());
  p.channel_mask = masks;
  p.channel_weights.assign(size_t(channels) * kTaps, 0.0f);
  for (int c = 0; c < channels; ++c) {
    for (int t = 0; t < kTaps; ++t) {
      if ((masks[size_t(c)] >> t) & 1) p.channel_weights[size_t(c) * kTaps + t] = filter[size_t(t) * channels + c];
    }
  }
  *out = std::move(p);
}

}  // namespace patternlite
