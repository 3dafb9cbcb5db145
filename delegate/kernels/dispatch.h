// Run-time ISA selection. The library is built with every kernel its target
// architecture has; which one runs is decided here, on the CPU it runs on.
#ifndef PATTERNLITE_DELEGATE_KERNELS_DISPATCH_H_
#define PATTERNLITE_DELEGATE_KERNELS_DISPATCH_H_

#include <string>

#include "delegate/kernels/block_kernels.h"
#include "delegate/kernels/conv_int8_kernel.h"
#include "delegate/kernels/conv_kernel.h"

namespace patternlite {

enum class Isa { kAuto, kScalar, kAvx2, kAvx512, kNeon };

const char* IsaName(Isa isa);
bool ParseIsa(const std::string& name, Isa* out);
// Whether this build has the kernel and this CPU can run it.
bool IsaAvailable(Isa isa);
// The fastest available ISA.
Isa BestIsa();

// Every kernel of one ISA. Adding a kind means adding its entry here and to
// each ISA's row in dispatch.cc.
struct KernelTable {
  Isa isa;    // the ISA the kernels are for (never kAuto)
  int lanes;  // vector width in floats, which decides the 3x3 kernel's input layout
  ConvRowsFn conv3x3;
  ConvScratchFn conv3x3_scratch_bytes;
  PointwiseFn pointwise;
  DepthwiseFn depthwise;
  // The int8 3x3 kernel this ISA choice maps to (Int8VariantForIsa).
  const Int8ConvKernel* conv3x3_int8;
};

// The kernels for `isa` (kAuto resolves to BestIsa()); the scalar ones when
// `isa` is unavailable.
const KernelTable& KernelsFor(Isa isa);
// Vector width in floats of KernelsFor(isa), used to size row blocks.
inline int IsaLanes(Isa isa) { return KernelsFor(isa).lanes; }

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_DISPATCH_H_
