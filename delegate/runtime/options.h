// Delegate options: the keyword arguments of patternlite.load_delegate(),
// passed as string key/value pairs through tflite_plugin_create_delegate.
// Names, defaults, bounds and choices come from spec/contract.toml through
// delegate/contract_generated.h.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_OPTIONS_H_
#define PATTERNLITE_DELEGATE_RUNTIME_OPTIONS_H_

#include <string>

#include "delegate/contract_generated.h"
#include "delegate/kernels/dispatch.h"

namespace patternlite {

// The values of a choice option, in the order of its contract::kOpt...Choices
// (options.cc checks the order at compile time).
enum class MetadataMode { kAuto, kRequire, kIgnore };
enum class LogLevel { kSilent = 0, kError = 1, kWarning = 2, kInfo = 3, kDebug = 4 };
enum class Backend { kCpu, kOpenCl, kAuto };
enum class Int8Claims { kAuto, kAll, kNone };

struct DelegateOptions {
  // <= 0: use the interpreter's num_threads (TfLiteContext::recommended_num_threads).
  int num_threads = contract::kOptNumThreadsDefault;
  // Claim a layer (of any kind) only when at least this fraction of its
  // weights is zero; 1x1 and depthwise layers count only the zeros whole
  // channel blocks skip. 0.5 admits every pattern-pruned 3x3 layer (patterns
  // alone zero 5/9 = 0.56) and rejects near-dense layers, where the dense
  // XNNPACK kernel is faster.
  float min_sparsity = contract::kOptMinSparsityDefault;
  MetadataMode metadata = MetadataMode(contract::kOptMetadataDefault);
  LogLevel log_level = LogLevel(contract::kOptLogLevelDefault);
  Isa isa = Isa(contract::kOptIsaDefault);  // force a kernel (tests, benchmarks); auto picks the best
  // Time each claimed layer's candidate plans on its first run and keep the
  // fastest (conv_node.cc); off gives the fixed, reproducible heuristics.
  bool autotune = contract::kOptAutotuneDefault != 0;
  // Also claim the cheap ops next to claimed convs (runtime/op_claim.h).
  bool claim_ops = contract::kOptClaimOpsDefault != 0;
  // Where claimed 3x3 convs run (delegate/opencl/cl_conv.h for OpenCL; the
  // channel-block kinds always run on the CPU), and
  // which OpenCL platform and device: "" any, an index, or a name substring.
  Backend backend = Backend(contract::kOptBackendDefault);
  // Which int8 convs to claim. The int8 kernels are exact, but a claim that
  // runs slower than XNNPACK's int8 dense kernel costs the user time, so
  // `auto` claims only the kinds measured faster on this CPU (judge.cc).
  Int8Claims int8 = Int8Claims(contract::kOptInt8Default);
  std::string opencl_platform = contract::kOptOpenclPlatformDefault;
  std::string opencl_device = contract::kOptOpenclDeviceDefault;
};

// Applies one option. Returns false with a message naming the valid choices.
bool SetOption(const std::string& key, const std::string& value, DelegateOptions* options, std::string* error);

const char* MetadataModeName(MetadataMode mode);
const char* BackendName(Backend backend);
const char* Int8ClaimsName(Int8Claims claims);
const char* KnownOptionNames();

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_OPTIONS_H_
