// The pattern delegate: decides which CONV_2D and DEPTHWISE_CONV_2D nodes it
// can run exactly (Judge: IsNodeSupported in TFLite's delegate-utility terms),
// builds each one's kernel (Build: packs its weights) and hands it to TFLite
// as a delegate kernel node. It never fails the host graph over a node it
// cannot run: such a node is declined, the reason is logged and kept in the
// stats, and TFLite (with XNNPACK) runs it.
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
#include "delegate/node/node_kernel.h"
#include "delegate/opencl/cl_conv.h"
#include "delegate/runtime/autotune.h"
#include "delegate/runtime/build.h"
#include "delegate/runtime/claim.h"
#include "delegate/runtime/op_claim.h"
#include "delegate/runtime/options.h"
#include "delegate/runtime/thread_pool.h"

namespace patternlite {

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
  // Hands the kernel built for `node` during PrepareGraph to TFLite (Init).
  NodeKernel* TakePending(const TfLiteContext* context, int node);

  std::string StatsJson();
  const DelegateOptions& options() const { return options_; }

 private:
  using NodeKey = std::pair<const void*, int>;
  // Records what the run-time tensor table looks like (the ABI probe).
  void ProbeAbi(TfLiteContext* context);
  // Reads the model's pattern metadata into `metadata`; false without it
  // (none, ignored, or unreadable: then `error` says why).
  bool ReadMetadata(TfLiteContext* context, PatternMetadata* metadata, std::string* error);
  // Where and how the claimed nodes' kernels are built.
  BuildEnv MakeBuildEnv();
  // Keeps a node's verdict for the stats and its kernel (when claimed) in
  // pending_; logs a decline. Returns the kernel's custom_name (null: declined).
  const char* Keep(const TfLiteContext* context, int node_index, int builtin_code, const Verdict& verdict,
                   std::unique_ptr<NodeKernel> kernel);
  // Judges and builds the ops next to the claimed convs (runtime/op_claim.h),
  // appending the claimed ones to `claimed`.
  void ClaimOps(TfLiteContext* context, const std::vector<int>& plan,
                std::vector<std::pair<int, const char*>>* claimed);
  std::shared_ptr<ThreadPool> PoolFor(int threads);
  void Log(LogLevel level, const std::string& message) const;

  TfLiteDelegate delegate_{};
  DelegateOptions options_;
  std::mutex mu_;
  std::shared_ptr<ThreadPool> pool_;
  std::shared_ptr<PlanCache> plan_cache_;  // autotune's choices, shared by this delegate's interpreters
  // Kernels built in PrepareGraph, until TFLite's Init takes them.
  std::map<NodeKey, std::unique_ptr<NodeKernel>> pending_;
  // The OpenCL device, when the backend is OpenCL (null: the CPU kernels run).
  std::shared_ptr<ClRuntime> opencl_;
  std::string backend_note_;  // why backend=auto chose the CPU
  std::map<NodeKey, ClaimInfo> claims_;
  std::map<NodeKey, DeclineInfo> declines_;
  std::map<NodeKey, OpClaimInfo> op_claims_;      // the non-conv ops taken, and why
  std::map<NodeKey, OpDeclineInfo> op_declines_;  // the table's ops left to TFLite, and why
  bool metadata_found_ = false;
  std::string metadata_error_;
  size_t metadata_layers_ = 0;
  AbiProbe probe_;
  std::string stats_json_;  // backing store for the C accessor
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_DELEGATE_H_
