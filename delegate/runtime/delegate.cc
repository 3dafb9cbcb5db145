#include "delegate/runtime/delegate.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <set>
#include <sstream>

#include "delegate/kernels/dispatch.h"
#include "delegate/packing/pattern_pack.h"
#include "delegate/runtime/weight_checks.h"

namespace patternlite {
namespace {

constexpr int kBuiltinDelegate = 51;  // kTfLiteBuiltinDelegate
constexpr size_t kMaxProbedTensors = 4096;

std::string JsonEscape(const std::string& s) {
  std::string out;
  out.reserve(s.size() + 2);
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += char(c);
        }
    }
  }
  return out;
}

std::string Quote(const std::string& s) { return "\"" + JsonEscape(s) + "\""; }

std::string TensorName(const TfLiteTensor& t) { return t.name != nullptr ? t.name : ""; }

bool IsConstant(const TfLiteTensor& t) {
  return (t.allocation_type == kTfLiteMmapRo || t.allocation_type == kTfLitePersistentRo) && t.data != nullptr;
}

const char* PaddingName(TfLitePadding p) {
  return p == kTfLitePaddingSame ? "SAME" : p == kTfLitePaddingValid ? "VALID" : "UNKNOWN";
}

// TfLiteRegistration callbacks of a delegate kernel node, for either node
// type: Node is ConvNode (CPU kernels) or ClConvNode (OpenCL), and Take the
// PatternDelegate method that hands over the node built in PrepareGraph.
template <class Node, Node* (PatternDelegate::*Take)(const TfLiteContext*, int)>
void* KernelInit(TfLiteContext* context, const char* buffer, size_t /*length*/) {
  const auto* params = reinterpret_cast<const TfLiteDelegateParams*>(buffer);
  if (params == nullptr || params->nodes_to_replace == nullptr || params->nodes_to_replace->size != 1) {
    return nullptr;
  }
  return (PatternDelegate::From(params->delegate)->*Take)(context, params->nodes_to_replace->data[0]);
}

template <class Node>
void KernelFree(TfLiteContext* /*context*/, void* buffer) {
  delete static_cast<Node*>(buffer);
}

template <class Node>
TfLiteStatus KernelPrepare(TfLiteContext* context, TfLiteNode* node) {
  auto* conv = static_cast<Node*>(node->user_data);
  if (conv == nullptr) {
    context->ReportError(context, "patternlite: delegate kernel has no state");
    return kTfLiteError;
  }
  return conv->Prepare(context);
}

template <class Node>
TfLiteStatus KernelInvoke(TfLiteContext* context, TfLiteNode* node) {
  auto* conv = static_cast<Node*>(node->user_data);
  if (conv == nullptr) return kTfLiteError;
  return conv->Eval(context);
}

template <class Node, Node* (PatternDelegate::*Take)(const TfLiteContext*, int)>
TfLiteRegistration KernelRegistration(const char* name) {
  TfLiteRegistration registration{};
  registration.init = KernelInit<Node, Take>;
  registration.free = KernelFree<Node>;
  registration.prepare = KernelPrepare<Node>;
  registration.invoke = KernelInvoke<Node>;
  registration.builtin_code = kBuiltinDelegate;
  registration.custom_name = name;
  registration.version = 1;
  return registration;
}

TfLiteStatus DelegatePrepare(TfLiteContext* context, TfLiteDelegate* delegate) {
  return PatternDelegate::From(delegate)->PrepareGraph(context);
}

}  // namespace

PatternDelegate::PatternDelegate(const DelegateOptions& options)
    : options_(options), plan_cache_(std::make_shared<PlanCache>()) {
  delegate_.data_ = this;
  delegate_.Prepare = DelegatePrepare;
  // Graphs with dynamic tensors elsewhere (a variable batch feeding a
  // Reshape, say) must still accept us, or ModifyGraphWithDelegate fails and
  // the host app cannot even build its interpreter. Our own nodes re-plan in
  // Prepare and check their shapes again in Eval.
  delegate_.flags = kTfLiteDelegateFlagsAllowDynamicTensors;
  delegate_.opaque_delegate_builder = nullptr;
}

PatternDelegate::~PatternDelegate() = default;

void PatternDelegate::Log(LogLevel level, const std::string& message) const {
  if (level <= options_.log_level) std::fprintf(stderr, "patternlite: %s\n", message.c_str());
}

std::shared_ptr<ThreadPool> PatternDelegate::PoolFor(int threads) {
  if (threads <= 1) return nullptr;
  // Interpreters may be built from several threads with one delegate: the swap is guarded.
  std::lock_guard<std::mutex> lock(mu_);
  if (!pool_ || pool_->size() != threads) pool_ = std::make_shared<ThreadPool>(threads);
  return pool_;
}

bool PatternDelegate::InitBackend(std::string* error) {
  if (options_.backend == Backend::kCpu) return true;
  ClDeviceChoice choice;
  choice.platform = options_.opencl_platform;
  choice.device = options_.opencl_device;
  choice.gpu_only = options_.backend == Backend::kAuto;
  std::string why;
  opencl_ = ClRuntime::Create(choice, &why);
  if (opencl_) {
    Log(LogLevel::kInfo, "OpenCL device '" + opencl_->device_name() + "' (" + opencl_->device_type() + ", platform '" +
                             opencl_->platform_name() + "', " + opencl_->library() + ")");
    return true;
  }
  if (options_.backend == Backend::kAuto) {
    backend_note_ = why;
    Log(LogLevel::kInfo, "backend=auto runs the CPU kernels: " + why);
    return true;
  }
  *error = "backend='opencl': " + why;
  return false;
}

ClConvNode* PatternDelegate::TakePendingCl(const TfLiteContext* context, int node) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_cl_.find({context, node});
  if (it == pending_cl_.end()) return nullptr;
  ClConvNode* conv = it->second.release();
  pending_cl_.erase(it);
  return conv;
}

ConvNode* PatternDelegate::TakePending(const TfLiteContext* context, int node) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find({context, node});
  if (it == pending_.end()) return nullptr;
  ConvNode* conv = it->second.release();
  pending_.erase(it);
  return conv;
}

std::string PatternDelegate::ReadNode(TfLiteContext* context, const TfLiteNode* node, int kh, int kw,
                                      bool depthwise, ClaimInfo* info, NodeTensors* t) const {
  if (node->inputs == nullptr || node->outputs == nullptr || node->inputs->size < 2 ||
      node->outputs->size != 1) {
    return "unexpected number of inputs/outputs";
  }
  t->in_idx = node->inputs->data[0];
  t->filter_idx = node->inputs->data[1];
  const int bias_idx = node->inputs->size >= 3 ? node->inputs->data[2] : kTfLiteOptionalTensor;
  t->out_idx = node->outputs->data[0];
  const int n_tensors = int(context->tensors_size);
  auto valid = [&](int i) { return i >= 0 && i < n_tensors; };
  if (!valid(t->in_idx) || !valid(t->filter_idx) || !valid(t->out_idx) ||
      (bias_idx != kTfLiteOptionalTensor && !valid(bias_idx))) {
    return "tensor index out of range";
  }
  const TfLiteTensor& input = context->tensors[t->in_idx];
  const TfLiteTensor& filter = context->tensors[t->filter_idx];
  const TfLiteTensor& output = context->tensors[t->out_idx];
  t->input = &input;
  info->filter = TensorName(filter);
  if (input.type != kTfLiteFloat32 || output.type != kTfLiteFloat32) {
    return "input/output are not float32 (type " + std::to_string(input.type) + ")";
  }
  if (filter.type != kTfLiteFloat32) return "filter is not float32 (type " + std::to_string(filter.type) + ")";
  if (filter.dims == nullptr || filter.dims->size != 4) return "filter is not 4-D";
  t->O = filter.dims->data[0];
  t->I = filter.dims->data[3];
  if (filter.dims->data[1] != kh || filter.dims->data[2] != kw) {
    return "filter is " + std::to_string(filter.dims->data[1]) + "x" + std::to_string(filter.dims->data[2]) +
           ", only " + std::to_string(kh) + "x" + std::to_string(kw) + " is supported here";
  }
  if (t->O <= 0 || t->I <= 0) return "empty filter";
  if (!IsConstant(filter)) return "filter is not a constant tensor";
  if (filter.sparsity != nullptr) return "filter uses TFLite's sparse tensor encoding";
  if (filter.bytes != size_t(t->O) * kh * kw * t->I * sizeof(float)) return "filter byte size disagrees with its shape";
  if (input.dims == nullptr || input.dims->size != 4) return "input is not 4-D NHWC";
  if (input.allocation_type == kTfLiteDynamic || output.allocation_type == kTfLiteDynamic) {
    return "input or output is a dynamic tensor (shape known only at run time)";
  }
  t->weights = static_cast<const float*>(filter.data);
  t->bias = nullptr;
  if (bias_idx != kTfLiteOptionalTensor) {
    // One bias per output channel: filter dim 0, or dim 3 for depthwise ([1, kh, kw, C]).
    const int channels = depthwise ? t->I : t->O;
    const TfLiteTensor& b = context->tensors[bias_idx];
    if (b.type != kTfLiteFloat32) return "bias is not float32";
    if (!IsConstant(b)) return "bias is not a constant tensor";
    if (b.bytes != size_t(channels) * sizeof(float)) return "bias size disagrees with the filter";
    t->bias = static_cast<const float*>(b.data);
  }
  return "";
}

std::string PatternDelegate::FindRecord(const PatternMetadata* metadata, const std::string& metadata_error,
                                        const std::string& filter, const LayerRecord** record) const {
  *record = nullptr;
  if (options_.metadata == MetadataMode::kIgnore) return "";
  if (!metadata_error.empty()) return "pattern metadata is corrupt: " + metadata_error;
  if (metadata != nullptr) {
    auto it = metadata->layers.find(filter);
    if (it != metadata->layers.end()) *record = &it->second;
  }
  if (*record == nullptr && options_.metadata == MetadataMode::kRequire) {
    return "no pattern metadata names this filter (metadata=require)";
  }
  return "";
}

std::string PatternDelegate::CheckParams(NodeParams* p) {
  if (p->dilation_w != 1 || p->dilation_h != 1) {
    return "dilation " + std::to_string(p->dilation_h) + "x" + std::to_string(p->dilation_w) + " is not supported";
  }
  if ((p->stride_h != 1 && p->stride_h != 2) || (p->stride_w != 1 && p->stride_w != 2)) {
    return "stride " + std::to_string(p->stride_h) + "x" + std::to_string(p->stride_w) + " is not supported (1 or 2)";
  }
  if (p->padding != kTfLitePaddingSame && p->padding != kTfLitePaddingValid) return "unknown padding";
  if (!ActivationRange(p->activation, &p->act_min, &p->act_max, &p->act_name)) {
    return "fused activation " + std::to_string(p->activation) + " is not supported";
  }
  return "";
}

void PatternDelegate::FillClaim(int node_index, const char* kind, const NodeParams& p, const LayerRecord* record,
                                int threads, ClaimInfo* info) {
  info->node = node_index;
  info->kind = kind;
  info->stride_h = p.stride_h;
  info->stride_w = p.stride_w;
  info->padding = PaddingName(p.padding);
  info->activation = p.act_name;
  info->source = record != nullptr ? "metadata" : "weights";
  info->threads = threads;
  info->counters = std::make_shared<NodeCounters>();
}

std::string PatternDelegate::CheckSparsity(double sparsity, const char* what) const {
  if (sparsity >= options_.min_sparsity) return "";
  char buf[200];
  std::snprintf(buf, sizeof buf, "only %.1f%% of the weights are zero%s (min_sparsity %.2f)", 100.0 * sparsity, what,
                options_.min_sparsity);
  return buf;
}

int PatternDelegate::ThreadsFor(const TfLiteContext* context) const {
  return options_.num_threads > 0                    ? options_.num_threads
         : context->recommended_num_threads > 0 ? context->recommended_num_threads
                                                : 1;
}

ConvNodeConfig PatternDelegate::NodeConfig(const NodeTensors& t, const NodeParams& p) const {
  ConvNodeConfig config;
  config.input_tensor = t.in_idx;
  config.output_tensor = t.out_idx;
  config.padding = p.padding;
  config.stride_h = p.stride_h;
  config.stride_w = p.stride_w;
  config.act_min = p.act_min;
  config.act_max = p.act_max;
  config.isa = options_.isa == Isa::kAuto ? BestIsa() : options_.isa;
  return config;
}

std::string PatternDelegate::CheckConv(TfLiteContext* context, int node_index, const TfLiteNode* node,
                                       const PatternMetadata* metadata, const std::string& metadata_error,
                                       ClaimInfo* info, std::unique_ptr<ConvNode>* out,
                                       std::unique_ptr<ClConvNode>* cl_out) {
  const auto* params = static_cast<const TfLiteConvParams*>(node->builtin_data);
  if (params == nullptr) return "missing conv parameters";
  NodeParams p = ReadParams(*params);
  std::string why = CheckParams(&p);
  if (!why.empty()) return why;
  NodeTensors t;
  why = ReadNode(context, node, 3, 3, /*depthwise=*/false, info, &t);
  if (!why.empty()) return why;
  const TfLiteTensor& input = *t.input;
  const int O = t.O, I = t.I;
  if (input.dims->data[3] != I) return "grouped conv (input channels != filter channels) is not supported";
  const float* bias = t.bias;
  const float* weights = t.weights;
  const LayerRecord* record = nullptr;
  why = FindRecord(metadata, metadata_error, info->filter, &record);
  if (!why.empty()) return why;
  if (record != nullptr && record->kind != contract::kKindConv3x3) {
    return "pattern metadata describes this filter as another kind of layer";
  }
  std::vector<uint16_t> masks;
  std::string reason;
  static const std::vector<uint16_t> kNoLibrary;
  if (!AssignKernelMasks(weights, O, I, record, record ? metadata->patterns : kNoLibrary, &masks, &reason)) {
    return reason;
  }
  size_t zeros = 0;
  const size_t total = size_t(O) * 9 * I;
  for (size_t i = 0; i < total; ++i) zeros += weights[i] == 0.0f;
  why = CheckSparsity(double(zeros) / double(total), "");
  if (!why.empty()) return why;

  PackedConv packed;
  PackPatternConv(weights, O, I, masks.data(), bias, &packed);
  const int threads = ThreadsFor(context);
  FillClaim(node_index, "conv3x3", p, record, threads, info);
  info->out_channels = O;
  info->in_channels = I;
  info->kept_kernels = packed.kept_kernels();
  info->total_kernels = size_t(O) * I;
  info->distinct_patterns = packed.distinct_patterns;
  if (opencl_) {
    // The OpenCL backend: weights to the device now; any OpenCL failure
    // declines the node, with the call and error name as the reason.
    ClConvParams cl_params;
    cl_params.padding = p.padding;
    cl_params.stride_h = p.stride_h;
    cl_params.stride_w = p.stride_w;
    cl_params.act_min = p.act_min;
    cl_params.act_max = p.act_max;
    std::string cl_reason;
    *cl_out = ClConvNode::Create(opencl_, t.in_idx, t.out_idx, packed, cl_params, input, info->counters, &cl_reason);
    if (!*cl_out) return cl_reason;
    info->backend = "opencl";
    info->threads = 0;  // the device schedules its own work
    return "";
  }
  *out = std::make_unique<ConvNode>(NodeConfig(t, p), std::move(packed), PoolFor(threads), info->counters,
                                    options_.autotune ? plan_cache_ : nullptr);
  return "";
}

bool PatternDelegate::IsPointwise(const TfLiteContext* context, const TfLiteNode* node) {
  if (node->inputs == nullptr || node->inputs->size < 2) return false;
  const int f = node->inputs->data[1];
  if (f < 0 || size_t(f) >= context->tensors_size) return false;
  const TfLiteIntArray* dims = context->tensors[f].dims;
  return dims != nullptr && dims->size == 4 && dims->data[1] == 1 && dims->data[2] == 1;
}

std::string PatternDelegate::CheckPointwise(TfLiteContext* context, int node_index, const TfLiteNode* node,
                                            const PatternMetadata* metadata, const std::string& metadata_error,
                                            ClaimInfo* info, std::unique_ptr<BlockNode>* out) {
  const auto* params = static_cast<const TfLiteConvParams*>(node->builtin_data);
  if (params == nullptr) return "missing conv parameters";
  NodeParams p = ReadParams(*params);
  p.dilation_h = p.dilation_w = 1;  // dilation does not change a 1x1 conv, so any is accepted
  std::string why = CheckParams(&p);
  if (!why.empty()) return why;
  NodeTensors t;
  why = ReadNode(context, node, 1, 1, /*depthwise=*/false, info, &t);
  if (!why.empty()) return why;
  if (t.input->dims->data[3] != t.I) return "grouped conv (input channels != filter channels) is not supported";
  const LayerRecord* record = nullptr;
  why = FindRecord(metadata, metadata_error, info->filter, &record);
  if (!why.empty()) return why;
  std::vector<uint8_t> kept;
  if (!AssignPointwise(t.weights, t.O, t.I, record, &kept, &why)) return why;
  PackedPointwise packed;
  PackPointwise(t.weights, t.O, t.I, kept, t.bias, &packed);
  // Only the zeros a whole block skips save time: count those.
  why = CheckSparsity(1.0 - double(PointwiseBlockWeights(t.O, t.I, kept)) / (double(t.O) * t.I), " in whole blocks of 16 filters");
  if (!why.empty()) return why;
  FillClaim(node_index, "pointwise", p, record, ThreadsFor(context), info);
  info->out_channels = t.O;
  info->in_channels = t.I;
  info->kept_kernels = packed.filter_channel.size();
  info->total_kernels = size_t(t.O) * t.I;
  *out = std::make_unique<PointwiseNode>(NodeConfig(t, p), std::move(packed), PoolFor(info->threads),
                                         info->counters, options_.autotune);
  return "";
}

std::string PatternDelegate::CheckDepthwise(TfLiteContext* context, int node_index, const TfLiteNode* node,
                                            const PatternMetadata* metadata, const std::string& metadata_error,
                                            ClaimInfo* info, std::unique_ptr<BlockNode>* out) {
  const auto* params = static_cast<const TfLiteDepthwiseConvParams*>(node->builtin_data);
  if (params == nullptr) return "missing depthwise conv parameters";
  NodeParams p = ReadParams(*params);
  std::string why = CheckParams(&p);
  if (!why.empty()) return why;
  NodeTensors t;
  why = ReadNode(context, node, 3, 3, /*depthwise=*/true, info, &t);
  if (!why.empty()) return why;
  const int C = t.I;
  if (t.O != 1) return "depthwise filter's first dimension is " + std::to_string(t.O) + ", not 1";
  if (t.input->dims->data[3] != C) return "depth multiplier other than 1 is not supported";
  const LayerRecord* record = nullptr;
  why = FindRecord(metadata, metadata_error, info->filter, &record);
  if (!why.empty()) return why;
  std::vector<uint16_t> masks;
  static const std::vector<uint16_t> kNoLibrary;
  if (!AssignDepthwise(t.weights, C, record, record ? metadata->patterns : kNoLibrary, &masks, &why)) return why;
  PackedDepthwise packed;
  PackDepthwise(t.weights, C, masks, t.bias, &packed);
  why = CheckSparsity(1.0 - double(DepthwiseBlockWeights(C, masks)) / (double(C) * contract::kKernelTaps),
                      " in whole blocks of 16 channels");
  if (!why.empty()) return why;
  std::set<uint16_t> distinct;
  size_t kept = 0;
  for (uint16_t m : masks) {
    if (m != 0) distinct.insert(m), ++kept;
  }
  FillClaim(node_index, "depthwise3x3", p, record, ThreadsFor(context), info);
  info->out_channels = C;
  info->in_channels = C;
  info->kept_kernels = kept;
  info->total_kernels = size_t(C);
  info->distinct_patterns = int(distinct.size());
  *out = std::make_unique<DepthwiseNode>(NodeConfig(t, p), std::move(packed), PoolFor(info->threads),
                                         info->counters, options_.autotune);
  return "";
}

BlockNode* PatternDelegate::TakePendingBlock(const TfLiteContext* context, int node) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_block_.find({context, node});
  if (it == pending_block_.end()) return nullptr;
  BlockNode* block = it->second.release();
  pending_block_.erase(it);
  return block;
}

TfLiteStatus PatternDelegate::PrepareGraph(TfLiteContext* context) {
  // Run-time ABI probe: what this runtime's tensor table looks like through
  // our struct mirror (tests compare it with the interpreter's own view).
  {
    std::lock_guard<std::mutex> lock(mu_);
    probe_ = AbiProbe();
    probe_.tensors_size = context->tensors_size;
    probe_.recommended_num_threads = context->recommended_num_threads;
    probe_.has_get_model_metadata = context->GetModelMetadata != nullptr;
    const size_t n = std::min(context->tensors_size, kMaxProbedTensors);
    if (context->GetTensor != nullptr) {
      probe_.get_tensor_consistent = 1;
      for (size_t i = 0; i < n; ++i) {
        if (context->GetTensor(context, int(i)) != &context->tensors[i]) probe_.get_tensor_consistent = 0;
      }
    }
    for (size_t i = 0; i < n; ++i) {
      const TfLiteTensor& t = context->tensors[i];
      std::ostringstream os;
      os << "{\"index\":" << i << ",\"name\":" << Quote(TensorName(t)) << ",\"type\":" << int(t.type)
         << ",\"bytes\":" << t.bytes << ",\"shape\":[";
      if (t.dims != nullptr) {
        for (int d = 0; d < t.dims->size; ++d) os << (d ? "," : "") << t.dims->data[d];
      }
      os << "]}";
      probe_.tensor_summaries.push_back(os.str());
    }
  }

  // Metadata: read once per subgraph; a damaged blob is remembered as an error.
  PatternMetadata metadata;
  bool have_metadata = false;
  std::string metadata_error;
  if (options_.metadata != MetadataMode::kIgnore && context->GetModelMetadata != nullptr) {
    const char* ptr = nullptr;
    size_t bytes = 0;
    if (context->GetModelMetadata(context, kMetadataName, &ptr, &bytes) == kTfLiteOk && ptr != nullptr) {
      have_metadata = ParsePatternMetadata(reinterpret_cast<const uint8_t*>(ptr), bytes, &metadata,
                                           &metadata_error);
      if (!have_metadata) Log(LogLevel::kWarning, "ignoring the model's pattern metadata: " + metadata_error);
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    metadata_found_ = have_metadata || !metadata_error.empty();
    metadata_error_ = metadata_error;
    metadata_layers_ = have_metadata ? metadata.layers.size() : 0;
  }

  TfLiteIntArray* plan = nullptr;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk || plan == nullptr) return kTfLiteError;
  std::vector<int> nodes(plan->data, plan->data + plan->size);  // the plan is invalidated by replacement

  std::vector<int> claimed;
  std::set<int> claimed_cl;     // those on the OpenCL backend
  std::set<int> claimed_block;  // pointwise and depthwise nodes
  int convs = 0;
  for (int node_index : nodes) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (context->GetNodeAndRegistration(context, node_index, &node, &reg) != kTfLiteOk || node == nullptr ||
        reg == nullptr) {
      continue;
    }
    const bool is_conv = reg->builtin_code == kTfLiteBuiltinConv2d;
    const bool is_depthwise = reg->builtin_code == kTfLiteBuiltinDepthwiseConv2d;
    if ((!is_conv && !is_depthwise) || reg->custom_name != nullptr) continue;
    ++convs;
    ClaimInfo info;
    std::unique_ptr<ConvNode> conv;
    std::unique_ptr<ClConvNode> cl_conv;
    std::unique_ptr<BlockNode> block;
    const PatternMetadata* meta = have_metadata ? &metadata : nullptr;
    // The channel-block kinds run on the CPU kernels whatever the backend.
    const std::string reason =
        is_depthwise ? CheckDepthwise(context, node_index, node, meta, metadata_error, &info, &block)
        : IsPointwise(context, node)
            ? CheckPointwise(context, node_index, node, meta, metadata_error, &info, &block)
            : CheckConv(context, node_index, node, meta, metadata_error, &info, &conv, &cl_conv);
    std::lock_guard<std::mutex> lock(mu_);
    const NodeKey key{context, node_index};
    if (reason.empty()) {
      if (cl_conv) {
        pending_cl_[key] = std::move(cl_conv);
        claimed_cl.insert(node_index);
      } else if (block) {
        pending_block_[key] = std::move(block);
        claimed_block.insert(node_index);
      } else {
        pending_[key] = std::move(conv);
      }
      claims_[key] = info;
      declines_.erase(key);
      claimed.push_back(node_index);
    } else {
      DeclineInfo d;
      d.node = node_index;
      d.filter = info.filter;
      d.reason = reason;
      declines_[key] = d;
      claims_.erase(key);
      // Metadata disagreements mean a damaged or mismatched model: say so loudly.
      const bool loud = reason.find("metadata") != std::string::npos;
      Log(loud ? LogLevel::kWarning : LogLevel::kInfo,
          std::string("declined ") + (is_depthwise ? "DEPTHWISE_CONV_2D" : "CONV_2D") + " node " +
              std::to_string(node_index) + " (" + info.filter + "): " + reason);
    }
  }

  const TfLiteRegistration registration =
      KernelRegistration<ConvNode, &PatternDelegate::TakePending>("PatternLiteConv");
  const TfLiteRegistration cl_registration =
      KernelRegistration<ClConvNode, &PatternDelegate::TakePendingCl>("PatternLiteConvOpenCL");
  const TfLiteRegistration block_registration =
      KernelRegistration<BlockNode, &PatternDelegate::TakePendingBlock>("PatternLiteBlock");
  // One delegate kernel per conv: adjacent convs must not fuse into one
  // partition, whose inner tensors TFLite would then not allocate.
  std::vector<int> one(2);
  TfLiteStatus status = kTfLiteOk;
  for (int node_index : claimed) {
    auto* subset = reinterpret_cast<TfLiteIntArray*>(one.data());
    subset->size = 1;
    subset->data[0] = node_index;
    const TfLiteRegistration& reg = claimed_cl.count(node_index)      ? cl_registration
                                    : claimed_block.count(node_index) ? block_registration
                                                                      : registration;
    if (context->ReplaceNodeSubsetsWithDelegateKernels(context, reg, subset, &delegate_) != kTfLiteOk) {
      status = kTfLiteDelegateError;
      break;
    }
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.clear();  // anything TFLite did not take
    pending_cl_.clear();
    pending_block_.clear();
  }
  char summary[200];
  std::snprintf(summary, sizeof summary, "claimed %zu of %d conv nodes (%s, %s metadata)", claimed.size(),
                convs, IsaName(options_.isa == Isa::kAuto ? BestIsa() : options_.isa),
                have_metadata ? "with" : "without");
  Log(LogLevel::kInfo, summary);
  return status;
}

std::string PatternDelegate::StatsJson() {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream os;
  os << "{\"isa\":" << Quote(IsaName(options_.isa == Isa::kAuto ? BestIsa() : options_.isa))
     << ",\"options\":{\"num_threads\":" << options_.num_threads << ",\"min_sparsity\":" << options_.min_sparsity << ",\"autotune\":" << (options_.autotune ? "true" : "false")
     << ",\"metadata\":" << Quote(MetadataModeName(options_.metadata)) << "}"
     << ",\"backend\":{\"requested\":" << Quote(BackendName(options_.backend))
     << ",\"active\":" << Quote(opencl_ ? "opencl" : "cpu")
     << ",\"device\":" << Quote(opencl_ ? opencl_->device_name() : "")
     << ",\"device_type\":" << Quote(opencl_ ? opencl_->device_type() : "")
     << ",\"platform\":" << Quote(opencl_ ? opencl_->platform_name() : "")
     << ",\"library\":" << Quote(opencl_ ? opencl_->library() : "")
     << ",\"host_unified_memory\":" << (opencl_ && opencl_->host_unified_memory() ? "true" : "false")
     << ",\"note\":" << Quote(backend_note_) << "}"
     << ",\"metadata\":{\"found\":" << (metadata_found_ ? "true" : "false")
     << ",\"error\":" << Quote(metadata_error_) << ",\"layers\":" << metadata_layers_ << "}"
     << ",\"claimed\":[";
  bool first = true;
  for (const auto& kv : claims_) {
    const ClaimInfo& c = kv.second;
    os << (first ? "" : ",") << "{\"node\":" << c.node << ",\"kind\":" << Quote(c.kind)
       << ",\"filter\":" << Quote(c.filter)
       << ",\"out_channels\":" << c.out_channels << ",\"in_channels\":" << c.in_channels << ",\"stride\":["
       << c.stride_h << "," << c.stride_w << "],\"padding\":" << Quote(c.padding)
       << ",\"activation\":" << Quote(c.activation) << ",\"source\":" << Quote(c.source)
       << ",\"backend\":" << Quote(c.backend)
       << ",\"device\":" << Quote(c.backend == "opencl" && opencl_ ? opencl_->device_name() : std::string(IsaName(options_.isa == Isa::kAuto ? BestIsa() : options_.isa)))
       << ",\"kept_kernels\":" << c.kept_kernels << ",\"total_kernels\":" << c.total_kernels
       << ",\"distinct_patterns\":" << c.distinct_patterns << ",\"threads\":" << c.threads
       << ",\"invocations\":" << (c.counters ? c.counters->invocations.load() : 0)
       << ",\"time_ns\":" << (c.counters ? c.counters->nanoseconds.load() : 0);
    // The plan in use: tuned (autotune's winner) or the fixed heuristics.
    if (c.counters) {
      os << ",\"plan\":{\"threads\":" << c.counters->plan_threads.load()
         << ",\"filter_block\":" << c.counters->plan_filter_block.load()
         << ",\"row_blocks\":" << c.counters->plan_row_blocks.load()
         << ",\"tuned\":" << (c.counters->plan_tuned.load() ? "true" : "false") << "}";
    }
    os << "}";
    first = false;
  }
  os << "],\"declined\":[";
  first = true;
  for (const auto& kv : declines_) {
    const DeclineInfo& d = kv.second;
    os << (first ? "" : ",") << "{\"node\":" << d.node << ",\"filter\":" << Quote(d.filter)
       << ",\"reason\":" << Quote(d.reason) << "}";
    first = false;
  }
  os << "],\"abi\":{\"tensors_size\":" << probe_.tensors_size
     << ",\"recommended_num_threads\":" << probe_.recommended_num_threads
     << ",\"get_tensor_consistent\":" << probe_.get_tensor_consistent
     << ",\"has_get_model_metadata\":" << (probe_.has_get_model_metadata ? "true" : "false")
     << ",\"sizeof_tensor\":" << sizeof(TfLiteTensor) << ",\"sizeof_registration\":" << sizeof(TfLiteRegistration)
     << ",\"tensors\":[";
  for (size_t i = 0; i < probe_.tensor_summaries.size(); ++i) os << (i ? "," : "") << probe_.tensor_summaries[i];
  os << "]}}";
  return os.str();
}

}  // namespace patternlite
