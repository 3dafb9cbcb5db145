// OpenCL, loaded at run time: no CL headers at build time and no link-time
// dependency, so the delegate still loads (and runs its CPU path) on a
// machine without OpenCL. Only the OpenCL 1.2 entry points and constants the
// backend uses are declared here, with the types of the Khronos headers.
//
// Every call goes through ClApi, which counts it and can be told to fail the
// Nth call (patternlite_opencl_inject_failure, for the fault-injection tests).
#ifndef PATTERNLITE_DELEGATE_OPENCL_CL_LOADER_H_
#define PATTERNLITE_DELEGATE_OPENCL_CL_LOADER_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace patternlite {
namespace cl {

// --- Types (cl_platform.h / cl.h of OpenCL 1.2) ------------------------------
using cl_int = int32_t;
using cl_uint = uint32_t;
using cl_ulong = uint64_t;
using cl_bool = cl_uint;
using cl_bitfield = cl_ulong;
using cl_device_type = cl_bitfield;
using cl_mem_flags = cl_bitfield;
using cl_map_flags = cl_bitfield;
using cl_command_queue_properties = cl_bitfield;
using cl_platform_info = cl_uint;
using cl_device_info = cl_uint;
using cl_program_build_info = cl_uint;
using cl_kernel_work_group_info = cl_uint;
using cl_context_properties = intptr_t;
using cl_platform_id = struct _cl_platform_id*;
using cl_device_id = struct _cl_device_id*;
using cl_context = struct _cl_context*;
using cl_command_queue = struct _cl_command_queue*;
using cl_mem = struct _cl_mem*;
using cl_program = struct _cl_program*;
using cl_kernel = struct _cl_kernel*;
using cl_event = struct _cl_event*;

// --- Constants ------------------------------------------------------------------
constexpr cl_int CL_SUCCESS = 0;
constexpr cl_int CL_DEVICE_NOT_FOUND = -1;
constexpr cl_int CL_OUT_OF_RESOURCES = -5;
constexpr cl_int CL_OUT_OF_HOST_MEMORY = -6;
constexpr cl_int CL_BUILD_PROGRAM_FAILURE = -11;
constexpr cl_int CL_INVALID_VALUE = -30;
constexpr cl_int CL_PLATFORM_NOT_FOUND_KHR = -1001;
constexpr cl_bool CL_FALSE = 0;
constexpr cl_bool CL_TRUE = 1;

constexpr cl_device_type CL_DEVICE_TYPE_CPU = 1 << 1;
constexpr cl_device_type CL_DEVICE_TYPE_GPU = 1 << 2;
constexpr cl_device_type CL_DEVICE_TYPE_ACCELERATOR = 1 << 3;
constexpr cl_device_type CL_DEVICE_TYPE_ALL = 0xFFFFFFFF;

constexpr cl_platform_info CL_PLATFORM_VERSION = 0x0901;
constexpr cl_platform_info CL_PLATFORM_NAME = 0x0902;
constexpr cl_device_info CL_DEVICE_TYPE = 0x1000;
constexpr cl_device_info CL_DEVICE_MAX_WORK_GROUP_SIZE = 0x1004;
constexpr cl_device_info CL_DEVICE_MAX_MEM_ALLOC_SIZE = 0x1010;
constexpr cl_device_info CL_DEVICE_AVAILABLE = 0x1027;
constexpr cl_device_info CL_DEVICE_COMPILER_AVAILABLE = 0x1028;
constexpr cl_device_info CL_DEVICE_NAME = 0x102B;
constexpr cl_device_info CL_DEVICE_VERSION = 0x102F;
constexpr cl_device_info CL_DEVICE_HOST_UNIFIED_MEMORY = 0x1035;
constexpr cl_program_build_info CL_PROGRAM_BUILD_LOG = 0x1183;
constexpr cl_kernel_work_group_info CL_KERNEL_WORK_GROUP_SIZE = 0x11B0;

constexpr cl_mem_flags CL_MEM_READ_WRITE = 1 << 0;
constexpr cl_mem_flags CL_MEM_WRITE_ONLY = 1 << 1;
constexpr cl_mem_flags CL_MEM_READ_ONLY = 1 << 2;
constexpr cl_mem_flags CL_MEM_USE_HOST_PTR = 1 << 3;
constexpr cl_mem_flags CL_MEM_COPY_HOST_PTR = 1 << 5;
constexpr cl_map_flags CL_MAP_READ = 1 << 0;
constexpr cl_map_flags CL_MAP_WRITE_INVALIDATE_REGION = 1 << 2;

// The name of an OpenCL status ("CL_OUT_OF_RESOURCES"), or "CL_ERROR_<n>".
std::string ErrorName(cl_int status);

// The entry points, resolved from the ICD loader with dlsym. Each wrapper
// counts the call and returns an injected failure instead of calling when
// the fault hook says so; handle-returning calls then return null and set
// *errcode_ret, as the real functions do.
class ClApi {
 public:
  ClApi() = default;
  ~ClApi();
  ClApi(const ClApi&) = delete;
  ClApi& operator=(const ClApi&) = delete;

  // Loads the ICD loader: $PATTERNLITE_OPENCL_LIB when set (tests hide
  // OpenCL by pointing it at a missing file), else libOpenCL.so.1,
  // libOpenCL.so and Android's vendor paths. Returns false with what was
  // tried in `error`.
  bool Load(std::string* error);
  const std::string& library() const { return library_; }

  cl_int GetPlatformIDs(cl_uint num_entries, cl_platform_id* platforms, cl_uint* num_platforms);
  cl_int GetPlatformInfo(cl_platform_id platform, cl_platform_info name, size_t size, void* value, size_t* ret);
  cl_int GetDeviceIDs(cl_platform_id platform, cl_device_type type, cl_uint num_entries, cl_device_id* devices,
                      cl_uint* num_devices);
  cl_int GetDeviceInfo(cl_device_id device, cl_device_info name, size_t size, void* value, size_t* ret);
  cl_context CreateContext(cl_device_id device, cl_int* errcode_ret);
  cl_int ReleaseContext(cl_context context);
  cl_command_queue CreateCommandQueue(cl_context context, cl_device_id device, cl_int* errcode_ret);
  cl_int ReleaseCommandQueue(cl_command_queue queue);
  cl_mem CreateBuffer(cl_context context, cl_mem_flags flags, size_t size, void* host_ptr, cl_int* errcode_ret);
  cl_int ReleaseMemObject(cl_mem mem);
  cl_program CreateProgramWithSource(cl_context context, const char* source, cl_int* errcode_ret);
  cl_int BuildProgram(cl_program program, cl_device_id device, const char* options);
  cl_int GetProgramBuildLog(cl_program program, cl_device_id device, std::string* log);
  cl_int ReleaseProgram(cl_program program);
  cl_kernel CreateKernel(cl_program program, const char* name, cl_int* errcode_ret);
  cl_int ReleaseKernel(cl_kernel kernel);
  cl_int GetKernelWorkGroupSize(cl_kernel kernel, cl_device_id device, size_t* size);
  cl_int SetKernelArg(cl_kernel kernel, cl_uint index, size_t size, const void* value);
  cl_int EnqueueNDRangeKernel(cl_command_queue queue, cl_kernel kernel, cl_uint dims, const size_t* global,
                              const size_t* local);
  void* EnqueueMapBuffer(cl_command_queue queue, cl_mem buffer, cl_map_flags flags, size_t size,
                         cl_int* errcode_ret);
  cl_int EnqueueUnmapMemObject(cl_command_queue queue, cl_mem mem, void* mapped);
  cl_int Finish(cl_command_queue queue);

 private:
  bool Resolve(std::string* error);

  void* handle_ = nullptr;
  std::string library_;
  struct Fns;
  Fns* fns_ = nullptr;
};

// Fault injection (tests): the `nth` OpenCL call from now, counted over all
// ClApi objects of the process, fails with `status` (0: no injection).
void InjectFailure(int64_t nth, cl_int status);
// Every OpenCL call the process made through ClApi so far.
int64_t CallCount();

}  // namespace cl
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_OPENCL_CL_LOADER_H_
