#include "delegate/kernels/dispatch.h"

namespace patternlite {

const char* IsaName(Isa isa) {
  switch (isa) {
    case Isa::kAuto: return "auto";
    case Isa::kScalar: return "scalar";
    case Isa::kAvx2: return "avx2";
    case Isa::kAvx512: return "avx512";
    case Isa::kNeon: return "neon";
  }
  return "unknown";
}

bool ParseIsa(const std::string& name, Isa* out) {
  for (Isa isa : {Isa::kAuto, Isa::kScalar, Isa::kAvx2, Isa::kAvx512, Isa::kNeon}) {
    if (name == IsaName(isa)) {
      *out = isa;
      return true;
    }
  }
  return false;
}

bool IsaAvailable(Isa isa) {
  switch (isa) {
    case Isa::kAuto:
    case Isa::kScalar: return true;
#if defined(PL_HAVE_X86)
    case Isa::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::kAvx512: return __builtin_cpu_supports("avx512f");
#endif
#if defined(PL_HAVE_NEON)
    case Isa::kNeon: return true;
#endif
    default: return false;
  }
}

Isa BestIsa() {
  for (Isa isa : {Isa::kAvx512, Isa::kAvx2, Isa::kNeon}) {
    if (IsaAvailable(isa)) return isa;
  }
  return Isa::kScalar;
}

ConvRowsFn ConvKernelFor(Isa isa) {
  if (isa == Isa::kAuto) isa = BestIsa();
  if (!IsaAvailable(isa)) return ConvRowsScalar;
  switch (isa) {
#if defined(PL_HAVE_X86)
    case Isa::kAvx2: return ConvRowsAvx2;
    case Isa::kAvx512: return ConvRowsAvx512;
#endif
#if defined(PL_HAVE_NEON)
    case Isa::kNeon: return ConvRowsNeon;
#endif
    default: return ConvRowsScalar;
  }
}

int IsaLanes(Isa isa) {
  if (isa == Isa::kAuto) isa = BestIsa();
  switch (isa) {
    case Isa::kAvx512: return 16;
    case Isa::kAvx2: return 8;
    case Isa::kNeon: return 4;
    default: return 1;
  }
}

}  // namespace patternlite
