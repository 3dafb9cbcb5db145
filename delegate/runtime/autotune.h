// Per-layer auto-tuning of a claimed conv's plan (the seed paper tunes its
// generated code per layer too).
//
// The candidates differ only in how the work is split (threads, filter block):
// every candidate adds each output's terms in the same order, so the output is
// bit-identical whichever wins, and tuning can run on the node's real first
// invocations instead of on extra timing runs at Prepare. Timing inside the
// real network measures what a plan costs there: beside XNNPACK's thread pool,
// with the caches as the neighbouring layers leave them.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_AUTOTUNE_H_
#define PATTERNLITE_DELEGATE_RUNTIME_AUTOTUNE_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace patternlite {

// What a tuned plan overrides in PlanConv's heuristics.
struct PlanChoice {
  int threads = 1;
  int filter_block = 0;  // 0: the heuristic's block
  int row_blocks = 0;    // row blocks per image; 0: the heuristic's (cache budget, then thread share)
};

// The choices of one delegate, shared by its interpreters: a second
// interpreter of the same model starts tuned. Keyed by the layer's shape,
// sparsity, kernel and thread budget (PlanKey).
class PlanCache {
 public:
  bool Find(const std::string& key, PlanChoice* choice) const;
  void Store(const std::string& key, const PlanChoice& choice);

 private:
  mutable std::mutex mu_;
  std::map<std::string, PlanChoice> choices_;
};

std::string PlanKey(const char* isa, int batch, int in_h, int in_w, int in_c, int out_c, int stride_h,
                    int stride_w, int pad_top, int pad_left, size_t kept_kernels, int pool_threads);

// The candidates for one layer: one thread (unless the layer's `macs` are
// large enough that the pool always pays) and the pool's size, times filter
// blocks from a quarter to twice the heuristic's (blocks that cover every
// filter are one candidate). `default_block` 0 (scalar kernel): threads only.
// On the pool, one more candidate cuts each image into exactly one row block
// per thread (unless the heuristic's `row_blocks` already does): the
// heuristic's cache-sized blocks can leave one thread a block short.
std::vector<PlanChoice> PlanCandidates(int out_c, int default_block, int pool_threads, size_t macs,
                                       int row_blocks);

// Round-robin over the candidates, kRuns timed runs each; the fastest by its
// median run wins.
class PlanTuner {
 public:
  static constexpr int kRuns = 3;

  void Start(std::vector<PlanChoice> candidates);
  bool active() const { return !chosen_ && !candidates_.empty(); }
  // The candidate the next run should use.
  int next() const { return next_; }
  const std::vector<PlanChoice>& candidates() const { return candidates_; }
  // Records the run of candidate next(); returns true when the tuner has
  // chosen, after which winner() (candidate winner_index()) is valid and
  // active() false.
  bool Record(uint64_t nanoseconds);
  const PlanChoice& winner() const { return candidates_[size_t(winner_index_)]; }
  int winner_index() const { return winner_index_; }

 private:
  std::vector<PlanChoice> candidates_;
  std::vector<std::vector<uint64_t>> runs_ns_;  // per candidate, until chosen
  int runs_ = 0;  // completed runs, over all candidates
  int next_ = 0;
  bool chosen_ = false;
  int winner_index_ = 0;
};

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_AUTOTUNE_H_
