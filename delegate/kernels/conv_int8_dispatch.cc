// Run-time choice of the int8 3x3 kernel. The x86 variants need CPU features
// beyond the fp32 kernels' (VNNI), so they are checked here on their own.
#include <cstdint>
#include <initializer_list>

#include "delegate/kernels/conv_int8_kernel.h"
#include "delegate/kernels/dispatch.h"

#if defined(PL_HAVE_X86)
#include <cpuid.h>
#endif
#if defined(PL_HAVE_NEON) && defined(__linux__)
#include <sys/auxv.h>
#endif

namespace patternlite {
namespace {

#if defined(PL_HAVE_X86)
// AVX-VNNI: CPUID.(EAX=7, ECX=1):EAX bit 4; the OS must save the YMM state,
// which the avx2 check covers.
bool CpuHasAvxVnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d) == 0) return false;
  return (a >> 4) & 1u;
}
#endif

#if defined(PL_HAVE_NEON)
bool CpuHasDotProd() {
#if defined(__linux__)
  constexpr unsigned long kHwcapAsimdDp = 1ul << 20;  // HWCAP_ASIMDDP
  return (getauxval(AT_HWCAP) & kHwcapAsimdDp) != 0;
#else
  return false;
#endif
}
#endif

}  // namespace

bool Int8PreferFilterLanes(const Int8ConvKernelParams& p) {
  const PackedConvInt8View& w = p.weights;
  const int O = w.out_channels, C = w.in_channels;
  if (C <= 0 || w.fl_blocks <= 0 || w.chunks <= 0) return false;
  const double pairs = double(w.fl_block_entries[w.fl_blocks]) / (double(w.fl_blocks) * C);
  const double kept = double(w.chunk_kernels[size_t(w.chunks) * O]) / (double(O) * C);
  return Int8FilterLanesPay(O, pairs, kept);
}

bool Int8PreferSharedPatterns(const Int8ConvKernelParams& p) {
  return p.weights.sp_blocks > 0 && p.weights.out_channels >= kInt8FilterLanesMinOutChannels;
}

const char* Int8TilesName(const Int8ConvKernelParams& p, Int8Variant v) {
  if (v != Int8Variant::kAvx512Vnni) return "";
  if (Int8PreferSharedPatterns(p)) return "shared_pattern";
  return Int8PreferFilterLanes(p) ? "filter_lanes" : "pixel_lanes";
}

const char* Int8VariantName(Int8Variant v) {
  switch (v) {
    case Int8Variant::kScalar: return "scalar";
    case Int8Variant::kAvx2: return "avx2";
    case Int8Variant::kAvxVnni: return "avxvnni";
    case Int8Variant::kAvx512Vnni: return "avx512vnni";
    case Int8Variant::kNeonDot: return "neondot";
    case Int8Variant::kAvx512VnniFilterLanes: return "avx512vnni_fl";
    case Int8Variant::kAvx512VnniSharedPatterns: return "avx512vnni_sp";
  }
  return "unknown";
}

bool Int8VariantAvailable(Int8Variant v) {
  switch (v) {
    case Int8Variant::kScalar: return true;
#if defined(PL_HAVE_X86)
    case Int8Variant::kAvx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Int8Variant::kAvxVnni: return Int8VariantAvailable(Int8Variant::kAvx2) && CpuHasAvxVnni();
    case Int8Variant::kAvx512Vnni:
      return Int8VariantAvailable(Int8Variant::kAvx2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi");
    case Int8Variant::kAvx512VnniFilterLanes:
    case Int8Variant::kAvx512VnniSharedPatterns: return Int8VariantAvailable(Int8Variant::kAvx512Vnni);
#endif
#if defined(PL_HAVE_NEON)
    case Int8Variant::kNeonDot: return CpuHasDotProd();
#endif
    default: return false;
  }
}

const Int8ConvKernel& Int8KernelFor(Int8Variant v) {
  static const Int8ConvKernel kScalar{Int8Variant::kScalar, 1, Int8ConvRowsScalar, Int8ConvScratchScalar};
#if defined(PL_HAVE_X86)
  static const Int8ConvKernel kAvx2{Int8Variant::kAvx2, 8, Int8ConvRowsAvx2, Int8ConvScratchAvx2};
  static const Int8ConvKernel kAvxVnni{Int8Variant::kAvxVnni, 8, Int8ConvRowsAvxVnni, Int8ConvScratchAvxVnni};
  static const Int8ConvKernel kAvx512Vnni{Int8Variant::kAvx512Vnni, 16, Int8ConvRowsAvx512Vnni,
                                          Int8ConvScratchAvx512Vnni};
  static const Int8ConvKernel kAvx512VnniFl{Int8Variant::kAvx512VnniFilterLanes, 16, Int8ConvRowsAvx512VnniFl,
                                            Int8ConvScratchAvx512VnniFl};
  static const Int8ConvKernel kAvx512VnniSp{Int8Variant::kAvx512VnniSharedPatterns, 16, Int8ConvRowsAvx512VnniSp,
                                            Int8ConvScratchAvx512VnniSp};
#endif
#if defined(PL_HAVE_NEON)
  static const Int8ConvKernel kNeonDot{Int8Variant::kNeonDot, 4, Int8ConvRowsNeonDot, Int8ConvScratchNeonDot};
#endif
  if (!Int8VariantAvailable(v)) return kScalar;
  switch (v) {
#if defined(PL_HAVE_X86)
    case Int8Variant::kAvx2: return kAvx2;
    case Int8Variant::kAvxVnni: return kAvxVnni;
    case Int8Variant::kAvx512Vnni: return kAvx512Vnni;
    case Int8Variant::kAvx512VnniFilterLanes: return kAvx512VnniFl;
    case Int8Variant::kAvx512VnniSharedPatterns: return kAvx512VnniSp;
#endif
#if defined(PL_HAVE_NEON)
    case Int8Variant::kNeonDot: return kNeonDot;
#endif
    default: return kScalar;
  }
}

Int8Variant Int8VariantForIsa(Isa isa) {
  const auto first = [](std::initializer_list<Int8Variant> vs) {
    for (Int8Variant v : vs) {
      if (Int8VariantAvailable(v)) return v;
    }
    return Int8Variant::kScalar;
  };
  switch (isa) {
    case Isa::kAuto:
      return first({Int8Variant::kAvx512Vnni, Int8Variant::kAvxVnni, Int8Variant::kAvx2, Int8Variant::kNeonDot});
    case Isa::kAvx512: return first({Int8Variant::kAvx512Vnni, Int8Variant::kAvx2});
    case Isa::kAvx2: return first({Int8Variant::kAvxVnni, Int8Variant::kAvx2});
    case Isa::kNeon: return first({Int8Variant::kNeonDot});
    default: return Int8Variant::kScalar;
  }
}

}  // namespace patternlite
