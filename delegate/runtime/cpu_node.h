// What the CPU nodes (ConvNode, PointwiseNode, DepthwiseNode) share: their
// configuration, the geometry the kernels read, and when a second thread pays.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_CPU_NODE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_CPU_NODE_H_

#include <algorithm>
#include <cstddef>
#include <vector>

#include "delegate/abi/tflite_abi.h"
#include "delegate/kernels/conv_kernel.h"
#include "delegate/kernels/dispatch.h"
#include "delegate/node/conv_shape.h"
#include "delegate/kernels/workspace.h"
#include "delegate/node/node_kernel.h"
#include "delegate/runtime/thread_pool.h"

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

// The row blocks per image of a node run on `threads` threads: `blocks`, cut
// further on small images so that every thread gets an equal share (at
// least 4 tasks per thread over the batch), never more than `out_h`.
inline int BalanceRowBlocks(int out_h, int batch, int blocks, int threads) {
  if (threads > 1 && batch * blocks < 4 * threads) {
    const int per_image = (threads + batch - 1) / batch;
    blocks = std::min(out_h, (blocks + per_image - 1) / per_image * per_image);
  }
  return blocks;
}

// Runs task(n, oy0, oy1, scratch) for every block of `block_rows` output rows
// (the last one shorter) of each of `batch` images: over `pool`, or inline
// when it is null. Each worker's workspace holds `scratch_bytes` (grown as
// needed, one per worker); `scratch` is the running worker's.
template <class Task>
void ForEachRowBlock(int batch, int out_h, int block_rows, ThreadPool* pool, std::vector<Workspace>* workspaces,
                     size_t scratch_bytes, const Task& task) {
  const int blocks_per_image = (out_h + block_rows - 1) / block_rows;
  const int tasks = batch * blocks_per_image;
  const int threads = pool != nullptr ? pool->size() : 1;
  if (int(workspaces->size()) < threads) workspaces->resize(size_t(threads));
  for (int i = 0; i < threads; ++i) (*workspaces)[size_t(i)].Reserve(scratch_bytes);
  auto run = [&](int t, int worker) {
    const int n = t / blocks_per_image;
    const int oy0 = (t % blocks_per_image) * block_rows;
    const int oy1 = std::min(out_h, oy0 + block_rows);
    task(n, oy0, oy1, (*workspaces)[size_t(worker)].data());
  };
  if (pool != nullptr && threads > 1) {
    pool->ParallelFor(tasks, run);
  } else {
    for (int t = 0; t < tasks; ++t) run(t, 0);
  }
}

// The geometry of a conv with a `kernel` x `kernel` filter on an NHWC input,
// as TFLite computes it. False when the input is too small or batch is empty.
bool MakeGeometry(int batch, int in_h, int in_w, int in_c, int out_c, TfLitePadding padding, int stride_h,
                  int stride_w, float act_min, float act_max, int kernel, ConvGeometry* out);

// Whether the tensors are exactly what `g` was planned for (Eval refuses
// anything else: it would read or write out of bounds), with elements of
// `element_bytes` (4 for float32, 1 for int8).
bool TensorsMatch(const ConvGeometry& g, const TfLiteTensor& input, const TfLiteTensor& output,
                  size_t element_bytes = sizeof(float));

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_CPU_NODE_H_
