#include "delegate/kernels/dispatch.h"

#include "delegate/contract_generated.h"

namespace patternlite {

namespace {

// Isa lists its values in the order of the isa option's choices (spec/contract.toml).
constexpr bool Same(const char* a, const char* b) { return *a == *b && (*a == '\0' || Same(a + 1, b + 1)); }
static_assert(contract::kOptIsaChoiceCount == 5 && Same(contract::kOptIsaChoices[int(Isa::kAuto)], "auto") &&
                  Same(contract::kOptIsaChoices[int(Isa::kScalar)], "scalar") &&
                  Same(contract::kOptIsaChoices[int(Isa::kAvx2)], "avx2") &&
                  Same(contract::kOptIsaChoices[int(Isa::kAvx512)], "avx512") &&
                  Same(contract::kOptIsaChoices[int(Isa::kNeon)], "neon"),
              "Isa disagrees with the isa option's choices in spec/contract.toml");

}  // namespace

const char* IsaName(Isa isa) {
  const int i = int(isa);
  return i >= 0 && i < contract::kOptIsaChoiceCount ? contract::kOptIsaChoices[i] : "unknown";
}

bool ParseIsa(const std::string& name, Isa* out) {
  for (int i = 0; i < contract::kOptIsaChoiceCount; ++i) {
    if (name == contract::kOptIsaChoices[i]) {
      *out = Isa(i);
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

PointwiseFn PointwiseKernelFor(Isa isa) {
  if (isa == Isa::kAuto) isa = BestIsa();
  if (!IsaAvailable(isa)) return PointwiseScalar;
  switch (isa) {
#if defined(PL_HAVE_X86)
    case Isa::kAvx2: return PointwiseAvx2;
    case Isa::kAvx512: return PointwiseAvx512;
#endif
#if defined(PL_HAVE_NEON)
    case Isa::kNeon: return PointwiseNeon;
#endif
    default: return PointwiseScalar;
  }
}

DepthwiseFn DepthwiseKernelFor(Isa isa) {
  if (isa == Isa::kAuto) isa = BestIsa();
  if (!IsaAvailable(isa)) return DepthwiseScalar;
  switch (isa) {
#if defined(PL_HAVE_X86)
    case Isa::kAvx2: return DepthwiseAvx2;
    case Isa::kAvx512: return DepthwiseAvx512;
#endif
#if defined(PL_HAVE_NEON)
    case Isa::kNeon: return DepthwiseNeon;
#endif
    default: return DepthwiseScalar;
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
