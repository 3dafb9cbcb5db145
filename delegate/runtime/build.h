// Build: the kernel of a claimed node. Packs the weights the judge checked,
// in the kind's layout, and makes the node on the backend that runs it.
// Only here are weights packed and kernels allocated.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_BUILD_H_
#define PATTERNLITE_DELEGATE_RUNTIME_BUILD_H_

#include <functional>
#include <memory>
#include <string>

#include "delegate/kernels/dispatch.h"
#include "delegate/node/node_kernel.h"
#include "delegate/opencl/cl_conv.h"
#include "delegate/runtime/autotune.h"
#include "delegate/runtime/claim.h"
#include "delegate/runtime/thread_pool.h"

namespace patternlite {

// Where the delegate's nodes run, and what they share.
struct BuildEnv {
  Isa isa = Isa::kScalar;                   // the CPU kernels' ISA (resolved: never kAuto)
  std::shared_ptr<ClRuntime> opencl;        // the OpenCL device; null: the CPU kernels
  bool autotune = false;
  std::shared_ptr<PlanCache> plan_cache;    // conv3x3's tuned plans (with autotune)
  std::function<std::shared_ptr<ThreadPool>(int threads)> pool;  // the delegate's pool for `threads`
};

// The node's kernel, with fresh counters in claim->info (and where it runs).
// Null with `*decline` when the backend cannot take the node (an OpenCL
// failure): the node is then declined for that reason.
std::unique_ptr<NodeKernel> Build(Claim* claim, const BuildEnv& env, std::string* decline);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_BUILD_H_
