// A chain of claimed convs, each feeding only the next, run as one TFLite
// delegate kernel.
//
// Inside one kernel the tensors between the convs are the chain's own: TFLite
// never sees them (a delegate partition's inner tensors are not allocated), so
// they need not be NHWC. Where the consumer's wide kernel can read it, the
// producer writes its rows straight into the planar input layout
// (kernels/conv_kernel.h: PlanarImage): the producer skips its transpose to
// NHWC and the consumer its fill, which together are 13-31% of a layer's time
// at keep 0.5. Elsewhere (the scalar ISA, a narrow consumer, a stride-2
// consumer) the link is an NHWC buffer. Both give the very same floats as
// separate kernels would: only where the values are stored changes.
//
// A chain of one conv is the plain case.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_CHAIN_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_CHAIN_NODE_H_

#include <memory>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/conv_kernel.h"
#include "delegate/runtime/conv_node.h"

namespace patternlite {

class ChainNode {
 public:
  // `convs` in execution order; conv i's output tensor is conv i+1's input.
  // `planar`: use planar links where the kernels allow (option `chain`).
  // `exposed[i]`: conv i's output must also reach its TFLite tensor (TFLite
  // lists it as an output of the partition), so that link stays the tensor.
  ChainNode(std::vector<std::unique_ptr<ConvNode>> convs, std::vector<bool> exposed, bool planar);

  TfLiteStatus Prepare(TfLiteContext* context);
  TfLiteStatus Eval(TfLiteContext* context);

  size_t size() const { return convs_.size(); }

 private:
  enum class LinkKind { kTensor, kBuffer, kPlanar };
  struct Link {
    LinkKind kind = LinkKind::kBuffer;
    AlignedFloats buffer;  // NHWC (kBuffer) or the planar image's floats (kPlanar)
    PlanarImage image;
  };

  std::vector<std::unique_ptr<ConvNode>> convs_;
  std::vector<bool> exposed_;
  bool planar_;
  std::vector<Link> links_;  // links_[i]: from conv i to conv i+1
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_CHAIN_NODE_H_
