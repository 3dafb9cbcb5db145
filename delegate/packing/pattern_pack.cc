#include "delegate/packing/pattern_pack.h"

#include <algorithm>
#include <numeric>
#include <set>

namespace patternlite {
namespace {

namespace spec = contract;  // delegate/contract_generated.h, from spec/contract.toml

}  // namespace

void PackPatternConv(const float* ohwi, int out_channels, int in_channels, const uint16_t* masks,
                     const float* bias, PackedConv* out) {
  PackedConv p;
  p.out_channels = out_channels;
  p.in_channels = in_channels;
  p.bias.assign(out_channels, 0.0f);
  if (bias != nullptr) std::copy(bias, bias + out_channels, p.bias.begin());

  std::vector<int> kept(out_channels, 0);
  for (int o = 0; o < out_channels; ++o) {
    for (int i = 0; i < in_channels; ++i) kept[o] += masks[size_t(o) * in_channels + i] != 0;
  }
  p.filter_order.resize(out_channels);
  std::iota(p.filter_order.begin(), p.filter_order.end(), 0);
  std::stable_sort(p.filter_order.begin(), p.filter_order.end(),
                   [&](int a, int b) { return kept[a] > kept[b]; });

  std::set<uint16_t> distinct;
  p.filter_groups.push_back(0);
  std::vector<int> chans;
  for (int o : p.filter_order) {
    chans.clear();
    for (int i = 0; i < in_channels; ++i) {
      if (masks[size_t(o) * in_channels + i] != 0) chans.push_back(i);
    }
    // Group by pattern, channels ascending within a group (sequential reads).
    std::stable_sort(chans.begin(), chans.end(), [&](int x, int y) {
      return masks[size_t(o) * in_channels + x] < masks[size_t(o) * in_channels + y];
    });
    for (const int i : chans) {
      const uint16_t mask = masks[size_t(o) * in_channels + i];
      if (p.groups.size() == size_t(p.filter_groups.back()) || p.groups.back().mask != mask) {
        PackedGroup g;
        g.mask = mask;
        int n = 0;
        for (int t = 0; t < spec::kKernelTaps; ++t) {
          if (mask & (1u << t)) g.taps[n++] = uint8_t(t);
        }
        g.begin = g.end = int32_t(p.kernel_channel.size());
        p.groups.push_back(g);
        distinct.insert(mask);
      }
      const PackedGroup& g = p.groups.back();
      p.kernel_channel.push_back(i);
      for (int n = 0; n < spec::kPatternTaps; ++n) {
        p.kernel_weights.push_back(ohwi[(size_t(o) * spec::kKernelTaps + g.taps[n]) * in_channels + i]);
      }
      p.groups.back().end = int32_t(p.kernel_channel.size());
    }
    p.filter_groups.push_back(int32_t(p.groups.size()));
  }
  p.distinct_patterns = int(distinct.size());

  *out = std::move(p);
}

void PackChannelMajor(int filter_block, PackedConv* p) {
  // Every kept kernel as (filter, channel, group) from the filter-major form.
  struct Kernel {
    int filter, channel;
    const PackedGroup* group;
    int32_t index;
  };
  std::vector<Kernel> kernels;
  kernels.reserve(p->kept_kernels());
  for (int f = 0; f < p->out_channels; ++f) {
    const int o = p->filter_order[f];
    for (int gi = p->filter_groups[f]; gi < p->filter_groups[f + 1]; ++gi) {
      const PackedGroup& g = p->groups[gi];
      for (int k = g.begin; k < g.end; ++k) kernels.push_back({o, p->kernel_channel[k], &g, k});
    }
  }
  // Block of the filter, then channel, then pattern, then filter: a block's
  // tile buffer is indexed by the original output channel, so the finished
  // tile is written to NHWC contiguously.
  std::sort(kernels.begin(), kernels.end(), [&](const Kernel& a, const Kernel& b) {
    const int ba = a.filter / filter_block, bb = b.filter / filter_block;
    if (ba != bb) return ba < bb;
    if (a.channel != b.channel) return a.channel < b.channel;
    if (a.group->mask != b.group->mask) return a.group->mask < b.group->mask;
    return a.filter < b.filter;
  });
  ChannelMajorPack cm;
  cm.filter_block = filter_block;
  cm.blocks = (p->out_channels + filter_block - 1) / filter_block;
  cm.group_index.assign(size_t(cm.blocks) * p->in_channels + 1, 0);
  cm.kernel_filter.reserve(kernels.size());
  cm.kernel_weights.reserve(kernels.size() * spec::kPatternTaps);
  size_t next = 0;
  for (int b = 0; b < cm.blocks; ++b) {
    for (int c = 0; c < p->in_channels; ++c) {
      cm.group_index[size_t(b) * p->in_channels + c] = int32_t(cm.groups.size());
      for (; next < kernels.size() && kernels[next].filter / filter_block == b && kernels[next].channel == c; ++next) {
        const Kernel& k = kernels[next];
        const bool first_of_channel = cm.groups.size() == size_t(cm.group_index[size_t(b) * p->in_channels + c]);
        if (first_of_channel || cm.groups.back().mask != k.group->mask) {
          PackedGroup g = *k.group;
          g.begin = g.end = int32_t(cm.kernel_filter.size());
          cm.groups.push_back(g);
        }
        cm.kernel_filter.push_back(k.filter - b * filter_block);
        for (int n = 0; n < spec::kPatternTaps; ++n) {
          cm.kernel_weights.push_back(p->kernel_weights[size_t(k.index) * spec::kPatternTaps + n]);
        }
        cm.groups.back().end = int32_t(cm.kernel_filter.size());
      }
    }
  }
  cm.group_index.back() = int32_t(cm.groups.size());
  p->channel_major = std::move(cm);
}

}  // namespace patternlite
