// The OpenCL backend of the pattern conv (docs/delegate.md, "OpenCL backend").
//
//  * ClRuntime: one per delegate. Finds the platform and device the options
//    ask for, owns the context, the in-order queue and the program, which is
//    compiled once (at the first claimed node) and cached.
//  * ClConv: one 3x3 conv on the device: its packed weights uploaded once,
//    its geometry, and a Run on host NHWC arrays through host-pointer buffers.
//  * ClConvNode: a claimed 3x3 CONV_2D node (a NodeKernel) around a ClConv.
//
// Every OpenCL status is checked. Nothing here throws across the C ABI or
// aborts: failures come back as a message naming the call and the error.
#ifndef PATTERNLITE_DELEGATE_OPENCL_CL_CONV_H_
#define PATTERNLITE_DELEGATE_OPENCL_CL_CONV_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/node/node_kernel.h"
#include "delegate/opencl/cl_loader.h"
#include "delegate/packing/pattern_pack.h"

namespace patternlite {

// An OpenCL object released through the ClApi when it goes out of scope.
template <typename T>
class ClHandle {
 public:
  ClHandle() = default;
  ClHandle(cl::ClApi* api, T handle) : api_(api), handle_(handle) {}
  ~ClHandle() { reset(); }
  ClHandle(ClHandle&& o) noexcept : api_(o.api_), handle_(o.handle_) { o.handle_ = nullptr; }
  ClHandle& operator=(ClHandle&& o) noexcept {
    if (this != &o) {
      reset();
      api_ = o.api_;
      handle_ = o.handle_;
      o.handle_ = nullptr;
    }
    return *this;
  }
  ClHandle(const ClHandle&) = delete;
  ClHandle& operator=(const ClHandle&) = delete;
  T get() const { return handle_; }
  explicit operator bool() const { return handle_ != nullptr; }
  void reset();

 private:
  cl::ClApi* api_ = nullptr;
  T handle_ = nullptr;
};

// Which device a delegate asked for, and what it got.
// Selectors are "" (any), digits (an index; a device's counts within its
// platform) or a case-insensitive substring of the name or version string.
struct ClDeviceChoice {
  std::string platform;
  std::string device;     // "": a GPU if one matches, else the first match
  bool gpu_only = false;  // backend=auto: only a GPU device will do
};

class ClRuntime {
 public:
  // Loads OpenCL and opens the device. Returns null with a message that
  // names what was looked for and what was found.
  static std::shared_ptr<ClRuntime> Create(const ClDeviceChoice& choice, std::string* error);
  ~ClRuntime();
  ClRuntime(const ClRuntime&) = delete;
  ClRuntime& operator=(const ClRuntime&) = delete;

  // Compiles the program on first use; later calls return the cached one.
  bool EnsureProgram(std::string* error);

  cl::ClApi& api() { return api_; }
  cl::cl_context context() const { return context_.get(); }
  cl::cl_command_queue queue() const { return queue_.get(); }
  cl::cl_device_id device() const { return device_; }
  cl::cl_program program() const { return program_.get(); }
  const std::string& device_name() const { return device_name_; }
  const std::string& platform_name() const { return platform_name_; }
  const std::string& device_type() const { return device_type_; }
  const std::string& library() const { return api_.library(); }
  bool host_unified_memory() const { return unified_memory_; }
  uint64_t max_alloc_bytes() const { return max_alloc_; }
  // Serialises the queue's users: several interpreters may share a delegate.
  std::mutex& mutex() { return mu_; }

 private:
  ClRuntime() = default;
  cl::ClApi api_;
  cl::cl_device_id device_ = nullptr;
  std::string device_name_, platform_name_, device_type_;
  bool unified_memory_ = false;
  uint64_t max_alloc_ = 0;
  ClHandle<cl::cl_context> context_;
  ClHandle<cl::cl_command_queue> queue_;
  ClHandle<cl::cl_program> program_;
  std::mutex mu_;
};

struct ClConvParams {
  TfLitePadding padding = kTfLitePaddingSame;
  int stride_h = 1, stride_w = 1;
  float act_min = 0, act_max = 0;
};

class ClConv {
 public:
  explicit ClConv(std::shared_ptr<ClRuntime> runtime) : rt_(std::move(runtime)) {}
  ~ClConv();
  ClConv(const ClConv&) = delete;
  ClConv& operator=(const ClConv&) = delete;

  // Uploads pattern-packed weights (filter-major form) for the pattern kernel.
  bool InitPattern(const PackedConv& packed, const ClConvParams& params, std::string* error);
  // Uploads dense OHWI weights for the dense baseline kernel (benchmarks).
  bool InitDense(const float* ohwi, const float* bias, int out_c, int in_c, const ClConvParams& params,
                 std::string* error);
  // Geometry for one input shape. False (with a message) when the input is too
  // small for the padding or a tensor is too large for the device.
  bool Plan(int batch, int in_h, int in_w, int in_c, std::string* error);
  // Runs the planned conv on host NHWC arrays. False with "clXxx failed: CL_..." on any error.
  bool Run(const float* input, float* output, std::string* error);

  int out_h() const { return out_h_; }
  int out_w() const { return out_w_; }
  int out_c() const { return out_c_; }
  int local_size() const { return int(local_); }
  bool IsPlannedFor(int batch, int in_h, int in_w) const {
    return batch == batch_ && in_h == in_h_ && in_w == in_w_;
  }
  size_t input_bytes() const { return size_t(batch_) * in_h_ * in_w_ * in_c_ * sizeof(float); }
  size_t output_bytes() const { return size_t(batch_) * out_h_ * out_w_ * out_c_ * sizeof(float); }

 private:
  bool Upload(const void* data, size_t bytes, ClHandle<cl::cl_mem>* out, std::string* error);
  bool MakeKernel(const char* name, std::string* error);
  bool HostBuffer(void* ptr, size_t bytes, cl::cl_mem_flags flags, ClHandle<cl::cl_mem>* buf, void** cached_ptr,
                  size_t* cached_bytes, std::string* error);
  void DropHostBuffers();

  std::shared_ptr<ClRuntime> rt_;
  ClHandle<cl::cl_kernel> kernel_;
  ClHandle<cl::cl_kernel> to_planar_;  // NHWC -> zero-padded planes (cl_conv.cc)
  bool dense_ = false;
  std::vector<ClHandle<cl::cl_mem>> weights_;  // the kernel's weight arguments, in argument order
  ClConvParams params_;
  int out_c_ = 0, in_c_ = 0;
  size_t local_ = 1;
  // Geometry of the current plan.
  int batch_ = 0, in_h_ = 0, in_w_ = 0, out_h_ = 0, out_w_ = 0, pad_top_ = 0, pad_left_ = 0;
  int hp_ = 0, wp_ = 0;  // rows and columns of the padded planes: the window the conv reads
  int quads_w_ = 0;      // work-items per output row (4 pixels each)
  // The padded planar copy of the input, in device memory, reused while its size stays.
  ClHandle<cl::cl_mem> planar_buf_;
  size_t planar_bytes_ = 0;
  // Host-pointer buffers over the last tensors seen, reused while the tensors stay put.
  ClHandle<cl::cl_mem> in_buf_, out_buf_;
  void* in_ptr_ = nullptr;
  void* out_ptr_ = nullptr;
  size_t in_bytes_ = 0, out_bytes_ = 0;
};

// A claimed 3x3 CONV_2D node on the OpenCL backend.
class ClConvNode : public NodeKernel {
 public:
  // Builds the program (once per runtime), the kernel and the weight buffers.
  // Returns null with a reason: the node is then declined.
  static std::unique_ptr<ClConvNode> Create(std::shared_ptr<ClRuntime> runtime, int input_tensor,
                                            int output_tensor, const PackedConv& packed,
                                            const ClConvParams& params, const TfLiteTensor& input,
                                            std::shared_ptr<NodeCounters> counters, std::string* reason);
  TfLiteStatus Prepare(TfLiteContext* context) override;
  TfLiteStatus Eval(TfLiteContext* context) override;
  const char* name() const override { return "PatternLiteConvOpenCL"; }

 private:
  ClConvNode(std::shared_ptr<ClRuntime> runtime, int input_tensor, int output_tensor,
             std::shared_ptr<NodeCounters> counters)
      : conv_(std::move(runtime)), input_(input_tensor), output_(output_tensor), counters_(std::move(counters)) {}
  ClConv conv_;
  int input_, output_;
  int in_c_ = 0;
  std::shared_ptr<NodeCounters> counters_;
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_OPENCL_CL_CONV_H_
