// The int8 ADD's parameters (kernels/add_int8.h's AddInt8Params) from the
// tensors' quantization, as TFLite's add.cc Prepare computes them, and the
// fast kernel's float form with the bound that makes it exact. Setup, not a
// kernel: it needs TFLite's QuantizeMultiplier (pattern_pack_int8.h).
#ifndef PATTERNLITE_DELEGATE_PACKING_ADD_INT8_PARAMS_H_
#define PATTERNLITE_DELEGATE_PACKING_ADD_INT8_PARAMS_H_

#include <cstdint>
#include <string>

#include "delegate/kernels/add_int8.h"

namespace patternlite {

// TFLite's Prepare for an int8 ADD with inputs `a`, `b`, output `out` and the
// fused activation's int8 range. Empty when the delegate can reproduce it,
// else why not (TFLite itself rejects some of these).
std::string PrepareAddInt8(Int8Affine a, Int8Affine b, Int8Affine out, int32_t act_min, int32_t act_max,
                           AddInt8Params* params);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_PACKING_ADD_INT8_PARAMS_H_
