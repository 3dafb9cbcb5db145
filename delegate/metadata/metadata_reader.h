// Reader for the "patternlite" metadata blob (docs/metadata-format.md). Its
// names, sizes and offsets come from spec/contract.toml through
// delegate/contract_generated.h.
//
// Parsing never trusts the bytes: every length is bounds-checked, the CRC is
// verified, and any failure yields an error string instead of a partial result.
#ifndef PATTERNLITE_DELEGATE_METADATA_METADATA_READER_H_
#define PATTERNLITE_DELEGATE_METADATA_METADATA_READER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "delegate/contract_generated.h"

namespace patternlite {

using contract::kMetadataName;
using contract::kPrunedKernel;

struct LayerRecord {
  std::string tensor_name;
  uint32_t kind = contract::kKindConv3x3;  // contract::kKind*: how kernel_pattern reads
  uint32_t out_channels = 0;
  uint32_t in_channels = 0;
  float keep = 1.0f;
  // [o * in_channels + i], kPrunedKernel when pruned; else a library index
  // (conv3x3, depthwise3x3: in_channels == 1) or 0 (pointwise).
  std::vector<uint8_t> kernel_pattern;
};

struct PatternMetadata {
  uint16_t version_major = 0;
  uint16_t version_minor = 0;
  std::vector<uint16_t> patterns;  // 9-bit masks, bit 3*ky+kx
  std::unordered_map<std::string, LayerRecord> layers;  // records of the kinds this reader knows
};

// Parses `size` bytes at `data`. On failure returns false and sets `*error`.
bool ParsePatternMetadata(const uint8_t* data, size_t size, PatternMetadata* out, std::string* error);

// CRC-32 as zlib computes it (reflected polynomial 0xEDB88320).
uint32_t Crc32(const uint8_t* data, size_t size);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_METADATA_METADATA_READER_H_
