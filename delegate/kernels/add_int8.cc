#include "delegate/kernels/add_int8.h"

#include <algorithm>

#include "delegate/kernels/requantize.h"

namespace patternlite {

#if defined(PL_HAVE_X86)
void AddInt8Avx512(const AddInt8Params& p, const int8_t* a, const int8_t* b, int8_t* out, size_t n);
#endif

int8_t AddInt8GroupElement(const AddInt8Params& p, int8_t a, int8_t b) {
  using requant::RoundingDivideByPOT;
  using requant::SaturatingRoundingDoublingHighMul;
  const int32_t xa = (int32_t(a) + p.offset_a) * (int32_t(1) << (p.left_shift + p.shift_a));
  const int32_t xb = (int32_t(b) + p.offset_b) * (int32_t(1) << (p.left_shift + p.shift_b));
  const int32_t sum = SaturatingRoundingDoublingHighMul(xa, p.multiplier_a) +
                      SaturatingRoundingDoublingHighMul(xb, p.multiplier_b);
  const int32_t raw = RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(sum, p.multiplier_out), -p.shift_out);
  // vmovn_s32 keeps the low 16 bits; vaddq_s16 wraps; vqmovn_s16 saturates.
  const int16_t narrow = int16_t(uint16_t(uint32_t(raw)));
  const int16_t with_zp = int16_t(uint16_t(uint32_t(int32_t(narrow) + p.zp_out)));
  const int32_t saturated = std::min<int32_t>(std::max<int32_t>(with_zp, -128), 127);
  return int8_t(std::min(std::max(saturated, p.act_min), p.act_max));
}

int8_t AddInt8TailElement(const AddInt8Params& p, int8_t a, int8_t b) {
  using requant::RoundingDivideByPOT;
  using requant::SaturatingRoundingDoublingHighMul;
  const auto rescale = [](int32_t x, int32_t m, int shift) {
    return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(x, m), -shift);
  };
  const int32_t xa = (int32_t(a) + p.offset_a) * (int32_t(1) << p.left_shift);
  const int32_t xb = (int32_t(b) + p.offset_b) * (int32_t(1) << p.left_shift);
  const int32_t sum = rescale(xa, p.multiplier_a, p.shift_a) + rescale(xb, p.multiplier_b, p.shift_b);
  const int32_t raw = rescale(sum, p.multiplier_out, p.shift_out) + p.zp_out;
  return int8_t(std::min(std::max(raw, p.act_min), p.act_max));
}

void AddInt8Scalar(const AddInt8Params& p, const int8_t* a, const int8_t* b, int8_t* out, size_t n) {
  const size_t groups = n / 16 * 16;
  for (size_t i = 0; i < groups; ++i) out[i] = AddInt8GroupElement(p, a[i], b[i]);
  for (size_t i = groups; i < n; ++i) out[i] = AddInt8TailElement(p, a[i], b[i]);
}

AddInt8Fn AddInt8KernelFor(Isa isa) {
  if (isa == Isa::kAuto) isa = BestIsa();
  if (isa == Isa::kScalar) return AddInt8Scalar;
#if defined(PL_HAVE_X86)
  if (isa == Isa::kAvx512 && IsaAvailable(Isa::kAvx512)) return AddInt8Avx512;
#endif
  return nullptr;
}

}  // namespace patternlite
