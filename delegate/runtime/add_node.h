// The delegate's ADD on two inputs of one shape, with its fused activation.
// float32: out = clamp(a + b) as TFLite's builtin float ADD computes it (one
// IEEE addition per element, then the activation's clamp), so it is bit-exact.
// int8: TFLite's fixed-point ADD, bit-exact (kernels/add_int8.h).
// It runs on the calling thread: the residual ADDs it is claimed for are a
// few microseconds, less than waking a second thread costs.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_ADD_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_ADD_NODE_H_

#include <memory>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/add_int8.h"
#include "delegate/node/node_kernel.h"

namespace patternlite {

struct AddNodeConfig {
  int input_a = -1, input_b = -1, output = -1;
  float act_min = 0, act_max = 0;  // TFLite's float activation range (finite: NONE is +-FLT_MAX)
  AddInt8Fn int8 = nullptr;        // set for an int8 ADD, with TFLite's parameters
  AddInt8Params int8_params;
};

class AddNode : public NodeKernel {
 public:
  AddNode(const AddNodeConfig& config, std::shared_ptr<NodeCounters> counters)
      : config_(config), counters_(std::move(counters)) {}

  TfLiteStatus Prepare(TfLiteContext* context) override;
  TfLiteStatus Eval(TfLiteContext* context) override;
  const char* name() const override { return "patternlite_add"; }

 private:
  AddNodeConfig config_;
  std::shared_ptr<NodeCounters> counters_;
  size_t elements_ = 0;  // planned in Prepare
};

// Runs the kernel on raw arrays (the node's Eval and the native tests).
void AddClamp(const float* a, const float* b, float* out, size_t n, float lo, float hi);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_ADD_NODE_H_
