#include "delegate/runtime/delegate.h"

#include <cstdio>
#include <utility>

#include "delegate/kernels/dispatch.h"
#include "delegate/runtime/build.h"
#include "delegate/runtime/judge.h"

namespace patternlite {
namespace {

constexpr int kBuiltinDelegate = 51;  // kTfLiteBuiltinDelegate

// The one TfLiteRegistration of the delegate's kernel nodes: every kind's
// NodeKernel, which PatternDelegate::TakePending hands over in Init.
void* KernelInit(TfLiteContext* context, const char* buffer, size_t /*length*/) {
  const auto* params = reinterpret_cast<const TfLiteDelegateParams*>(buffer);
  if (params == nullptr || params->nodes_to_replace == nullptr || params->nodes_to_replace->size != 1) {
    return nullptr;
  }
  return PatternDelegate::From(params->delegate)->TakePending(context, params->nodes_to_replace->data[0]);
}

void KernelFree(TfLiteContext* /*context*/, void* buffer) { delete static_cast<NodeKernel*>(buffer); }

TfLiteStatus KernelPrepare(TfLiteContext* context, TfLiteNode* node) {
  auto* kernel = static_cast<NodeKernel*>(node->user_data);
  if (kernel == nullptr) {
    context->ReportError(context, "patternlite: delegate kernel has no state");
    return kTfLiteError;
  }
  return kernel->Prepare(context);
}

TfLiteStatus KernelInvoke(TfLiteContext* context, TfLiteNode* node) {
  auto* kernel = static_cast<NodeKernel*>(node->user_data);
  if (kernel == nullptr) return kTfLiteError;
  return kernel->Eval(context);
}

// `name`: the kernel's custom_name (NodeKernel::name), which profilers show.
TfLiteRegistration KernelRegistration(const char* name) {
  TfLiteRegistration registration{};
  registration.init = KernelInit;
  registration.free = KernelFree;
  registration.prepare = KernelPrepare;
  registration.invoke = KernelInvoke;
  registration.builtin_code = kBuiltinDelegate;
  registration.custom_name = name;
  registration.version = 1;
  return registration;
}

TfLiteStatus DelegatePrepare(TfLiteContext* context, TfLiteDelegate* delegate) {
  return PatternDelegate::From(delegate)->PrepareGraph(context);
}

// One delegate kernel per claimed node: adjacent nodes must not fuse into one
// partition, whose inner tensors TFLite would then not allocate.
TfLiteStatus ReplaceEachNode(TfLiteContext* context, TfLiteDelegate* delegate,
                             const std::vector<std::pair<int, const char*>>& claimed) {
  std::vector<int> one(2);
  for (const auto& [node_index, name] : claimed) {
    auto* subset = reinterpret_cast<TfLiteIntArray*>(one.data());
    subset->size = 1;
    subset->data[0] = node_index;
    const TfLiteRegistration registration = KernelRegistration(name);
    if (context->ReplaceNodeSubsetsWithDelegateKernels(context, registration, subset, delegate) != kTfLiteOk) {
      return kTfLiteDelegateError;
    }
  }
  return kTfLiteOk;
}

const char* OpName(int builtin_code) {
  return builtin_code == kTfLiteBuiltinDepthwiseConv2d ? "DEPTHWISE_CONV_2D" : "CONV_2D";
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

NodeKernel* PatternDelegate::TakePending(const TfLiteContext* context, int node) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = pending_.find({context, node});
  if (it == pending_.end()) return nullptr;
  NodeKernel* kernel = it->second.release();
  pending_.erase(it);
  return kernel;
}

bool PatternDelegate::ReadMetadata(TfLiteContext* context, PatternMetadata* metadata, std::string* error) {
  bool found = false;
  if (options_.metadata != MetadataMode::kIgnore && context->GetModelMetadata != nullptr) {
    const char* ptr = nullptr;
    size_t bytes = 0;
    if (context->GetModelMetadata(context, kMetadataName, &ptr, &bytes) == kTfLiteOk && ptr != nullptr) {
      found = ParsePatternMetadata(reinterpret_cast<const uint8_t*>(ptr), bytes, metadata, error);
      if (!found) Log(LogLevel::kWarning, "ignoring the model's pattern metadata: " + *error);
    }
  }
  std::lock_guard<std::mutex> lock(mu_);
  metadata_found_ = found || !error->empty();
  metadata_error_ = *error;
  metadata_layers_ = found ? metadata->layers.size() : 0;
  return found;
}

BuildEnv PatternDelegate::MakeBuildEnv() {
  BuildEnv env;
  env.isa = options_.isa == Isa::kAuto ? BestIsa() : options_.isa;
  env.opencl = opencl_;
  env.autotune = options_.autotune;
  env.plan_cache = plan_cache_;
  env.pool = [this](int threads) { return PoolFor(threads); };
  return env;
}

const char* PatternDelegate::Keep(const TfLiteContext* context, int node_index, int builtin_code,
                                  const Verdict& verdict, std::unique_ptr<NodeKernel> kernel) {
  std::lock_guard<std::mutex> lock(mu_);
  const NodeKey key{context, node_index};
  if (kernel) {
    const char* name = kernel->name();
    pending_[key] = std::move(kernel);
    claims_[key] = std::get<Claim>(verdict).info;
    declines_.erase(key);
    return name;
  }
  const Decline& d = std::get<Decline>(verdict);
  declines_[key] = DeclineInfo{node_index, d.filter, d.reason};
  claims_.erase(key);
  // Metadata disagreements mean a damaged or mismatched model: say so loudly.
  const bool loud = d.reason.find("metadata") != std::string::npos;
  Log(loud ? LogLevel::kWarning : LogLevel::kInfo, std::string("declined ") + OpName(builtin_code) + " node " +
                                                       std::to_string(node_index) + " (" + d.filter + "): " + d.reason);
  return nullptr;
}

void PatternDelegate::ClaimOps(TfLiteContext* context, const std::vector<int>& plan,
                              std::vector<std::pair<int, const char*>>* claimed) {
  std::vector<int> convs;
  for (const auto& entry : *claimed) convs.push_back(entry.first);
  OpVerdicts verdicts = JudgeOps(context, plan, convs, options_.isa == Isa::kAuto ? BestIsa() : options_.isa);
  std::lock_guard<std::mutex> lock(mu_);
  for (OpClaim& claim : verdicts.claims) {
    std::unique_ptr<NodeKernel> kernel = BuildOp(&claim);
    const NodeKey key{context, claim.info.node};
    Log(LogLevel::kDebug, "claimed " + claim.info.op + " node " + std::to_string(claim.info.node) + ": " +
                              claim.info.reason);
    claimed->emplace_back(claim.info.node, kernel->name());
    pending_[key] = std::move(kernel);
    op_claims_[key] = claim.info;
    op_declines_.erase(key);
  }
  for (const OpDeclineInfo& d : verdicts.declines) {
    const NodeKey key{context, d.node};
    Log(LogLevel::kDebug, "left " + d.op + " node " + std::to_string(d.node) + " to TFLite: " + d.reason);
    op_declines_[key] = d;
    op_claims_.erase(key);
  }
}

TfLiteStatus PatternDelegate::PrepareGraph(TfLiteContext* context) {
  ProbeAbi(context);
  // Metadata: read once per subgraph; a damaged blob is remembered as an error.
  PatternMetadata metadata;
  JudgeEnv judge_env;
  judge_env.options = &options_;
  judge_env.metadata = ReadMetadata(context, &metadata, &judge_env.metadata_error) ? &metadata : nullptr;
  const BuildEnv build_env = MakeBuildEnv();

  TfLiteIntArray* plan = nullptr;
  if (context->GetExecutionPlan(context, &plan) != kTfLiteOk || plan == nullptr) return kTfLiteError;
  std::vector<int> nodes(plan->data, plan->data + plan->size);  // the plan is invalidated by replacement

  // Judge every node of a kind and Build the claimed ones; they wait in
  // pending_ until TFLite's Init takes them.
  std::vector<std::pair<int, const char*>> claimed;  // node, its kernel's custom_name
  int convs = 0;
  for (int node_index : nodes) {
    TfLiteNode* node = nullptr;
    TfLiteRegistration* reg = nullptr;
    if (context->GetNodeAndRegistration(context, node_index, &node, &reg) != kTfLiteOk || node == nullptr ||
        reg == nullptr || reg->custom_name != nullptr) {
      continue;
    }
    const NodeKind kind = FindKind(context, node, reg->builtin_code);
    if (kind.rule == nullptr) continue;
    ++convs;
    Verdict verdict = Judge(judge_env, context, node_index, node, kind);
    std::unique_ptr<NodeKernel> kernel;
    if (auto* claim = std::get_if<Claim>(&verdict)) {
      std::string why;
      kernel = Build(claim, build_env, &why);
      if (!kernel) verdict = Decline{claim->info.filter, why};
    }
    if (const char* name = Keep(context, node_index, reg->builtin_code, verdict, std::move(kernel))) {
      claimed.emplace_back(node_index, name);
    }
  }

  const size_t claimed_convs = claimed.size();
  if (options_.claim_ops) ClaimOps(context, nodes, &claimed);

  const TfLiteStatus status = ReplaceEachNode(context, &delegate_, claimed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    pending_.clear();  // anything TFLite did not take
  }
  char summary[200];
  std::snprintf(summary, sizeof summary, "claimed %zu of %d conv nodes and %zu other ops (%s, %s metadata)",
                claimed_convs, convs, claimed.size() - claimed_convs, IsaName(build_env.isa),
                judge_env.metadata != nullptr ? "with" : "without");
  Log(LogLevel::kInfo, summary);
  return status;
}

}  // namespace patternlite
