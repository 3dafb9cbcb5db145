// AVX-512 VNNI + VBMI int8 pattern-conv kernel with FILTER lanes
// (docs/int8.md, "The filter-lane kernel"): the 16 int32 lanes of a vector
// are 16 consecutive output channels of one output pixel, as in XNNPACK's
// dense int8 kernels, instead of 16 pixels of one output channel.
//
//  1. Neighbourhood records: for each output pixel of a tile of kPix pixels
//     and each group of 4 input channels, one 64-byte record whose dword t
//     (t = 3*ky+kx, 0..8) holds the 4 channels' offset input bytes
//     (u = x ^ 0x80) under tap t; padding holds the offset zero point, so a
//     padded tap contributes what the packed bias correction removes. Built
//     per 16 channels from 9 tap loads by 4 vpermt2d + 4 masked vpermd.
//  2. Per block of 16 filters and each input channel c that any of them
//     keeps (pack: fl_* arrays), the index vector (lane f: the record
//     positions of filter f's 4 taps on c) and the weight vector (lane f:
//     its 4 weights, 0 where f prunes c) stay in registers while, for each of
//     the kPix pixels, one vpermb gathers the 16 filters' tap dwords from the
//     pixel's record and one vpdpbusd accumulates them: no per-pattern work,
//     any mask per filter, and the accumulators stay in registers over all
//     channels.
//  3. Per-lane requantisation (TFLite's double rounding, requantize.h); a
//     pixel's 16 filters are 16 contiguous output bytes in NHWC.
//
// Connectivity pruning saves work only where all 16 filters of a block prune
// a channel (the (block, channel) pair is then absent from the pack).
#include <algorithm>
#include <cstdint>

#include "delegate/kernels/conv_int8_kernel.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx512vbmi,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512vnni,avx512vbmi,avx2,fma")
#endif

#include <immintrin.h>

namespace patternlite {
namespace {

constexpr int kLanes = 16;
// Output pixels per register tile: kPix accumulators plus the block's index
// and weight vectors and the permuted tap dwords.
#ifndef PL_INT8_FL_PIX
#define PL_INT8_FL_PIX 12
#endif
constexpr int kPix = PL_INT8_FL_PIX;  // PL_INT8_FL_PIX: for measuring other tiles
constexpr int kRecord = 64;

size_t Up(size_t b) { return (b + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

size_t RecordBytes(int channels) { return size_t((channels + 3) / 4) * kPix * kRecord; }

// The records of one output pixel (oy, ox): record of channel group q at
// rec + q * stride.
inline void BuildRecords(const int8_t* img, const ConvGeometry& g, int oy, int ox, __m128i pad, uint8_t* rec,
                         size_t stride) {
  const int C = g.in_c;
  const int8_t* src[9];
  for (int t = 0; t < 9; ++t) {
    const int iy = oy * g.stride_h - g.pad_top + t / 3, ix = ox * g.stride_w - g.pad_left + t % 3;
    src[t] = iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w ? img + (size_t(iy) * g.in_w + ix) * C : nullptr;
  }
  const __m128i flip = _mm_set1_epi8(char(0x80));
  // Record j of a 16-channel group: dwords 0..7 from taps 0..3 (a) and 4..7
  // (b), dword 8 from tap 8.
  alignas(64) static constexpr int32_t kIdx[4][16] = {
      {0, 4, 8, 12, 16, 20, 24, 28, 0, 0, 0, 0, 0, 0, 0, 0},
      {1, 5, 9, 13, 17, 21, 25, 29, 1, 1, 1, 1, 1, 1, 1, 1},
      {2, 6, 10, 14, 18, 22, 26, 30, 2, 2, 2, 2, 2, 2, 2, 2},
      {3, 7, 11, 15, 19, 23, 27, 31, 3, 3, 3, 3, 3, 3, 3, 3}};
  for (int c0 = 0; c0 < C; c0 += 16) {
    const int n = std::min(16, C - c0);
    const __mmask16 m = __mmask16((1u << n) - 1);
    __m128i tap[9];
    for (int t = 0; t < 9; ++t) {
      tap[t] = src[t] == nullptr ? pad : _mm_xor_si128(_mm_maskz_loadu_epi8(m, src[t] + c0), flip);
    }
    const __m512i a = _mm512_inserti32x4(
        _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(tap[0]), tap[1], 1), tap[2], 2), tap[3], 3);
    const __m512i b = _mm512_inserti32x4(
        _mm512_inserti32x4(_mm512_inserti32x4(_mm512_castsi128_si512(tap[4]), tap[5], 1), tap[6], 2), tap[7], 3);
    const __m512i c8 = _mm512_castsi128_si512(tap[8]);
    const int groups = (n + 3) / 4;
    uint8_t* r = rec + size_t(c0 / 4) * stride;
    for (int j = 0; j < groups; ++j, r += stride) {
      const __m512i idx = _mm512_load_si512(kIdx[j]);
      const __m512i d = _mm512_permutex2var_epi32(a, idx, b);
      _mm512_store_si512(r, _mm512_mask_permutexvar_epi32(d, __mmask16(1u << 8), idx, c8));
    }
  }
}

// requantize.h's MultiplyByQuantizedMultiplier with CONV_2D's ties (up) and a
// multiplier and shift per lane, then the output zero point and the
// activation range.
struct LaneQuant {
  __m512i m, m_odd, left, right, mask, half;
};

inline LaneQuant MakeLaneQuant(const PackedConvInt8View& w, int o0, __mmask16 om) {
  LaneQuant l;
  l.m = _mm512_maskz_loadu_epi32(om, w.multiplier + o0);
  l.m_odd = _mm512_srli_epi64(l.m, 32);
  const __m512i sh = _mm512_maskz_loadu_epi32(om, w.shift + o0);
  l.left = _mm512_max_epi32(sh, _mm512_setzero_si512());
  l.right = _mm512_max_epi32(_mm512_sub_epi32(_mm512_setzero_si512(), sh), _mm512_setzero_si512());
  l.mask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), l.right), _mm512_set1_epi32(1));
  l.half = _mm512_srai_epi32(l.mask, 1);
  return l;
}

inline __m128i Requantize(__m512i acc, const LaneQuant& l, const Int8Quant& q) {
  const __m512i x = _mm512_sllv_epi32(acc, l.left);
  const __m512i rnd = _mm512_set1_epi64(int64_t(1) << 30);
  const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, l.m), rnd), 31);
  const __m512i odd = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), l.m_odd), rnd), 31);
  const __m512i y = _mm512_mask_blend_epi32(__mmask16(0xAAAA), even, _mm512_slli_epi64(odd, 32));
  const __m512i rem = _mm512_and_si512(y, l.mask);
  const __m512i ys = _mm512_srav_epi32(y, l.right);
  __m512i r = _mm512_mask_add_epi32(ys, _mm512_cmpgt_epi32_mask(rem, l.half), ys, _mm512_set1_epi32(1));
  r = _mm512_add_epi32(r, _mm512_set1_epi32(q.zp_out));
  r = _mm512_min_epi32(_mm512_max_epi32(r, _mm512_set1_epi32(q.act_min)), _mm512_set1_epi32(q.act_max));
  return _mm512_cvtepi32_epi8(r);
}

}  // namespace

size_t Int8ConvScratchAvx512VnniFl(const Int8ConvKernelParams& p, int /*rows*/) {
  return Up(RecordBytes(p.geometry.in_c));
}

void Int8ConvRowsAvx512VnniFl(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0,
                              int oy1, void* scratch, size_t /*scratch_bytes*/) {
  const ConvGeometry& g = p.geometry;
  const PackedConvInt8View& w = p.weights;
  const int C = g.in_c, O = g.out_c;
  const int8_t* img = input + size_t(n) * g.in_h * g.in_w * C;
  int8_t* out = output + (size_t(n) * g.out_h + oy0) * g.out_w * O;
  const int npix = (oy1 - oy0) * g.out_w;
  uint8_t* rec = static_cast<uint8_t*>(scratch);
  const __m128i pad = _mm_set1_epi8(char(uint8_t(p.quant.zp_in + 128)));
  constexpr size_t kStride = size_t(kPix) * kRecord;  // one channel group's records of the tile
  for (int p0 = 0; p0 < npix; p0 += kPix) {
    const int np = std::min(kPix, npix - p0);
    // A short tile repeats its last pixel: every accumulator reads a record.
    for (int i = 0; i < kPix; ++i) {
      const int pix = p0 + std::min(i, np - 1);
      BuildRecords(img, g, oy0 + pix / g.out_w, pix % g.out_w, pad, rec + size_t(i) * kRecord, kStride);
    }
    for (int b = 0; b < w.fl_blocks; ++b) {
      const int o0 = b * kLanes, nf = std::min(kLanes, O - o0);
      const __mmask16 om = __mmask16((1u << nf) - 1);
      const __m512i bias = _mm512_maskz_loadu_epi32(om, w.bias_u8 + o0);
      __m512i acc[kPix];
      for (int i = 0; i < kPix; ++i) acc[i] = bias;
      for (int e = w.fl_block_entries[b], ee = w.fl_block_entries[b + 1]; e < ee; ++e) {
        const __m512i idx = _mm512_loadu_si512(w.fl_index + size_t(e) * 64);
        const __m512i wv = _mm512_loadu_si512(w.fl_weights + size_t(e) * 64);
        const uint8_t* r = rec + size_t(w.fl_channel[e] / 4) * kStride;
        for (int i = 0; i < kPix; ++i) {
          acc[i] = _mm512_dpbusd_epi32(acc[i], _mm512_permutexvar_epi8(idx, _mm512_load_si512(r + i * kRecord)), wv);
        }
      }
      const LaneQuant lq = MakeLaneQuant(w, o0, om);
      for (int i = 0; i < np; ++i) {
        _mm_mask_storeu_epi8(out + size_t(p0 + i) * O + o0, om, Requantize(acc[i], lq, p.quant));
      }
    }
  }
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
