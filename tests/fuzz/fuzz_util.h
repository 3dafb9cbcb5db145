// Helpers shared by the libFuzzer harnesses of tests/fuzz (docs/fuzzing.md):
// a byte reader that turns the fuzz input into decisions, and a writer of the
// "patternlite" metadata blob (docs/metadata-format.md) that mirrors
// patternlite.metadata.encode, so harnesses can build valid blobs and repair
// the size and CRC of fuzzed ones. Header-only, standard library only.
#ifndef PATTERNLITE_TESTS_FUZZ_FUZZ_UTIL_H_
#define PATTERNLITE_TESTS_FUZZ_FUZZ_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "delegate/contract_generated.h"
#include "delegate/metadata/metadata_reader.h"

namespace patternlite {
namespace fuzz {

// Reads decisions from the fuzz input, front to back. Once the input runs out
// it continues with a xorshift stream seeded from the whole input, so every
// input decides everything, deterministically (a replay gives the same run).
class ByteReader {
 public:
  ByteReader(const uint8_t* data, size_t size) : data_(data), size_(size) {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    for (size_t i = 0; i < size; ++i) h = (h ^ data[i]) * 1099511628211ull;
    state_ = h | 1;
  }
  uint8_t Byte() {
    if (pos_ < size_) return data_[pos_++];
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    return uint8_t(state_ >> 24);
  }
  uint32_t U16() { return uint32_t(Byte()) | uint32_t(Byte()) << 8; }
  bool exhausted() const { return pos_ >= size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
  uint64_t state_;
};

// A violated expectation: print it and abort, which libFuzzer reports as a
// crash (and saves the input), and which fails the plain replay build.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "FUZZ CHECK FAILED: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

inline void PutU16(std::vector<uint8_t>* b, uint32_t v) {
  b->push_back(uint8_t(v));
  b->push_back(uint8_t(v >> 8));
}
inline void PutU32(std::vector<uint8_t>* b, uint32_t v) {
  for (int s = 0; s < 32; s += 8) b->push_back(uint8_t(v >> s));
}
inline void SetU32(std::vector<uint8_t>* b, size_t at, uint32_t v) {
  for (int s = 0; s < 32; s += 8) (*b)[at + s / 8] = uint8_t(v >> s);
}
inline void Pad4(std::vector<uint8_t>* b, size_t from) {
  while ((b->size() - from) % contract::kAlignment != 0) b->push_back(0);
}

// Makes the header of a blob agree with its bytes: magic, major version, the
// total size and the CRC of the body. Needs at least kHeaderSize bytes.
inline void RepairHeader(std::vector<uint8_t>* blob) {
  std::memcpy(blob->data() + contract::kHeaderMagicOffset, contract::kMagic, contract::kMagicSize);
  (*blob)[contract::kHeaderVersionMajorOffset] = uint8_t(contract::kVersionMajor);
  (*blob)[contract::kHeaderVersionMajorOffset + 1] = uint8_t(contract::kVersionMajor >> 8);
  SetU32(blob, contract::kHeaderTotalSizeOffset, uint32_t(blob->size()));
  SetU32(blob, contract::kHeaderCrc32Offset,
         Crc32(blob->data() + contract::kHeaderSize, blob->size() - contract::kHeaderSize));
}

// The blob of `patterns` and `layers` at the contract's version, laid out as
// patternlite.metadata.encode lays it out (from 1.1: each record ends with its kind).
inline std::vector<uint8_t> EncodeMetadata(const std::vector<uint16_t>& patterns,
                                           const std::vector<const LayerRecord*>& layers) {
  std::vector<uint8_t> b(contract::kHeaderSize, 0);
  b[contract::kHeaderVersionMinorOffset] = uint8_t(contract::kVersionMinor);
  SetU32(&b, contract::kHeaderNumPatternsOffset, uint32_t(patterns.size()));
  SetU32(&b, contract::kHeaderNumLayersOffset, uint32_t(layers.size()));
  const size_t body = b.size();
  for (uint16_t m : patterns) PutU16(&b, m);
  Pad4(&b, body);
  for (const LayerRecord* rec : layers) {
    const size_t start = b.size();
    PutU32(&b, 0);  // record size, set below
    PutU32(&b, uint32_t(rec->tensor_name.size()));
    b.insert(b.end(), rec->tensor_name.begin(), rec->tensor_name.end());
    Pad4(&b, start);
    PutU32(&b, rec->out_channels);
    PutU32(&b, rec->in_channels);
    uint32_t keep_bits;
    std::memcpy(&keep_bits, &rec->keep, sizeof keep_bits);
    PutU32(&b, keep_bits);
    b.insert(b.end(), rec->kernel_pattern.begin(), rec->kernel_pattern.end());
    Pad4(&b, start);
    if (contract::kVersionMinor >= contract::kLayerTailSinceMinor) PutU32(&b, rec->kind);
    SetU32(&b, start + contract::kLayerHeadRecordSizeOffset, uint32_t(b.size() - start));
  }
  RepairHeader(&b);
  return b;
}

}  // namespace fuzz
}  // namespace patternlite

#endif  // PATTERNLITE_TESTS_FUZZ_FUZZ_UTIL_H_
