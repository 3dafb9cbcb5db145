#include "delegate/runtime/weight_checks.h"

#include "delegate/contract_generated.h"

namespace patternlite {
namespace {

namespace spec = contract;  // delegate/contract_generated.h, from spec/contract.toml

// Bit 3*ky+kx of the support of kernel (o, i) in an OHWI filter.
uint16_t KernelSupport(const float* ohwi, int in_channels, int o, int i) {
  uint16_t bits = 0;
  for (int t = 0; t < spec::kKernelTaps; ++t) {
    if (ohwi[(size_t(o) * spec::kKernelTaps + t) * in_channels + i] != 0.0f) bits |= uint16_t(1u << t);
  }
  return bits;
}

// Smallest-change completion of a support of <= kPatternTaps taps to exactly
// kPatternTaps: the centre first (the converter's patterns always keep it),
// then the lowest taps.
uint16_t CompleteTaps(uint16_t support) {
  uint16_t m = support;
  if (spec::TapCount(m) < spec::kPatternTaps) m |= spec::kCentreMask;
  for (int t = 0; t < spec::kKernelTaps && spec::TapCount(m) < spec::kPatternTaps; ++t) m |= uint16_t(1u << t);
  return m;
}

std::string KernelName(int o, int i) { return "kernel (o=" + std::to_string(o) + ", i=" + std::to_string(i) + ")"; }

}  // namespace

bool AssignKernelMasks(const float* ohwi, int out_channels, int in_channels, const LayerRecord* record,
                       const std::vector<uint16_t>& library, std::vector<uint16_t>* masks,
                       std::string* reason) {
  masks->assign(size_t(out_channels) * in_channels, 0);
  if (record != nullptr) {
    if (int(record->out_channels) != out_channels || int(record->in_channels) != in_channels) {
      *reason = "metadata shape " + std::to_string(record->out_channels) + "x" +
                std::to_string(record->in_channels) + " disagrees with the filter's " +
                std::to_string(out_channels) + "x" + std::to_string(in_channels);
      return false;
    }
  }
  for (int o = 0; o < out_channels; ++o) {
    for (int i = 0; i < in_channels; ++i) {
      const uint16_t support = KernelSupport(ohwi, in_channels, o, i);
      uint16_t mask = 0;
      if (record != nullptr) {
        const uint8_t id = record->kernel_pattern[size_t(o) * in_channels + i];
        if (id == kPrunedKernel) {
          if (support != 0) {
            *reason = "metadata marks " + KernelName(o, i) + " pruned but it holds non-zero weights";
            return false;
          }
        } else {
          mask = library[id];
          if ((support & ~mask) != 0) {
            *reason = "weights of " + KernelName(o, i) + " fall outside metadata pattern " + std::to_string(id);
            return false;
          }
        }
      } else if (support != 0) {
        if (spec::TapCount(support) > spec::kPatternTaps) {
          *reason = KernelName(o, i) + " has " + std::to_string(spec::TapCount(support)) +
                    " non-zero taps: not pattern-sparse";
          return false;
        }
        mask = CompleteTaps(support);
      }
      (*masks)[size_t(o) * in_channels + i] = mask;
    }
  }
  return true;
}

bool AssignPointwise(const float* filter, int out_channels, int in_channels, const LayerRecord* record,
                     std::vector<uint8_t>* kept, std::string* reason) {
  const size_t n = size_t(out_channels) * in_channels;
  kept->assign(n, 0);
  if (record != nullptr) {
    if (record->kind != contract::kKindPointwise) {
      *reason = "pattern metadata describes this filter as another kind of layer";
      return false;
    }
    if (record->out_channels != uint32_t(out_channels) || record->in_channels != uint32_t(in_channels)) {
      *reason = "pattern metadata shape " + std::to_string(record->out_channels) + "x" +
                std::to_string(record->in_channels) + " disagrees with the filter";
      return false;
    }
  }
  for (size_t k = 0; k < n; ++k) {
    const bool on = record != nullptr ? record->kernel_pattern[k] != kPrunedKernel : filter[k] != 0.0f;
    if (!on && filter[k] != 0.0f) {
      *reason = "pattern metadata marks weight (o=" + std::to_string(k / in_channels) +
                ", i=" + std::to_string(k % in_channels) + ") pruned but it is non-zero";
      return false;
    }
    (*kept)[k] = on;
  }
  return true;
}

bool AssignDepthwise(const float* filter, int channels, const LayerRecord* record,
                     const std::vector<uint16_t>& library, std::vector<uint16_t>* masks, std::string* reason) {
  masks->assign(size_t(channels), 0);
  if (record != nullptr) {
    if (record->kind != contract::kKindDepthwise3x3) {
      *reason = "pattern metadata describes this filter as another kind of layer";
      return false;
    }
    if (record->out_channels != uint32_t(channels) || record->in_channels != 1) {
      *reason = "pattern metadata shape " + std::to_string(record->out_channels) + "x" +
                std::to_string(record->in_channels) + " disagrees with the depthwise filter";
      return false;
    }
  }
  for (int c = 0; c < channels; ++c) {
    uint16_t support = 0;
    for (int t = 0; t < spec::kKernelTaps; ++t) {
      if (filter[size_t(t) * channels + c] != 0.0f) support |= uint16_t(1u << t);
    }
    uint16_t mask = support;
    if (record != nullptr) {
      const uint8_t id = record->kernel_pattern[size_t(c)];
      mask = id == kPrunedKernel ? 0 : library[id];
      if ((support & ~mask) != 0) {
        *reason = "channel " + std::to_string(c) + " has weights outside its metadata pattern";
        return false;
      }
    }
    (*masks)[size_t(c)] = mask;
  }
  return true;
}

bool AssignKernelMasksInt8(const int8_t* ohwi, int out_channels, int in_channels, const LayerRecord* record,
                           const std::vector<uint16_t>& library, std::vector<uint16_t>* masks, std::string* reason) {
  const std::vector<float> f(ohwi, ohwi + size_t(out_channels) * contract::kKernelTaps * in_channels);
  return AssignKernelMasks(f.data(), out_channels, in_channels, record, library, masks, reason);
}

}  // namespace patternlite
