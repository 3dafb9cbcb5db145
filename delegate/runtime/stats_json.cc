// What the delegate reports: the run-time ABI probe and the stats JSON
// (patternlite_delegate_stats; docs/delegate.md lists its fields).
#include <algorithm>
#include <cstdio>
#include <sstream>

#include "delegate/runtime/delegate.h"

namespace patternlite {
namespace {

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

}  // namespace

void PatternDelegate::ProbeAbi(TfLiteContext* context) {
  // What this runtime's tensor table looks like through our struct mirror
  // (tests compare it with the interpreter's own view).
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
    os << "{\"index\":" << i << ",\"name\":" << Quote(t.name != nullptr ? t.name : "") << ",\"type\":" << int(t.type)
       << ",\"bytes\":" << t.bytes << ",\"shape\":[";
    if (t.dims != nullptr) {
      for (int d = 0; d < t.dims->size; ++d) os << (d ? "," : "") << t.dims->data[d];
    }
    os << "]}";
    probe_.tensor_summaries.push_back(os.str());
  }
}

std::string PatternDelegate::StatsJson() {
  std::lock_guard<std::mutex> lock(mu_);
  std::ostringstream os;
  os << "{\"isa\":" << Quote(IsaName(options_.isa == Isa::kAuto ? BestIsa() : options_.isa))
     << ",\"options\":{\"num_threads\":" << options_.num_threads << ",\"min_sparsity\":" << options_.min_sparsity << ",\"autotune\":" << (options_.autotune ? "true" : "false")
     << ",\"int8\":" << Quote(Int8ClaimsName(options_.int8))
     << ",\"metadata\":" << Quote(MetadataModeName(options_.metadata))
     << ",\"claim_ops\":" << (options_.claim_ops ? "true" : "false") << "}"
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
       << ",\"backend\":" << Quote(c.backend) << ",\"dtype\":" << Quote(c.dtype)
       << ",\"device\":" << Quote(c.backend == "opencl" && opencl_ ? opencl_->device_name() : std::string(IsaName(options_.isa == Isa::kAuto ? BestIsa() : options_.isa)))
       << ",\"kept_kernels\":" << c.kept_kernels << ",\"total_kernels\":" << c.total_kernels
       << ",\"distinct_patterns\":" << c.distinct_patterns << ",\"threads\":" << c.threads
       << ",\"invocations\":" << (c.counters ? c.counters->invocations.load() : 0)
       << ",\"time_ns\":" << (c.counters ? c.counters->nanoseconds.load() : 0);
    if (!c.int8_kernel.empty()) os << ",\"int8_kernel\":" << Quote(c.int8_kernel);
    if (!c.int8_tiles.empty()) os << ",\"int8_tiles\":" << Quote(c.int8_tiles);
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
  // The non-conv ops taken next to claimed convs, and those left (runtime/op_claim.h).
  os << "],\"claimed_ops\":[";
  first = true;
  for (const auto& kv : op_claims_) {
    const OpClaimInfo& c = kv.second;
    os << (first ? "" : ",") << "{\"op\":" << Quote(c.op) << ",\"node\":" << c.node
       << ",\"reason\":" << Quote(c.reason) << ",\"dtype\":" << Quote(c.dtype)
       << ",\"activation\":" << Quote(c.activation)
       << ",\"invocations\":" << (c.counters ? c.counters->invocations.load() : 0)
       << ",\"time_ns\":" << (c.counters ? c.counters->nanoseconds.load() : 0) << "}";
    first = false;
  }
  os << "],\"declined_ops\":[";
  first = true;
  for (const auto& kv : op_declines_) {
    const OpDeclineInfo& d = kv.second;
    os << (first ? "" : ",") << "{\"op\":" << Quote(d.op) << ",\"node\":" << d.node
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
