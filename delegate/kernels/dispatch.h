// Run-time ISA selection. The library is built with every kernel its target
// architecture has; which one runs is decided here, on the CPU it runs on.
#ifndef PATTERNLITE_DELEGATE_KERNELS_DISPATCH_H_
#define PATTERNLITE_DELEGATE_KERNELS_DISPATCH_H_

#include <string>

#include "delegate/kernels/block_kernels.h"
#include "delegate/kernels/conv_kernel.h"

namespace patternlite {

enum class Isa { kAuto, kScalar, kAvx2, kAvx512, kNeon };

const char* IsaName(Isa isa);
bool ParseIsa(const std::string& name, Isa* out);
// Whether this build has the kernel and this CPU can run it.
bool IsaAvailable(Isa isa);
// The fastest available ISA.
Isa BestIsa();
// The kernel for `isa` (kAuto resolves to BestIsa()); scalar when unavailable.
ConvRowsFn ConvKernelFor(Isa isa);
// The channel-block kernels for `isa`, resolved the same way.
PointwiseFn PointwiseKernelFor(Isa isa);
DepthwiseFn DepthwiseKernelFor(Isa isa);
// Vector width in floats, used to size row blocks.
int IsaLanes(Isa isa);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_DISPATCH_H_
