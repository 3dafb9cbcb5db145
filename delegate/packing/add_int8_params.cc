#include "delegate/packing/add_int8_params.h"

#include <algorithm>
#include <cmath>

#include "delegate/packing/pattern_pack_int8.h"

namespace patternlite {

namespace {

bool GoodScale(float s) { return s > 0 && std::isfinite(s); }

}  // namespace

std::string PrepareAddInt8(Int8Affine a, Int8Affine b, Int8Affine out, int32_t act_min, int32_t act_max,
                           AddInt8Params* params) {
  if (!GoodScale(a.scale) || !GoodScale(b.scale) || !GoodScale(out.scale)) {
    return "int8 ADD: input and output scales must be finite and positive";
  }
  AddInt8Params& p = *params;
  p = AddInt8Params{};
  p.offset_a = -a.zero_point;
  p.offset_b = -b.zero_point;
  p.zp_out = out.zero_point;
  p.act_min = act_min;
  p.act_max = act_max;
  // TFLite's add.cc Prepare: scales are floats, the ratios doubles, and
  // (1 << left_shift) * output scale a float product.
  const double twice_max = 2 * double(std::max(a.scale, b.scale));
  const double real_out = twice_max / double(float(1 << p.left_shift) * out.scale);
  if (!(real_out < 1.0)) {
    return "int8 ADD: output scale too small against the inputs' (TFLite's output multiplier must be below 1)";
  }
  QuantizeMultiplier(double(a.scale) / twice_max, &p.multiplier_a, &p.shift_a);
  QuantizeMultiplier(double(b.scale) / twice_max, &p.multiplier_b, &p.shift_b);
  QuantizeMultiplier(real_out, &p.multiplier_out, &p.shift_out);
  // The vector code shifts left by left_shift + shift; a negative sum would be
  // a right shift there, which is not reproduced (input scales 2^20 apart).
  if (p.left_shift + p.shift_a < 0 || p.left_shift + p.shift_b < 0 || p.multiplier_a == 0 || p.multiplier_b == 0) {
    return "int8 ADD: input scales more than 2^20 apart";
  }
  if (p.shift_out > 0) return "int8 ADD: output multiplier above 1";

  // The fast kernel's float form. With e = -shift_out, TFLite's output before
  // its final rounding is U = W / 2^e, W = SRDHM(y_a + y_b, m_out), y =
  // SRDHM(x * 2^(20 + s), m), x = input + offset. Each SRDHM rounds by at
  // most 1/2, so U is within (1/2 + 1/2) * m_out / 2^(31 + e) + 1/2 / 2^e <
  // 1.5 / 2^e of T = x_a * coef_a + x_b * coef_b (exact coefficients), and
  // the float t below is within 5 rounding errors of |t| <= bound, each at
  // most bound * 2^-24, of T + zp_out. Where t is farther than that sum from
  // a half-integer, round(U) + zp_out = round-to-nearest(t). The bound also
  // keeps TFLite's int16 narrowing from wrapping, so saturating to int8 and
  // clamping agree with its code.
  const int e = -p.shift_out;
  const double scale_out = double(p.multiplier_out) * std::ldexp(1.0, -31 - e);
  const double coef_a = double(p.multiplier_a) * std::ldexp(1.0, p.shift_a - 11) * scale_out;
  const double coef_b = double(p.multiplier_b) * std::ldexp(1.0, p.shift_b - 11) * scale_out;
  const double bias = double(p.zp_out) + double(p.offset_a) * coef_a + double(p.offset_b) * coef_b;
  const double bound = std::abs(double(p.zp_out)) + 256.0 * (coef_a + coef_b);
  const double near = 2.0 * (1.5 * std::ldexp(1.0, -e) + 5.0 * bound * std::ldexp(1.0, -24));  // 2x margin
  p.fast = bound < 16384.0 && near < 1.0 / 16;
  p.coef_a = float(coef_a);
  p.coef_b = float(coef_b);
  p.bias = float(bias);
  p.near = float(near);
  return "";
}

}  // namespace patternlite
