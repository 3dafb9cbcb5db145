// TFLite's int8 requantisation, bit for bit, per op (docs/int8.md, "Numerics").
//
// TFLite rescales an int32 accumulator with a Q31 multiplier and a shift in
// two roundings: gemmlowp's saturating rounding doubling high multiply, then
// a rounding right shift. The builtin kernels agree on the first step and
// differ on how the second rounds halves, so each op's builtin kernel has its
// own function here:
//  * CONV_2D (3x3 and 1x1; TFLite's optimized conv runs ruy): half UP,
//    (x + 2^(e-1)) >> e, ruy's rounding right shift (NEON's vrshl);
//  * DEPTHWISE_CONV_2D (TFLite's optimized per-channel kernel, whose output
//    stage is NEON code that x86 builds emulate with SSE): the output
//    channels in whole eights round half up (vrshl); the last channels % 8,
//    done one by one with TFLite's scalar MultiplyByQuantizedMultiplier
//    (gemmlowp's RoundingDivideByPOT), half AWAY from zero.
// Measured against TFLite's builtin kernels (BUILTIN_WITHOUT_DEFAULT_DELEGATES)
// from exact int32 accumulators, many random shapes per op:
// tests/test_int8_rounding.py. Each rule above matches every output of its op;
// half away from zero everywhere, half up everywhere and single rounding
// (TFLITE_SINGLE_ROUNDING) each miss some.
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
// floor((a*b + 2^30) / 2^31): an arithmetic shift, which the vector versions
// use (and NEON's vqrdmulh computes exactly). Every builtin kernel measured
// takes this first step (single rounding would not match them).
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

// ruy's rounding right shift (NEON's vrshl by -exponent): x / 2^exponent
// rounded half up, floor((x + 2^(exponent-1)) / 2^exponent), without the
// addition's overflow.
inline int32_t RoundingRightShiftHalfUp(int32_t x, int exponent) {
  const int32_t mask = int32_t((uint32_t(1) << exponent) - 1);
  return (x >> exponent) + ((x & mask) > (mask >> 1) ? 1 : 0);
}

// How the final shift rounds a tie.
enum class Tie { kUp, kAwayFromZero };

// TFLite's MultiplyByQuantizedMultiplier (double rounding), its final shift
// rounding ties as `tie` says. The left shift wraps as TFLite's int32 multiply
// does on every target (here without UB).
inline int32_t MultiplyByQuantizedMultiplier(int32_t x, int32_t multiplier, int shift, Tie tie) {
  const int left = shift > 0 ? shift : 0, right = shift > 0 ? 0 : -shift;
  const int32_t shifted = int32_t(uint32_t(x) << left);
  const int32_t high = SaturatingRoundingDoublingHighMul(shifted, multiplier);
  return tie == Tie::kUp ? RoundingRightShiftHalfUp(high, right) : RoundingDivideByPOT(high, right);
}

// One int8 output: zero point, then the activation range [act_min, act_max].
inline int8_t Requantize(int32_t acc, int32_t multiplier, int shift, int32_t zp_out, int32_t act_min, int32_t act_max,
                         Tie tie) {
  const int32_t scaled =
      int32_t(uint32_t(MultiplyByQuantizedMultiplier(acc, multiplier, shift, tie)) + uint32_t(zp_out));
  return int8_t(std::min(std::max(scaled, act_min), act_max));
}

// TFLite's builtin CONV_2D (ruy): every output channel rounds ties up.
inline int8_t RequantizeConv2D(int32_t acc, int32_t multiplier, int shift, int32_t zp_out, int32_t act_min,
                               int32_t act_max) {
  return Requantize(acc, multiplier, shift, zp_out, act_min, act_max, Tie::kUp);
}

// TFLite's builtin DEPTHWISE_CONV_2D: output channel `channel` of `channels`
// rounds ties up in the whole eights of channels, away from zero in the last
// channels % 8 (its vector loop takes 8 channels at a time, the scalar tail
// the rest).
inline Tie DepthwiseConv2DTie(int channel, int channels) {
  return channel < channels - channels % 8 ? Tie::kUp : Tie::kAwayFromZero;
}

inline int8_t RequantizeDepthwiseConv2D(int32_t acc, int32_t multiplier, int shift, int32_t zp_out, int32_t act_min,
                                        int32_t act_max, int channel, int channels) {
  return Requantize(acc, multiplier, shift, zp_out, act_min, act_max, DepthwiseConv2DTie(channel, channels));
}

}  // namespace requant
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_REQUANTIZE_H_
