#include "delegate/metadata/metadata_reader.h"

#include <cstring>

namespace patternlite {
namespace {

namespace spec = contract;  // delegate/contract_generated.h, from spec/contract.toml

static_assert((spec::kAlignment & (spec::kAlignment - 1)) == 0, "Pad4 needs a power-of-two alignment");
size_t Pad4(size_t n) { return (n + spec::kAlignment - 1) & ~(spec::kAlignment - 1); }

// Little-endian loads that work on any alignment (the blob sits wherever the
// flatbuffer put it).
uint32_t LoadU32(const uint8_t* p) {
  return uint32_t(p[0]) | uint32_t(p[1]) << 8 | uint32_t(p[2]) << 16 | uint32_t(p[3]) << 24;
}
uint16_t LoadU16(const uint8_t* p) { return uint16_t(p[0] | p[1] << 8); }
static_assert(spec::kPatternEntryBytes == sizeof(uint16_t), "pattern-library entries are read with LoadU16");
float LoadF32(const uint8_t* p) {
  uint32_t bits = LoadU32(p);
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

// Strict UTF-8 (no overlong forms, surrogates or code points past U+10FFFF),
// the rule Python's bytes.decode("utf-8") applies: both readers must refuse
// the same blobs (docs/metadata-format.md).
bool IsUtf8(const uint8_t* s, size_t n) {
  size_t i = 0;
  while (i < n) {
    const uint8_t c = s[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    int len;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2, cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3, cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4, cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i < size_t(len)) return false;
    for (int k = 1; k < len; ++k) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = cp << 6 | (s[i + k] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF))) return false;
    if (cp >= 0xD800 && cp <= 0xDFFF) return false;
    i += size_t(len);
  }
  return true;
}

bool Fail(std::string* error, const std::string& why) {
  *error = why;
  return false;
}

}  // namespace

uint32_t Crc32(const uint8_t* data, size_t size) {
  static uint32_t table[256];
  static bool init = [] {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
      table[i] = c;
    }
    return true;
  }();
  (void)init;
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < size; ++i) crc = table[(crc ^ data[i]) & 0xFF] ^ (crc >> 8);
  return crc ^ 0xFFFFFFFFu;
}

bool ParsePatternMetadata(const uint8_t* data, size_t size, PatternMetadata* out, std::string* error) {
  if (data == nullptr || size < spec::kHeaderSize) return Fail(error, "metadata shorter than its header");
  if (std::memcmp(data + spec::kHeaderMagicOffset, spec::kMagic, spec::kMagicSize) != 0) {
    return Fail(error, std::string("bad magic (expected ") + spec::kMagic + ")");
  }
  PatternMetadata meta;
  meta.version_major = LoadU16(data + spec::kHeaderVersionMajorOffset);
  meta.version_minor = LoadU16(data + spec::kHeaderVersionMinorOffset);
  if (meta.version_major != spec::kVersionMajor) {
    return Fail(error, "unsupported metadata version " + std::to_string(meta.version_major) + "." +
                           std::to_string(meta.version_minor));
  }
  const uint32_t total = LoadU32(data + spec::kHeaderTotalSizeOffset);
  if (total != size) return Fail(error, "metadata size field disagrees with the buffer size");
  if (Crc32(data + spec::kHeaderSize, size - spec::kHeaderSize) != LoadU32(data + spec::kHeaderCrc32Offset)) {
    return Fail(error, "metadata CRC mismatch (corrupt bytes)");
  }
  const uint32_t k = LoadU32(data + spec::kHeaderNumPatternsOffset);
  const uint32_t n_layers = LoadU32(data + spec::kHeaderNumLayersOffset);
  if (k < 1 || k > spec::kMaxPatterns) return Fail(error, "pattern count out of range");
  const uint8_t* body = data + spec::kHeaderSize;
  const size_t body_size = size - spec::kHeaderSize;
  size_t pos = Pad4(spec::kPatternEntryBytes * size_t{k});
  if (pos > body_size) return Fail(error, "pattern table runs past the end");
  for (uint32_t i = 0; i < k; ++i) {
    uint16_t m = LoadU16(body + spec::kPatternEntryBytes * i);
    if (!spec::IsLibraryPattern(m)) {
      return Fail(error, "pattern " + std::to_string(i) + " is not a " + std::to_string(spec::kPatternTaps) +
                             "-tap mask with the centre");
    }
    meta.patterns.push_back(m);
  }
  for (uint32_t l = 0; l < n_layers; ++l) {
    if (body_size - pos < spec::kLayerHeadSize) return Fail(error, "layer record header runs past the end");
    const uint32_t rec_size = LoadU32(body + pos + spec::kLayerHeadRecordSizeOffset);
    const uint32_t name_len = LoadU32(body + pos + spec::kLayerHeadNameLenOffset);
    if (rec_size < spec::kLayerHeadSize || rec_size > body_size - pos) {
      return Fail(error, "layer record size out of bounds");
    }
    const size_t rec_end = pos + rec_size;
    size_t p = pos + spec::kLayerHeadSize;
    if (name_len > rec_end - p) return Fail(error, "layer name runs past its record");
    if (!IsUtf8(body + p, name_len)) return Fail(error, "layer name is not UTF-8");
    LayerRecord rec;
    rec.tensor_name.assign(reinterpret_cast<const char*>(body + p), name_len);
    p += Pad4(name_len);
    if (p > rec_end || rec_end - p < spec::kLayerShapeSize) return Fail(error, "layer record too short for its shape");
    rec.out_channels = LoadU32(body + p + spec::kLayerShapeOutChannelsOffset);
    rec.in_channels = LoadU32(body + p + spec::kLayerShapeInChannelsOffset);
    rec.keep = LoadF32(body + p + spec::kLayerShapeKeepOffset);
    // Written as a negation so that NaN fails too.
    if (!(rec.keep > 0.0f && rec.keep <= 1.0f)) return Fail(error, rec.tensor_name + ": keep outside (0, 1]");
    p += spec::kLayerShapeSize;
    const uint64_t n_kernels = uint64_t(rec.out_channels) * rec.in_channels;
    if (n_kernels > rec_end - p) return Fail(error, "kernel table of " + rec.tensor_name + " runs past its record");
    rec.kernel_pattern.assign(body + p, body + p + n_kernels);
    if (meta.version_minor >= spec::kLayerTailSinceMinor) {
      // The tail follows the padded table; 1.0 records have none (kind 0).
      p += Pad4(size_t(n_kernels));
      if (p > rec_end || rec_end - p < spec::kLayerTailSize) {
        return Fail(error, rec.tensor_name + ": record has no kind field");
      }
      rec.kind = LoadU32(body + p + spec::kLayerTailKindOffset);
    }
    pos = rec_end;
    if (rec.kind >= spec::kKindCount) continue;  // a later minor version's kind: skipped, as Python does
    for (uint8_t id : rec.kernel_pattern) {
      if (id != kPrunedKernel && id >= k) return Fail(error, rec.tensor_name + " names a pattern outside the library");
    }
    if (rec.kind == spec::kKindPointwise) {
      for (uint8_t id : rec.kernel_pattern) {
        if (id != kPrunedKernel && id != 0) return Fail(error, rec.tensor_name + ": pointwise entry is not 0 or pruned");
      }
    }
    if (rec.kind == spec::kKindDepthwise3x3 && rec.in_channels != 1) {
      return Fail(error, rec.tensor_name + ": depthwise record with more than one input channel per filter");
    }
    if (meta.layers.count(rec.tensor_name)) return Fail(error, "two records name " + rec.tensor_name);
    meta.layers.emplace(rec.tensor_name, std::move(rec));
  }
  *out = std::move(meta);
  return true;
}

}  // namespace patternlite
