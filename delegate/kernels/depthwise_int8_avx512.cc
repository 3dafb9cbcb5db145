// AVX-512 VNNI int8 pattern depthwise kernel (block_int8_kernels.h's
// depthwise): per output pixel and block of 16 channels, each group of four
// kept taps is one vpdpbusd.
//
// A depthwise output is a dot product over the taps of one channel, so four
// taps fit the 4-byte dot product if each channel's four input bytes sit in
// one dword: the four taps' 16 channel bytes are loaded into the four 128-bit
// lanes of a vector, flipped to u8 (x ^ 0x80 = x + 128), and one vpermb
// interleaves them (byte 4c + k = tap k's channel c). Against TFLite's
// sum(w * (x - zp_in)), the packed bias_u8 corrects by -(zp_in + 128) *
// sum(w); a tap outside the image reads the byte zp_in, whose term w * (zp_in
// - zp_in) is TFLite's zero padding, so border pixels need no other bias.
// This replaces widening each tap to int32 and an int32 multiply (measured
// 0.29-0.46 efficiency against XNNPACK's int8 depthwise, docs/int8.md).
#include <immintrin.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "delegate/contract_generated.h"
#include "delegate/kernels/block_int8_kernels.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx512vbmi,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512vnni,avx512vbmi,avx2,fma")
#endif

#include "delegate/kernels/requantize_avx512.h"

namespace patternlite {
namespace {

constexpr int K = contract::kKernelSize;
constexpr int kTaps = contract::kKernelTaps;
constexpr int kPixels = 4;  // pixels requantised together (Avx512OutputStage)
constexpr size_t kBandBytes = 64 * 1024;  // input rows a band of output rows may span
constexpr int64_t kPadCopyPixels = 32 * 32;  // images up to this many output pixels read a padded copy

// requantize.h's Requantize per lane with each lane's own tie rule (`away`
// lanes round ties away from zero, as DEPTHWISE_CONV_2D does on some
// channels), before the zero point: the blocks RequantizeAvx512Int32 cannot take.
inline __m512i RequantizePerLaneInt32(__m512i acc, const Int8BlockRequantView& rq, size_t o) {
  const __m512i x = _mm512_sllv_epi32(acc, _mm512_loadu_si512(rq.left + o));
  const __m512i mv = _mm512_loadu_si512(rq.multiplier + o), rnd = _mm512_set1_epi64(int64_t(1) << 30);
  const __m512i even = _mm512_srli_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, mv), rnd), 31);
  const __m512i odd = _mm512_srli_epi64(
      _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(mv, 32)), rnd), 31);
  const __m512i y = _mm512_mask_blend_epi32(__mmask16(0xAAAA), even, _mm512_slli_epi64(odd, 32));
  const __m512i mask = _mm512_loadu_si512(rq.mask + o);
  const __m512i rem = _mm512_and_si512(y, mask);
  const __m512i neg_away = _mm512_and_si512(_mm512_srai_epi32(y, 31), _mm512_loadu_si512(rq.away + o));
  const __m512i thr = _mm512_sub_epi32(_mm512_srli_epi32(mask, 1), neg_away);
  const __m512i ys = _mm512_srav_epi32(y, _mm512_loadu_si512(rq.right + o));
  return _mm512_mask_add_epi32(ys, _mm512_cmpgt_epi32_mask(rem, thr), ys, _mm512_set1_epi32(1));
}

// What a block's pass over a band of rows needs, set up once per call.
struct BlockPass {
  int groups = 0;              // groups of four taps
  __m512i w[3];                // per group: 16 dwords of 4 weights
  __m512i bias;                // bias_u8
  int ky[4 * 3], kx[4 * 3];    // each tap's row and column in the window
  ptrdiff_t offset[4 * 3];     // interior pixels: each tap's input offset from the window corner
  bool lane_quant = false;     // every lane rounds ties up: RequantizeAvx512Int32
  Avx512LaneQuant lane;
};

// Byte 4c + k of the result is byte c of 128-bit lane k: each channel's four taps in one dword.
alignas(64) constexpr int8_t kInterleave[64] = {
    0, 16, 32, 48, 1, 17, 33, 49, 2,  18, 34, 50, 3,  19, 35, 51, 4,  20, 36, 52, 5,  21,
    37, 53, 6, 22, 38, 54, 7, 23, 39, 55, 8,  24, 40, 56, 9,  25, 41, 57, 10, 26, 42, 58, 11, 27,
    43, 59, 12, 28, 44, 60, 13, 29, 45, 61, 14, 30, 46, 62, 15, 31, 47, 63};

template <bool kFull>
inline __m128i LoadChannels(const int8_t* p, __mmask16 m) {
  if constexpr (kFull) {
    return _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
  } else {
    return _mm_maskz_loadu_epi8(m, p);  // the channels past the layer's end read as 0 (zero weights)
  }
}

// The accumulator of a border pixel: taps outside the image read the zero
// point's bytes (`zp_block`, kBlock of them), chosen without a branch (which
// taps fall outside changes from pixel to pixel).
template <bool kFull>
inline __m512i BorderPixel(const BlockPass& bp, const ConvGeometry& g, const int8_t* in_n, int block_c, int iy0,
                           int ix0, __mmask16 m, const int8_t* zp_block, __m512i flip, __m512i order) {
  __m512i acc = bp.bias;
  for (int j = 0; j < bp.groups; ++j) {
    __m128i t[4];
    for (int k = 0; k < 4; ++k) {
      const int iy = iy0 + bp.ky[4 * j + k], ix = ix0 + bp.kx[4 * j + k];
      const bool in = unsigned(iy) < unsigned(g.in_h) && unsigned(ix) < unsigned(g.in_w);
      const ptrdiff_t at = in ? (ptrdiff_t(iy) * g.in_w + ix) * g.in_c + block_c : 0;
      t[k] = LoadChannels<kFull>(in ? in_n + at : zp_block, m);
    }
    __m512i v = _mm512_castsi128_si512(t[0]);
    v = _mm512_inserti32x4(v, t[1], 1);
    v = _mm512_inserti32x4(v, t[2], 2);
    v = _mm512_inserti32x4(v, t[3], 3);
    acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(order, _mm512_xor_si512(v, flip)), bp.w[j]);
  }
  return acc;
}

template <bool kFull>
void BlockRows(const ConvGeometry& geometry, const Int8Quant& q, const Int8BlockRequantView& rq, const BlockPass& pass,
               const int8_t* in_n, int8_t* out_n, int b, int oy0, int oy1, __mmask16 m) {
  // Local copies: every int8 store may alias memory the compiler cannot see
  // past, so fields read through references were reloaded after each store.
  const BlockPass bp = pass;
  const ConvGeometry g = geometry;
  const int C = g.in_c, block_c = b * kBlock;
  const __m512i flip = _mm512_set1_epi8(char(0x80)), order = _mm512_load_si512(kInterleave);
  alignas(16) int8_t zp_block[kBlock];
  std::memset(zp_block, q.zp_in, sizeof zp_block);
  const Avx512OutputStage stage(q);
  const auto requantize = [&](__m512i acc) {
    return bp.lane_quant ? RequantizeAvx512Int32(acc, bp.lane)
                         : RequantizePerLaneInt32(acc, rq, size_t(b) * kBlock);
  };
  const ptrdiff_t step = ptrdiff_t(g.stride_w) * C;
  for (int oy = oy0; oy < oy1; ++oy) {
    const int iy0 = oy * g.stride_h - g.pad_top;
    const bool row_inside = iy0 >= 0 && iy0 + K - 1 < g.in_h;
    const int8_t* row_base = row_inside ? in_n + ptrdiff_t(iy0) * g.in_w * C + block_c : nullptr;
    for (int ox0 = 0; ox0 < g.out_w; ox0 += kPixels) {
      const int count = std::min(kPixels, g.out_w - ox0);
      __m512i r[kPixels];
#pragma GCC unroll 4
      for (int i = 0; i < kPixels; ++i) {
        if (i >= count) {
          r[i] = _mm512_setzero_si512();  // past the row's end: never stored
          continue;
        }
        const int ix0 = (ox0 + i) * g.stride_w - g.pad_left;
        __m512i acc;
        if (row_inside && ix0 >= 0 && ix0 + K - 1 < g.in_w) {
          // Every tap inside the image: the common case, no bounds checks.
          // Written out, as in BorderPixel: a shared helper for the four
          // loads, inserts, flip, vpermb and vpdpbusd measured 15% slower here
          // in each of the three forms tried.
          const int8_t* px = row_base + ptrdiff_t(ox0 + i) * step - ptrdiff_t(g.pad_left) * C;
          acc = bp.bias;
          for (int j = 0; j < bp.groups; ++j) {
            __m512i v = _mm512_castsi128_si512(LoadChannels<kFull>(px + bp.offset[4 * j], m));
            v = _mm512_inserti32x4(v, LoadChannels<kFull>(px + bp.offset[4 * j + 1], m), 1);
            v = _mm512_inserti32x4(v, LoadChannels<kFull>(px + bp.offset[4 * j + 2], m), 2);
            v = _mm512_inserti32x4(v, LoadChannels<kFull>(px + bp.offset[4 * j + 3], m), 3);
            acc = _mm512_dpbusd_epi32(acc, _mm512_permutexvar_epi8(order, _mm512_xor_si512(v, flip)), bp.w[j]);
          }
        } else {
          acc = BorderPixel<kFull>(bp, g, in_n, block_c, iy0, ix0, m, zp_block, flip, order);
        }
        r[i] = requantize(acc);
      }
      Avx512OutputStage::Store4<kFull>(stage.Pack4(r[0], r[1], r[2], r[3]),
                                       out_n + (ptrdiff_t(oy) * g.out_w + ox0) * C + block_c, C, count, m);
    }
  }
}

// Whether some output pixel of rows [oy0, oy1) has a tap outside the image.
bool HasBorder(const ConvGeometry& g, int oy0, int oy1) {
  return oy0 * g.stride_h - g.pad_top < 0 || (oy1 - 1) * g.stride_h - g.pad_top + K > g.in_h || g.pad_left > 0 ||
         (g.out_w - 1) * g.stride_w - g.pad_left + K > g.in_w;
}

// Rows [oy0, oy1) of one image read from a copy of their input rows padded
// with the zero point, so that every pixel takes the interior path. Returns
// the geometry of the copy (rows counted from the copy's first).
ConvGeometry PaddedCopy(const ConvGeometry& g, const int8_t* in_n, int zp_in, int oy0, int oy1,
                        std::vector<int8_t>* copy) {
  ConvGeometry pg = g;
  const int iy_first = oy0 * g.stride_h - g.pad_top;
  pg.in_h = (oy1 - 1 - oy0) * g.stride_h + K;
  pg.in_w = (g.out_w - 1) * g.stride_w + K;
  pg.pad_top = oy0 * g.stride_h;  // so that output row oy reads copy row (oy - oy0) * stride_h
  pg.pad_left = 0;
  const size_t C = size_t(g.in_c), row = size_t(pg.in_w) * C;
  copy->assign(size_t(pg.in_h) * row, int8_t(zp_in));
  const int x0 = std::max(0, -g.pad_left) , x1 = std::min(g.in_w, pg.in_w - g.pad_left);
  for (int r = 0; r < pg.in_h; ++r) {
    const int iy = iy_first + r;
    if (iy < 0 || iy >= g.in_h || x1 <= x0) continue;
    std::memcpy(copy->data() + r * row + size_t(x0 + g.pad_left) * C, in_n + (size_t(iy) * g.in_w + x0) * C,
                size_t(x1 - x0) * C);
  }
  return pg;
}

}  // namespace

void DepthwiseInt8Avx512Vnni(const DepthwiseInt8Params& p, const int8_t* input, int8_t* output, int n, int oy0,
                             int oy1) {
  const PackedDepthwiseInt8View& w = p.weights;
  const int C = p.geometry.in_c;
  const int8_t* in_n = input + size_t(n) * p.geometry.in_h * p.geometry.in_w * C;
  int8_t* out_n = output + size_t(n) * p.geometry.out_h * p.geometry.out_w * C;
  // Small images, where border pixels are many (a quarter at 14x14, half at
  // 7x7) and their per-tap bounds checks cost as much as the rest: the rows'
  // input is copied with zero-point padding first (this thread's buffer,
  // reused), and every pixel takes the interior path.
  thread_local std::vector<int8_t> padded;
  ConvGeometry g = p.geometry;
  if (int64_t(g.out_h) * g.out_w <= kPadCopyPixels && HasBorder(g, oy0, oy1)) {
    g = PaddedCopy(p.geometry, in_n, p.quant.zp_in, oy0, oy1, &padded);
    in_n = padded.data();
  }
  // Each block's pass, made once per call (thread_local: sized once per thread).
  thread_local std::vector<BlockPass> passes;
  if (passes.size() < size_t(w.blocks)) passes.resize(size_t(w.blocks));
  for (int b = 0; b < w.blocks; ++b) {
    BlockPass& bp = passes[size_t(b)];
    const int taps = w.block_tap_count[b];
    bp.groups = std::min((taps + 3) / 4, kTapQuads);  // taps <= 9
    for (int t = 0; t < 4 * bp.groups; ++t) {
      // Padding taps repeat the first: their weights are 0, any in-bounds byte serves.
      const int tap = w.block_taps[size_t(b) * kTaps + (t < taps ? t : 0)];
      bp.ky[t] = tap / K;
      bp.kx[t] = tap % K;
      bp.offset[t] = (ptrdiff_t(bp.ky[t]) * g.in_w + bp.kx[t]) * C;
    }
    for (int j = 0; j < bp.groups; ++j) bp.w[j] = _mm512_loadu_si512(w.tap_quads + (size_t(b) * kTapQuads + j) * kBlock);
    bp.bias = _mm512_loadu_si512(w.bias_u8 + size_t(b) * kBlock);
    const size_t o = size_t(b) * kBlock;
    const __m512i away = _mm512_loadu_si512(w.requant.away + o);
    bp.lane_quant = _mm512_test_epi32_mask(away, away) == 0;
    if (bp.lane_quant) bp.lane = MakeAvx512LaneQuant(w.requant, o);
  }
  // Bands of output rows whose input rows fit in L2's share (kBandBytes):
  // each block passes over a band with its constants set up once, and the
  // band's input stays in cache for the next block. A small image is one band.
  const size_t row_bytes = size_t(g.in_w) * C * size_t(g.stride_h);
  const int band = int(std::max<size_t>(1, kBandBytes / std::max<size_t>(1, row_bytes)));
  for (int r0 = oy0; r0 < oy1; r0 += band) {
    const int r1 = std::min(oy1, r0 + band);
    for (int b = 0; b < w.blocks; ++b) {
      const int width = std::min(kBlock, C - b * kBlock);
      const __mmask16 m = __mmask16((1u << width) - 1);
      if (width == kBlock) {
        BlockRows<true>(g, p.quant, w.requant, passes[size_t(b)], in_n, out_n, b, r0, r1, m);
      } else {
        BlockRows<false>(g, p.quant, w.requant, passes[size_t(b)], in_n, out_n, b, r0, r1, m);
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
