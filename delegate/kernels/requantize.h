// TFLite's int8 requantisation, bit for bit (docs/int8.md).
//
// TFLite 2.21's builtin int8 CONV_2D (per-channel) rescales its int32
// accumulator with gemmlowp's "double rounding": a saturating rounding
// doubling high multiply by a Q31 multiplier, then a rounding (half away from
// zero) right shift. Measured against the builtin interpreter
// (BUILTIN_WITHOUT_DEFAULT_DELEGATES): this variant agrees on every output;
// the single-rounding variant (TFLITE_SINGLE_ROUNDING) and XNNPACK's fp32
// requantisation are each 1 quantum off on about 0.1% of them.
//
// Scalar and header-only: the oracle kernels use it, and the SIMD kernels'
// vector versions are checked against it.
#ifndef PATTERNLITE_DELEGATE_KERNELS_REQUANTIZE_H_
#define PATTERNLITE_DELEGATE_KERNELS_REQUANTIZE_H_

#include <algorithm>
#include <cstdint>

namespace patternlite {
namespace requant {

// gemmlowp's SaturatingRoundingDoublingHighMul. With b > 0 (a multiplier is
// never negative) it cannot saturate, and its nudge-then-truncate equals
// floor((a*b + 2^30) / 2^31): an arithmetic shift, which the vector versions use.
inline int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  if (a == INT32_MIN && b == INT32_MIN) return INT32_MAX;
  const int64_t ab = int64_t(a) * int64_t(b);
  const int64_t nudge = ab >= 0 ? (int64_t(1) << 30) : (1 - (int64_t(1) << 30));
  return int32_t((ab + nudge) / (int64_t(1) << 31));
}

// gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded half away from zero.
inline int32_t RoundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = int32_t((uint32_t(1) << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// TFLite's MultiplyByQuantizedMultiplier (double rounding). The left shift
// wraps as TFLite's int32 multiply does on every target (here without UB).
inline int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t multiplier, int shift) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int32_t shifted = int32_t(uint32_t(x) << left);
  return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(shifted, multiplier), right);
}

// One int8 output: zero point, then the activation range [act_min, act_max].
inline int8_t Requantize(int32_t acc, int32_t multiplier, int shift, int32_t zp_out, int32_t act_min,
                         int32_t act_max) {
  const int32_t scaled = int32_t(uint32_t(MultiplyByQuantizedMultiplier(acc, multiplier, shift)) + uint32_t(zp_out));
  return int8_t(std::min(std::max(scaled, act_min), act_max));
}

}  // namespace requant
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_REQUANTIZE_H_
