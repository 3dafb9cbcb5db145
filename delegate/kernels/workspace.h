// Caller-owned scratch memory for the kernels that need it (the 3x3 conv
// kernels, conv_kernel.h): one buffer per thread, cache-line aligned, grown
// on demand and reused across invocations.
#ifndef PATTERNLITE_DELEGATE_KERNELS_WORKSPACE_H_
#define PATTERNLITE_DELEGATE_KERNELS_WORKSPACE_H_

#include <cstddef>
#include <cstdlib>
#include <memory>
#include <new>

#include "delegate/kernels/conv_kernel.h"

namespace patternlite {

class Workspace {
 public:
  // At least `bytes` of kScratchAlign-aligned memory (null for 0 bytes before
  // any growth). The contents are not kept when it grows.
  void* Reserve(size_t bytes) {
    if (bytes > bytes_) {
      const size_t rounded = (bytes + kScratchAlign - 1) / kScratchAlign * kScratchAlign;
      void* p = std::aligned_alloc(kScratchAlign, rounded);
      if (p == nullptr) throw std::bad_alloc();
      data_.reset(p);
      bytes_ = rounded;
    }
    return data_.get();
  }
  void* data() const { return data_.get(); }
  size_t bytes() const { return bytes_; }

 private:
  struct Free {
    void operator()(void* p) const { std::free(p); }
  };
  std::unique_ptr<void, Free> data_;
  size_t bytes_ = 0;
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_WORKSPACE_H_
