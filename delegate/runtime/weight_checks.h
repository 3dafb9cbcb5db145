// The checks of a filter's weights against its metadata record (or, without
// one, against the rules a model without metadata must follow), and what they
// decide: each kernel's mask or each weight's kept flag. The delegate's judges
// run them before claiming a node; packing then lays out what they decided.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_WEIGHT_CHECKS_H_
#define PATTERNLITE_DELEGATE_RUNTIME_WEIGHT_CHECKS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "delegate/metadata/metadata_reader.h"

namespace patternlite {

// Decides the 4-tap mask of every kernel (0 = pruned) of an OHWI 3x3 filter.
//
// With `record` (metadata), the record's pattern ids are checked against the
// weights: a pruned kernel must be all zero, a kept kernel's non-zeros must lie
// inside its pattern. Without it, each kernel's support must have at most 4
// taps; it is completed to 4 taps (centre first). Returns false with a reason
// on any disagreement.
bool AssignKernelMasks(const float* ohwi, int out_channels, int in_channels, const LayerRecord* record,
                       const std::vector<uint16_t>& library, std::vector<uint16_t>* masks,
                       std::string* reason);

// Which weights of a [O,1,1,I] filter are kept (1) or pruned (0). With a
// pointwise `record`, its table decides and the weights must be zero where it
// says pruned; without one, the non-zero weights are kept. False with a reason
// on disagreement.
bool AssignPointwise(const float* filter, int out_channels, int in_channels, const LayerRecord* record,
                     std::vector<uint8_t>* kept, std::string* reason);

// The tap mask of each channel of a [1,3,3,C] filter (0: pruned). With a
// depthwise `record`, each channel's pattern comes from the library and the
// weights must lie inside it; without one, a channel's mask is its non-zero
// support (any number of taps: the kernels run every mask).
bool AssignDepthwise(const float* filter, int channels, const LayerRecord* record,
                     const std::vector<uint16_t>& library, std::vector<uint16_t>* masks, std::string* reason);

// The 4-tap masks of an OHWI int8 filter, as AssignKernelMasks decides them
// for fp32 (the same rules: an int8 weight is zero exactly when its float is).
bool AssignKernelMasksInt8(const int8_t* ohwi, int out_channels, int in_channels, const LayerRecord* record,
                           const std::vector<uint16_t>& library, std::vector<uint16_t>* masks, std::string* reason);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_WEIGHT_CHECKS_H_
