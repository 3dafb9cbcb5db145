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

const KernelTable& KernelsFor(Isa isa) {
  static const KernelTable kScalar{Isa::kScalar, 1, ConvRowsScalar, ConvScratchScalar, PointwiseScalar,
                                   DepthwiseScalar, &Int8KernelFor(Int8Variant::kScalar)};
#if defined(PL_HAVE_X86)
  static const KernelTable kAvx2{Isa::kAvx2, 8, ConvRowsAvx2, ConvScratchAvx2, PointwiseAvx2, DepthwiseAvx2,
                                 &Int8KernelFor(Int8VariantForIsa(Isa::kAvx2))};
  static const KernelTable kAvx512{Isa::kAvx512, 16, ConvRowsAvx512, ConvScratchAvx512, PointwiseAvx512,
                                   DepthwiseAvx512, &Int8KernelFor(Int8VariantForIsa(Isa::kAvx512))};
#endif
#if defined(PL_HAVE_NEON)
  static const KernelTable kNeon{Isa::kNeon, 4, ConvRowsNeon, ConvScratchNeon, PointwiseNeon, DepthwiseNeon,
                                 &Int8KernelFor(Int8VariantForIsa(Isa::kNeon))};
#endif
  if (isa == Isa::kAuto) isa = BestIsa();
  if (!IsaAvailable(isa)) return kScalar;
  switch (isa) {
#if defined(PL_HAVE_X86)
    case Isa::kAvx2: return kAvx2;
    case Isa::kAvx512: return kAvx512;
#endif
#if defined(PL_HAVE_NEON)
    case Isa::kNeon: return kNeon;
#endif
    default: return kScalar;
  }
}

}  // namespace patternlite
