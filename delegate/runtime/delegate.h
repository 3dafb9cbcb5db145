// The pattern delegate: decides which CONV_2D nodes it can run exactly
// (IsNodeSupported in TFLite's delegate-utility terms), packs their weights,
// and hands each one to TFLite as a delegate kernel node. It never fails the
// host graph over a node it cannot run: such a node is declined, the reason is
// logged and kept in the stats, and TFLite (with XNNPACK) runs it.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_DELEGATE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_DELEGATE_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/metadata/metadata_reader.h"
#include "delegate/opencl/cl_conv.h"
#include "delegate/runtime/block_node.h"
#include "delegate/runtime/conv_node.h"
#include "delegate/runtime/options.h"
#include "delegate/runtime/thread_pool.h"

namespace patternlite {

struct ClaimInfo {
  int node = -1;
  std::string kind = "conv3x3";  // a metadata kind name (spec/contract.toml)
  std::string filter;
  int out_channels = 0, in_channels = 0;
  int stride_h = 1, stride_w = 1;
  std::string padding, activation, source;
  size_t kept_kernels = 0, total_kernels = 0;
  int distinct_patterns = 0;
  int threads = 1;
  std::string backend = "cpu";  // where the node runs: "cpu" or "opencl"
  std::shared_ptr<NodeCounters> counters;
};

struct DeclineInfo {
  int node = -1;
  std::string filter;
  std::string reason;
};

// What the delegate saw of the runtime's tensor table: the run-time ABI probe.
struct AbiProbe {
  size_t tensors_size = 0;
  int recommended_num_threads = 0;
  int get_tensor_consistent = -1;  // -1: runtime has no GetTensor; 0/1: &tensors[i] == GetTensor(i)
  bool has_get_model_metadata = false;
  std::vector<std::string> tensor_summaries;  // JSON objects {index,name,type,shape}
};

class PatternDelegate {
 public:
  explicit PatternDelegate(const DelegateOptions& options);
  ~PatternDelegate();
  PatternDelegate(const PatternDelegate&) = delete;
  PatternDelegate& operator=(const PatternDelegate&) = delete;

  // Opens the OpenCL device for backend=opencl/auto. False with a message
  // when backend=opencl finds no usable device (the delegate is then not
  // created); backend=auto without a GPU falls back to the CPU and succeeds.
  bool InitBackend(std::string* error);

  TfLiteDelegate* tflite_delegate() { return &delegate_; }
  static PatternDelegate* From(TfLiteDelegate* d) { return static_cast<PatternDelegate*>(d->data_); }

  // TfLiteDelegate::Prepare: claims supported nodes of one subgraph.
  TfLiteStatus PrepareGraph(TfLiteContext* context);
  // Hands the ConvNode built for `node` during PrepareGraph to its kernel.
  ConvNode* TakePending(const TfLiteContext* context, int node);
  ClConvNode* TakePendingCl(const TfLiteContext* context, int node);
  BlockNode* TakePendingBlock(const TfLiteContext* context, int node);

  std::string StatsJson();
  const DelegateOptions& options() const { return options_; }

 private:
  // What every claimable node needs: its tensors, checked.
  struct NodeTensors {
    int in_idx = -1, filter_idx = -1, out_idx = -1;
    const TfLiteTensor* input = nullptr;
    const float* weights = nullptr;
    const float* bias = nullptr;  // null: no bias
    int O = 0, I = 0;             // filter dims 0 and 3
  };
  // Reads and checks a conv-like node's tensors for a kh x kw filter (float32,
  // constant weights and bias, static NHWC shapes). Empty string on success.
  std::string ReadNode(TfLiteContext* context, const TfLiteNode* node, int kh, int kw, bool depthwise,
                       ClaimInfo* info, NodeTensors* t) const;
  // The metadata record naming `filter` (null if none), or why the node is declined.
  std::string FindRecord(const PatternMetadata* metadata, const std::string& metadata_error,
                         const std::string& filter, const LayerRecord** record) const;
  // The builtin parameters the three kinds share; CheckParams fills the clamp.
  struct NodeParams {
    int stride_h = 1, stride_w = 1, dilation_h = 1, dilation_w = 1;
    TfLitePadding padding = kTfLitePaddingUnknown;
    TfLiteFusedActivation activation = kTfLiteActNone;
    float act_min = 0, act_max = 0;
    const char* act_name = nullptr;
  };
  // From TfLiteConvParams or TfLiteDepthwiseConvParams (the same field names).
  template <class Params>
  static NodeParams ReadParams(const Params& c) {
    NodeParams p;
    p.stride_h = c.stride_height;
    p.stride_w = c.stride_width;
    p.dilation_h = c.dilation_height_factor;
    p.dilation_w = c.dilation_width_factor;
    p.padding = c.padding;
    p.activation = c.activation;
    return p;
  }
  // Stride 1 or 2, dilation 1, SAME/VALID, an activation the kernels clamp to
  // (its range and name are written to `p`).
  static std::string CheckParams(NodeParams* p);
  // The claim's fields every kind shares, and fresh counters.
  static void FillClaim(int node_index, const char* kind, const NodeParams& p, const LayerRecord* record,
                        int threads, ClaimInfo* info);
  std::string CheckSparsity(double sparsity, const char* what) const;
  int ThreadsFor(const TfLiteContext* context) const;
  ConvNodeConfig NodeConfig(const NodeTensors& t, const NodeParams& p) const;
  static bool IsPointwise(const TfLiteContext* context, const TfLiteNode* node);
  // Returns an empty string and fills `out` when the node can be claimed.
  std::string CheckConv(TfLiteContext* context, int node_index, const TfLiteNode* node,
                        const PatternMetadata* metadata, const std::string& metadata_error,
                        ClaimInfo* info, std::unique_ptr<ConvNode>* out,
                        std::unique_ptr<ClConvNode>* cl_out);
  std::string CheckPointwise(TfLiteContext* context, int node_index, const TfLiteNode* node,
                             const PatternMetadata* metadata, const std::string& metadata_error, ClaimInfo* info,
                             std::unique_ptr<BlockNode>* out);
  std::string CheckDepthwise(TfLiteContext* context, int node_index, const TfLiteNode* node,
                             const PatternMetadata* metadata, const std::string& metadata_error, ClaimInfo* info,
                             std::unique_ptr<BlockNode>* out);
  std::shared_ptr<ThreadPool> PoolFor(int threads);
  void Log(LogLevel level, const std::string& message) const;

  TfLiteDelegate delegate_{};
  DelegateOptions options_;
  std::mutex mu_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<PlanCache> plan_cache_;  // autotune's choices, shared by this delegate's interpreters
  using NodeKey = std::pair<const void*, int>;
  std::map<NodeKey, std::unique_ptr<ConvNode>> pending_;
  std::map<NodeKey, std::unique_ptr<ClConvNode>> pending_cl_;
  std::map<NodeKey, std::unique_ptr<BlockNode>> pending_block_;
  // The OpenCL device, when the backend is OpenCL (null: the CPU kernels run).
  std::shared_ptr<ClRuntime> opencl_;
  std::string backend_note_;  // why backend=auto chose the CPU
  std::map<NodeKey, ClaimInfo> claims_;
  std::map<NodeKey, DeclineInfo> declines_;
  bool metadata_found_ = false;
  std::string metadata_error_;
  size_t metadata_layers_ = 0;
  AbiProbe probe_;
  std::string stats_json_;  // backing store for the C accessor
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_DELEGATE_H_
