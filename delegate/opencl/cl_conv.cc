#include "delegate/contract_generated.h"
#include "delegate/opencl/cl_conv.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <limits>
#include <type_traits>

#include "delegate/node/conv_shape.h"

namespace patternlite {

using namespace cl;  // NOLINT: the cl_* names mirror the Khronos headers

namespace {

// OpenCL C 1.2 (and 1.1: nothing newer is used), compiled once per delegate.
//
// Two steps per conv. `to_padded_planar` copies the NHWC input into a device
// buffer of zero-padded planes, planar[c][n][y][x] over the window the conv
// reads (Hp = (out_h-1)*stride_h+3 rows; Wp columns for whole quads of output
// pixels), so that neighbouring output pixels read neighbouring addresses and
// no tap needs a bounds test. `pattern_conv3x3_s{1,2}` (by the column stride)
// then computes the output.
//
// Mapping: work-item (q, f) computes a quad of 4 neighbouring output pixels
// of one row (q runs over batch, rows and quads) for packed filter f, with one
// vector load per tap. A work-group is kLocalPixels quads of ONE filter, so
// all its work-items walk the same pattern groups: a group's four tap
// offsets, the loop bounds and every weight load are uniform across the
// work-group (a broadcast on GPUs; no divergence at all), while neighbouring
// work-items load neighbouring vectors. The filter-major packing groups each
// filter's kernels by pattern, so the taps are chosen once per group, not per
// kernel. Filters are in the packing's order (most kept kernels first), so
// the longest work-groups are dispatched first.
constexpr char kProgramSource[] = R"CLC(
#define PL_ACTIVATE(v, lo, hi) ((v) < (lo) ? (lo) : ((v) > (hi) ? (hi) : (v)))

// planar[c][n][y][x] = input[n][y - pad_top][x - pad_left][c], 0 outside the image.
__kernel void to_padded_planar(__global const float* restrict input, __global float* restrict planar,
                               const int batch, const int in_h, const int in_w, const int in_c, const int hp,
                               const int wp, const int pad_top, const int pad_left) {
  const int q = get_global_id(0);  // (n, y, x) within one channel's planes
  const int c = get_global_id(1);
  const int plane = batch * hp * wp;
  if (q >= plane) return;
  const int x = q % wp;
  const int rest = q / wp;
  const int y = rest % hp;
  const int n = rest / hp;
  const int iy = y - pad_top, ix = x - pad_left;
  const bool inside = iy >= 0 && iy < in_h && ix >= 0 && ix < in_w;
  planar[c * plane + q] = inside ? input[((n * in_h + iy) * in_w + ix) * in_c + c] : 0.0f;
}

// A work-item computes PL_PIXELS (4) neighbouring output pixels of one row:
// its 4 inputs of a tap are one vector load (every other float at stride 2).
// Accumulation per pixel is the same sequence of multiply-adds as 4 scalar
// work-items would do.
#define PL_PIXELS 4
#define PL_LOAD_S1(p) vload4(0, (p))
#define PL_LOAD_S2(p) (vload8(0, (p)).even)

// Window of pixel quad q in one channel's planes, and the quad's first column.
inline int pl_window(int q, int out_h, int quads_w, int hp, int wp, int stride_h, int stride_w, int* n_oy,
                     int* ox0) {
  const int qx = q % quads_w;
  const int rest = q / quads_w;
  const int oy = rest % out_h;
  const int n = rest / out_h;
  *n_oy = n * out_h + oy;
  *ox0 = qx * PL_PIXELS;
  return (n * hp + oy * stride_h) * wp + *ox0 * stride_w;
}

// Bias, activation, and the quad's pixels that lie inside the row.
inline void pl_store(float4 acc, float b, float lo, float hi, __global float* out, int ox0, int out_w,
                     int out_c) {
  const float4 v = acc + b;
  if (ox0 + 0 < out_w) out[0] = PL_ACTIVATE(v.s0, lo, hi);
  if (ox0 + 1 < out_w) out[out_c] = PL_ACTIVATE(v.s1, lo, hi);
  if (ox0 + 2 < out_w) out[2 * out_c] = PL_ACTIVATE(v.s2, lo, hi);
  if (ox0 + 3 < out_w) out[3 * out_c] = PL_ACTIVATE(v.s3, lo, hi);
}

#define PL_PATTERN_KERNEL(NAME, LOAD)                                                                              \
  __kernel void NAME(__global const float* restrict planar, __global float* restrict output,                      \
                     __global const int* restrict filter_order, __global const int* restrict filter_groups,        \
                     __global const int* restrict groups, __global const int* restrict kernel_channel,             \
                     __global const float4* restrict kernel_weights, __global const float* restrict bias,          \
                     const int out_h, const int out_w, const int out_c, const int hp, const int wp,                \
                     const int stride_h, const int stride_w, const int quads, const int quads_w, const int plane,  \
                     const float act_min, const float act_max) {                                                   \
    const int q = get_global_id(0);                                                                                \
    const int f = get_global_id(1);                                                                                \
    if (q >= quads) return; /* the last work-group's spare work-items */                                           \
    int n_oy, ox0;                                                                                                 \
    __global const float* window =                                                                                 \
        planar + pl_window(q, out_h, quads_w, hp, wp, stride_h, stride_w, &n_oy, &ox0);                            \
    float4 acc = (float4)(0.0f);                                                                                   \
    const int g_end = filter_groups[f + 1];                                                                        \
    for (int g = filter_groups[f]; g < g_end; ++g) {                                                               \
      /* groups: 6 ints per pattern group: its 4 taps (3*ky+kx, ascending), first and end kernel. */               \
      __global const int* grp = groups + 6 * g;                                                                    \
      const int t0 = (grp[0] / 3) * wp + grp[0] % 3, t1 = (grp[1] / 3) * wp + grp[1] % 3;                          \
      const int t2 = (grp[2] / 3) * wp + grp[2] % 3, t3 = (grp[3] / 3) * wp + grp[3] % 3;                          \
      const int k_end = grp[5];                                                                                    \
      for (int k = grp[4]; k < k_end; ++k) {                                                                       \
        __global const float* x = window + kernel_channel[k] * plane;                                              \
        const float4 w = kernel_weights[k];                                                                        \
        acc += w.x * LOAD(x + t0);                                                                                 \
        acc += w.y * LOAD(x + t1);                                                                                 \
        acc += w.z * LOAD(x + t2);                                                                                 \
        acc += w.w * LOAD(x + t3);                                                                                 \
      }                                                                                                            \
    }                                                                                                              \
    const int o = filter_order[f];                                                                                 \
    pl_store(acc, bias[o], act_min, act_max, output + (n_oy * out_w + ox0) * out_c + o, ox0, out_w, out_c);       \
  }

PL_PATTERN_KERNEL(pattern_conv3x3_s1, PL_LOAD_S1)
PL_PATTERN_KERNEL(pattern_conv3x3_s2, PL_LOAD_S2)

// The dense baseline (benchmarks only): the same layout and mapping over all
// 9 taps and every input channel of a dense OHWI filter.
#define PL_DENSE_KERNEL(NAME, LOAD)                                                                                \
  __kernel void NAME(__global const float* restrict planar, __global float* restrict output,                      \
                     __global const float* restrict weights, __global const float* restrict bias,                  \
                     const int out_h, const int out_w, const int out_c, const int hp, const int wp,                \
                     const int stride_h, const int stride_w, const int quads, const int quads_w, const int plane,  \
                     const int in_c, const float act_min, const float act_max) {                                   \
    const int q = get_global_id(0);                                                                                \
    const int o = get_global_id(1);                                                                                \
    if (q >= quads) return;                                                                                        \
    int n_oy, ox0;                                                                                                 \
    __global const float* window =                                                                                 \
        planar + pl_window(q, out_h, quads_w, hp, wp, stride_h, stride_w, &n_oy, &ox0);                            \
    float4 acc = (float4)(0.0f);                                                                                   \
    for (int t = 0; t < PL_KERNEL_TAPS; ++t) {                                                                     \
      __global const float* x = window + (t / 3) * wp + t % 3;                                                     \
      __global const float* w = weights + (o * PL_KERNEL_TAPS + t) * in_c;                                         \
      for (int c = 0; c < in_c; ++c) acc += w[c] * LOAD(x + c * plane);                                            \
    }                                                                                                              \
    pl_store(acc, bias[o], act_min, act_max, output + (n_oy * out_w + ox0) * out_c + o, ox0, out_w, out_c);       \
  }

PL_DENSE_KERNEL(dense_conv3x3_s1, PL_LOAD_S1)
PL_DENSE_KERNEL(dense_conv3x3_s2, PL_LOAD_S2)
)CLC";

// Work-items per work-group. Fixed, because PoCL (and some mobile drivers)
// compile a kernel per local size: one size means one compile per program.
constexpr size_t kLocalPixels = 64;
// Output pixels per work-item (PL_PIXELS in the program).
constexpr int kPixelsPerItem = 4;

std::string Fail(const char* call, cl_int status) { return std::string(call) + " failed: " + ErrorName(status); }

std::string Lower(std::string s) {
  for (char& c : s) c = char(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

bool IsIndex(const std::string& s) {
  return !s.empty() && s.size() < 6 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

// Does `name` (at position `index`) match a selector ("", an index or a name substring)?
bool Matches(const std::string& selector, size_t index, const std::string& name) {
  if (selector.empty()) return true;
  if (IsIndex(selector)) return size_t(std::atoi(selector.c_str())) == index;
  return Lower(name).find(Lower(selector)) != std::string::npos;
}

std::string InfoString(ClApi& api, cl_platform_id p, cl_platform_info what) {
  char buf[256] = {};
  if (api.GetPlatformInfo(p, what, sizeof buf - 1, buf, nullptr) != CL_SUCCESS) return "?";
  return buf;
}

std::string InfoString(ClApi& api, cl_device_id d, cl_device_info what) {
  char buf[256] = {};
  if (api.GetDeviceInfo(d, what, sizeof buf - 1, buf, nullptr) != CL_SUCCESS) return "?";
  return buf;
}

const char* TypeName(cl_device_type t) {
  if (t & CL_DEVICE_TYPE_GPU) return "GPU";
  if (t & CL_DEVICE_TYPE_CPU) return "CPU";
  if (t & CL_DEVICE_TYPE_ACCELERATOR) return "accelerator";
  return "other";
}

constexpr char kInstallHint[] =
    "Install an OpenCL driver (ICD): on Debian/Ubuntu 'apt-get install ocl-icd-libopencl1 pocl-opencl-icd' "
    "(PoCL, runs OpenCL on the CPU) or the GPU vendor's ICD (mesa-opencl-icd, intel-opencl-icd, "
    "nvidia-opencl-icd); on Android the GPU vendor's libOpenCL.so under /vendor/lib64. "
    "backend='auto' falls back to the CPU kernels instead.";

struct Candidate {
  cl_platform_id platform;
  cl_device_id device;
  std::string platform_name, device_name;
  cl_device_type type;
};

}  // namespace

template <typename T>
void ClHandle<T>::reset() {
  if (handle_ == nullptr) return;
  // A failed release leaks the object; there is nothing better to do with it.
  if constexpr (std::is_same_v<T, cl_mem>) {
    api_->ReleaseMemObject(handle_);
  } else if constexpr (std::is_same_v<T, cl_kernel>) {
    api_->ReleaseKernel(handle_);
  } else if constexpr (std::is_same_v<T, cl_program>) {
    api_->ReleaseProgram(handle_);
  } else if constexpr (std::is_same_v<T, cl_command_queue>) {
    api_->ReleaseCommandQueue(handle_);
  } else {
    static_assert(std::is_same_v<T, cl_context>, "no release function for this OpenCL type");
    api_->ReleaseContext(handle_);
  }
  handle_ = nullptr;
}

template class ClHandle<cl_mem>;
template class ClHandle<cl_kernel>;
template class ClHandle<cl_program>;
template class ClHandle<cl_command_queue>;
template class ClHandle<cl_context>;

// ------------------------------------------------------------------ ClRuntime

ClRuntime::~ClRuntime() {
  // Members release in reverse order: program, queue, then context.
  program_.reset();
  queue_.reset();
  context_.reset();
}

std::shared_ptr<ClRuntime> ClRuntime::Create(const ClDeviceChoice& choice, std::string* error) {
  std::shared_ptr<ClRuntime> rt(new ClRuntime());
  ClApi& api = rt->api_;
  std::string why;
  if (!api.Load(&why)) {
    *error = why + ". " + kInstallHint;
    return nullptr;
  }
  cl_uint n_platforms = 0;
  cl_int status = api.GetPlatformIDs(0, nullptr, &n_platforms);
  if (status == CL_PLATFORM_NOT_FOUND_KHR) n_platforms = 0;  // the ICD loader's "no driver registered"
  else if (status != CL_SUCCESS) {
    *error = "OpenCL (" + api.library() + "): " + Fail("clGetPlatformIDs", status) + ". " + kInstallHint;
    return nullptr;
  }
  if (n_platforms == 0) {
    *error = "OpenCL library " + api.library() +
             " loaded, but it lists no platform (no ICD registered in /etc/OpenCL/vendors). " + kInstallHint;
    return nullptr;
  }
  std::vector<cl_platform_id> platforms(n_platforms);
  status = api.GetPlatformIDs(n_platforms, platforms.data(), nullptr);
  if (status != CL_SUCCESS) {
    *error = "OpenCL: " + Fail("clGetPlatformIDs", status);
    return nullptr;
  }
  std::vector<Candidate> candidates;
  std::string seen;
  for (size_t pi = 0; pi < platforms.size(); ++pi) {
    const std::string pname = InfoString(api, platforms[pi], CL_PLATFORM_NAME);
    // Selectors also match the version string, which names the implementation
    // ("OpenCL 3.0 PoCL 3.1" for "Portable Computing Language").
    const std::string pmatch = pname + " " + InfoString(api, platforms[pi], CL_PLATFORM_VERSION);
    cl_uint n_devices = 0;
    status = api.GetDeviceIDs(platforms[pi], CL_DEVICE_TYPE_ALL, 0, nullptr, &n_devices);
    if (status != CL_SUCCESS && status != CL_DEVICE_NOT_FOUND) {
      *error = "OpenCL platform '" + pname + "': " + Fail("clGetDeviceIDs", status);
      return nullptr;
    }
    std::vector<cl_device_id> devices(status == CL_SUCCESS ? n_devices : 0);
    if (!devices.empty()) {
      status = api.GetDeviceIDs(platforms[pi], CL_DEVICE_TYPE_ALL, n_devices, devices.data(), nullptr);
      if (status != CL_SUCCESS) {
        *error = "OpenCL platform '" + pname + "': " + Fail("clGetDeviceIDs", status);
        return nullptr;
      }
    }
    for (size_t di = 0; di < devices.size(); ++di) {
      Candidate c{platforms[pi], devices[di], pname, InfoString(api, devices[di], CL_DEVICE_NAME), 0};
      status = api.GetDeviceInfo(devices[di], CL_DEVICE_TYPE, sizeof c.type, &c.type, nullptr);
      if (status != CL_SUCCESS) {
        *error = "OpenCL device '" + c.device_name + "': " + Fail("clGetDeviceInfo", status);
        return nullptr;
      }
      cl_bool available = CL_FALSE, compiler = CL_FALSE;
      status = api.GetDeviceInfo(devices[di], CL_DEVICE_AVAILABLE, sizeof available, &available, nullptr);
      if (status == CL_SUCCESS) {
        status = api.GetDeviceInfo(devices[di], CL_DEVICE_COMPILER_AVAILABLE, sizeof compiler, &compiler, nullptr);
      }
      if (status != CL_SUCCESS) {
        *error = "OpenCL device '" + c.device_name + "': " + Fail("clGetDeviceInfo", status);
        return nullptr;
      }
      seen += (seen.empty() ? "" : "; ") + std::string("platform ") + std::to_string(pi) + " '" + pname +
              "' device " + std::to_string(di) + " '" + c.device_name + "' (" + TypeName(c.type) +
              (available && compiler ? "" : ", unusable: no compiler or not available") + ")";
      if (!available || !compiler) continue;
      const std::string dmatch = c.device_name + " " + InfoString(api, devices[di], CL_DEVICE_VERSION);
      if (!Matches(choice.platform, pi, pmatch) || !Matches(choice.device, di, dmatch)) continue;
      if (choice.gpu_only && !(c.type & CL_DEVICE_TYPE_GPU)) continue;
      candidates.push_back(c);
    }
  }
  if (candidates.empty()) {
    *error = std::string("no ") + (choice.gpu_only ? "OpenCL GPU device" : "usable OpenCL device") +
             " matches opencl_platform='" + choice.platform + "', opencl_device='" + choice.device + "' (found: " +
             (seen.empty() ? "no device" : seen) + ")";
    if (seen.empty()) *error += ". " + std::string(kInstallHint);
    return nullptr;
  }
  // No device named: a GPU if any matches, else the first match.
  const Candidate* pick = &candidates[0];
  if (choice.device.empty()) {
    for (const Candidate& c : candidates) {
      if (c.type & CL_DEVICE_TYPE_GPU) {
        pick = &c;
        break;
      }
    }
  }
  rt->device_ = pick->device;
  rt->device_name_ = pick->device_name;
  rt->platform_name_ = pick->platform_name;
  rt->device_type_ = TypeName(pick->type);
  cl_bool unified = CL_FALSE;
  status = api.GetDeviceInfo(pick->device, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, nullptr);
  if (status == CL_SUCCESS) {
    status = api.GetDeviceInfo(pick->device, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof rt->max_alloc_, &rt->max_alloc_,
                               nullptr);
  }
  if (status != CL_SUCCESS) {
    *error = "OpenCL device '" + pick->device_name + "': " + Fail("clGetDeviceInfo", status);
    return nullptr;
  }
  rt->unified_memory_ = unified != CL_FALSE;
  cl_context context = api.CreateContext(pick->device, &status);
  if (context == nullptr || status != CL_SUCCESS) {
    *error = "OpenCL device '" + pick->device_name + "': " + Fail("clCreateContext", status);
    return nullptr;
  }
  rt->context_ = ClHandle<cl_context>(&api, context);
  cl_command_queue queue = api.CreateCommandQueue(context, pick->device, &status);
  if (queue == nullptr || status != CL_SUCCESS) {
    *error = "OpenCL device '" + pick->device_name + "': " + Fail("clCreateCommandQueue", status);
    return nullptr;
  }
  rt->queue_ = ClHandle<cl_command_queue>(&api, queue);
  return rt;
}

bool ClRuntime::EnsureProgram(std::string* error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (program_) return true;
  cl_int status = CL_SUCCESS;
  ClHandle<cl_program> program(&api_, api_.CreateProgramWithSource(context_.get(), kProgramSource, &status));
  if (!program || status != CL_SUCCESS) {
    *error = Fail("clCreateProgramWithSource", status);
    return false;
  }
  // No fast-math options: the kernels must match TFLite's float results. The
  // tap count comes from the contract, as in the host code.
  const std::string options = "-DPL_KERNEL_TAPS=" + std::to_string(contract::kKernelTaps);
  status = api_.BuildProgram(program.get(), device_, options.c_str());
  if (status != CL_SUCCESS) {
    *error = Fail("clBuildProgram", status);
    std::string log;
    if (status == CL_BUILD_PROGRAM_FAILURE && api_.GetProgramBuildLog(program.get(), device_, &log) == CL_SUCCESS) {
      *error += ": " + log.substr(0, 2000);
    }
    return false;
  }
  program_ = std::move(program);
  return true;
}

// ------------------------------------------------------------------ ClConv

ClConv::~ClConv() {
  if (rt_) {
    std::lock_guard<std::mutex> lock(rt_->mutex());
    DropHostBuffers();
  }
}

bool ClConv::Upload(const void* data, size_t bytes, ClHandle<cl_mem>* out, std::string* error) {
  // A zero-sized buffer is invalid in OpenCL; an empty array gets one dummy element.
  static const float kDummy[1] = {0.0f};
  if (bytes == 0) {
    data = kDummy;
    bytes = sizeof kDummy;
  }
  if (bytes > rt_->max_alloc_bytes()) {
    *error = "weights of " + std::to_string(bytes) + " bytes exceed the device's largest buffer (" +
             std::to_string(rt_->max_alloc_bytes()) + ")";
    return false;
  }
  cl_int status = CL_SUCCESS;
  // Weights are copied once, when the node is claimed; the host copy can go.
  cl_mem mem = rt_->api().CreateBuffer(rt_->context(), CL_MEM_READ_ONLY | CL_MEM_COPY_HOST_PTR, bytes,
                                       const_cast<void*>(data), &status);
  if (mem == nullptr || status != CL_SUCCESS) {
    *error = Fail("clCreateBuffer", status);
    return false;
  }
  *out = ClHandle<cl_mem>(&rt_->api(), mem);
  return true;
}

bool ClConv::MakeKernel(const char* name, std::string* error) {
  if (!rt_->EnsureProgram(error)) return false;
  cl_int status = CL_SUCCESS;
  cl_kernel k = rt_->api().CreateKernel(rt_->program(), name, &status);
  if (k == nullptr || status != CL_SUCCESS) {
    *error = Fail("clCreateKernel", status);
    return false;
  }
  kernel_ = ClHandle<cl_kernel>(&rt_->api(), k);
  cl_kernel t = rt_->api().CreateKernel(rt_->program(), "to_padded_planar", &status);
  if (t == nullptr || status != CL_SUCCESS) {
    *error = Fail("clCreateKernel", status);
    return false;
  }
  to_planar_ = ClHandle<cl_kernel>(&rt_->api(), t);
  // One local size for both kernels: the smaller of their limits.
  size_t max_local = 0, max_local_t = 0;
  status = rt_->api().GetKernelWorkGroupSize(k, rt_->device(), &max_local);
  if (status == CL_SUCCESS) status = rt_->api().GetKernelWorkGroupSize(t, rt_->device(), &max_local_t);
  if (status != CL_SUCCESS) {
    *error = Fail("clGetKernelWorkGroupInfo", status);
    return false;
  }
  local_ = std::max<size_t>(1, std::min({kLocalPixels, max_local, max_local_t}));
  return true;
}

bool ClConv::InitPattern(const PackedConv& packed, const ClConvParams& params, std::string* error) {
  params_ = params;
  out_c_ = packed.out_channels;
  in_c_ = packed.in_channels;
  if (!MakeKernel(params.stride_w == 1 ? "pattern_conv3x3_s1" : "pattern_conv3x3_s2", error)) return false;
  std::vector<int32_t> groups;
  groups.reserve(packed.groups.size() * 6);
  for (const PackedGroup& g : packed.groups) {
    for (int t = 0; t < contract::kPatternTaps; ++t) groups.push_back(g.taps[t]);
    groups.push_back(g.begin);
    groups.push_back(g.end);
  }
  static_assert(contract::kPatternTaps == 4, "the OpenCL kernel reads 4 taps (a float4) per kernel");
  weights_.clear();
  weights_.resize(6);
  const auto bytes = [](const auto& v) { return v.size() * sizeof(v[0]); };
  return Upload(packed.filter_order.data(), bytes(packed.filter_order), &weights_[0], error) &&
         Upload(packed.filter_groups.data(), bytes(packed.filter_groups), &weights_[1], error) &&
         Upload(groups.data(), bytes(groups), &weights_[2], error) &&
         Upload(packed.kernel_channel.data(), bytes(packed.kernel_channel), &weights_[3], error) &&
         Upload(packed.kernel_weights.data(), bytes(packed.kernel_weights), &weights_[4], error) &&
         Upload(packed.bias.data(), bytes(packed.bias), &weights_[5], error);
}

bool ClConv::InitDense(const float* ohwi, const float* bias, int out_c, int in_c, const ClConvParams& params,
                       std::string* error) {
  params_ = params;
  out_c_ = out_c;
  in_c_ = in_c;
  dense_ = true;
  if (!MakeKernel(params.stride_w == 1 ? "dense_conv3x3_s1" : "dense_conv3x3_s2", error)) return false;
  std::vector<float> b(size_t(out_c), 0.0f);
  if (bias != nullptr) std::copy(bias, bias + out_c, b.begin());
  weights_.clear();
  weights_.resize(2);
  return Upload(ohwi, size_t(out_c) * contract::kKernelTaps * in_c * sizeof(float), &weights_[0], error) &&
         Upload(b.data(), b.size() * sizeof(float), &weights_[1], error);
}

bool ClConv::Plan(int batch, int in_h, int in_w, int in_c, std::string* error) {
  if (in_c != in_c_) {
    *error = "input has " + std::to_string(in_c) + " channels, the filter " + std::to_string(in_c_);
    return false;
  }
  int oh = 0, ow = 0, pt = 0, pl = 0;
  if (batch <= 0 || !ComputeOutputSize(params_.padding, in_h, params_.stride_h, &oh, &pt) ||
      !ComputeOutputSize(params_.padding, in_w, params_.stride_w, &ow, &pl)) {
    *error = "input " + std::to_string(in_h) + "x" + std::to_string(in_w) + " is too small for this 3x3 conv";
    return false;
  }
  // The padded planes cover exactly the window the conv reads.
  // Columns for whole quads of pixels, plus the 8-float loads of stride 2.
  const int quads_w = (ow + kPixelsPerItem - 1) / kPixelsPerItem;
  const int hp = (oh - 1) * params_.stride_h + 3, wp = kPixelsPerItem * quads_w * params_.stride_w + 3;
  // The kernels index with 32-bit ints, and a buffer may not exceed the device's limit.
  const uint64_t in_elems = uint64_t(batch) * in_h * in_w * in_c;
  const uint64_t out_elems = uint64_t(batch) * oh * ow * out_c_;
  const uint64_t planar_elems = uint64_t(batch) * hp * wp * in_c;
  const uint64_t limit = std::min<uint64_t>(uint64_t(std::numeric_limits<int32_t>::max()) - kLocalPixels,
                                            rt_->max_alloc_bytes() / sizeof(float));
  const uint64_t largest = std::max({in_elems, out_elems, planar_elems});
  if (largest > limit) {
    *error = "a tensor of " + std::to_string(largest) + " floats is too large for the OpenCL kernel (limit " +
             std::to_string(limit) + ")";
    return false;
  }
  hp_ = hp;
  wp_ = wp;
  quads_w_ = quads_w;
  batch_ = batch;
  in_h_ = in_h;
  in_w_ = in_w;
  out_h_ = oh;
  out_w_ = ow;
  pad_top_ = pt;
  pad_left_ = pl;
  return true;
}

void ClConv::DropHostBuffers() {
  planar_buf_.reset();
  planar_bytes_ = 0;
  in_buf_.reset();
  out_buf_.reset();
  in_ptr_ = out_ptr_ = nullptr;
  in_bytes_ = out_bytes_ = 0;
}

bool ClConv::HostBuffer(void* ptr, size_t bytes, cl_mem_flags flags, ClHandle<cl_mem>* buf, void** cached_ptr,
                        size_t* cached_bytes, std::string* error) {
  if (*buf && *cached_ptr == ptr && *cached_bytes == bytes) return true;
  buf->reset();
  cl_int status = CL_SUCCESS;
  // USE_HOST_PTR: the device works on TFLite's own tensor memory. On devices
  // that share memory with the CPU (mobile GPUs, PoCL) nothing is copied; a
  // discrete GPU copies at the map/unmap points of Run.
  cl_mem mem = rt_->api().CreateBuffer(rt_->context(), flags | CL_MEM_USE_HOST_PTR, bytes, ptr, &status);
  if (mem == nullptr || status != CL_SUCCESS) {
    *error = Fail("clCreateBuffer", status);
    *cached_ptr = nullptr;
    return false;
  }
  *buf = ClHandle<cl_mem>(&rt_->api(), mem);
  *cached_ptr = ptr;
  *cached_bytes = bytes;
  return true;
}

bool ClConv::Run(const float* input, float* output, std::string* error) {
  ClApi& api = rt_->api();
  const size_t in_bytes = input_bytes(), out_bytes = output_bytes();
  std::lock_guard<std::mutex> lock(rt_->mutex());
  cl_command_queue q = rt_->queue();
  cl_mem out_mapped_buf = nullptr;
  void* out_mapped = nullptr;
  void* in_mapped = nullptr;
  // After a failure: leave nothing in flight or mapped, and start from fresh buffers next time.
  auto clean_up = [&]() {
    if (in_mapped != nullptr) api.EnqueueUnmapMemObject(q, in_buf_.get(), in_mapped);
    if (out_mapped != nullptr) api.EnqueueUnmapMemObject(q, out_mapped_buf, out_mapped);
    api.Finish(q);
    DropHostBuffers();
  };
  auto fail = [&](const char* call, cl_int status) {
    *error = Fail(call, status);
    clean_up();
    return false;
  };
  if (!HostBuffer(const_cast<float*>(input), in_bytes, CL_MEM_READ_ONLY, &in_buf_, &in_ptr_, &in_bytes_, error) ||
      !HostBuffer(output, out_bytes, CL_MEM_WRITE_ONLY, &out_buf_, &out_ptr_, &out_bytes_, error)) {
    clean_up();
    return false;
  }
  cl_int status = CL_SUCCESS;
  // The host wrote the input since the last run: mapping it for writing (its
  // old device contents invalidated) and unmapping hands the new contents to
  // the device. Both are no-ops on shared memory.
  void* in_map = api.EnqueueMapBuffer(q, in_buf_.get(), CL_MAP_WRITE_INVALIDATE_REGION, in_bytes, &status);
  if (in_map == nullptr || status != CL_SUCCESS) return fail("clEnqueueMapBuffer", status);
  in_mapped = in_map;
  if (in_map != input) std::memcpy(in_map, input, in_bytes);  // a driver that maps a staging copy
  status = api.EnqueueUnmapMemObject(q, in_buf_.get(), in_map);
  if (status != CL_SUCCESS) return fail("clEnqueueUnmapMemObject", status);
  in_mapped = nullptr;

  // The padded planar copy of the input, in device memory.
  const size_t planar_bytes = size_t(batch_) * hp_ * wp_ * in_c_ * sizeof(float);
  if (!planar_buf_ || planar_bytes_ != planar_bytes) {
    planar_buf_.reset();
    cl_mem mem = api.CreateBuffer(rt_->context(), CL_MEM_READ_WRITE, planar_bytes, nullptr, &status);
    if (mem == nullptr || status != CL_SUCCESS) return fail("clCreateBuffer", status);
    planar_buf_ = ClHandle<cl_mem>(&api, mem);
    planar_bytes_ = planar_bytes;
  }
  const cl_mem in_mem = in_buf_.get(), out_mem = out_buf_.get(), planar_mem = planar_buf_.get();
  const int plane = batch_ * hp_ * wp_;
  {
    cl_uint arg = 0;
    status = api.SetKernelArg(to_planar_.get(), arg++, sizeof(cl_mem), &in_mem);
    if (status == CL_SUCCESS) status = api.SetKernelArg(to_planar_.get(), arg++, sizeof(cl_mem), &planar_mem);
    const int ints[] = {batch_, in_h_, in_w_, in_c_, hp_, wp_, pad_top_, pad_left_};
    for (int v : ints) {
      if (status == CL_SUCCESS) status = api.SetKernelArg(to_planar_.get(), arg++, sizeof(int), &v);
    }
    if (status != CL_SUCCESS) return fail("clSetKernelArg", status);
    const size_t global[2] = {(size_t(plane) + local_ - 1) / local_ * local_, size_t(in_c_)};
    const size_t local[2] = {local_, 1};
    status = api.EnqueueNDRangeKernel(q, to_planar_.get(), 2, global, local);
    if (status != CL_SUCCESS) return fail("clEnqueueNDRangeKernel", status);
  }

  cl_uint arg = 0;
  status = api.SetKernelArg(kernel_.get(), arg++, sizeof(cl_mem), &planar_mem);
  if (status == CL_SUCCESS) status = api.SetKernelArg(kernel_.get(), arg++, sizeof(cl_mem), &out_mem);
  for (const ClHandle<cl_mem>& w : weights_) {
    const cl_mem m = w.get();
    if (status == CL_SUCCESS) status = api.SetKernelArg(kernel_.get(), arg++, sizeof(cl_mem), &m);
  }
  const int quads = batch_ * out_h_ * quads_w_;
  std::vector<int> ints = {out_h_,           out_w_, out_c_,   hp_,   wp_, params_.stride_h,
                           params_.stride_w, quads,  quads_w_, plane};
  if (dense_) ints.push_back(in_c_);
  for (int v : ints) {
    if (status == CL_SUCCESS) status = api.SetKernelArg(kernel_.get(), arg++, sizeof(int), &v);
  }
  const float floats[] = {params_.act_min, params_.act_max};
  for (float v : floats) {
    if (status == CL_SUCCESS) status = api.SetKernelArg(kernel_.get(), arg++, sizeof(float), &v);
  }
  if (status != CL_SUCCESS) return fail("clSetKernelArg", status);

  const size_t global[2] = {(size_t(quads) + local_ - 1) / local_ * local_, size_t(out_c_)};
  const size_t local[2] = {local_, 1};
  status = api.EnqueueNDRangeKernel(q, kernel_.get(), 2, global, local);
  if (status != CL_SUCCESS) return fail("clEnqueueNDRangeKernel", status);

  // Blocking map for reading: when it returns, the output is in TFLite's tensor.
  out_mapped_buf = out_buf_.get();
  out_mapped = api.EnqueueMapBuffer(q, out_mapped_buf, CL_MAP_READ, out_bytes, &status);
  if (out_mapped == nullptr || status != CL_SUCCESS) {
    out_mapped = nullptr;
    return fail("clEnqueueMapBuffer", status);
  }
  if (out_mapped != output) std::memcpy(output, out_mapped, out_bytes);
  status = api.EnqueueUnmapMemObject(q, out_mapped_buf, out_mapped);
  if (status != CL_SUCCESS) return fail("clEnqueueUnmapMemObject", status);  // clean_up unmaps again
  out_mapped = nullptr;
  status = api.Finish(q);
  if (status != CL_SUCCESS) return fail("clFinish", status);
  return true;
}

// ------------------------------------------------------------------ ClConvNode

std::unique_ptr<ClConvNode> ClConvNode::Create(std::shared_ptr<ClRuntime> runtime, int input_tensor,
                                               int output_tensor, const PackedConv& packed,
                                               const ClConvParams& params, const TfLiteTensor& input,
                                               std::shared_ptr<NodeCounters> counters, std::string* reason) {
  std::unique_ptr<ClConvNode> node(
      new ClConvNode(std::move(runtime), input_tensor, output_tensor, std::move(counters)));
  node->in_c_ = packed.in_channels;
  std::string why;
  if (!node->conv_.InitPattern(packed, params, &why)) {
    *reason = "OpenCL: " + why;
    return nullptr;
  }
  // The shape at claim time must fit the device; a later resize is checked in Prepare.
  if (input.dims != nullptr && input.dims->size == 4 &&
      !node->conv_.Plan(input.dims->data[0], input.dims->data[1], input.dims->data[2], input.dims->data[3], &why)) {
    *reason = "OpenCL: " + why;
    return nullptr;
  }
  return node;
}

TfLiteStatus ClConvNode::Prepare(TfLiteContext* context) {
  const TfLiteTensor& input = context->tensors[input_];
  TfLiteTensor& output = context->tensors[output_];
  if (input.dims == nullptr || input.dims->size != 4) {
    context->ReportError(context, "patternlite: conv input must be NHWC with %d channels", in_c_);
    return kTfLiteError;
  }
  std::string why;
  if (!conv_.Plan(input.dims->data[0], input.dims->data[1], input.dims->data[2], input.dims->data[3], &why)) {
    context->ReportError(context, "patternlite (OpenCL): %s", why.c_str());
    return kTfLiteError;
  }
  const int shape[4] = {input.dims->data[0], conv_.out_h(), conv_.out_w(), conv_.out_c()};
  return ResizeOutput(context, &output, shape);
}

TfLiteStatus ClConvNode::Eval(TfLiteContext* context) {
  const EvalTimer timer;
  const TfLiteTensor& input = context->tensors[input_];
  TfLiteTensor& output = context->tensors[output_];
  const float* in = static_cast<const float*>(input.data);
  float* out = static_cast<float*>(output.data);
  if (in == nullptr || out == nullptr) {
    context->ReportError(context, "patternlite: conv tensors are not allocated");
    return kTfLiteError;
  }
  // The buffers must be what Prepare planned for: the device would read or
  // write out of bounds otherwise.
  if (input.dims == nullptr || input.dims->size != 4 ||
      !conv_.IsPlannedFor(input.dims->data[0], input.dims->data[1], input.dims->data[2]) ||
      input.bytes != conv_.input_bytes() || output.bytes != conv_.output_bytes()) {
    context->ReportError(context, "patternlite: conv tensors changed shape after Prepare");
    return kTfLiteError;
  }
  std::string why;
  if (!conv_.Run(in, out, &why)) {
    context->ReportError(context, "patternlite (OpenCL): %s", why.c_str());
    return kTfLiteError;
  }
  timer.Record(counters_.get());
  return kTfLiteOk;
}

}  // namespace patternlite
