#include "delegate/runtime/chain_node.h"

#include <algorithm>

namespace patternlite {

ChainNode::ChainNode(std::vector<std::unique_ptr<ConvNode>> convs, std::vector<bool> exposed, bool planar)
    : convs_(std::move(convs)), exposed_(std::move(exposed)), planar_(planar) {
  exposed_.resize(convs_.size(), false);
}

TfLiteStatus ChainNode::Prepare(TfLiteContext* context) {
  for (auto& conv : convs_) {
    if (conv == nullptr) {
      context->ReportError(context, "patternlite: delegate kernel has no state");
      return kTfLiteError;
    }
    // Each conv plans from its input tensor's shape and shapes its output
    // tensor, inner ones included: TFLite keeps their dims, just no data.
    if (conv->Prepare(context) != kTfLiteOk) return kTfLiteError;
  }
  links_.clear();
  links_.resize(convs_.size() > 0 ? convs_.size() - 1 : 0);
  for (size_t i = 0; i + 1 < convs_.size(); ++i) {
    const ConvNode& a = *convs_[i];
    const ConvNode& b = *convs_[i + 1];
    const ConvGeometry& ga = a.geometry();
    const ConvGeometry& gb = b.geometry();
    if (ga.batch != gb.batch || ga.out_h != gb.in_h || ga.out_w != gb.in_w || ga.out_c != gb.in_c) {
      context->ReportError(context, "patternlite: chained convs disagree on the shape between them");
      return kTfLiteError;
    }
    Link& link = links_[i];
    if (exposed_[i]) {
      link.kind = LinkKind::kTensor;
    } else if (planar_ && a.can_use_planar() && b.can_use_planar() && CanReadPlanar(gb, b.lanes())) {
      link.kind = LinkKind::kPlanar;
      link.image = PlanarInputLayout(gb, b.lanes());
      // Zeros once: the producer only ever writes inside the image, so the
      // halo stays the consumer's zero padding.
      link.buffer.assign(size_t(gb.batch) * link.image.image_stride(), 0.0f);
      link.image.data = link.buffer.data();
    } else {
      link.kind = LinkKind::kBuffer;
      link.buffer.resize(size_t(ga.batch) * ga.out_h * ga.out_w * ga.out_c);
    }
    const bool planar = link.kind == LinkKind::kPlanar;
    a.counters()->planar_output.store(planar, std::memory_order_relaxed);
    b.counters()->planar_input.store(planar, std::memory_order_relaxed);
  }
  return kTfLiteOk;
}

TfLiteStatus ChainNode::Eval(TfLiteContext* context) {
  const size_t n = convs_.size();
  for (size_t i = 0; i < n; ++i) {
    ConvIO io;
    const bool input_is_tensor = i == 0 || links_[i - 1].kind == LinkKind::kTensor;
    const bool output_is_tensor = i + 1 == n || links_[i].kind == LinkKind::kTensor;
    if (convs_[i]->BindTensors(context, input_is_tensor, output_is_tensor, &io) != kTfLiteOk) return kTfLiteError;
    if (!input_is_tensor) {
      const Link& in = links_[i - 1];
      if (in.kind == LinkKind::kPlanar) {
        io.planar_input = in.image;
      } else {
        io.input = in.buffer.data();
      }
    }
    if (!output_is_tensor) {
      Link& out = links_[i];
      if (out.kind == LinkKind::kPlanar) {
        io.planar_output = out.image;
      } else {
        io.output = out.buffer.data();
      }
    }
    convs_[i]->Run(io);
  }
  return kTfLiteOk;
}

}  // namespace patternlite
