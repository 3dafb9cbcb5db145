// The delegate's float32 ADD: out = clamp(a + b) on two inputs of one shape,
// with ADD's fused activation, as TFLite's builtin float ADD computes it (one
// IEEE addition per element, then the activation's clamp), so it is bit-exact.
// It runs on the calling thread: the residual ADDs it is claimed for are a
// few microseconds, less than waking a second thread costs.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_ADD_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_ADD_NODE_H_

#include <memory>

#include "delegate/abi/tflite_abi.h"
#include "delegate/node/node_kernel.h"

namespace patternlite {

struct AddNodeConfig {
  int input_a = -1, input_b = -1, output = -1;
  float act_min = 0, act_max = 0;  // TFLite's float activation range (finite: NONE is +-FLT_MAX)
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
