// The vectorised int8 channel-block kernels (pointwise and depthwise),
// written once over a traits type and instantiated per instruction set in
// block_int8_{avx512,avxvnni,avx2,neon}.cc, after their target pragmas.
// Layouts and numerics: block_int8_kernels.h and docs/int8.md.
//
//  * pointwise (the 256-bit and NEON variants; AVX-512 has its own,
//    pointwise_int8_avx512.cc): a register tile of T::kPixels output pixels
//    x one block of 16 filters. Per kept input quad: the block's 16 weight
//    dwords are loaded once, and per pixel the quad's 4 input bytes are one
//    broadcast dword feeding one 4-byte dot product per vector. Pixels are
//    walked in chunks whose input rows stay in L2 while each block (its
//    weights in L1) passes over them.
//  * depthwise: per output row, block and pixel, each kept tap is 16 input
//    bytes widened to int32 lanes and one multiply-accumulate by its 16
//    weights. Interior pixels start from the bias with -zp_in * sum(w)
//    folded in; border pixels subtract zp_in from each in-bounds tap.
#ifndef PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_SIMD_IMPL_H_
#define PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_SIMD_IMPL_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "delegate/contract_generated.h"
#include "delegate/kernels/block_int8_kernels.h"

namespace patternlite {
namespace block_int8_impl {

#define PL_INT8_BLOCK_INLINE inline __attribute__((always_inline))


// Requantises one block's accumulators (NV vectors) and writes its `width`
// real channels to dst.
template <class T>
PL_INT8_BLOCK_INLINE void StoreBlock(const typename T::V* acc, const Int8BlockRequantView& rq, size_t lane0,
                                     const Int8Quant& q, int width, int8_t* dst) {
  constexpr int NV = kBlock / T::kLanes, L = T::kLanes;
  alignas(64) int8_t bytes[kBlock];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const size_t o = lane0 + size_t(v) * L;
    T::Requantize(acc[v], rq.multiplier + o, rq.left + o, rq.right + o, rq.mask + o, rq.away + o, q, bytes + v * L);
  }
  if (width == kBlock) {
    std::memcpy(dst, bytes, kBlock);
  } else {
    std::memcpy(dst, bytes, size_t(width));
  }
}

// R pixels of one block: full quads [q0, q1) by direct dword loads, then a
// last quad reaching past in_c (when there is one) from a zero-padded copy.
template <class T, int R>
PL_INT8_BLOCK_INLINE void PointwiseTile(const ConvGeometry& g, const Int8Quant& q, const PackedPointwiseInt8View& w,
                                        int b, const int8_t* const* px, int8_t* const* dst) {
  constexpr int NV = kBlock / T::kLanes, L = T::kLanes;
  using V = typename T::V;
  using W = typename T::W;
  const int32_t* bias = (T::kSignedInput ? w.bias_s8 : w.bias_u8) + size_t(b) * kBlock;
  V acc[R][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const V bv = T::Load(bias + v * L);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][v] = bv;
  }
  const int q0 = w.block_begin[b];
  int q1 = w.block_begin[b + 1];
  const bool tail = q1 > q0 && w.quad_channel[q1 - 1] + 4 > g.in_c;
  if (tail) --q1;
  for (int k = q0; k < q1; ++k) {
    const int c = w.quad_channel[k];
    const int32_t* wk = w.quad_weights + size_t(k) * kBlock;
    W wv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[v] = T::Weights(wk + v * L);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      int32_t d;
      std::memcpy(&d, px[r] + c, 4);
      const typename T::X x = T::Input(d);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = T::Dot(acc[r][v], x, wv[v]);
    }
  }
  if (tail) {
    const int k = q1, c = w.quad_channel[k], n = g.in_c - c;
    const int32_t* wk = w.quad_weights + size_t(k) * kBlock;
    W wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = T::Weights(wk + v * L);
    for (int r = 0; r < R; ++r) {
      int32_t d = 0;  // the missing bytes meet zero weights
      std::memcpy(&d, px[r] + c, size_t(n));
      const typename T::X x = T::Input(d);
      for (int v = 0; v < NV; ++v) acc[r][v] = T::Dot(acc[r][v], x, wv[v]);
    }
  }
  const int width = std::min(kBlock, w.out_channels - b * kBlock);
  for (int r = 0; r < R; ++r) StoreBlock<T>(acc[r], w.requant, size_t(b) * kBlock, q, width, dst[r] + b * kBlock);
}

template <class T>
void PointwiseRange(const PointwiseInt8Params& p, const int8_t* input, int8_t* output, int64_t p0, int64_t p1) {
  constexpr int R = T::kPixels;
  const ConvGeometry& g = p.geometry;
  const PackedPointwiseInt8View& w = p.weights;
  const int64_t chunk = std::max<int64_t>(R, int64_t(kPointwiseInt8ChunkBytes / size_t(std::max(1, g.in_c))) / R * R);
  const int8_t* px[R];
  int8_t* dst[R];
  for (int64_t c0 = p0; c0 < p1; c0 += chunk) {
    const int64_t c1 = std::min(p1, c0 + chunk);
    for (int b = 0; b < w.blocks; ++b) {
      int64_t t = c0;
      for (; t + R <= c1; t += R) {
        for (int r = 0; r < R; ++r) {
          px[r] = PointwisePixel(g, input, t + r);
          dst[r] = output + (t + r) * g.out_c;
        }
        PointwiseTile<T, R>(g, p.quant, w, b, px, dst);
      }
      for (; t < c1; ++t) {
        px[0] = PointwisePixel(g, input, t);
        dst[0] = output + t * g.out_c;
        PointwiseTile<T, 1>(g, p.quant, w, b, px, dst);
      }
    }
  }
}

// ---- Depthwise.

// 16 channels' bytes at src widened to int32 lanes; `width` < kBlock reads
// only the block's real channels.
template <class T>
PL_INT8_BLOCK_INLINE void LoadBlock(const int8_t* src, int width, typename T::V* x) {
  constexpr int NV = kBlock / T::kLanes, L = T::kLanes;
  if (width == kBlock) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) x[v] = T::Widen(src + v * L);
    return;
  }
  alignas(64) int8_t tmp[kBlock] = {};
  std::memcpy(tmp, src, size_t(width));
  for (int v = 0; v < NV; ++v) x[v] = T::Widen(tmp + v * L);
}

template <class T>
void DepthwiseRows(const DepthwiseInt8Params& p, const int8_t* input, int8_t* output, int n, int oy0, int oy1) {
  constexpr int NV = kBlock / T::kLanes, L = T::kLanes, K = contract::kKernelSize;
  using V = typename T::V;
  const ConvGeometry& g = p.geometry;
  const Int8Quant& q = p.quant;
  const PackedDepthwiseInt8View& w = p.weights;
  const int C = g.in_c;
  const int8_t* in_n = input + size_t(n) * g.in_h * g.in_w * C;
  int8_t* out_n = output + size_t(n) * g.out_h * g.out_w * C;
  const V zp = T::Set1(q.zp_in);
  for (int oy = oy0; oy < oy1; ++oy) {
    const int iy0 = oy * g.stride_h - g.pad_top;
    const bool row_inside = iy0 >= 0 && iy0 + K - 1 < g.in_h;
    int8_t* out_row = out_n + size_t(oy) * g.out_w * C;
    for (int b = 0; b < w.blocks; ++b) {
      const int width = std::min(kBlock, C - b * kBlock), taps = w.block_tap_count[b];
      const uint8_t* tap = w.block_taps + size_t(b) * contract::kKernelTaps;
      V wt[contract::kKernelTaps][NV];
      for (int t = 0; t < taps; ++t) {
        for (int v = 0; v < NV; ++v) wt[t][v] = T::Load(w.weights + (size_t(b) * contract::kKernelTaps + t) * kBlock + v * L);
      }
      V bias[NV], bias_in[NV];
      for (int v = 0; v < NV; ++v) {
        bias[v] = T::Load(w.bias + size_t(b) * kBlock + v * L);
        bias_in[v] = T::Load(w.bias_interior + size_t(b) * kBlock + v * L);
      }
      // Interior pixels: each kept tap's input offset from the window corner.
      ptrdiff_t offset[contract::kKernelTaps];
      for (int t = 0; t < taps; ++t) offset[t] = (ptrdiff_t(tap[t] / K) * g.in_w + tap[t] % K) * C;
      // Blocks whose ties all round up (every block of a layer whose channel
      // count is a multiple of 8: docs/int8.md, "Numerics") requantise with
      // per-lane constants made once per row; the others lane by lane.
      [[maybe_unused]] bool lane_quant = false;
      [[maybe_unused]] typename T::Lane lane{};
      if constexpr (T::kLaneQuant) {
        lane_quant = T::TiesUp(w.requant, size_t(b) * kBlock);
        if (lane_quant) lane = T::MakeLane(w.requant, size_t(b) * kBlock);
      }
      for (int ox = 0; ox < g.out_w; ++ox) {
        const int ix0 = ox * g.stride_w - g.pad_left;
        const bool inside = row_inside && ix0 >= 0 && ix0 + K - 1 < g.in_w;
        V acc[NV], x[NV];
        if (inside && width == kBlock) {
          const int8_t* base = in_n + (size_t(iy0) * g.in_w + ix0) * C + b * kBlock;
#pragma GCC unroll 4
          for (int v = 0; v < NV; ++v) acc[v] = bias_in[v];
          for (int t = 0; t < taps; ++t) {
            const int8_t* src = base + offset[t];
#pragma GCC unroll 4
            for (int v = 0; v < NV; ++v) acc[v] = T::MulAdd(acc[v], T::Widen(src + v * L), wt[t][v]);
          }
        } else {
          for (int v = 0; v < NV; ++v) acc[v] = bias[v];
          for (int t = 0; t < taps; ++t) {
            const int iy = iy0 + tap[t] / K, ix = ix0 + tap[t] % K;
            if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) continue;
            LoadBlock<T>(in_n + (size_t(iy) * g.in_w + ix) * C + b * kBlock, width, x);
            for (int v = 0; v < NV; ++v) acc[v] = T::MulAdd(acc[v], T::Sub(x[v], zp), wt[t][v]);
          }
        }
        int8_t* dst = out_row + size_t(ox) * C + b * kBlock;
        if constexpr (T::kLaneQuant) {
          if (lane_quant) {
            T::StoreLane(acc[0], lane, q, width, dst);
            continue;
          }
        }
        StoreBlock<T>(acc, w.requant, size_t(b) * kBlock, q, width, dst);
      }
    }
  }
}

}  // namespace block_int8_impl
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_BLOCK_INT8_SIMD_IMPL_H_
