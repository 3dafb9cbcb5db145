// The steps the kinds' judges share (judge_*.cc), in the order they run:
// builtin parameters, tensors, metadata record, sparsity, and the claim's
// common fields. Each returns an empty string on success, else the reason
// the node is declined.
#ifndef PATTERNLITE_DELEGATE_RUNTIME_JUDGE_STEPS_H_
#define PATTERNLITE_DELEGATE_RUNTIME_JUDGE_STEPS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "delegate/runtime/judge.h"

namespace patternlite {

// The kinds' judges, one per contract kind (Judge dispatches by kind).
std::string JudgeConv3x3(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                         const contract::KindRule& rule, Claim* claim);
// conv3x3 on int8/int16/uint8 activations: claims TFLite's full-integer int8
// scheme (judge_conv3x3_int8.cc), declines the others with the reason.
std::string JudgeConv3x3Int8(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                             const contract::KindRule& rule, Claim* claim);
std::string JudgePointwise(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                           const contract::KindRule& rule, Claim* claim);
std::string JudgeDepthwise3x3(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                              const contract::KindRule& rule, Claim* claim);
// pointwise and depthwise3x3 on int8/int16/uint8 activations: TFLite's
// full-integer int8 scheme is claimed (judge_block_int8.cc), the others declined.
std::string JudgePointwiseInt8(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                               const contract::KindRule& rule, Claim* claim);
std::string JudgeDepthwise3x3Int8(const JudgeEnv& env, TfLiteContext* context, const TfLiteNode* node,
                                  const contract::KindRule& rule, Claim* claim);

// Reads the op's builtin parameters (TfLiteConvParams or
// TfLiteDepthwiseConvParams) and checks them against the rule: strides 1 to
// rule.max_stride, dilation 1 (any, with rule.any_dilation), SAME/VALID, an
// activation the kernels clamp to (its range and name are written to `p`).
std::string ReadNodeParams(const TfLiteNode* node, const contract::KindRule& rule, NodeParams* p);

// Reads and checks the node's tensors for the rule's filter shape: float32,
// constant weights and bias, static NHWC shapes. Names the filter in `info`
// as soon as it is read, for a decline too.
std::string ReadNodeTensors(TfLiteContext* context, const TfLiteNode* node, const contract::KindRule& rule,
                            ClaimInfo* info, NodeTensors* t);

// The int8 counterpart of ReadNodeTensors: int8 input and output with
// per-tensor affine quantization, a constant int8 filter with per-channel (or
// per-tensor) symmetric scales along its output-channel dimension (0; 3 for a
// depthwise [1, kh, kw, C] filter), a constant int32 bias or none, static
// NHWC shapes. Writes the quantization to `q` (not the
// activation range) and the indices, input and channel counts to `t`.
std::string ReadNodeTensorsInt8(TfLiteContext* context, const TfLiteNode* node, const contract::KindRule& rule,
                                ClaimInfo* info, NodeTensors* t, Int8Tensors* q);

// The one scale and zero point of an int8 activation tensor (`what` names it
// in the reason): per-tensor affine, a finite positive scale, a zero point in int8.
std::string PerTensorQuantization(const TfLiteTensor& t, const std::string& what, float* scale, int32_t* zero_point);

// TFLite's CalculateActivationRangeQuantized for an int8 output: the fused
// activation's bounds quantized with the output's scale and zero point
// (float division, round half away from zero), clamped to int8.
void Int8ActivationRange(TfLiteFusedActivation act, float scale, int32_t zero_point, int32_t* lo, int32_t* hi);

// The metadata record naming `filter` (null if none; with it, the pattern
// library its ids index), or why the node is declined (corrupt metadata, or
// none for this filter under metadata=require).
std::string FindRecord(const JudgeEnv& env, const std::string& filter, const LayerRecord** record);
const std::vector<uint16_t>& PatternLibrary(const JudgeEnv& env, const LayerRecord* record);

// Declines a node whose zero fraction `sparsity` is below min_sparsity;
// `what` qualifies which zeros were counted.
std::string CheckSparsity(const JudgeEnv& env, double sparsity, const std::string& what);

// The claim's fields every kind shares: kind name, parameters, the source of
// the patterns and the thread count.
void FillClaim(const JudgeEnv& env, const TfLiteContext* context, const contract::KindRule& rule,
               const NodeParams& p, const LayerRecord* record, ClaimInfo* info);

}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_RUNTIME_JUDGE_STEPS_H_
