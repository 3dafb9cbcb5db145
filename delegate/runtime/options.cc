#include "delegate/runtime/options.h"

#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdlib>

namespace patternlite {
namespace {

namespace spec = contract;  // delegate/contract_generated.h, from spec/contract.toml

// The enums list their values in the spec's order of choices.
constexpr bool Same(const char* a, const char* b) { return *a == *b && (*a == '\0' || Same(a + 1, b + 1)); }
static_assert(spec::kOptMetadataChoiceCount == 3 &&
                  Same(spec::kOptMetadataChoices[int(MetadataMode::kAuto)], "auto") &&
                  Same(spec::kOptMetadataChoices[int(MetadataMode::kRequire)], "require") &&
                  Same(spec::kOptMetadataChoices[int(MetadataMode::kIgnore)], "ignore"),
              "MetadataMode disagrees with the metadata option's choices in spec/contract.toml");
static_assert(spec::kOptLogLevelChoiceCount == 5 && Same(spec::kOptLogLevelChoices[int(LogLevel::kSilent)], "silent") &&
                  Same(spec::kOptLogLevelChoices[int(LogLevel::kError)], "error") &&
                  Same(spec::kOptLogLevelChoices[int(LogLevel::kWarning)], "warning") &&
                  Same(spec::kOptLogLevelChoices[int(LogLevel::kInfo)], "info") &&
                  Same(spec::kOptLogLevelChoices[int(LogLevel::kDebug)], "debug"),
              "LogLevel disagrees with the log_level option's choices in spec/contract.toml");

static_assert(spec::kOptBackendChoiceCount == 3 && Same(spec::kOptBackendChoices[int(Backend::kCpu)], "cpu") &&
                  Same(spec::kOptBackendChoices[int(Backend::kOpenCl)], "opencl") &&
                  Same(spec::kOptBackendChoices[int(Backend::kAuto)], "auto"),
              "Backend disagrees with the backend option's choices in spec/contract.toml");
static_assert(spec::kOptInt8ChoiceCount == 3 && Same(spec::kOptInt8Choices[int(Int8Claims::kAuto)], "auto") &&
                  Same(spec::kOptInt8Choices[int(Int8Claims::kAll)], "all") &&
                  Same(spec::kOptInt8Choices[int(Int8Claims::kNone)], "none"),
              "Int8Claims disagrees with the int8 option's choices in spec/contract.toml");

// Longest OpenCL platform or device selector: names are short, and a bound
// keeps a garbage value from travelling into error messages whole.
constexpr size_t kMaxSelectorLength = 256;

bool ParseInt(const std::string& s, int lo, int hi, int* out) {
  if (s.empty()) return false;
  errno = 0;
  char* end = nullptr;
  const long v = std::strtol(s.c_str(), &end, 10);
  if (errno != 0 || *end != '\0' || v < lo || v > hi) return false;
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

// The index of `value` among a choice option's values, or -1.
template <size_t N>
int ChoiceIndex(const std::string& value, const char* const (&choices)[N]) {
  for (size_t i = 0; i < N; ++i) {
    if (value == choices[i]) return int(i);
  }
  return -1;
}

std::string BadChoice(const char* name, const char* choices, const std::string& value) {
  return std::string(name) + " must be one of " + choices + ", got '" + value + "'";
}

}  // namespace

const char* MetadataModeName(MetadataMode mode) {
  const int i = int(mode);
  return i >= 0 && i < spec::kOptMetadataChoiceCount ? spec::kOptMetadataChoices[i] : "?";
}

const char* Int8ClaimsName(Int8Claims claims) {
  const int i = int(claims);
  return i >= 0 && i < spec::kOptInt8ChoiceCount ? spec::kOptInt8Choices[i] : "?";
}

const char* BackendName(Backend backend) {
  const int i = int(backend);
  return i >= 0 && i < spec::kOptBackendChoiceCount ? spec::kOptBackendChoices[i] : "?";
}

const char* KnownOptionNames() { return spec::kKnownOptionNames; }

bool SetOption(const std::string& key, const std::string& value, DelegateOptions* o, std::string* error) {
  if (key == spec::kOptNumThreadsName) {
    if (!ParseInt(value, spec::kOptNumThreadsMin, spec::kOptNumThreadsMax, &o->num_threads)) {
      *error = std::string(spec::kOptNumThreadsName) + " must be an integer in " + spec::kOptNumThreadsRange +
               " (<= 0: the interpreter's), got '" + value + "'";
      return false;
    }
    return true;
  }
  if (key == spec::kOptMinSparsityName) {
    float v = 0;
    if (!ParseFloat(value, &v) || v < spec::kOptMinSparsityMin || v > spec::kOptMinSparsityMax) {
      *error = std::string(spec::kOptMinSparsityName) + " must be a number in " + spec::kOptMinSparsityRange +
               ", got '" + value + "'";
      return false;
    }
    o->min_sparsity = v;
    return true;
  }
  if (key == spec::kOptMetadataName) {
    const int i = ChoiceIndex(value, spec::kOptMetadataChoices);
    if (i < 0) {
      *error = BadChoice(spec::kOptMetadataName, spec::kOptMetadataChoiceList, value);
      return false;
    }
    o->metadata = MetadataMode(i);
    return true;
  }
  if (key == spec::kOptLogLevelName) {
    const int i = ChoiceIndex(value, spec::kOptLogLevelChoices);
    if (i < 0) {
      *error = BadChoice(spec::kOptLogLevelName, spec::kOptLogLevelChoiceList, value);
      return false;
    }
    o->log_level = LogLevel(i);
    return true;
  }
  if (key == spec::kOptIsaName) {
    Isa isa;
    if (!ParseIsa(value, &isa)) {
      *error = BadChoice(spec::kOptIsaName, spec::kOptIsaChoiceList, value);
      return false;
    }
    if (!IsaAvailable(isa)) {
      *error = std::string(spec::kOptIsaName) + " '" + value + "' is not available on this CPU or in this build";
      return false;
    }
    o->isa = isa;
    return true;
  }
  if (key == spec::kOptAutotuneName) {
    int v = 0;
    if (!ParseInt(value, spec::kOptAutotuneMin, spec::kOptAutotuneMax, &v)) {
      *error = std::string(spec::kOptAutotuneName) + " must be an integer in " + spec::kOptAutotuneRange +
               " (False or True), got '" + value + "'";
      return false;
    }
    o->autotune = v != 0;
    return true;
  }
  if (key == spec::kOptInt8Name) {
    const int i = ChoiceIndex(value, spec::kOptInt8Choices);
    if (i < 0) {
      *error = BadChoice(spec::kOptInt8Name, spec::kOptInt8ChoiceList, value);
      return false;
    }
    o->int8 = Int8Claims(i);
    return true;
  }
  if (key == spec::kOptClaimOpsName) {
    int v = 0;
    if (!ParseInt(value, spec::kOptClaimOpsMin, spec::kOptClaimOpsMax, &v)) {
      *error = std::string(spec::kOptClaimOpsName) + " must be an integer in " + spec::kOptClaimOpsRange +
               " (False or True), got '" + value + "'";
      return false;
    }
    o->claim_ops = v != 0;
    return true;
  }
  if (key == spec::kOptBackendName) {
    const int i = ChoiceIndex(value, spec::kOptBackendChoices);
    if (i < 0) {
      *error = BadChoice(spec::kOptBackendName, spec::kOptBackendChoiceList, value);
      return false;
    }
    o->backend = Backend(i);
    return true;
  }
  if (key == spec::kOptOpenclPlatformName || key == spec::kOptOpenclDeviceName) {
    if (value.size() > kMaxSelectorLength) {
      *error = key + " must be at most " + std::to_string(kMaxSelectorLength) + " characters";
      return false;
    }
    (key == spec::kOptOpenclPlatformName ? o->opencl_platform : o->opencl_device) = value;
    return true;
  }
  *error = "unknown option '" + key + "' (known: " + KnownOptionNames() + ")";
  return false;
}

}  // namespace patternlite
