#include "delegate/runtime/options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>

namespace patternlite {
namespace {

bool ParseInt(const std::string& s, int* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < -1 || v > 1024) return false;
  *out = int(v);
  return true;
}

bool ParseFloat(const std::string& s, float* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const float v = std::strtof(s.c_str(), &end);
  if (errno != 0 || *end != '\0' || !std::isfinite(v)) return false;
  *out = v;
  return true;
}

}  // namespace

const char* MetadataModeName(MetadataMode mode) {
  switch (mode) {
    case MetadataMode::kAuto: return "auto";
    case MetadataMode::kRequire: return "require";
    case MetadataMode::kIgnore: return "ignore";
  }
  return "?";
}

const char* KnownOptionNames() { return "num_threads, min_sparsity, metadata, log_level, isa"; }

bool SetOption(const std::string& key, const std::string& value, DelegateOptions* o, std::string* error) {
  if (key == "num_threads") {
    if (!ParseInt(value, &o->num_threads)) {
      *error = "num_threads must be an integer in [-1, 1024] (<= 0: the interpreter's), got '" + value + "'";
      return false;
    }
    return true;
  }
  if (key == "min_sparsity") {
    float v = 0;
    if (!ParseFloat(value, &v) || v < 0.0f || v > 1.0f) {
      *error = "min_sparsity must be a number in [0, 1], got '" + value + "'";
      return false;
    }
    o->min_sparsity = v;
    return true;
  }
  if (key == "metadata") {
    if (value == "auto") o->metadata = MetadataMode::kAuto;
    else if (value == "require") o->metadata = MetadataMode::kRequire;
    else if (value == "ignore") o->metadata = MetadataMode::kIgnore;
    else {
      *error = "metadata must be one of auto, require, ignore, got '" + value + "'";
      return false;
    }
    return true;
  }
  if (key == "log_level") {
    static const char* kNames[] = {"silent", "error", "warning", "info", "debug"};
    for (int i = 0; i < 5; ++i) {
      if (value == kNames[i]) {
        o->log_level = LogLevel(i);
        return true;
      }
    }
    *error = "log_level must be one of silent, error, warning, info, debug, got '" + value + "'";
    return false;
  }
  if (key == "isa") {
    Isa isa;
    if (!ParseIsa(value, &isa)) {
      *error = "isa must be one of auto, scalar, avx2, avx512, neon, got '" + value + "'";
      return false;
    }
    if (!IsaAvailable(isa)) {
      *error = std::string("isa '") + value + "' is not available on this CPU or in this build";
      return false;
    }
    o->isa = isa;
    return true;
  }
  *error = "unknown option '" + key + "' (known: " + KnownOptionNames() + ")";
  return false;
}

}  // namespace patternlite
