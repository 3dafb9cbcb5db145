// libFuzzer harness of the metadata reader, ParsePatternMetadata
// (delegate/metadata/metadata_reader.cc), which parses untrusted bytes from
// the model file (docs/fuzzing.md).
//
// Each input is parsed twice: as it is, and with its header repaired (magic,
// major version, total size and CRC made to agree with the bytes), so that the
// fuzzer also reaches the pattern table and the layer records behind the CRC.
// Built with AddressSanitizer and UBSan, any out-of-bounds read is a crash.
// Beyond not crashing, it checks:
//  * a refusal sets an error and leaves the output untouched;
//  * an accepted blob obeys every bound of docs/metadata-format.md (library
//    patterns of 4 taps with the centre, kernel tables of O*I ids inside the
//    library or PRUNED, records keyed by their names);
//  * it round-trips: written again (fuzz::EncodeMetadata, which lays blobs
//    out as patternlite.metadata.encode does) it parses to the same content;
//  * each small record is accepted by AssignKernelMasks for weights that
//    follow it exactly, and PackPatternConv keeps exactly its kept kernels.
//
// tools/fuzz.sh builds and runs it; tests/fuzz/replay_main.cc turns it into
// a plain program that replays corpus files (tests/test_fuzz_corpus.py).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "delegate/contract_generated.h"
#include "delegate/metadata/metadata_reader.h"
#include "delegate/packing/pattern_pack.h"
#include "delegate/runtime/weight_checks.h"
#include "tests/fuzz/fuzz_util.h"

namespace {

using patternlite::LayerRecord;
using patternlite::PatternMetadata;
using patternlite::fuzz::Die;
namespace contract = patternlite::contract;

// Records up to this many weights also go through mask assignment and packing.
constexpr uint64_t kMaxPackedWeights = 1 << 16;

void CheckAccepted(const PatternMetadata& m) {
  if (m.version_major != contract::kVersionMajor) Die("accepted another major version");
  if (m.patterns.empty() || m.patterns.size() > contract::kMaxPatterns) Die("accepted a bad pattern count");
  for (uint16_t mask : m.patterns) {
    if (!contract::IsLibraryPattern(mask)) Die("accepted a pattern that is not a library pattern");
  }
  for (const auto& entry : m.layers) {
    const LayerRecord& rec = entry.second;
    if (entry.first != rec.tensor_name) Die("record keyed by another name");
    if (rec.kernel_pattern.size() != uint64_t(rec.out_channels) * rec.in_channels) {
      Die("kernel table of " + rec.tensor_name + " is not O*I long");
    }
    for (uint8_t id : rec.kernel_pattern) {
      if (id != contract::kPrunedKernel && id >= m.patterns.size()) Die("kernel id outside the library");
      if (rec.kind == contract::kKindPointwise && id != contract::kPrunedKernel && id != 0) {
        Die("accepted a pointwise entry that is neither 0 nor pruned");
      }
    }
    if (rec.kind >= contract::kKindCount) Die("kept a record of an unknown kind");
    if (rec.kind == contract::kKindDepthwise3x3 && rec.in_channels != 1) Die("accepted a depthwise record with I != 1");
  }
}

bool SameContent(const PatternMetadata& a, const PatternMetadata& b) {
  if (a.version_major != b.version_major || a.version_minor != b.version_minor || a.patterns != b.patterns ||
      a.layers.size() != b.layers.size()) {
    return false;
  }
  for (const auto& entry : a.layers) {
    auto it = b.layers.find(entry.first);
    if (it == b.layers.end()) return false;
    const LayerRecord &x = entry.second, &y = it->second;
    uint32_t kx, ky;
    std::memcpy(&kx, &x.keep, 4);
    std::memcpy(&ky, &y.keep, 4);
    if (x.out_channels != y.out_channels || x.in_channels != y.in_channels || kx != ky || x.kind != y.kind ||
        x.kernel_pattern != y.kernel_pattern) {
      return false;
    }
  }
  return true;
}

// Weights that follow `rec` exactly (1 on every tap of every kept kernel's
// pattern) must be accepted with the record's masks and packed to its kept kernels.
void CheckMasksAndPacking(const PatternMetadata& m, const LayerRecord& rec) {
  const int O = int(rec.out_channels), I = int(rec.in_channels);
  if (O == 0 || I == 0) return;
  std::vector<float> filter(size_t(O) * contract::kKernelTaps * I, 0.0f);
  size_t kept = 0;
  for (int o = 0; o < O; ++o) {
    for (int i = 0; i < I; ++i) {
      const uint8_t id = rec.kernel_pattern[size_t(o) * I + i];
      if (id == contract::kPrunedKernel) continue;
      ++kept;
      for (int t = 0; t < contract::kKernelTaps; ++t) {
        if (m.patterns[id] >> t & 1) filter[(size_t(o) * contract::kKernelTaps + t) * I + i] = 1.0f;
      }
    }
  }
  std::vector<uint16_t> masks;
  std::string reason;
  if (!patternlite::AssignKernelMasks(filter.data(), O, I, &rec, m.patterns, &masks, &reason)) {
    Die("weights that follow record " + rec.tensor_name + " refused: " + reason);
  }
  for (size_t k = 0; k < masks.size(); ++k) {
    const uint8_t id = rec.kernel_pattern[k];
    if (masks[k] != (id == contract::kPrunedKernel ? 0 : m.patterns[id])) Die("mask differs from the record");
  }
  patternlite::PackedConv packed;
  patternlite::PackPatternConv(filter.data(), O, I, masks.data(), nullptr, &packed);
  if (packed.kept_kernels() != kept || packed.kernel_weights.size() != kept * contract::kPatternTaps) {
    Die("packing kept another number of kernels than the record");
  }
  for (float w : packed.kernel_weights) {
    if (w != 1.0f) Die("packing kept a weight outside a pattern");
  }
}

void ParseAndCheck(const uint8_t* data, size_t size) {
  PatternMetadata meta;
  meta.version_major = 0xBEEF;  // a refusal must leave the output untouched
  std::string error;
  if (!patternlite::ParsePatternMetadata(data, size, &meta, &error)) {
    if (error.empty()) Die("refused without an error message");
    if (meta.version_major != 0xBEEF || !meta.patterns.empty() || !meta.layers.empty()) {
      Die("refusal left a partial result");
    }
    return;
  }
  if (!error.empty()) Die("accepted with an error message");
  CheckAccepted(meta);

  std::vector<const LayerRecord*> records;
  for (const auto& entry : meta.layers) records.push_back(&entry.second);
  const std::vector<uint8_t> again = patternlite::fuzz::EncodeMetadata(meta.patterns, records);
  PatternMetadata reparsed;
  if (!patternlite::ParsePatternMetadata(again.data(), again.size(), &reparsed, &error)) {
    Die("a re-encoded accepted blob is refused: " + error);
  }
  // The writer sets the minor version the contract names; the rest must match.
  reparsed.version_minor = meta.version_minor;
  if (!SameContent(meta, reparsed)) Die("a re-encoded accepted blob parses to other content");

  for (const LayerRecord* rec : records) {
    if (uint64_t(rec->out_channels) * rec->in_channels * contract::kKernelTaps <= kMaxPackedWeights) {
      CheckMasksAndPacking(meta, *rec);
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  ParseAndCheck(data, size);
  if (size >= contract::kHeaderSize) {
    // An exactly sized copy, so that AddressSanitizer sees any read past its end.
    std::vector<uint8_t> repaired(data, data + size);
    patternlite::fuzz::RepairHeader(&repaired);
    std::unique_ptr<uint8_t[]> exact(new uint8_t[size]);
    std::memcpy(exact.get(), repaired.data(), size);
    ParseAndCheck(exact.get(), size);
  }
  return 0;
}
