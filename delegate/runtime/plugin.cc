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
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/packing/pattern_pack.h"
#include "delegate/runtime/conv_node.h"
#include "delegate/runtime/delegate.h"
#include "delegate/runtime/options.h"
#include "delegate/runtime/thread_pool.h"

#define PL_EXPORT extern "C" __attribute__((visibility("default")))

namespace {
constexpr char kVersion[] = "0.1.0";
thread_local std::string g_last_error;
}  // namespace

PL_EXPORT TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t num_options,
                                                       void (*report_error)(const char*)) {
  try {
    patternlite::DelegateOptions options;
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
    auto* delegate = new patternlite::PatternDelegate(options);
    return delegate->tflite_delegate();
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

PL_EXPORT const char* patternlite_version() { return kVersion; }

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
  try {
    patternlite::Isa isa;
    if (isa_name == nullptr || !patternlite::ParseIsa(isa_name, &isa) || !patternlite::IsaAvailable(isa)) {
      g_last_error = "isa not available";
      return -1;
    }
    std::vector<uint16_t> masks;
    std::string reason;
    static const std::vector<uint16_t> kNoLibrary;
    if (!patternlite::AssignKernelMasks(filter, out_c, in_c, nullptr, kNoLibrary, &masks, &reason)) {
      g_last_error = reason;
      return -1;
    }
    patternlite::PackedConv packed;
    patternlite::PackPatternConv(filter, out_c, in_c, masks.data(), bias, &packed);
    float lo = 0, hi = 0;
    const char* act_name = nullptr;
    if (!patternlite::ActivationRange(TfLiteFusedActivation(activation), &lo, &hi, &act_name)) {
      g_last_error = "unsupported fused activation";
      return -1;
    }
    const int threads = num_threads > 0 ? num_threads : 1;
    patternlite::ConvPlan plan;
    const size_t macs_per_pixel = packed.kept_kernels() * patternlite::contract::kPatternTaps;
    if (!patternlite::PlanConv(batch, in_h, in_w, in_c, out_c,
                               padding_same ? kTfLitePaddingSame : kTfLitePaddingValid, stride_h, stride_w, lo,
                               hi, threads, macs_per_pixel, patternlite::IsaLanes(isa), &plan)) {
      g_last_error = "input too small for the conv";
      return -1;
    }
    patternlite::PackForPlan(plan, &packed);
    std::unique_ptr<patternlite::ThreadPool> pool;
    if (threads > 1) pool = std::make_unique<patternlite::ThreadPool>(threads);
    std::vector<patternlite::Workspace> workspaces;
    const patternlite::ConvRowsFn kernel = patternlite::ConvKernelFor(isa);
    std::vector<double> times;
    for (int r = 0; r < std::max(1, repeats); ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      patternlite::RunConv(plan, packed, kernel, pool.get(), &workspaces, input, output);
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(times.begin(), times.end());
    if (median_seconds != nullptr) *median_seconds = times[times.size() / 2];
    return 0;
  } catch (const std::exception& e) {
    g_last_error = e.what();
  } catch (...) {
    g_last_error = "unknown error";
  }
  return -1;
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
