// TFLite's rules for the shape of a conv's output and for its fused
// activation, as every claimed node (CPU or OpenCL) applies them.
#ifndef PATTERNLITE_DELEGATE_NODE_CONV_SHAPE_H_
#define PATTERNLITE_DELEGATE_NODE_CONV_SHAPE_H_

#include "delegate/abi/tflite_abi.h"

namespace patternlite {

// A fused activation as the clamp [lo, hi] the kernels apply, and its name.
// Returns false for activations the kernels do not implement.
bool ActivationRange(TfLiteFusedActivation act, float* lo, float* hi, const char** name);

// Output size and leading padding of one spatial dimension, as TFLite computes
// them for a filter of `kernel` taps (3 unless given).
bool ComputeOutputSize(TfLitePadding padding, int in, int stride, int* out, int* pad_before, int kernel = 3);

// Sets a node's NHWC output to `shape` unless it already has it.
TfLiteStatus ResizeOutput(TfLiteContext* context, TfLiteTensor* output, const int shape[4]);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_NODE_CONV_SHAPE_H_
