// Native lifetime, leak and thread checks of the delegate, with no Python and
// no TFLite: the delegate's sources are compiled into this program, which
//
//  1. creates and destroys delegates through the plugin C entry points
//     (tflite_plugin_create_delegate / tflite_plugin_destroy_delegate) with
//     several option sets, and checks that bad options fail cleanly;
//  2. drives the whole TfLiteDelegate path (Prepare, kernel init, prepare,
//     invoke, free) through a minimal fake host of one CONV_2D node, with its
//     output checked against a plain loop reference;
//  3. runs the direct conv entry (patternlite_conv2d, the benchmarks' entry)
//     on random pattern-pruned convs with 1 and 2 threads, every available
//     ISA against the scalar kernel;
//  4. calls one ThreadPool's ParallelFor from several std::threads at once,
//     and creates and destroys pools over and over;
//  5. runs convs from several std::threads at once: some share one
//     ThreadPool (RunConv directly), some use patternlite_conv2d, and two fake
//     hosts share one delegate (and so its pool) while a third has its own;
//  6. with an OpenCL device (PoCL in CI), drives fake hosts through
//     backend=opencl delegates, and fails each OpenCL call of an invoke in
//     turn (an error, then a clean invoke). Without one it says so and skips,
//     unless PATTERNLITE_REQUIRE_OPENCL=1.
//
// It exits non-zero on any mismatch. tools/native_checks.sh builds it under
// LeakSanitizer and ThreadSanitizer (both in CI); tests/test_native_checks.py
// builds and runs a plain build in the test suite.
//
//   lifecycle_check [--scale=F]   F multiplies every iteration count (default 1)
#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/packing/pattern_pack.h"
#include "delegate/runtime/conv_node.h"
#include "delegate/runtime/thread_pool.h"
#include "delegate/runtime/weight_checks.h"

extern "C" {
TfLiteDelegate* tflite_plugin_create_delegate(char** keys, char** values, size_t num_options,
                                              void (*report_error)(const char*));
void tflite_plugin_destroy_delegate(TfLiteDelegate* delegate);
const char* patternlite_last_error();
const char* patternlite_stats_json(TfLiteDelegate* delegate);
int patternlite_conv2d(const float* input, int batch, int in_h, int in_w, int in_c, const float* filter, int out_c,
                       const float* bias, int stride_h, int stride_w, int padding_same, int activation,
                       const char* isa_name, int num_threads, int repeats, float* output, double* median_seconds);
int patternlite_block_conv(int kind, const float* input, int batch, int in_h, int in_w, int in_c, const float* filter,
                           int out_c, const float* bias, int stride_h, int stride_w, int padding_same, int activation,
                           const char* isa_name, int repeats, float* output, double* median_seconds);
int patternlite_selftest_thread_pool(int threads, int iterations);
void patternlite_opencl_inject_failure(long long nth, int status);
long long patternlite_opencl_call_count();
}

namespace {

using patternlite::Isa;

double g_scale = 1.0;
int Scaled(int n) { return std::max(1, int(std::lround(n * g_scale))); }

std::atomic<int> g_failures{0};
std::mutex g_print_mu;

void Fail(const char* fmt, ...) {
  std::lock_guard<std::mutex> lock(g_print_mu);
  std::va_list args;
  va_start(args, fmt);
  std::fputs("FAIL: ", stdout);
  std::vfprintf(stdout, fmt, args);
  std::fputs("\n", stdout);
  va_end(args);
  std::fflush(stdout);
  ++g_failures;
}

// ---------------------------------------------------------------------------
// Random pattern-pruned convs and a plain loop reference.

struct ConvCase {
  int batch = 1, h = 8, w = 8, c = 4, o = 8, stride = 1, same = 1, act = 1;  // act: kTfLiteActRelu
  std::vector<float> input, filter, bias;
  int out_h() const { return same ? (h + stride - 1) / stride : (h - 3) / stride + 1; }
  int out_w() const { return same ? (w + stride - 1) / stride : (w - 3) / stride + 1; }
  size_t out_size() const { return size_t(batch) * out_h() * out_w() * o; }
};

ConvCase MakeCase(std::mt19937* rng, int batch, int h, int w, int c, int o, int stride, int same) {
  static const int kPatterns[4][4] = {{1, 3, 4, 5}, {0, 1, 3, 4}, {4, 5, 7, 8}, {1, 4, 6, 7}};
  std::normal_distribution<float> normal;
  ConvCase k;
  k.batch = batch, k.h = h, k.w = w, k.c = c, k.o = o, k.stride = stride, k.same = same;
  k.input.resize(size_t(batch) * h * w * c);
  k.filter.assign(size_t(o) * 9 * c, 0.f);
  k.bias.resize(o);
  for (float& v : k.input) v = normal(*rng);
  for (float& v : k.bias) v = normal(*rng);
  for (int oc = 0; oc < o; ++oc) {
    for (int ic = 0; ic < c; ++ic) {
      const unsigned r = (*rng)();
      if (r % 3 == 0) continue;  // a third of the kernels pruned whole
      for (int t : kPatterns[(r >> 4) % 4]) k.filter[(size_t(oc) * 9 + t) * c + ic] = normal(*rng);
    }
  }
  return k;
}

std::vector<float> Reference(const ConvCase& k) {
  const int oh = k.out_h(), ow = k.out_w();
  int pad_t = 0, pad_l = 0;
  if (k.same) {
    pad_t = std::max((oh - 1) * k.stride + 3 - k.h, 0) / 2;
    pad_l = std::max((ow - 1) * k.stride + 3 - k.w, 0) / 2;
  }
  std::vector<float> out(k.out_size());
  for (int n = 0; n < k.batch; ++n)
    for (int y = 0; y < oh; ++y)
      for (int x = 0; x < ow; ++x)
        for (int oc = 0; oc < k.o; ++oc) {
          double acc = k.bias[oc];
          for (int ky = 0; ky < 3; ++ky)
            for (int kx = 0; kx < 3; ++kx) {
              const int iy = y * k.stride + ky - pad_t, ix = x * k.stride + kx - pad_l;
              if (iy < 0 || iy >= k.h || ix < 0 || ix >= k.w) continue;
              const float* in = &k.input[((size_t(n) * k.h + iy) * k.w + ix) * k.c];
              const float* wt = &k.filter[(size_t(oc) * 9 + ky * 3 + kx) * k.c];
              for (int ic = 0; ic < k.c; ++ic) acc += double(in[ic]) * wt[ic];
            }
          out[((size_t(n) * oh + y) * ow + x) * k.o + oc] = float(std::max(acc, 0.0));  // RELU
        }
  return out;
}

// Largest |a - b| relative to the largest |a|.
double ScaledError(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return INFINITY;
  double scale = 1e-6, err = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    scale = std::max(scale, double(std::fabs(a[i])));
    const double d = std::fabs(double(a[i]) - double(b[i]));
    err = std::isnan(d) ? INFINITY : std::max(err, d);
  }
  return err / scale;
}

constexpr double kTolerance = 1e-4;

bool RunDirect(const ConvCase& k, const char* isa, int threads, std::vector<float>* out) {
  out->assign(k.out_size(), NAN);
  return patternlite_conv2d(k.input.data(), k.batch, k.h, k.w, k.c, k.filter.data(), k.o, k.bias.data(), k.stride,
                            k.stride, k.same, k.act, isa, threads, 1, out->data(), nullptr) == 0;
}

std::vector<const char*> AvailableIsas() {
  std::vector<const char*> isas;
  for (Isa isa : {Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (patternlite::IsaAvailable(isa)) isas.push_back(patternlite::IsaName(isa));
  }
  return isas;
}

// ---------------------------------------------------------------------------
// A minimal fake host: one CONV_2D node, the TfLiteContext callbacks a
// delegate uses, and the interpreter's side of the kernel lifetime. Tensor
// dims are malloc'd TfLiteIntArrays, owned as TFLite owns them.

TfLiteIntArray* NewIntArray(std::initializer_list<int> values) {
  auto* a = static_cast<TfLiteIntArray*>(std::malloc(sizeof(TfLiteIntArray) + values.size() * sizeof(int)));
  a->size = int(values.size());
  std::copy(values.begin(), values.end(), a->data);
  return a;
}

class FakeHost {
 public:
  // `explicit_resize`: offer ResizeTensorExplicit (else only ResizeTensor).
  FakeHost(const ConvCase& k, int recommended_threads, bool explicit_resize) : case_(k) {
    tensors_.resize(4);
    for (TfLiteTensor& t : tensors_) {
      std::memset(&t, 0, sizeof t);
      t.type = kTfLiteFloat32;
      t.buffer_handle = -1;
    }
    TfLiteTensor& in = tensors_[0];
    in.name = "input";
    in.dims = NewIntArray({k.batch, k.h, k.w, k.c});
    in.allocation_type = kTfLiteArenaRw;
    in.bytes = k.input.size() * sizeof(float);
    in.data = const_cast<float*>(k.input.data());
    TfLiteTensor& filter = tensors_[1];
    filter.name = "conv/filter";
    filter.dims = NewIntArray({k.o, 3, 3, k.c});
    filter.allocation_type = kTfLiteMmapRo;
    filter.bytes = k.filter.size() * sizeof(float);
    filter.data = const_cast<float*>(k.filter.data());
    TfLiteTensor& bias = tensors_[2];
    bias.name = "conv/bias";
    bias.dims = NewIntArray({k.o});
    bias.allocation_type = kTfLiteMmapRo;
    bias.bytes = k.bias.size() * sizeof(float);
    bias.data = const_cast<float*>(k.bias.data());
    TfLiteTensor& out = tensors_[3];
    out.name = "output";
    out.dims = NewIntArray({0, 0, 0, 0});
    out.allocation_type = kTfLiteArenaRw;

    params_.padding = k.same ? kTfLitePaddingSame : kTfLitePaddingValid;
    params_.stride_width = params_.stride_height = k.stride;
    params_.activation = TfLiteFusedActivation(k.act);
    params_.dilation_width_factor = params_.dilation_height_factor = 1;
    conv_node_.inputs = NewIntArray({0, 1, 2});
    conv_node_.outputs = NewIntArray({3});
    conv_node_.builtin_data = &params_;
    conv_reg_.builtin_code = kTfLiteBuiltinConv2d;
    conv_reg_.version = 1;
    plan_ = NewIntArray({0});

    context_.tensors_size = tensors_.size();
    context_.tensors = tensors_.data();
    context_.impl_ = this;
    context_.recommended_num_threads = recommended_threads;
    context_.GetExecutionPlan = [](TfLiteContext* c, TfLiteIntArray** plan) {
      *plan = Self(c)->plan_;
      return kTfLiteOk;
    };
    context_.GetNodeAndRegistration = [](TfLiteContext* c, int index, TfLiteNode** node, TfLiteRegistration** reg) {
      FakeHost* h = Self(c);
      if (index == 0) *node = &h->conv_node_, *reg = &h->conv_reg_;
      else if (index == 1 && h->delegated_) *node = &h->kernel_node_, *reg = &h->kernel_reg_;
      else return kTfLiteError;
      return kTfLiteOk;
    };
    context_.ReplaceNodeSubsetsWithDelegateKernels = [](TfLiteContext* c, TfLiteRegistration reg,
                                                         const TfLiteIntArray* nodes, TfLiteDelegate* d) {
      return Self(c)->Replace(reg, nodes, d);
    };
    context_.ResizeTensor = [](TfLiteContext*, TfLiteTensor* t, TfLiteIntArray* dims) {
      std::free(t->dims);  // TFLite takes ownership of `dims` and frees the old ones
      t->dims = dims;
      return kTfLiteOk;
    };
    if (explicit_resize) {
      context_.ResizeTensorExplicit = [](TfLiteContext*, TfLiteTensor* t, int n, const int* shape) {
        auto* dims = static_cast<TfLiteIntArray*>(std::malloc(sizeof(TfLiteIntArray) + n * sizeof(int)));
        dims->size = n;
        std::copy(shape, shape + n, dims->data);
        std::free(t->dims);
        t->dims = dims;
        return kTfLiteOk;
      };
    }
    context_.ReportError = ReportError;
    context_.GetTensor = [](const TfLiteContext* c, int i) { return &Self(c)->tensors_[i]; };
  }

  ~FakeHost() {
    if (kernel_user_data_ != nullptr && kernel_reg_.free != nullptr) kernel_reg_.free(&context_, kernel_user_data_);
    for (TfLiteTensor& t : tensors_) std::free(t.dims);
    std::free(conv_node_.inputs);
    std::free(conv_node_.outputs);
    std::free(kernel_node_.inputs);
    std::free(kernel_node_.outputs);
    std::free(plan_);
  }

  // ModifyGraphWithDelegate + AllocateTensors. Returns false with a message.
  bool Build(TfLiteDelegate* delegate, std::string* error) {
    if (delegate->Prepare(&context_, delegate) != kTfLiteOk) return *error = "Prepare: " + last_error_, false;
    if (!delegated_) return *error = "the delegate claimed no node", false;
    if (kernel_reg_.prepare(&context_, &kernel_node_) != kTfLiteOk) {
      return *error = "kernel prepare: " + last_error_, false;
    }
    TfLiteTensor& out = tensors_[3];
    size_t n = 1;
    for (int d = 0; d < out.dims->size; ++d) n *= size_t(out.dims->data[d]);
    if (n != case_.out_size()) return *error = "output shaped wrong by Prepare", false;
    output_.assign(n, NAN);
    out.data = output_.data();
    out.bytes = n * sizeof(float);
    return true;
  }

  bool Invoke() { return kernel_reg_.invoke(&context_, &kernel_node_) == kTfLiteOk; }
  const std::vector<float>& output() const { return output_; }
  const std::string& last_error() const { return last_error_; }

 private:
  static FakeHost* Self(const TfLiteContext* c) { return static_cast<FakeHost*>(c->impl_); }

  static void ReportError(TfLiteContext* c, const char* fmt, ...) {
    char buf[512];
    std::va_list args;
    va_start(args, fmt);
    std::vsnprintf(buf, sizeof buf, fmt, args);
    va_end(args);
    Self(c)->last_error_ = buf;
  }

  TfLiteStatus Replace(const TfLiteRegistration& reg, const TfLiteIntArray* nodes, TfLiteDelegate* d) {
    if (delegated_ || nodes->size != 1 || nodes->data[0] != 0) return kTfLiteError;
    kernel_reg_ = reg;
    kernel_node_.inputs = NewIntArray({0, 1, 2});
    kernel_node_.outputs = NewIntArray({3});
    kernel_node_.delegate = d;
    TfLiteDelegateParams params{};
    params.delegate = d;
    TfLiteIntArray* replaced = NewIntArray({0});
    params.nodes_to_replace = replaced;
    params.input_tensors = kernel_node_.inputs;
    params.output_tensors = kernel_node_.outputs;
    kernel_user_data_ = reg.init != nullptr ? reg.init(&context_, reinterpret_cast<const char*>(&params), 0) : nullptr;
    std::free(replaced);
    kernel_node_.user_data = kernel_user_data_;
    plan_->data[0] = 1;  // the execution plan now runs the delegate kernel
    delegated_ = true;
    return kTfLiteOk;
  }

  const ConvCase& case_;
  std::vector<TfLiteTensor> tensors_;
  TfLiteConvParams params_{};
  TfLiteNode conv_node_{}, kernel_node_{};
  TfLiteRegistration conv_reg_{}, kernel_reg_{};
  TfLiteIntArray* plan_ = nullptr;
  TfLiteContext context_{};
  void* kernel_user_data_ = nullptr;
  bool delegated_ = false;
  std::vector<float> output_;
  std::string last_error_;
};

// Delegate options as the plugin entry point takes them: parallel char* arrays.
struct Options {
  std::vector<std::string> keys, values;
  Options() = default;
  Options(std::initializer_list<std::pair<const char*, const char*>> kv) {
    for (auto& p : kv) keys.push_back(p.first), values.push_back(p.second);
  }
};

thread_local int t_reported_errors = 0;
void CountError(const char* message) { t_reported_errors += message != nullptr && message[0] != '\0'; }

TfLiteDelegate* Create(const Options& o) {
  std::vector<std::string> keys = o.keys, values = o.values;  // the entry point takes char**
  std::vector<char*> key_ptrs, value_ptrs;
  for (size_t i = 0; i < keys.size(); ++i) key_ptrs.push_back(&keys[i][0]), value_ptrs.push_back(&values[i][0]);
  return tflite_plugin_create_delegate(key_ptrs.data(), value_ptrs.data(), keys.size(), CountError);
}

// ---------------------------------------------------------------------------
// 1. The plugin entry points.

void CheckPluginLifecycle(int cycles) {
  std::vector<Options> good = {
      Options{},
      Options{{"num_threads", "2"}},
      Options{{"num_threads", "4"}, {"min_sparsity", "0.7"}, {"metadata", "ignore"}, {"log_level", "silent"},
              {"isa", "scalar"}},
      Options{{"isa", "auto"}, {"log_level", "error"}, {"metadata", "require"}},
  };
  std::vector<Options> bad = {
      Options{{"num_threads", "two"}},
      Options{{"no_such_option", "1"}},
      Options{{"isa", "sse9"}},
      Options{{"min_sparsity", "1.5"}},
      Options{{"num_threads", "2"}, {"metadata", "sometimes"}},  // a good option before the bad one
  };
  int created = 0, refused = 0;
  for (int i = 0; i < cycles; ++i) {
    const Options& o = good[i % good.size()];
    TfLiteDelegate* d = Create(o);
    if (d == nullptr) {
      Fail("plugin: option set %zu refused: %s", i % good.size(), patternlite_last_error());
      return;
    }
    if (i % 7 == 0 && std::strstr(patternlite_stats_json(d), "\"options\"") == nullptr) {
      Fail("plugin: stats JSON has no options");
    }
    tflite_plugin_destroy_delegate(d);
    ++created;

    const Options& b = bad[i % bad.size()];
    const int reported = t_reported_errors;
    if (Create(b) != nullptr) {
      Fail("plugin: bad option set %zu accepted", i % bad.size());
      return;
    }
    if (t_reported_errors != reported + 1 || patternlite_last_error()[0] == '\0') {
      Fail("plugin: bad option set %zu refused without an error message", i % bad.size());
      return;
    }
    ++refused;
  }
  // A null value, a null key and a null report_error must fail cleanly too.
  char key[] = "num_threads";
  char* keys[] = {key};
  char* null_values[] = {nullptr};
  if (tflite_plugin_create_delegate(keys, null_values, 1, nullptr) != nullptr) Fail("plugin: null value accepted");
  char* null_keys[] = {nullptr};
  char value[] = "2";
  char* values[] = {value};
  if (tflite_plugin_create_delegate(null_keys, values, 1, nullptr) != nullptr) Fail("plugin: null key accepted");
  tflite_plugin_destroy_delegate(nullptr);  // a no-op
  std::printf("plugin: %d delegates created and destroyed (%zu option sets), %d bad option sets refused\n", created,
              good.size(), refused);
}

// ---------------------------------------------------------------------------
// 2. The delegate's whole kernel lifetime through the fake host.

void CheckHostLifecycle(int cycles) {
  std::mt19937 rng(11);
  std::vector<ConvCase> cases = {MakeCase(&rng, 1, 9, 7, 5, 12, 1, 1), MakeCase(&rng, 2, 10, 10, 8, 20, 2, 0),
                                 MakeCase(&rng, 1, 24, 24, 16, 32, 1, 1)};  // the last one big enough for 2 threads
  std::vector<std::vector<float>> refs;
  for (const ConvCase& k : cases) refs.push_back(Reference(k));
  const Options opts[] = {Options{{"log_level", "silent"}}, Options{{"num_threads", "2"}, {"log_level", "silent"}},
                    Options{{"isa", "scalar"}, {"log_level", "silent"}}};
  int invokes = 0;
  for (int i = 0; i < cycles; ++i) {
    const size_t ci = i % cases.size();
    TfLiteDelegate* d = Create(opts[i % 3]);
    if (d == nullptr) return Fail("host: delegate refused: %s", patternlite_last_error());
    {
      FakeHost host(cases[ci], 1 + i % 2, i % 2 == 0);
      std::string error;
      if (!host.Build(d, &error)) {
        Fail("host: cycle %d case %zu: %s", i, ci, error.c_str());
      } else {
        for (int r = 0; r < 2; ++r, ++invokes) {
          if (!host.Invoke()) Fail("host: invoke failed: %s", host.last_error().c_str());
        }
        const double err = ScaledError(refs[ci], host.output());
        if (!(err <= kTolerance)) Fail("host: cycle %d case %zu: scaled error %.3g", i, ci, err);
      }
      if (i % 5 == 0 && std::strstr(patternlite_stats_json(d), "\"claimed\"") == nullptr) {
        Fail("host: stats JSON has no claims: %s", patternlite_stats_json(d));
      }
    }  // the host frees its kernel before the delegate goes, as TFLite does
    tflite_plugin_destroy_delegate(d);
  }
  std::printf("host: %d delegate + one-conv graph lifetimes (build, %d invokes, free)\n", cycles, invokes);
}

// ---------------------------------------------------------------------------
// 3. The direct conv entry, every ISA against the scalar kernel.

void CheckDirectConv(int rounds) {
  std::mt19937 rng(7);
  const std::vector<const char*> isas = AvailableIsas();
  int runs = 0;
  double worst = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int h : {5, 8, 17}) {
      for (int c : {3, 16}) {
        for (int o : {8, 21}) {
          for (int s : {1, 2}) {
            const int same = (h + c + o + s + r) % 2;
            ConvCase k = MakeCase(&rng, 1 + (o + r) % 2, h, h + (r % 3), c, o, s, same);
            std::vector<float> scalar, out;
            if (!RunDirect(k, "scalar", 1, &scalar)) return Fail("direct: scalar refused: %s", patternlite_last_error());
            if (r == 0) worst = std::max(worst, ScaledError(Reference(k), scalar));
            for (const char* isa : isas) {
              for (int threads : {1, 2}) {
                if (!RunDirect(k, isa, threads, &out)) {
                  return Fail("direct: %s refused: %s", isa, patternlite_last_error());
                }
                const double err = ScaledError(scalar, out);
                worst = std::max(worst, err);
                if (!(err <= kTolerance)) {
                  Fail("direct: %s x%d h=%d c=%d o=%d s=%d same=%d: scaled error %.3g", isa, threads, h, c, o, s,
                       same, err);
                }
                ++runs;
              }
            }
          }
        }
      }
    }
  }
  // One conv big enough that the plan really splits it over 2 threads.
  ConvCase big = MakeCase(&rng, 1, 24, 24, 16, 32, 1, 1);
  std::vector<float> scalar, out;
  RunDirect(big, "scalar", 1, &scalar);
  for (const char* isa : isas) {
    if (!RunDirect(big, isa, 2, &out) || !(ScaledError(scalar, out) <= kTolerance)) Fail("direct: big %s x2", isa);
    ++runs;
  }
  // Refusals: an unknown ISA and a dense (not pattern-pruned) filter.
  std::vector<float> dense(9 * 3 * 4, 1.f);
  if (patternlite_conv2d(big.input.data(), 1, 4, 4, 3, big.filter.data(), 4, nullptr, 1, 1, 1, 0, "sse9", 1, 1,
                         out.data(), nullptr) == 0 ||
      patternlite_conv2d(big.input.data(), 1, 4, 4, 3, dense.data(), 4, nullptr, 1, 1, 1, 0, "scalar", 1, 1,
                         out.data(), nullptr) == 0) {
    Fail("direct: a bad call was accepted");
  }
  std::string names;
  for (const char* isa : isas) names += std::string(names.empty() ? "" : ",") + isa;
  std::printf("direct: %d conv runs (ISAs %s; 1 and 2 threads), max scaled error vs scalar %.3g\n", runs,
              names.c_str(), worst);
}

// The channel-block kernels (1x1 kind 1, depthwise kind 2), every ISA against
// scalar, under the sanitizers: tiny images, partial blocks, both strides.
void CheckDirectBlocks(int rounds) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  const std::vector<const char*> isas = AvailableIsas();
  int runs = 0;
  double worst = 0;
  for (int r = 0; r < rounds; ++r) {
    for (int kind : {1, 2}) {
      for (int h : {1, 2, 3, 6, 13}) {
        for (int c : {1, 5, 16, 33}) {
          for (int s : {1, 2}) {
            const int out_c = kind == 1 ? 1 + (h * 7 + c + r) % 40 : c;
            const int same = h < 3 ? 1 : (h + c + s + r) % 2;
            const int w = h + (r % 3);
            std::vector<float> x(size_t(2) * h * w * c), b(out_c);
            std::vector<float> f(kind == 1 ? size_t(out_c) * c : size_t(9) * c, 0.f);
            for (float& v : x) v = normal(rng);
            for (float& v : b) v = normal(rng);
            for (size_t i = 0; i < f.size(); ++i) {
              if (rng() % 3 != 0) f[i] = normal(rng);
            }
            const int k = kind == 1 ? 1 : 3;
            const int oh = same ? (h + s - 1) / s : (h - k) / s + 1, ow = same ? (w + s - 1) / s : (w - k) / s + 1;
            std::vector<float> ref(size_t(2) * oh * ow * out_c), out(ref.size());
            if (patternlite_block_conv(kind, x.data(), 2, h, w, c, f.data(), out_c, b.data(), s, s, same, 1,
                                       "scalar", 1, ref.data(), nullptr) != 0) {
              return Fail("blocks: scalar refused: %s", patternlite_last_error());
            }
            for (const char* isa : isas) {
              if (patternlite_block_conv(kind, x.data(), 2, h, w, c, f.data(), out_c, b.data(), s, s, same, 1, isa,
                                         1, out.data(), nullptr) != 0) {
                return Fail("blocks: %s refused: %s", isa, patternlite_last_error());
              }
              const double err = ScaledError(ref, out);
              worst = std::max(worst, err);
              if (!(err <= kTolerance)) {
                Fail("blocks: %s kind=%d h=%d c=%d s=%d same=%d: scaled error %.3g", isa, kind, h, c, s, same, err);
              }
              ++runs;
            }
          }
        }
      }
    }
  }
  std::printf("blocks: %d 1x1/depthwise runs, max scaled error vs scalar %.3g\n", runs, worst);
}

// ---------------------------------------------------------------------------
// 4. The thread pool.

void CheckPoolConcurrentCallers(int callers, int calls_per_caller) {
  patternlite::ThreadPool pool(3);
  // ParallelFor promises a worker index unique among concurrent calls: each
  // index is claimed while its task runs, and a second holder is an error.
  std::vector<std::atomic<int>> busy(pool.size());
  for (auto& b : busy) b.store(0);
  std::vector<std::thread> threads;
  for (int t = 0; t < callers; ++t) {
    threads.emplace_back([&, t] {
      std::vector<std::atomic<int>> hits(97);
      for (int call = 0; call < calls_per_caller; ++call) {
        const int tasks = 1 + (call * 31 + t * 17) % 97;
        for (int i = 0; i < tasks; ++i) hits[i].store(0);
        pool.ParallelFor(tasks, [&](int task, int worker) {
          if (worker < 0 || worker >= pool.size() || busy[worker].fetch_add(1) != 0) {
            hits[task].fetch_add(1000);
          }
          hits[task].fetch_add(1);
          if (worker >= 0 && worker < pool.size()) busy[worker].fetch_sub(1);
        });
        for (int i = 0; i < tasks; ++i) {
          if (hits[i].load() != 1) {
            return Fail("pool: caller %d call %d task %d ran %d times (>=1000: bad worker index)", t, call, i,
                        hits[i].load());
          }
        }
      }
    });
  }
  for (std::thread& th : threads) th.join();
}

void CheckPoolCycles(int cycles) {
  std::atomic<int> sum{0};
  for (int i = 0; i < cycles; ++i) {
    patternlite::ThreadPool pool(1 + i % 4);
    // Every third pool is destroyed untouched, while its workers may still be
    // starting up; the others run one or two jobs first.
    for (int job = 0; job < i % 3; ++job) {
      sum.store(0);
      pool.ParallelFor(8, [&](int task, int) { sum.fetch_add(task + 1); });
      if (sum.load() != 36) return Fail("pool: cycle %d job %d summed %d, not 36", i, job, sum.load());
    }
  }
}

// ---------------------------------------------------------------------------
// 5. Convs from several threads at once.

void CheckConcurrentConvs(int iterations) {
  std::mt19937 rng(23);
  // Big enough for PlanConv to split them over 2 threads.
  const ConvCase shared_case = MakeCase(&rng, 1, 24, 24, 16, 32, 1, 1);
  const ConvCase own_case = MakeCase(&rng, 2, 20, 20, 16, 24, 2, 0);
  const std::vector<float> shared_ref = Reference(shared_case), own_ref = Reference(own_case);
  const Isa best = patternlite::BestIsa();

  // (a) Two threads share one ThreadPool through RunConv, each with its own
  // plan and workspaces; (b) two threads call patternlite_conv2d (own pools).
  patternlite::ThreadPool shared_pool(2);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      const ConvCase& k = shared_case;
      std::vector<uint16_t> masks;
      std::string reason;
      const std::vector<uint16_t> no_library;
      if (!patternlite::AssignKernelMasks(k.filter.data(), k.o, k.c, nullptr, no_library, &masks, &reason)) {
        return Fail("concurrent: masks: %s", reason.c_str());
      }
      patternlite::PackedConv packed;
      patternlite::PackPatternConv(k.filter.data(), k.o, k.c, masks.data(), k.bias.data(), &packed);
      const Isa isa = t == 0 ? best : Isa::kScalar;
      patternlite::ConvPlan plan;
      if (!patternlite::PlanConv(k.batch, k.h, k.w, k.c, k.o, kTfLitePaddingSame, 1, 1, 0.f, INFINITY,
                                 shared_pool.size(), packed.kept_kernels() * 4, patternlite::IsaLanes(isa), &plan)) {
        return Fail("concurrent: plan refused");
      }
      if (plan.blocks_per_image < 2) Fail("concurrent: the shared-pool conv was not split (%d block)", plan.blocks_per_image);
      patternlite::PackForPlan(plan, &packed);
      std::vector<patternlite::Workspace> workspaces;
      std::vector<float> out(k.out_size());
      for (int i = 0; i < iterations; ++i) {
        std::fill(out.begin(), out.end(), NAN);
        patternlite::RunConv(plan, packed, patternlite::KernelsFor(isa), &shared_pool, &workspaces,
                             k.input.data(), out.data());
        const double err = ScaledError(shared_ref, out);
        if (!(err <= kTolerance)) return Fail("concurrent: shared pool, thread %d: scaled error %.3g", t, err);
      }
    });
  }
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::vector<float> out;
      for (int i = 0; i < iterations; ++i) {
        if (!RunDirect(own_case, t == 0 ? "auto" : "scalar", 2, &out)) {
          return Fail("concurrent: patternlite_conv2d refused: %s", patternlite_last_error());
        }
        const double err = ScaledError(own_ref, out);
        if (!(err <= kTolerance)) return Fail("concurrent: own pool, thread %d: scaled error %.3g", t, err);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  threads.clear();

  // (c) Two fake hosts share one delegate, so their kernels share its pool;
  // a third host has its own delegate. All three invoke at once.
  const Options two{{"num_threads", "2"}, {"log_level", "silent"}};
  TfLiteDelegate* shared = Create(two);
  TfLiteDelegate* own = Create(two);
  if (shared == nullptr || own == nullptr) return Fail("concurrent: delegate refused");
  {
    FakeHost a(shared_case, 2, true), b(own_case, 2, false), c(shared_case, 2, true);
    std::string error;
    if (!a.Build(shared, &error) || !b.Build(shared, &error) || !c.Build(own, &error)) {
      Fail("concurrent: host build: %s", error.c_str());
    } else {
      std::pair<FakeHost*, const std::vector<float>*> runs[] = {{&a, &shared_ref}, {&b, &own_ref}, {&c, &shared_ref}};
      for (auto& run : runs) {
        threads.emplace_back([&iterations, run] {
          for (int i = 0; i < iterations; ++i) {
            if (!run.first->Invoke()) return Fail("concurrent: invoke: %s", run.first->last_error().c_str());
            const double err = ScaledError(*run.second, run.first->output());
            if (!(err <= kTolerance)) return Fail("concurrent: host invoke %d: scaled error %.3g", i, err);
          }
        });
      }
      for (std::thread& th : threads) th.join();
    }
  }
  tflite_plugin_destroy_delegate(shared);
  tflite_plugin_destroy_delegate(own);
}

// ---------------------------------------------------------------------------
// 6. The OpenCL backend (delegate/opencl), through the same fake host.

void CheckOpenClHost(int cycles) {
  const Options opts{{"backend", "opencl"}, {"log_level", "silent"}};
  TfLiteDelegate* probe = Create(opts);
  if (probe == nullptr) {
    const char* require = std::getenv("PATTERNLITE_REQUIRE_OPENCL");
    if (require != nullptr && std::string(require) == "1") {
      return Fail("opencl: PATTERNLITE_REQUIRE_OPENCL=1 but: %s", patternlite_last_error());
    }
    std::printf("opencl: skipped (%s)\n", patternlite_last_error());
    return;
  }
  tflite_plugin_destroy_delegate(probe);
  std::mt19937 rng(13);
  std::vector<ConvCase> cases = {MakeCase(&rng, 1, 9, 7, 5, 12, 1, 1), MakeCase(&rng, 2, 10, 10, 8, 20, 2, 0)};
  std::vector<std::vector<float>> refs;
  for (const ConvCase& k : cases) refs.push_back(Reference(k));
  int invokes = 0, injected = 0;
  for (int i = 0; i < cycles; ++i) {
    const size_t ci = i % cases.size();
    TfLiteDelegate* d = Create(opts);
    if (d == nullptr) return Fail("opencl: delegate refused: %s", patternlite_last_error());
    {
      FakeHost host(cases[ci], 1, i % 2 == 0);
      std::string error;
      if (!host.Build(d, &error)) {
        Fail("opencl: cycle %d case %zu: %s", i, ci, error.c_str());
      } else {
        // The first invoke also wraps the tensors in buffers; count the calls of the second.
        if (!host.Invoke()) Fail("opencl: invoke failed: %s", host.last_error().c_str());
        const long long before = patternlite_opencl_call_count();
        if (!host.Invoke()) Fail("opencl: invoke failed: %s", host.last_error().c_str());
        const long long calls = patternlite_opencl_call_count() - before;
        invokes += 2;
        // Every call of an invoke failed in turn on the first cycle: an error
        // naming the OpenCL status, and the next invoke is exact again.
        for (long long n = 1; i == 0 && n <= calls; ++n, ++injected) {
          patternlite_opencl_inject_failure(n, -5);  // CL_OUT_OF_RESOURCES
          const bool ok = host.Invoke();
          patternlite_opencl_inject_failure(0, 0);
          if (ok || host.last_error().find("CL_OUT_OF_RESOURCES") == std::string::npos) {
            Fail("opencl: failed call %lld of an invoke gave '%s'", n, host.last_error().c_str());
          }
          if (!host.Invoke()) Fail("opencl: no recovery after failed call %lld", n);
          invokes += 2;
        }
        const double err = ScaledError(refs[ci], host.output());
        if (!(err <= kTolerance)) Fail("opencl: cycle %d case %zu: scaled error %.3g", i, ci, err);
      }
      if (std::strstr(patternlite_stats_json(d), "\"backend\":\"opencl\"") == nullptr) {
        Fail("opencl: the node did not run on OpenCL: %s", patternlite_stats_json(d));
      }
    }
    tflite_plugin_destroy_delegate(d);
  }
  std::printf("opencl: %d backend=opencl delegate + one-conv graph lifetimes, %d invokes, %d injected failures\n",
              cycles, invokes, injected);
}

}  // namespace

int main(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--scale=", 8) == 0) {
      g_scale = std::atof(argv[i] + 8);
    } else {
      std::fprintf(stderr, "usage: %s [--scale=F]\n", argv[0]);
      return 2;
    }
  }
  if (!(g_scale > 0)) g_scale = 1;
  std::printf("lifecycle_check: scale %g, best ISA %s\n", g_scale, patternlite::IsaName(patternlite::BestIsa()));

  CheckPluginLifecycle(Scaled(2000));
  CheckHostLifecycle(Scaled(300));
  CheckDirectConv(Scaled(6));
  CheckDirectBlocks(Scaled(3));

  const int callers = 4, calls = Scaled(1000), cycles = Scaled(500), selftest = Scaled(2000);
  CheckPoolConcurrentCallers(callers, calls);
  CheckPoolCycles(cycles);
  if (patternlite_selftest_thread_pool(3, selftest) != 0) Fail("pool: selftest found mistakes");
  std::printf("pool: %d threads x %d concurrent ParallelFor calls on one pool, %d pool create/destroy cycles, "
              "%d self-test jobs\n", callers, calls, cycles, selftest);

  const int concurrent = Scaled(100);
  CheckConcurrentConvs(concurrent);
  std::printf("concurrent: 4 threads x %d convs (2 sharing one pool), 3 hosts x %d invokes (2 sharing one delegate)\n",
              concurrent, concurrent);

  CheckOpenClHost(Scaled(20));

  if (g_failures.load() != 0) {
    std::printf("lifecycle_check: %d FAILURES\n", g_failures.load());
    return 1;
  }
  std::printf("lifecycle_check: all checks passed\n");
  return 0;
}
