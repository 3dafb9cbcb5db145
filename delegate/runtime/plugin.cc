// The C entry points of libpatternlite_delegate.so.
//
// tflite_plugin_create_delegate / tflite_plugin_destroy_delegate follow
// TFLite's external-delegate plugin convention, so the library also loads
// through tf.lite.experimental.load_delegate(path, options). The patternlite_*
// functions serve patternlite's Python package (stats, version) and its
// benchmarks (a kernel run on raw arrays, no TFLite involved).
//
// No C++ exception may cross this boundary: every entry point catches.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/contract_generated.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/opencl/cl_conv.h"
#include "delegate/opencl/cl_loader.h"
#include "delegate/packing/block_pack.h"
#include "delegate/packing/pattern_pack.h"
#include "delegate/packing/block_pack_int8.h"
#include "delegate/packing/pattern_pack_int8.h"
#include "delegate/runtime/conv_int8_node.h"
#include "delegate/runtime/conv_node.h"
#include "delegate/runtime/delegate.h"
#include "delegate/runtime/options.h"
#include "delegate/runtime/thread_pool.h"
#include "delegate/runtime/weight_checks.h"

#define PL_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
namespace contract = patternlite::contract;
thread_local std::string g_last_error;
// What the last failed tflite_plugin_create_delegate on this thread was about
// (contract::kErrorKind*): Python raises ValueError for a bad option and
// OpenCLUnavailableError for an unavailable backend.
thread_local int g_last_error_kind = contract::kErrorKindNone;

// The benchmark entry points' timing: runs `once` `repeats` times (at least
// once) and writes the median seconds of one run to `median` (if not null).
// Stops with false as soon as a run returns false.
template <class Fn>
bool TimeRuns(int repeats, Fn once, double* median) {
  std::vector<double> times;
  for (int r = 0; r < std::max(1, repeats); ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    if (!once()) return false;
    times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(times.begin(), times.end());
  if (median != nullptr) *median = times[times.size() / 2];
  return true;
}

// The benchmark entry points' filters come without metadata: each kernel's
// pattern is read off its non-zero taps, as for a model without metadata.
// False with g_last_error set when the filter is not pattern-sparse.
bool PackFromWeights(const float* filter, int out_c, int in_c, const float* bias, patternlite::PackedConv* packed) {
  static const std::vector<uint16_t> kNoLibrary;
  std::vector<uint16_t> masks;
  std::string reason;
  if (!patternlite::AssignKernelMasks(filter, out_c, in_c, nullptr, kNoLibrary, &masks, &reason)) {
    g_last_error = reason;
    return false;
  }
  patternlite::PackPatternConv(filter, out_c, in_c, masks.data(), bias, packed);
  return true;
}

// The int8 kernel an entry point names: an isa option value (auto, scalar,
// avx2, avx512, neon: mapped as docs/int8.md says) or an int8 variant name
// (avxvnni, avx512vnni, neondot: that kernel exactly). False with
// patternlite_last_error() set when this CPU or build lacks it.
bool Int8KernelByName(const char* kernel, patternlite::Int8Variant* variant) {
  using patternlite::Int8Variant;
  const std::string name = kernel != nullptr ? kernel : "";
  patternlite::Isa isa;
  if (name == "avxvnni") {
    *variant = Int8Variant::kAvxVnni;
  } else if (name == "avx512vnni") {
    *variant = Int8Variant::kAvx512Vnni;
  } else if (name == "neondot") {
    *variant = Int8Variant::kNeonDot;
  } else if (patternlite::ParseIsa(name, &isa) && patternlite::IsaAvailable(isa)) {
    *variant = patternlite::Int8VariantForIsa(isa);
  } else {
    g_last_error = "isa not available";
    return false;
  }
  if (!patternlite::Int8VariantAvailable(*variant)) {
    g_last_error = "int8 kernel not available";
    return false;
  }
  return true;
}

// Every raw-array entry point's body runs through this: a C++ exception
// becomes -1 with patternlite_last_error() set, since none may cross the C ABI.
template <class Fn>
int ReturnCodeOf(Fn body) {
  try {
    return body();
  } catch (const std::exception& e) {
    g_last_error = e.what();
  } catch (...) {
    g_last_error = "unknown error";
  }
  return -1;
}

// The float entry points' isa option value. False with g_last_error set when
// it is unknown or this CPU or build lacks it.
bool IsaByName(const char* isa_name, patternlite::Isa* isa) {
  if (isa_name == nullptr || !patternlite::ParseIsa(isa_name, isa) || !patternlite::IsaAvailable(*isa)) {
    g_last_error = "isa not available";
    return false;
  }
  return true;
}

// The block entry points' `kind`: true for kKindPointwise, false for
// kKindDepthwise3x3; any other value fails with g_last_error set.
bool BlockKind(int kind, bool* pointwise_kind) {
  *pointwise_kind = kind == int(contract::kKindPointwise);
  if (!*pointwise_kind && kind != int(contract::kKindDepthwise3x3)) {
    g_last_error = "kind must be 1 (pointwise) or 2 (depthwise)";
    return false;
  }
  return true;
}

TfLitePadding PaddingOf(int padding_same) { return padding_same ? kTfLitePaddingSame : kTfLitePaddingValid; }

// Whether the int8 entry points' zero points and activation range are int8 values.
bool Int8QuantInRange(int input_zero_point, int output_zero_point, int act_min, int act_max) {
  return input_zero_point >= -128 && input_zero_point <= 127 && output_zero_point >= -128 &&
         output_zero_point <= 127 && act_min >= -128 && act_max <= 127 && act_min <= act_max;
}

// Times a block conv (float or int8 kernels alike): the pointwise kernel over
// every output pixel at once, or the depthwise kernel image by image.
template <class Kernels, class PwParams, class DwParams, class T>
void TimeBlockConv(int repeats, const Kernels& kernels, bool pointwise_kind, const PwParams& pw_params,
                   const DwParams& dw_params, const patternlite::ConvGeometry& g, int batch, const T* input,
                   T* output, double* median_seconds) {
  TimeRuns(
      repeats,
      [&] {
        if (pointwise_kind) {
          kernels.pointwise(pw_params, input, output, 0, int64_t(batch) * g.out_h * g.out_w);
        } else {
          for (int n = 0; n < batch; ++n) kernels.depthwise(dw_params, input, output, n, 0, g.out_h);
        }
        return true;
      },
      median_seconds);
}
}  // namespace

PL_EXPORT TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t num_options,
                                                       void (*report_error)(const char*)) {
  try {
    patternlite::DelegateOptions options;
    g_last_error_kind = contract::kErrorKindOption;
    for (size_t i = 0; i < num_options; ++i) {
      std::string error;
      if (keys[i] == nullptr || values[i] == nullptr ||
          !patternlite::SetOption(keys[i], values[i], &options, &error)) {
        if (error.empty()) error = "null option key or value";
        g_last_error = error;
        if (report_error != nullptr) report_error(error.c_str());
        return nullptr;
      }
    }
    auto delegate = std::make_unique<patternlite::PatternDelegate>(options);
    std::string error;
    if (!delegate->InitBackend(&error)) {
      g_last_error = error;
      g_last_error_kind = contract::kErrorKindBackend;
      if (report_error != nullptr) report_error(error.c_str());
      return nullptr;
    }
    g_last_error_kind = contract::kErrorKindNone;
    return delegate.release()->tflite_delegate();
  } catch (const std::exception& e) {
    g_last_error = e.what();
  } catch (...) {
    g_last_error = "unknown error creating the delegate";
  }
  if (report_error != nullptr) report_error(g_last_error.c_str());
  return nullptr;
}

PL_EXPORT void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate) {
  if (delegate != nullptr) delete patternlite::PatternDelegate::From(delegate);
}

// The last error of tflite_plugin_create_delegate on this thread.
PL_EXPORT const char* patternlite_last_error() { return g_last_error.c_str(); }

// contract::kErrorKind*: none, a bad option, or the requested backend is unavailable.
PL_EXPORT int patternlite_last_error_kind() { return g_last_error_kind; }

PL_EXPORT const char* patternlite_version() { return contract::kPackageVersion; }

PL_EXPORT const char* patternlite_best_isa() { return patternlite::IsaName(patternlite::BestIsa()); }

PL_EXPORT int patternlite_isa_available(const char* name) {
  patternlite::Isa isa;
  return name != nullptr && patternlite::ParseIsa(name, &isa) && patternlite::IsaAvailable(isa) ? 1 : 0;
}

// JSON with the claimed and declined nodes and the ABI probe. The string
// stays valid until the next call for the same delegate.
PL_EXPORT const char* patternlite_stats_json(TfLiteDelegate* delegate) {
  static thread_local std::string json;
  try {
    json = delegate != nullptr ? patternlite::PatternDelegate::From(delegate)->StatsJson() : "{}";
  } catch (...) {
    json = "{}";
  }
  return json.c_str();
}

// Runs one pattern conv on raw NHWC float arrays with a chosen kernel,
// `repeats` times, and reports the median seconds of one run. The filter is
// OHWI 3x3 and must be pattern-sparse (<= 4 non-zero taps per kernel).
// Returns 0 on success, or -1 with patternlite_last_error() set.
PL_EXPORT int patternlite_conv2d(const float* input, int batch, int in_h, int in_w, int in_c,
                                 const float* filter, int out_c, const float* bias, int stride_h, int stride_w,
                                 int padding_same, int activation, const char* isa_name, int num_threads,
                                 int repeats, float* output, double* median_seconds) {
  return ReturnCodeOf([&]() -> int {
    patternlite::Isa isa;
    if (!IsaByName(isa_name, &isa)) return -1;
    patternlite::PackedConv packed;
    if (!PackFromWeights(filter, out_c, in_c, bias, &packed)) return -1;
    float lo = 0, hi = 0;
    const char* act_name = nullptr;
    if (!patternlite::ActivationRange(TfLiteFusedActivation(activation), &lo, &hi, &act_name)) {
      g_last_error = "unsupported fused activation";
      return -1;
    }
    const int threads = num_threads > 0 ? num_threads : 1;
    patternlite::ConvPlan plan;
    const size_t macs_per_pixel = packed.kept_kernels() * patternlite::contract::kPatternTaps;
    if (!patternlite::PlanConv(batch, in_h, in_w, in_c, out_c, PaddingOf(padding_same), stride_h, stride_w, lo,
                               hi, threads, macs_per_pixel, patternlite::IsaLanes(isa), &plan)) {
      g_last_error = "input too small for the conv";
      return -1;
    }
    patternlite::PackForPlan(plan, &packed);
    std::unique_ptr<patternlite::ThreadPool> pool;
    if (threads > 1) pool = std::make_unique<patternlite::ThreadPool>(threads);
    std::vector<patternlite::Workspace> workspaces;
    const patternlite::KernelTable& kernels = patternlite::KernelsFor(isa);
    TimeRuns(
        repeats,
        [&] {
          patternlite::RunConv(plan, packed, kernels, pool.get(), &workspaces, input, output);
          return true;
        },
        median_seconds);
    return 0;
  });
}

// Runs one channel-block conv on raw NHWC float arrays with a chosen kernel,
// `repeats` times, reporting the median seconds of one run. `kind` is the
// layer kind of spec/contract.toml: kKindPointwise (1) is a 1x1 conv (filter
// [O,1,1,I]), kKindDepthwise3x3 (2) a 3x3 depthwise conv (filter [1,3,3,C],
// out_c == in_c). Any zeros are allowed (the packs follow the weights). One
// thread. Returns 0 on success, or -1 with patternlite_last_error() set.
PL_EXPORT int patternlite_block_conv(int kind, const float* input, int batch, int in_h, int in_w, int in_c,
                                     const float* filter, int out_c, const float* bias, int stride_h, int stride_w,
                                     int padding_same, int activation, const char* isa_name, int repeats,
                                     float* output, double* median_seconds) {
  return ReturnCodeOf([&]() -> int {
    patternlite::Isa isa;
    if (!IsaByName(isa_name, &isa)) return -1;
    bool pointwise_kind = false;
    if (!BlockKind(kind, &pointwise_kind)) return -1;
    patternlite::ConvGeometry g;
    float lo = 0, hi = 0;
    const char* act_name = nullptr;
    const TfLitePadding padding = PaddingOf(padding_same);
    if (!patternlite::ActivationRange(TfLiteFusedActivation(activation), &lo, &hi, &act_name) || in_c <= 0 ||
        out_c <= 0 || (!pointwise_kind && out_c != in_c) ||
        !patternlite::MakeGeometry(batch, in_h, in_w, in_c, out_c, padding, stride_h, stride_w, lo, hi,
                                   pointwise_kind ? 1 : contract::kKernelSize, &g)) {
      g_last_error = "unsupported geometry or activation";
      return -1;
    }
    std::string why;
    patternlite::PackedPointwise pw;
    patternlite::PackedDepthwise dw;
    if (pointwise_kind) {
      std::vector<uint8_t> kept;
      patternlite::AssignPointwise(filter, out_c, in_c, nullptr, &kept, &why);
      patternlite::PackPointwise(filter, out_c, in_c, kept, bias, &pw);
    } else {
      std::vector<uint16_t> masks;
      patternlite::AssignDepthwise(filter, in_c, nullptr, {}, &masks, &why);
      patternlite::PackDepthwise(filter, in_c, masks, bias, &dw);
    }
    const patternlite::KernelTable& kernels = patternlite::KernelsFor(isa);
    const patternlite::PointwiseKernelParams pw_params = patternlite::MakeParams(g, pw);
    const patternlite::DepthwiseKernelParams dw_params = patternlite::MakeParams(g, dw);
    TimeBlockConv(repeats, kernels, pointwise_kind, pw_params, dw_params, g, batch, input, output, median_seconds);
    return 0;
  });
}

// Self-test of the thread pool for the test suite (and its sanitizer run):
// `iterations` jobs of varying size on a pool of `threads`; every task must
// run exactly once per job. Returns the number of mistakes (0 is a pass).
PL_EXPORT int patternlite_selftest_thread_pool(int threads, int iterations) {
  try {
    patternlite::ThreadPool pool(threads);
    std::vector<std::atomic<int>> hits(64);
    int mistakes = 0;
    for (int it = 0; it < iterations; ++it) {
      const int tasks = 1 + (it * 7919) % 64;
      for (int t = 0; t < tasks; ++t) hits[t].store(0);
      pool.ParallelFor(tasks, [&](int task, int worker) {
        if (worker < 0 || worker >= pool.size()) hits[task].fetch_add(100);
        hits[task].fetch_add(1);
      });
      for (int t = 0; t < tasks; ++t) mistakes += hits[t].load() != 1;
    }
    return mistakes;
  } catch (...) {
    return -1;
  }
}

// Fault injection for the tests: the `nth` OpenCL call from now (over the
// whole process) fails with `status` (an OpenCL error code, e.g. -5 for
// CL_OUT_OF_RESOURCES) instead of running; nth <= 0 turns it off.
PL_EXPORT void patternlite_opencl_inject_failure(long long nth, int status) {
  patternlite::cl::InjectFailure(nth, status);
}

// OpenCL calls made through the delegate's loader so far (tests count the
// calls of a step to fail each one in turn).
PL_EXPORT long long patternlite_opencl_call_count() { return patternlite::cl::CallCount(); }

// The OpenCL counterpart of patternlite_conv2d, for benchmarks/opencl_bench.py:
// one conv on raw NHWC arrays on an OpenCL device (platform and device as
// the delegate options select them), with the pattern kernel (dense = 0) or
// the dense baseline kernel (dense = 1; the filter need not be sparse).
// Reports the median seconds of `repeats` runs after one untimed run (host arrays in and out, as
// the delegate runs) and the device's name. Returns 0, or -1 with
// patternlite_last_error() set.
PL_EXPORT int patternlite_opencl_conv2d(const float* input, int batch, int in_h, int in_w, int in_c,
                                        const float* filter, int out_c, const float* bias, int stride_h,
                                        int stride_w, int padding_same, int activation, int dense,
                                        const char* platform, const char* device, int repeats, float* output,
                                        double* median_seconds, char* device_name, int device_name_size) {
  return ReturnCodeOf([&]() -> int {
    patternlite::ClDeviceChoice choice;
    choice.platform = platform != nullptr ? platform : "";
    choice.device = device != nullptr ? device : "";
    std::string error;
    std::shared_ptr<patternlite::ClRuntime> rt = patternlite::ClRuntime::Create(choice, &error);
    if (!rt) {
      g_last_error = error;
      return -1;
    }
    patternlite::ClConvParams params;
    params.padding = PaddingOf(padding_same);
    params.stride_h = stride_h;
    params.stride_w = stride_w;
    const char* act_name = nullptr;
    if (!patternlite::ActivationRange(TfLiteFusedActivation(activation), &params.act_min, &params.act_max,
                                      &act_name)) {
      g_last_error = "unsupported fused activation";
      return -1;
    }
    patternlite::ClConv conv(rt);
    bool ok = false;
    if (dense) {
      ok = conv.InitDense(filter, bias, out_c, in_c, params, &error);
    } else {
      patternlite::PackedConv packed;
      if (!PackFromWeights(filter, out_c, in_c, bias, &packed)) return -1;
      ok = conv.InitPattern(packed, params, &error);
    }
    if (!ok || !conv.Plan(batch, in_h, in_w, in_c, &error)) {
      g_last_error = error;
      return -1;
    }
    // One untimed run first: drivers (PoCL among them) compile a kernel for
    // its launch shape at the first launch.
    if (!conv.Run(input, output, &error)) {
      g_last_error = error;
      return -1;
    }
    if (!TimeRuns(repeats, [&] { return conv.Run(input, output, &error); }, median_seconds)) {
      g_last_error = error;
      return -1;
    }
    if (device_name != nullptr && device_name_size > 0) {
      std::snprintf(device_name, size_t(device_name_size), "%s", rt->device_name().c_str());
    }
    return 0;
  });
}

// Runs one int8 3x3 pattern conv on raw NHWC int8 arrays (TFLite's int8
// CONV_2D: OHWI int8 filter with per-output-channel scales and zero point 0,
// int32 bias or null, input/output scale and zero point, the fused activation
// given as its int8 range [act_min, act_max]) with a chosen kernel, on
// `num_threads` threads splitting output rows, `repeats` times; reports the
// median seconds of one run. `kernel` is an isa option value (auto, scalar,
// avx2, avx512, neon: mapped as docs/int8.md says) or an int8 variant name
// (avx2, avxvnni, avx512vnni, neondot: that kernel exactly). The filter must
// be pattern-sparse (<= 4 non-zero taps per kernel). Returns 0 on success, or
// -1 with patternlite_last_error() set.
PL_EXPORT int patternlite_int8_conv3x3(const int8_t* input, int batch, int in_h, int in_w, int in_c,
                                       float input_scale, int input_zero_point, const int8_t* filter, int out_c,
                                       const float* filter_scales, const int32_t* bias, float output_scale,
                                       int output_zero_point, int stride_h, int stride_w, int padding_same,
                                       int act_min, int act_max, const char* kernel, int num_threads, int repeats,
                                       int8_t* output, double* median_seconds) {
  return ReturnCodeOf([&]() -> int {
    patternlite::Int8Variant variant;
    if (!Int8KernelByName(kernel, &variant)) return -1;
    if (batch <= 0 || in_h <= 0 || in_w <= 0 || in_c <= 0 || out_c <= 0 || stride_h <= 0 || stride_w <= 0 ||
        !Int8QuantInRange(input_zero_point, output_zero_point, act_min, act_max)) {
      g_last_error = "bad int8 conv arguments";
      return -1;
    }
    std::vector<uint16_t> masks;
    std::string reason;
    static const std::vector<uint16_t> kNoLibrary;
    patternlite::PackedConvInt8 packed;
    const patternlite::Int8ConvQuantization q{input_scale, input_zero_point, filter_scales, output_scale};
    if (!patternlite::AssignKernelMasksInt8(filter, out_c, in_c, nullptr, kNoLibrary, &masks, &reason) ||
        !patternlite::PackPatternConvInt8(filter, out_c, in_c, masks.data(), bias, q,
                                          patternlite::kInt8DefaultChunkSlots, &packed, &reason)) {
      g_last_error = reason;
      return -1;
    }
    // The plan and the row split the delegate's Int8ConvNode uses, so that
    // what this entry point times is what a claimed node runs.
    patternlite::Int8ConvPlan plan;
    if (!patternlite::PlanInt8Conv(batch, in_h, in_w, in_c, out_c, PaddingOf(padding_same), stride_h, stride_w,
                                   std::max(1, num_threads), packed.kept_kernels() * patternlite::contract::kPatternTaps,
                                   &plan)) {
      g_last_error = "input too small for the conv";
      return -1;
    }
    const patternlite::ConvGeometry& g = plan.geometry;
    const patternlite::Int8Quant quant{input_zero_point, output_zero_point, act_min, act_max};
    const patternlite::Int8ConvKernelParams params = patternlite::MakeParams(g, quant, packed);
    const patternlite::Int8ConvKernel& k = patternlite::Int8KernelFor(variant);
    const size_t scratch_bytes = k.scratch_bytes(params, std::min(plan.block_rows, g.out_h));
    std::unique_ptr<patternlite::ThreadPool> pool;
    if (plan.threads > 1) pool = std::make_unique<patternlite::ThreadPool>(plan.threads);
    std::vector<patternlite::Workspace> workspaces;
    TimeRuns(
        repeats,
        [&] {
          patternlite::ForEachRowBlock(g.batch, g.out_h, plan.block_rows, pool.get(), &workspaces, scratch_bytes,
                                       [&](int n, int oy0, int oy1, void* scratch) {
                                         k.rows(params, input, output, n, oy0, oy1, scratch, scratch_bytes);
                                       });
          return true;
        },
        median_seconds);
    return 0;
  });
}

// The int8 counterpart of patternlite_block_conv, for benchmarks: one int8
// channel-block conv on raw NHWC int8 arrays (kind 1: 1x1 with an [O,1,1,I]
// filter; kind 2: 3x3 depthwise with a [1,3,3,C] filter, out_c == in_c),
// TFLite's int8 quantization as for patternlite_int8_conv3x3 (per-channel
// filter scales, int32 bias or null, the activation as its int8 range), with
// the int8 kernel `kernel` names (an isa option value or an int8 variant
// name), one thread, `repeats` times; reports the median seconds of one run.
// Any zeros are allowed (the packs follow the weights). Returns 0 on success,
// or -1 with patternlite_last_error() set.
PL_EXPORT int patternlite_int8_block_conv(int kind, const int8_t* input, int batch, int in_h, int in_w, int in_c,
                                          float input_scale, int input_zero_point, const int8_t* filter, int out_c,
                                          const float* filter_scales, const int32_t* bias, float output_scale,
                                          int output_zero_point, int stride_h, int stride_w, int padding_same,
                                          int act_min, int act_max, const char* kernel, int repeats, int8_t* output,
                                          double* median_seconds) {
  return ReturnCodeOf([&]() -> int {
    patternlite::Int8Variant variant;
    if (!Int8KernelByName(kernel, &variant)) return -1;
    bool pointwise_kind = false;
    if (!BlockKind(kind, &pointwise_kind)) return -1;
    patternlite::ConvGeometry g;
    const TfLitePadding padding = PaddingOf(padding_same);
    if (in_c <= 0 || out_c <= 0 || (!pointwise_kind && out_c != in_c) ||
        !Int8QuantInRange(input_zero_point, output_zero_point, act_min, act_max) ||
        !patternlite::MakeGeometry(batch, in_h, in_w, in_c, out_c, padding, stride_h, stride_w, 0.0f, 0.0f,
                                   pointwise_kind ? 1 : contract::kKernelSize, &g)) {
      g_last_error = "bad int8 block conv arguments";
      return -1;
    }
    std::string why;
    const patternlite::Int8ConvQuantization q{input_scale, input_zero_point, filter_scales, output_scale};
    const patternlite::Int8Quant quant{input_zero_point, output_zero_point, act_min, act_max};
    patternlite::PackedPointwiseInt8 pw;
    patternlite::PackedDepthwiseInt8 dw;
    if (pointwise_kind) {
      const std::vector<float> f(filter, filter + size_t(out_c) * in_c);
      std::vector<uint8_t> kept;
      if (!patternlite::AssignPointwise(f.data(), out_c, in_c, nullptr, &kept, &why) ||
          !patternlite::PackPointwiseInt8(filter, out_c, in_c, kept, bias, q, &pw, &why)) {
        g_last_error = why;
        return -1;
      }
    } else {
      const std::vector<float> f(filter, filter + size_t(contract::kKernelTaps) * in_c);
      std::vector<uint16_t> masks;
      if (!patternlite::AssignDepthwise(f.data(), in_c, nullptr, {}, &masks, &why) ||
          !patternlite::PackDepthwiseInt8(filter, in_c, masks, bias, q, &dw, &why)) {
        g_last_error = why;
        return -1;
      }
    }
    const patternlite::Int8BlockKernels& k = patternlite::Int8BlockKernelsFor(variant);
    const patternlite::PointwiseInt8Params pw_params = patternlite::MakeParams(g, quant, pw);
    const patternlite::DepthwiseInt8Params dw_params = patternlite::MakeParams(g, quant, dw);
    TimeBlockConv(repeats, k, pointwise_kind, pw_params, dw_params, g, batch, input, output, median_seconds);
    return 0;
  });
}
