#include "delegate/opencl/cl_loader.h"

#include <dirent.h>
#include <dlfcn.h>

#include <atomic>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <type_traits>
#include <vector>

namespace patternlite {
namespace cl {
namespace {

std::atomic<int64_t> g_calls{0};
std::atomic<int64_t> g_fail_at{0};  // absolute call number that fails; 0: none
std::atomic<cl_int> g_fail_status{CL_SUCCESS};

// Counts one call; returns the status to fake instead of calling, or CL_SUCCESS.
cl_int CountCall() {
  const int64_t n = g_calls.fetch_add(1, std::memory_order_relaxed) + 1;
  int64_t at = g_fail_at.load(std::memory_order_relaxed);
  if (at != 0 && n == at && g_fail_at.compare_exchange_strong(at, 0)) {
    return g_fail_status.load(std::memory_order_relaxed);
  }
  return CL_SUCCESS;
}

// OpenCL drivers that carry their own LLVM (PoCL, Mesa's, Intel's compiler)
// break when the process also exports LLVM's symbols globally, as
// TensorFlow's libtensorflow_framework does: imported before the driver
// loads, the driver's static constructors register their options in
// TensorFlow's LLVM and crash; imported after, the driver's lazily bound
// calls land in TensorFlow's LLVM and its compiler fails ("unknown target
// CPU"). Loading each registered driver first with RTLD_DEEPBIND binds it to
// its own LLVM for good; the ICD loader's later dlopen of the same library
// then finds it loaded. Once per process, glibc only (the sanitizers refuse
// RTLD_DEEPBIND, Android has no ICD files); PATTERNLITE_OPENCL_DEEPBIND=0
// turns it off.
void PreloadDriversOnce() {
#if defined(RTLD_DEEPBIND) && !defined(__ANDROID__)
  const char* off = std::getenv("PATTERNLITE_OPENCL_DEEPBIND");
  if (off != nullptr && std::string(off) == "0") return;
  // The sanitizer runtimes abort on RTLD_DEEPBIND, whether this library or
  // only the host process was built with them.
  if (dlsym(RTLD_DEFAULT, "__asan_init") != nullptr || dlsym(RTLD_DEFAULT, "__tsan_init") != nullptr ||
      dlsym(RTLD_DEFAULT, "__msan_init") != nullptr) {
    return;
  }
  const char* env = std::getenv("OCL_ICD_VENDORS");
  const std::string dir = env != nullptr && *env != '\0' ? env : "/etc/OpenCL/vendors";
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name.size() < 5 || name.compare(name.size() - 4, 4, ".icd") != 0) continue;
    std::ifstream icd(dir + "/" + name);
    std::string library;
    std::getline(icd, library);
    while (!library.empty() && std::isspace(static_cast<unsigned char>(library.back()))) library.pop_back();
    if (!library.empty()) {
      // Kept loaded for the life of the process, as the ICD loader keeps it.
      dlopen(library.c_str(), RTLD_NOW | RTLD_LOCAL | RTLD_DEEPBIND);
    }
  }
  closedir(d);
#endif
}

void PreloadDrivers() {
  // A function-local static runs it once per process, thread-safely.
  static const bool done = (PreloadDriversOnce(), true);
  (void)done;
}

}  // namespace

void InjectFailure(int64_t nth, cl_int status) {
  g_fail_status.store(status);
  g_fail_at.store(nth > 0 && status != CL_SUCCESS ? g_calls.load() + nth : 0);
}

int64_t CallCount() { return g_calls.load(); }

std::string ErrorName(cl_int status) {
  switch (status) {
#define PL_CL_ERR(name, value) \
  case value: return #name;
    PL_CL_ERR(CL_SUCCESS, 0)
    PL_CL_ERR(CL_DEVICE_NOT_FOUND, -1)
    PL_CL_ERR(CL_DEVICE_NOT_AVAILABLE, -2)
    PL_CL_ERR(CL_COMPILER_NOT_AVAILABLE, -3)
    PL_CL_ERR(CL_MEM_OBJECT_ALLOCATION_FAILURE, -4)
    PL_CL_ERR(CL_OUT_OF_RESOURCES, -5)
    PL_CL_ERR(CL_OUT_OF_HOST_MEMORY, -6)
    PL_CL_ERR(CL_PROFILING_INFO_NOT_AVAILABLE, -7)
    PL_CL_ERR(CL_MEM_COPY_OVERLAP, -8)
    PL_CL_ERR(CL_IMAGE_FORMAT_MISMATCH, -9)
    PL_CL_ERR(CL_IMAGE_FORMAT_NOT_SUPPORTED, -10)
    PL_CL_ERR(CL_BUILD_PROGRAM_FAILURE, -11)
    PL_CL_ERR(CL_MAP_FAILURE, -12)
    PL_CL_ERR(CL_MISALIGNED_SUB_BUFFER_OFFSET, -13)
    PL_CL_ERR(CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST, -14)
    PL_CL_ERR(CL_COMPILE_PROGRAM_FAILURE, -15)
    PL_CL_ERR(CL_LINKER_NOT_AVAILABLE, -16)
    PL_CL_ERR(CL_LINK_PROGRAM_FAILURE, -17)
    PL_CL_ERR(CL_DEVICE_PARTITION_FAILED, -18)
    PL_CL_ERR(CL_KERNEL_ARG_INFO_NOT_AVAILABLE, -19)
    PL_CL_ERR(CL_INVALID_VALUE, -30)
    PL_CL_ERR(CL_INVALID_DEVICE_TYPE, -31)
    PL_CL_ERR(CL_INVALID_PLATFORM, -32)
    PL_CL_ERR(CL_INVALID_DEVICE, -33)
    PL_CL_ERR(CL_INVALID_CONTEXT, -34)
    PL_CL_ERR(CL_INVALID_QUEUE_PROPERTIES, -35)
    PL_CL_ERR(CL_INVALID_COMMAND_QUEUE, -36)
    PL_CL_ERR(CL_INVALID_HOST_PTR, -37)
    PL_CL_ERR(CL_INVALID_MEM_OBJECT, -38)
    PL_CL_ERR(CL_INVALID_IMAGE_FORMAT_DESCRIPTOR, -39)
    PL_CL_ERR(CL_INVALID_IMAGE_SIZE, -40)
    PL_CL_ERR(CL_INVALID_SAMPLER, -41)
    PL_CL_ERR(CL_INVALID_BINARY, -42)
    PL_CL_ERR(CL_INVALID_BUILD_OPTIONS, -43)
    PL_CL_ERR(CL_INVALID_PROGRAM, -44)
    PL_CL_ERR(CL_INVALID_PROGRAM_EXECUTABLE, -45)
    PL_CL_ERR(CL_INVALID_KERNEL_NAME, -46)
    PL_CL_ERR(CL_INVALID_KERNEL_DEFINITION, -47)
    PL_CL_ERR(CL_INVALID_KERNEL, -48)
    PL_CL_ERR(CL_INVALID_ARG_INDEX, -49)
    PL_CL_ERR(CL_INVALID_ARG_VALUE, -50)
    PL_CL_ERR(CL_INVALID_ARG_SIZE, -51)
    PL_CL_ERR(CL_INVALID_KERNEL_ARGS, -52)
    PL_CL_ERR(CL_INVALID_WORK_DIMENSION, -53)
    PL_CL_ERR(CL_INVALID_WORK_GROUP_SIZE, -54)
    PL_CL_ERR(CL_INVALID_WORK_ITEM_SIZE, -55)
    PL_CL_ERR(CL_INVALID_GLOBAL_OFFSET, -56)
    PL_CL_ERR(CL_INVALID_EVENT_WAIT_LIST, -57)
    PL_CL_ERR(CL_INVALID_EVENT, -58)
    PL_CL_ERR(CL_INVALID_OPERATION, -59)
    PL_CL_ERR(CL_INVALID_GL_OBJECT, -60)
    PL_CL_ERR(CL_INVALID_BUFFER_SIZE, -61)
    PL_CL_ERR(CL_INVALID_MIP_LEVEL, -62)
    PL_CL_ERR(CL_INVALID_GLOBAL_WORK_SIZE, -63)
    PL_CL_ERR(CL_INVALID_PROPERTY, -64)
    PL_CL_ERR(CL_INVALID_IMAGE_DESCRIPTOR, -65)
    PL_CL_ERR(CL_INVALID_COMPILER_OPTIONS, -66)
    PL_CL_ERR(CL_INVALID_LINKER_OPTIONS, -67)
    PL_CL_ERR(CL_INVALID_DEVICE_PARTITION_COUNT, -68)
    PL_CL_ERR(CL_PLATFORM_NOT_FOUND_KHR, -1001)
#undef PL_CL_ERR
    default: return "CL_ERROR_" + std::to_string(status);
  }
}

// The entry points as the Khronos headers declare them (CL_API_CALL is empty
// on Linux and Android).
struct ClApi::Fns {
  cl_int (*GetPlatformIDs)(cl_uint, cl_platform_id*, cl_uint*);
  cl_int (*GetPlatformInfo)(cl_platform_id, cl_platform_info, size_t, void*, size_t*);
  cl_int (*GetDeviceIDs)(cl_platform_id, cl_device_type, cl_uint, cl_device_id*, cl_uint*);
  cl_int (*GetDeviceInfo)(cl_device_id, cl_device_info, size_t, void*, size_t*);
  cl_context (*CreateContext)(const cl_context_properties*, cl_uint, const cl_device_id*,
                              void (*)(const char*, const void*, size_t, void*), void*, cl_int*);
  cl_int (*ReleaseContext)(cl_context);
  cl_command_queue (*CreateCommandQueue)(cl_context, cl_device_id, cl_command_queue_properties, cl_int*);
  cl_int (*ReleaseCommandQueue)(cl_command_queue);
  cl_mem (*CreateBuffer)(cl_context, cl_mem_flags, size_t, void*, cl_int*);
  cl_int (*ReleaseMemObject)(cl_mem);
  cl_program (*CreateProgramWithSource)(cl_context, cl_uint, const char**, const size_t*, cl_int*);
  cl_int (*BuildProgram)(cl_program, cl_uint, const cl_device_id*, const char*, void (*)(cl_program, void*),
                         void*);
  cl_int (*GetProgramBuildInfo)(cl_program, cl_device_id, cl_program_build_info, size_t, void*, size_t*);
  cl_int (*ReleaseProgram)(cl_program);
  cl_kernel (*CreateKernel)(cl_program, const char*, cl_int*);
  cl_int (*ReleaseKernel)(cl_kernel);
  cl_int (*GetKernelWorkGroupInfo)(cl_kernel, cl_device_id, cl_kernel_work_group_info, size_t, void*, size_t*);
  cl_int (*SetKernelArg)(cl_kernel, cl_uint, size_t, const void*);
  cl_int (*EnqueueNDRangeKernel)(cl_command_queue, cl_kernel, cl_uint, const size_t*, const size_t*,
                                 const size_t*, cl_uint, const cl_event*, cl_event*);
  void* (*EnqueueMapBuffer)(cl_command_queue, cl_mem, cl_bool, cl_map_flags, size_t, size_t, cl_uint,
                            const cl_event*, cl_event*, cl_int*);
  cl_int (*EnqueueUnmapMemObject)(cl_command_queue, cl_mem, void*, cl_uint, const cl_event*, cl_event*);
  cl_int (*Finish)(cl_command_queue);
};

ClApi::~ClApi() {
  delete fns_;
  // The ICD loader and its drivers stay loaded: drivers may keep threads and
  // atexit handlers that must not outlive their code, so unloading them is
  // not safe. dlopen's reference count makes the leak one handle per process.
}

bool ClApi::Load(std::string* error) {
  std::vector<std::string> candidates;
  const char* env = std::getenv("PATTERNLITE_OPENCL_LIB");
  if (env != nullptr && *env != '\0') {
    candidates.push_back(env);
  } else {
    candidates = {"libOpenCL.so.1", "libOpenCL.so",
                  // Android: the vendor's driver is the loader (no ICD mechanism).
                  "/vendor/lib64/libOpenCL.so", "/system/vendor/lib64/libOpenCL.so", "/system/lib64/libOpenCL.so",
                  "/vendor/lib/libOpenCL.so", "/system/vendor/lib/libOpenCL.so", "/system/lib/libOpenCL.so"};
  }
  PreloadDrivers();
  std::string tried;
  for (const std::string& name : candidates) {
    handle_ = dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle_ != nullptr) {
      library_ = name;
      return Resolve(error);
    }
    tried += (tried.empty() ? "" : ", ") + name;
  }
  *error = "no OpenCL library found (tried " + tried + ")";
  return false;
}

bool ClApi::Resolve(std::string* error) {
  auto fns = new Fns();
  bool ok = true;
  auto sym = [&](auto* slot, const char* name) {
    void* p = dlsym(handle_, name);
    if (p == nullptr && ok) {
      ok = false;
      *error = library_ + " lacks " + name + " (not an OpenCL 1.2 library?)";
    }
    *slot = reinterpret_cast<std::remove_pointer_t<decltype(slot)>>(p);
  };
  sym(&fns->GetPlatformIDs, "clGetPlatformIDs");
  sym(&fns->GetPlatformInfo, "clGetPlatformInfo");
  sym(&fns->GetDeviceIDs, "clGetDeviceIDs");
  sym(&fns->GetDeviceInfo, "clGetDeviceInfo");
  sym(&fns->CreateContext, "clCreateContext");
  sym(&fns->ReleaseContext, "clReleaseContext");
  // clCreateCommandQueue is deprecated in OpenCL 2.0 but still exported by
  // every loader, and it is the one 1.2 devices have.
  sym(&fns->CreateCommandQueue, "clCreateCommandQueue");
  sym(&fns->ReleaseCommandQueue, "clReleaseCommandQueue");
  sym(&fns->CreateBuffer, "clCreateBuffer");
  sym(&fns->ReleaseMemObject, "clReleaseMemObject");
  sym(&fns->CreateProgramWithSource, "clCreateProgramWithSource");
  sym(&fns->BuildProgram, "clBuildProgram");
  sym(&fns->GetProgramBuildInfo, "clGetProgramBuildInfo");
  sym(&fns->ReleaseProgram, "clReleaseProgram");
  sym(&fns->CreateKernel, "clCreateKernel");
  sym(&fns->ReleaseKernel, "clReleaseKernel");
  sym(&fns->GetKernelWorkGroupInfo, "clGetKernelWorkGroupInfo");
  sym(&fns->SetKernelArg, "clSetKernelArg");
  sym(&fns->EnqueueNDRangeKernel, "clEnqueueNDRangeKernel");
  sym(&fns->EnqueueMapBuffer, "clEnqueueMapBuffer");
  sym(&fns->EnqueueUnmapMemObject, "clEnqueueUnmapMemObject");
  sym(&fns->Finish, "clFinish");
  if (!ok) {
    delete fns;
    return false;
  }
  fns_ = fns;
  return true;
}

// Each wrapper: count the call, fake the injected failure, else call.
#define PL_CL_STATUS_CALL(expr)        \
  if (const cl_int f = CountCall()) {  \
    return f;                          \
  }                                    \
  return fns_->expr
#define PL_CL_HANDLE_CALL(expr)        \
  if (const cl_int f = CountCall()) {  \
    if (errcode_ret) *errcode_ret = f; \
    return nullptr;                    \
  }                                    \
  return fns_->expr

cl_int ClApi::GetPlatformIDs(cl_uint n, cl_platform_id* platforms, cl_uint* count) {
  PL_CL_STATUS_CALL(GetPlatformIDs(n, platforms, count));
}
cl_int ClApi::GetPlatformInfo(cl_platform_id p, cl_platform_info name, size_t size, void* value, size_t* ret) {
  PL_CL_STATUS_CALL(GetPlatformInfo(p, name, size, value, ret));
}
cl_int ClApi::GetDeviceIDs(cl_platform_id p, cl_device_type type, cl_uint n, cl_device_id* devices,
                           cl_uint* count) {
  PL_CL_STATUS_CALL(GetDeviceIDs(p, type, n, devices, count));
}
cl_int ClApi::GetDeviceInfo(cl_device_id d, cl_device_info name, size_t size, void* value, size_t* ret) {
  PL_CL_STATUS_CALL(GetDeviceInfo(d, name, size, value, ret));
}
cl_context ClApi::CreateContext(cl_device_id device, cl_int* errcode_ret) {
  PL_CL_HANDLE_CALL(CreateContext(nullptr, 1, &device, nullptr, nullptr, errcode_ret));
}
cl_int ClApi::ReleaseContext(cl_context c) { PL_CL_STATUS_CALL(ReleaseContext(c)); }
cl_command_queue ClApi::CreateCommandQueue(cl_context c, cl_device_id d, cl_int* errcode_ret) {
  PL_CL_HANDLE_CALL(CreateCommandQueue(c, d, 0, errcode_ret));
}
cl_int ClApi::ReleaseCommandQueue(cl_command_queue q) { PL_CL_STATUS_CALL(ReleaseCommandQueue(q)); }
cl_mem ClApi::CreateBuffer(cl_context c, cl_mem_flags flags, size_t size, void* host, cl_int* errcode_ret) {
  PL_CL_HANDLE_CALL(CreateBuffer(c, flags, size, host, errcode_ret));
}
cl_int ClApi::ReleaseMemObject(cl_mem m) { PL_CL_STATUS_CALL(ReleaseMemObject(m)); }
cl_program ClApi::CreateProgramWithSource(cl_context c, const char* source, cl_int* errcode_ret) {
  PL_CL_HANDLE_CALL(CreateProgramWithSource(c, 1, &source, nullptr, errcode_ret));
}
cl_int ClApi::BuildProgram(cl_program p, cl_device_id d, const char* options) {
  PL_CL_STATUS_CALL(BuildProgram(p, 1, &d, options, nullptr, nullptr));
}
cl_int ClApi::GetProgramBuildLog(cl_program p, cl_device_id d, std::string* log) {
  size_t size = 0;
  if (const cl_int f = CountCall()) return f;
  cl_int status = fns_->GetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, 0, nullptr, &size);
  if (status != CL_SUCCESS) return status;
  std::string text(size, '\0');
  if (const cl_int f = CountCall()) return f;
  status = fns_->GetProgramBuildInfo(p, d, CL_PROGRAM_BUILD_LOG, size, &text[0], nullptr);
  if (status == CL_SUCCESS) *log = text.c_str();  // drop the terminating NUL
  return status;
}
cl_int ClApi::ReleaseProgram(cl_program p) { PL_CL_STATUS_CALL(ReleaseProgram(p)); }
cl_kernel ClApi::CreateKernel(cl_program p, const char* name, cl_int* errcode_ret) {
  PL_CL_HANDLE_CALL(CreateKernel(p, name, errcode_ret));
}
cl_int ClApi::ReleaseKernel(cl_kernel k) { PL_CL_STATUS_CALL(ReleaseKernel(k)); }
cl_int ClApi::GetKernelWorkGroupSize(cl_kernel k, cl_device_id d, size_t* size) {
  PL_CL_STATUS_CALL(GetKernelWorkGroupInfo(k, d, CL_KERNEL_WORK_GROUP_SIZE, sizeof(size_t), size, nullptr));
}
cl_int ClApi::SetKernelArg(cl_kernel k, cl_uint index, size_t size, const void* value) {
  PL_CL_STATUS_CALL(SetKernelArg(k, index, size, value));
}
cl_int ClApi::EnqueueNDRangeKernel(cl_command_queue q, cl_kernel k, cl_uint dims, const size_t* global,
                                   const size_t* local) {
  PL_CL_STATUS_CALL(EnqueueNDRangeKernel(q, k, dims, nullptr, global, local, 0, nullptr, nullptr));
}
void* ClApi::EnqueueMapBuffer(cl_command_queue q, cl_mem m, cl_map_flags flags, size_t size, cl_int* errcode_ret) {
  // Blocking: the mapped region is up to date when the call returns.
  PL_CL_HANDLE_CALL(EnqueueMapBuffer(q, m, CL_TRUE, flags, 0, size, 0, nullptr, nullptr, errcode_ret));
}
cl_int ClApi::EnqueueUnmapMemObject(cl_command_queue q, cl_mem m, void* mapped) {
  PL_CL_STATUS_CALL(EnqueueUnmapMemObject(q, m, mapped, 0, nullptr, nullptr));
}
cl_int ClApi::Finish(cl_command_queue q) { PL_CL_STATUS_CALL(Finish(q)); }

#undef PL_CL_STATUS_CALL
#undef PL_CL_HANDLE_CALL

}  // namespace cl
}  // namespace patternlite
