#include "delegate/runtime/autotune.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace patternlite {

bool PlanCache::Find(const std::string& key, PlanChoice* choice) const {
  std::lock_guard<std::mutex> lock(mu_);
  const auto it = choices_.find(key);
  if (it == choices_.end()) return false;
  *choice = it->second;
  return true;
}

void PlanCache::Store(const std::string& key, const PlanChoice& choice) {
  std::lock_guard<std::mutex> lock(mu_);
  choices_[key] = choice;
}

std::string PlanKey(const char* isa, int batch, int in_h, int in_w, int in_c, int out_c, int stride_h,
                    int stride_w, int pad_top, int pad_left, size_t kept_kernels, int pool_threads) {
  char key[256];
  std::snprintf(key, sizeof key, "%s/%dx%dx%dx%d->%d/s%dx%d/p%d,%d/k%zu/t%d", isa, batch, in_h, in_w, in_c, out_c,
                stride_h, stride_w, pad_top, pad_left, kept_kernels, pool_threads);
  return key;
}

namespace {

// From this many multiply-accumulates on (about 0.1 ms on one AVX-512 core) a
// conv always runs on the whole pool and only the filter block is tuned. Such
// a layer scales by 1.5-2x on 2 threads whenever the second core is free, so a
// measurement that says otherwise saw a core taken by someone else for a
// moment, and would pin the layer to one thread for the interpreter's life.
constexpr size_t kAlwaysParallelMacs = size_t(1) << 23;

}  // namespace

std::vector<PlanChoice> PlanCandidates(int out_c, int default_block, int pool_threads, size_t macs,
                                       int row_blocks) {
  std::vector<int> blocks;
  if (default_block > 0) {
    // From a quarter to twice the heuristic's block (16-lane multiples); a
    // block at least as wide as the layer is one candidate, whatever its size.
    for (int b = std::max(16, default_block / 4); b <= default_block * 2; b *= 2) {
      const int effective = std::min(b, out_c);
      const bool seen = std::find_if(blocks.begin(), blocks.end(),
                                     [&](int x) { return std::min(x, out_c) == effective; }) != blocks.end();
      if (!seen) blocks.push_back(b);
    }
  } else {
    blocks.push_back(0);
  }
  std::vector<int> thread_counts;
  if (pool_threads <= 1 || macs < kAlwaysParallelMacs) thread_counts.push_back(1);
  if (pool_threads > 1) thread_counts.push_back(pool_threads);
  std::vector<PlanChoice> out;
  for (int threads : thread_counts) {
    for (int b : blocks) out.push_back({threads, b, 0});
  }
  if (pool_threads > 1 && row_blocks != pool_threads) out.push_back({pool_threads, default_block, pool_threads});
  return out;
}

void PlanTuner::Start(std::vector<PlanChoice> candidates) {
  candidates_ = std::move(candidates);
  runs_ns_.assign(candidates_.size(), {});
  runs_ = 0;
  next_ = 0;
  winner_index_ = 0;
  chosen_ = candidates_.size() == 1;  // nothing to choose
}

bool PlanTuner::Record(uint64_t nanoseconds) {
  if (!active()) return true;
  runs_ns_[size_t(next_)].push_back(nanoseconds);
  ++runs_;
  next_ = (next_ + 1) % int(candidates_.size());
  if (runs_ < kRuns * int(candidates_.size())) return false;
  // The median of each candidate's runs: one run slowed by preemption cannot
  // sink a candidate, and one lucky run cannot crown a candidate whose runs
  // vary (a second thread that must compete with another pool's spinning
  // threads wins some runs and loses most).
  std::vector<uint64_t> medians;
  for (std::vector<uint64_t>& runs : runs_ns_) {
    std::nth_element(runs.begin(), runs.begin() + runs.size() / 2, runs.end());
    medians.push_back(runs[runs.size() / 2]);
  }
  const auto best = std::min_element(medians.begin(), medians.end()) - medians.begin();
  winner_index_ = int(best);
  chosen_ = true;
  runs_ns_.clear();
  return true;
}

}  // namespace patternlite
