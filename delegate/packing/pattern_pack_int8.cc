#include "delegate/packing/pattern_pack_int8.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <tuple>
#include <utility>

#include "delegate/packing/pattern_pack.h"

namespace patternlite {

void QuantizeMultiplier(double real_multiplier, int32_t* quantized_multiplier, int* shift) {
  if (real_multiplier == 0.0) {
    *quantized_multiplier = 0;
    *shift = 0;
    return;
  }
  const double q = std::frexp(real_multiplier, shift);
  int64_t q_fixed = int64_t(std::round(q * double(int64_t(1) << 31)));  // TfLiteRound: half away from zero
  if (q_fixed == (int64_t(1) << 31)) {
    q_fixed /= 2;
    ++*shift;
  }
  if (*shift < -31) {
    *shift = 0;
    q_fixed = 0;
  }
  *quantized_multiplier = int32_t(q_fixed);
}

namespace {

// The shared-pattern form (pattern_pack_int8.h), from the filter-major form:
// per (block of 16 filters, input channel) one entry per pattern its filters
// need. A kernel with zero weights fits every pattern that covers its
// non-zero taps (an int8 weight may round to 0, and a file without metadata
// then gives such a kernel whichever fitting pattern comes first), so the
// patterns of a pair are chosen greedily: the one that fits most of its
// kernels, then the one that fits most of the rest. Left empty when the
// entries exceed kInt8SharedMaxEntries x the filter-lane pairs.
void PackSharedPatterns(PackedConvInt8* pp) {
  PackedConvInt8& p = *pp;
  constexpr int kFl = 16;
  const int O = p.out_channels, C = p.in_channels;
  const int blocks = (O + kFl - 1) / kFl;
  struct Kept {
    int lane;
    uint16_t mask, nonzero;
    int8_t w[contract::kKernelTaps];  // by tap 3*ky+kx
  };
  std::map<std::pair<int, int>, std::vector<Kept>> pairs;  // (block, channel), ascending
  for (int fi = 0; fi < O; ++fi) {
    const int o = p.filter_order[fi];
    for (int gi = p.filter_groups[fi]; gi < p.filter_groups[fi + 1]; ++gi) {
      const PackedGroup& g = p.groups[gi];
      for (int k = g.begin; k < g.end; ++k) {
        Kept kept{o % kFl, g.mask, 0, {}};
        for (int t = 0; t < 4; ++t) {
          const int8_t v = p.kernel_weights[size_t(k) * 4 + t];
          kept.w[g.taps[t]] = v;
          if (v != 0) kept.nonzero |= uint16_t(1u << g.taps[t]);
        }
        pairs[{o / kFl, p.kernel_channel[k]}].push_back(kept);
      }
    }
  }
  struct Entry {
    int block, channel;
    uint16_t mask;
    std::vector<const Kept*> kernels;
  };
  std::vector<Entry> entries;
  for (const auto& [key, kernels] : pairs) {
    std::vector<const Kept*> left;
    for (const Kept& k : kernels) left.push_back(&k);
    while (!left.empty()) {
      uint16_t best = left.front()->mask;
      size_t best_fits = 0;
      for (const Kept* cand : left) {
        size_t fits = 0;
        for (const Kept* k : left) fits += (k->nonzero & ~cand->mask) == 0;
        if (fits > best_fits) best = cand->mask, best_fits = fits;
      }
      Entry e{key.first, key.second, best, {}};
      std::vector<const Kept*> rest;
      for (const Kept* k : left) ((k->nonzero & ~best) == 0 ? e.kernels : rest).push_back(k);
      entries.push_back(std::move(e));
      left = std::move(rest);
    }
  }
  if (double(entries.size()) > kInt8SharedMaxEntries * double(p.fl_channel.size())) return;
  // Slots ascending by (channel, mask): a group of 4 channels is one range.
  std::map<std::pair<int, uint16_t>, int> slot_of;
  for (const Entry& e : entries) slot_of.emplace(std::make_pair(e.channel, e.mask), 0);
  const int groups = (C + 3) / 4;
  p.sp_group_slots.assign(size_t(groups) + 1, 0);
  for (auto& [key, slot] : slot_of) {
    const auto [c, mask] = key;
    slot = int(p.sp_slot_index.size());
    uint32_t index = 0;
    for (int t = 0, tap = 0; tap < contract::kKernelTaps; ++tap) {
      if (((mask >> tap) & 1) == 0) continue;
      index |= uint32_t(12 * (tap % 3) + 4 * (tap / 3) + c % 4) << (8 * t++);
    }
    p.sp_slot_index.push_back(index);
    p.sp_group_slots[size_t(c / 4) + 1] = slot + 1;
  }
  for (int q = 1; q <= groups; ++q) p.sp_group_slots[q] = std::max(p.sp_group_slots[q], p.sp_group_slots[q - 1]);
  // Entries block-major, slots ascending within a block; weights in the
  // slot's tap order.
  std::stable_sort(entries.begin(), entries.end(), [&](const Entry& a, const Entry& b) {
    return a.block != b.block ? a.block < b.block
                              : slot_of.at({a.channel, a.mask}) < slot_of.at({b.channel, b.mask});
  });
  p.sp_block_entries.assign(size_t(blocks) + 1, 0);
  p.sp_weights.assign(entries.size() * 64, 0);
  for (size_t n = 0; n < entries.size(); ++n) {
    const Entry& e = entries[n];
    p.sp_entry_slot.push_back(slot_of.at({e.channel, e.mask}));
    p.sp_block_entries[size_t(e.block) + 1] = int32_t(n + 1);
    for (const Kept* k : e.kernels) {
      for (int t = 0, tap = 0; tap < contract::kKernelTaps; ++tap) {
        if (((e.mask >> tap) & 1) != 0) p.sp_weights[n * 64 + size_t(k->lane) * 4 + size_t(t++)] = k->w[tap];
      }
    }
  }
  for (int b = 1; b <= blocks; ++b) p.sp_block_entries[b] = std::max(p.sp_block_entries[b], p.sp_block_entries[b - 1]);
}

}  // namespace

bool PackPatternConvInt8(const int8_t* ohwi, int out_channels, int in_channels, const uint16_t* masks,
                         const int32_t* bias, const Int8ConvQuantization& q, int max_chunk_slots, PackedConvInt8* out,
                         std::string* reason) {
  const auto bad_scale = [](double s) { return !(s > 0) || !std::isfinite(s); };
  if (bad_scale(q.input_scale) || bad_scale(q.output_scale) || q.filter_scales == nullptr) {
    *reason = "int8 conv: input, output and filter scales must be finite and positive";
    return false;
  }
  for (int o = 0; o < out_channels; ++o) {
    if (bad_scale(q.filter_scales[o])) {
      *reason = "int8 conv: filter scale of output channel " + std::to_string(o) + " is not finite and positive";
      return false;
    }
  }
  // The filter-major form: the fp32 packing on the exact float copy of the
  // weights, converted back (every int8 value is exact in float).
  const size_t n_weights = size_t(out_channels) * contract::kKernelTaps * in_channels;
  const std::vector<float> f(ohwi, ohwi + n_weights);
  PackedConv fp;
  PackPatternConv(f.data(), out_channels, in_channels, masks, nullptr, &fp);

  PackedConvInt8 p;
  p.out_channels = out_channels;
  p.in_channels = in_channels;
  p.filter_order = std::move(fp.filter_order);
  p.filter_groups = std::move(fp.filter_groups);
  p.groups = std::move(fp.groups);
  p.kernel_channel = std::move(fp.kernel_channel);
  p.kernel_weights.reserve(fp.kernel_weights.size());
  for (const float w : fp.kernel_weights) p.kernel_weights.push_back(int8_t(w));

  // Bias, its two corrections for the offset input, and the multipliers.
  std::vector<int64_t> wsum(out_channels, 0);
  for (int fi = 0; fi < out_channels; ++fi) {
    const int o = p.filter_order[fi];
    for (int gi = p.filter_groups[fi]; gi < p.filter_groups[fi + 1]; ++gi) {
      for (int k = p.groups[gi].begin; k < p.groups[gi].end; ++k) {
        for (int t = 0; t < 4; ++t) wsum[o] += p.kernel_weights[size_t(k) * 4 + t];
      }
    }
  }
  p.bias.assign(out_channels, 0);
  if (bias != nullptr) std::copy(bias, bias + out_channels, p.bias.begin());
  p.bias_u8.resize(out_channels);
  p.bias_s8.resize(out_channels);
  p.multiplier.resize(out_channels);
  p.shift.resize(out_channels);
  for (int o = 0; o < out_channels; ++o) {
    // Wrapping int32 arithmetic: TFLite's accumulator is int32 too, and the
    // correction cancels exactly in the kernel's (wrapping) sum.
    p.bias_u8[o] = int32_t(uint32_t(p.bias[o]) - uint32_t(int64_t(q.input_zero_point + 128) * wsum[o]));
    p.bias_s8[o] = int32_t(uint32_t(p.bias[o]) - uint32_t(int64_t(q.input_zero_point) * wsum[o]));
    // As TFLite's PopulateConvolutionQuantizationParams computes it.
    const double m = double(q.input_scale) * double(q.filter_scales[o]) / double(q.output_scale);
    QuantizeMultiplier(m, &p.multiplier[o], &p.shift[o]);
  }

  // The chunked form. Slots of a channel: the distinct patterns of its kept
  // kernels over all output channels.
  std::vector<std::map<uint16_t, const PackedGroup*>> channel_patterns(in_channels);
  for (const PackedGroup& g : p.groups) {
    for (int k = g.begin; k < g.end; ++k) channel_patterns[p.kernel_channel[k]].emplace(g.mask, &g);
  }
  p.max_chunk_slots = 0;
  p.chunk_slots.push_back(0);
  std::vector<int> chunk_of_channel(in_channels);
  std::vector<std::map<uint16_t, int>> slot_of(in_channels);  // slot index within its chunk
  int in_chunk = 0;
  for (int c = 0; c < in_channels; ++c) {
    const int n = int(channel_patterns[c].size());
    if (in_chunk > 0 && in_chunk + n > max_chunk_slots) {  // a channel is never split
      p.chunk_slots.push_back(int32_t(p.slots.size()));
      in_chunk = 0;
    }
    chunk_of_channel[c] = int(p.chunk_slots.size()) - 1;
    for (const auto& [mask, g] : channel_patterns[c]) {
      Int8Slot s;
      s.channel = c;
      for (int t = 0; t < 4; ++t) {
        s.taps[t] = g->taps[t];
        const int tap = g->taps[t];
        if (tap == 4) {
          s.centre = int8_t(t);
        } else {
          s.table_base |= uint32_t(16 * (tap < 4 ? tap : tap - 1)) << (8 * t);
        }
      }
      slot_of[c][mask] = in_chunk++;
      p.slots.push_back(s);
    }
    p.max_chunk_slots = std::max(p.max_chunk_slots, in_chunk);
  }
  p.chunk_slots.push_back(int32_t(p.slots.size()));
  const int chunks = p.chunks();
  // Kernels bucketed by (chunk, output channel), slots ascending within.
  std::vector<std::vector<Int8Kernel>> bucket(size_t(chunks) * out_channels);
  for (int fi = 0; fi < out_channels; ++fi) {
    const int o = p.filter_order[fi];
    for (int gi = p.filter_groups[fi]; gi < p.filter_groups[fi + 1]; ++gi) {
      const PackedGroup& g = p.groups[gi];
      for (int k = g.begin; k < g.end; ++k) {
        const int c = p.kernel_channel[k];
        uint32_t w = 0;
        for (int t = 0; t < 4; ++t) w |= uint32_t(uint8_t(p.kernel_weights[size_t(k) * 4 + t])) << (8 * t);
        bucket[size_t(chunk_of_channel[c]) * out_channels + o].push_back({slot_of[c][g.mask], int32_t(w)});
      }
    }
  }
  p.chunk_kernels.reserve(bucket.size() + 1);
  p.kernels.reserve(p.kept_kernels());
  for (auto& b : bucket) {
    std::sort(b.begin(), b.end(), [](const Int8Kernel& x, const Int8Kernel& y) { return x.slot < y.slot; });
    p.chunk_kernels.push_back(int32_t(p.kernels.size()));
    p.kernels.insert(p.kernels.end(), b.begin(), b.end());
  }
  p.chunk_kernels.push_back(int32_t(p.kernels.size()));

  // The filter-lane form: blocks of 16 consecutive output channels (original
  // order, so a pixel's 16 outputs are contiguous in NHWC).
  constexpr int kFl = 16;
  const int fl_blocks = (out_channels + kFl - 1) / kFl;
  std::vector<int32_t> entry_of(size_t(fl_blocks) * in_channels, -1);
  for (int fi = 0; fi < out_channels; ++fi) {
    const int o = p.filter_order[fi];
    for (int gi = p.filter_groups[fi]; gi < p.filter_groups[fi + 1]; ++gi) {
      for (int k = p.groups[gi].begin; k < p.groups[gi].end; ++k) {
        entry_of[size_t(o / kFl) * in_channels + p.kernel_channel[k]] = 0;
      }
    }
  }
  p.fl_block_entries.push_back(0);
  for (int b = 0; b < fl_blocks; ++b) {
    for (int c = 0; c < in_channels; ++c) {
      int32_t& e = entry_of[size_t(b) * in_channels + c];
      if (e < 0) continue;
      e = int32_t(p.fl_channel.size());
      p.fl_channel.push_back(c);
    }
    p.fl_block_entries.push_back(int32_t(p.fl_channel.size()));
  }
  p.fl_index.assign(p.fl_channel.size() * 64, 0);
  p.fl_weights.assign(p.fl_channel.size() * 64, 0);
  for (int fi = 0; fi < out_channels; ++fi) {
    const int o = p.filter_order[fi];
    for (int gi = p.filter_groups[fi]; gi < p.filter_groups[fi + 1]; ++gi) {
      const PackedGroup& g = p.groups[gi];
      for (int k = g.begin; k < g.end; ++k) {
        const int c = p.kernel_channel[k];
        const size_t at = size_t(entry_of[size_t(o / kFl) * in_channels + c]) * 64 + size_t(o % kFl) * 4;
        for (int t = 0; t < 4; ++t) {
          p.fl_index[at + t] = uint8_t(12 * (g.taps[t] % 3) + 4 * (g.taps[t] / 3) + c % 4);
          p.fl_weights[at + t] = p.kernel_weights[size_t(k) * 4 + t];
        }
      }
    }
  }
  PackSharedPatterns(&p);
  *out = std::move(p);
  return true;
}

}  // namespace patternlite
