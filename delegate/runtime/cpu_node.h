// What the CPU nodes (ConvNode, PointwiseNode, DepthwiseNode) share: their
// configuration, the geometry the kernels read, and when a second thread pays.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_CPU_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_CPU_NODE_H_

#include <cstddef>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/conv_kernel.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/node/conv_shape.h"
#include "delegate/node/node_kernel.h"

namespace patternlite {

struct ConvNodeConfig {
  int input_tensor = -1;
  int output_tensor = -1;
  TfLitePadding padding = kTfLitePaddingSame;
  int stride_h = 1, stride_w = 1;
  float act_min = 0, act_max = 0;
  Isa isa = Isa::kAuto;
  // No thread count: PatternDelegate decides it once, when it picks the node's
  // pool, and the node plans for that pool's size.
};

// Below this many multiply-accumulates (~25 us on one AVX-512 core) a node
// runs on one thread: waking another, beside XNNPACK's spinning pool on the
// same cores, costs more than it saves (measured on ResNet-20 at 2 threads).
constexpr size_t kMinParallelMacs = size_t(1) << 19;

// Whether a node of `macs` multiply-accumulates per run repays a second thread.
inline bool ParallelPays(size_t macs) { return macs >= kMinParallelMacs; }

// The geometry of a conv with a `kernel` x `kernel` filter on an NHWC input,
// as TFLite computes it. False when the input is too small or batch is empty.
bool MakeGeometry(int batch, int in_h, int in_w, int in_c, int out_c, TfLitePadding padding, int stride_h,
                  int stride_w, float act_min, float act_max, int kernel, ConvGeometry* out);

// Whether the tensors are exactly what `g` was planned for (Eval refuses
// anything else: it would read or write out of bounds).
bool TensorsMatch(const ConvGeometry& g, const TfLiteTensor& input, const TfLiteTensor& output);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_CPU_NODE_H_
