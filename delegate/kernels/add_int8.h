// TFLite's int8 ADD (same shapes, no broadcast), bit for bit, and a fast
// AVX-512 kernel that is bit-exact to it (docs/int8.md, "Residual ADD").
//
// TFLite rescales both inputs to a common fixed-point scale (left_shift 20
// and a Q31 multiplier each), adds, then rescales to the output. Its builtin
// kernel (optimized_integer_ops::AddElementwiseInt8) takes the flat tensor
// in two parts that round differently:
//  * every whole group of 16 elements from the start runs its vector code:
//    the input multiplier's shift is folded into the left shift before the
//    doubling high multiply (one rounding where the scalar code has two), and
//    the rescaled sum is narrowed to int16 by truncation, the output zero
//    point added in int16 (wrapping), then saturated to int8;
//  * the last size % 16 elements run the scalar code: left shift 20, high
//    multiply, rounding divide by the input's shift, sum, high multiply,
//    rounding divide, zero point, clamp.
// Both were told apart on TFLite itself with inputs on which they differ:
// tests/test_int8_add.py pins them.
#ifndef PATTERNLITE_DELEGATE_KERNELS_ADD_INT8_H_
#define PATTERNLITE_DELEGATE_KERNELS_ADD_INT8_H_

#include <cstddef>
#include <cstdint>

#include "delegate/kernels/dispatch.h"

namespace patternlite {

// One int8 tensor's affine quantization.
struct Int8Affine {
  float scale = 0;
  int32_t zero_point = 0;
};

// TFLite's OpData for an int8 ADD (add.cc, Prepare), plus what the fast
// kernel derives from it.
struct AddInt8Params {
  int32_t offset_a = 0, offset_b = 0;  // minus the inputs' zero points
  int32_t multiplier_a = 0, multiplier_b = 0, multiplier_out = 0;  // Q31
  int shift_a = 0, shift_b = 0, shift_out = 0;                     // <= 0: right shifts
  int left_shift = 20;
  int32_t zp_out = 0, act_min = -128, act_max = 127;
  // The fast kernel: t = a * coef_a + b * coef_b + bias in float, rounded to
  // nearest, is TFLite's output wherever t is farther than `near` from a
  // half-integer; lanes within `near` of one are recomputed exactly.
  // fast = false when the bound behind that does not hold
  // (packing/add_int8_params.h, PrepareAddInt8).
  bool fast = false;
  float coef_a = 0, coef_b = 0, bias = 0, near = 0;
};

// The builtin kernel's two element formulas (exact, scalar): the vector code's
// for elements of a whole group of 16, the scalar code's for the tail.
int8_t AddInt8GroupElement(const AddInt8Params& p, int8_t a, int8_t b);
int8_t AddInt8TailElement(const AddInt8Params& p, int8_t a, int8_t b);

// out[i] = ADD(a[i], b[i]) for the flat tensor of n elements, as TFLite
// computes it. `out` may be `a` or `b`.
using AddInt8Fn = void (*)(const AddInt8Params& p, const int8_t* a, const int8_t* b, int8_t* out, size_t n);
void AddInt8Scalar(const AddInt8Params& p, const int8_t* a, const int8_t* b, int8_t* out, size_t n);

// The kernel for `isa` (kAuto resolves to the best available), or null when
// the ISA has no vector kernel: the scalar one is many times slower than
// XNNPACK's int8 ADD, so the delegate leaves those ADDs to XNNPACK unless
// the scalar ISA is forced.
AddInt8Fn AddInt8KernelFor(Isa isa);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_ADD_INT8_H_
