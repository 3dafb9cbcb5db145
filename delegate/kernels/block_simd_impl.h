// The vectorised channel-block kernels (pointwise and depthwise), written once
// over a vector traits type (vec_*.h) and instantiated per ISA in
// block_{avx2,avx512,neon}.cc. Include only from those files.
//
// Both work on NHWC directly, with one block of kBlock (16) output channels
// across the lanes (one AVX-512 vector, two AVX2, four NEON):
//  * pointwise: a register tile of R pixels x one block. For each input
//    channel the block keeps, one weight load and R broadcasts of that
//    channel's input feed R FMAs per vector. Pruned inputs are never read.
//    Pixels are walked in chunks whose input rows stay in L2 while every
//    block passes over them;
//  * depthwise: for one output row and one block, the taps the block keeps
//    (4 for a pattern) are the only loads and FMAs per output vector. Interior
//    pixels run without bounds checks, 4 at a time for independent chains.
#ifndef PATTERNLITE_DELEGATE_KERNELS_BLOCK_SIMD_IMPL_H_
#define PATTERNLITE_DELEGATE_KERNELS_BLOCK_SIMD_IMPL_H_

#include <algorithm>
#include <cstdint>

#include "delegate/contract_generated.h"
#include "delegate/kernels/block_kernels.h"

namespace patternlite {
namespace block_impl {

#define PL_BLOCK_INLINE inline __attribute__((always_inline))

// Input bytes a pointwise chunk of pixels may span: its rows are re-read by
// every block, from L2.
constexpr size_t kPointwiseChunkBytes = 192 * 1024;
// L1 bytes for one register tile's input rows plus the weights of the blocks
// that take turns on them. Measured: with a tile of 12 rows of 512 inputs
// (24 KiB) one block at a time is fastest; with rows of 24 inputs, all blocks.
constexpr size_t kPointwiseL1Bytes = 24 * 1024;

// Bias, the activation clamp and the store of one block's vectors; `width`
// < kBlock stores only the block's real channels.
template <class T>
PL_BLOCK_INLINE void StoreBlock(typename T::V* acc, float* dst, int width, typename T::V lo, typename T::V hi) {
  constexpr int NV = kBlock / T::kLanes;
  if (width == kBlock) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) T::Store(dst + v * T::kLanes, T::Min(T::Max(acc[v], lo), hi));
    return;
  }
  for (int v = 0; v < NV && v * T::kLanes < width; ++v) {
    const typename T::V y = T::Min(T::Max(acc[v], lo), hi);
    const int n = width - v * T::kLanes;
    if (n >= T::kLanes) {
      T::Store(dst + v * T::kLanes, y);
    } else {
      T::StoreN(dst + v * T::kLanes, y, n);
    }
  }
}

// R pixels (inputs px[r], outputs dst[r]) of one pointwise block.
template <class T, int R>
PL_BLOCK_INLINE void PointwiseTile(const float* const* px, float* const* dst, const int32_t* channel,
                                   const float* weights, int entries, const float* bias, int width,
                                   typename T::V lo, typename T::V hi) {
  constexpr int NV = kBlock / T::kLanes;
  typename T::V acc[R][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const typename T::V b = T::Load(bias + v * T::kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) acc[r][v] = b;
  }
  for (int k = 0; k < entries; ++k) {
    const int c = channel[k];
    typename T::V w[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) w[v] = T::Load(weights + size_t(k) * kBlock + v * T::kLanes);
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r) {
      const typename T::V x = T::Broadcast(px[r][c]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = T::Fma(x, w[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < R; ++r) StoreBlock<T>(acc[r], dst[r], width, lo, hi);
}

// One block on pixels [c0, c1): register tiles of R pixels, then single pixels.
template <class T>
PL_BLOCK_INLINE void PointwiseBlockPixels(const ConvGeometry& g, const PackedPointwiseView& w, int b,
                                          const float* input, float* output, int64_t c0, int64_t c1,
                                          typename T::V lo, typename T::V hi) {
  constexpr int R = T::kPointwisePixels;
  const int e0 = w.block_begin[size_t(b)], entries = w.block_begin[size_t(b) + 1] - e0;
  const int32_t* channel = w.entry_channel + e0;
  const float* weights = w.entry_weights + size_t(e0) * kBlock;
  const float* bias = w.bias + size_t(b) * kBlock;
  const int width = std::min(kBlock, w.out_channels - b * kBlock);
  const float* px[R];
  float* dst[R];
  int64_t p = c0;
  for (; p + R <= c1; p += R) {
    for (int r = 0; r < R; ++r) {
      px[r] = PointwisePixel(g, input, p + r);
      dst[r] = output + (p + r) * g.out_c + b * kBlock;
    }
    PointwiseTile<T, R>(px, dst, channel, weights, entries, bias, width, lo, hi);
  }
  for (; p < c1; ++p) {
    px[0] = PointwisePixel(g, input, p);
    dst[0] = output + p * g.out_c + b * kBlock;
    PointwiseTile<T, 1>(px, dst, channel, weights, entries, bias, width, lo, hi);
  }
}

template <class T>
void PointwiseRange(const ConvGeometry& g, const PackedPointwiseView& w, const float* input, float* output, int64_t p0,
                    int64_t p1) {
  constexpr int R = T::kPointwisePixels;
  const typename T::V lo = T::Broadcast(g.act_min), hi = T::Broadcast(g.act_max);
  const int64_t chunk =
      std::max<int64_t>(R, int64_t(kPointwiseChunkBytes / (sizeof(float) * size_t(g.in_c))) / R * R);
  // Few inputs per pixel: blocks take turns on each register tile, whose
  // input rows then stay in L1 (with the group's weights). Many: one block at
  // a time over the chunk, its weights in L1 and the rows re-read from L2.
  const size_t tile_bytes = size_t(R) * g.in_c * sizeof(float);
  const bool grouped = 2 * tile_bytes <= kPointwiseL1Bytes;
  for (int64_t c0 = p0; c0 < p1; c0 += chunk) {
    const int64_t c1 = std::min(p1, c0 + chunk);
    if (!grouped) {
      for (int b = 0; b < w.blocks; ++b) PointwiseBlockPixels<T>(g, w, b, input, output, c0, c1, lo, hi);
      continue;
    }
    for (int b0 = 0, b1 = 0; b0 < w.blocks; b0 = b1) {
      size_t bytes = tile_bytes;
      for (b1 = b0; b1 < w.blocks; ++b1) {
        bytes += size_t(w.block_begin[size_t(b1) + 1] - w.block_begin[size_t(b1)]) * kBlock * sizeof(float);
        if (b1 > b0 && bytes > kPointwiseL1Bytes) break;
      }
      for (int64_t t0 = c0; t0 < c1; t0 += R) {
        const int64_t t1 = std::min(c1, t0 + R);
        for (int b = b0; b < b1; ++b) PointwiseBlockPixels<T>(g, w, b, input, output, t0, t1, lo, hi);
      }
    }
  }
}

// ---- Depthwise.

// The taps of one block that one output row reads: their offsets from the
// pixel (iy0, ix0) = (oy*S - pad_top, ox*S - pad_left), in floats, and their
// weight vectors. Taps whose input row lies in the padding are left out.
template <class T>
struct RowTaps {
  static constexpr int NV = kBlock / T::kLanes;
  int count = 0;
  int kx[9];
  int64_t offset[9];
  typename T::V w[9][NV];
};

// One output pixel of one block: acc over the row's taps. `Checked` tests
// each tap's column against the image (border pixels).
template <class T, bool Full, bool Checked>
PL_BLOCK_INLINE void DepthwisePixel(const RowTaps<T>& taps, const float* in_n, int64_t base, int ix0, int in_w,
                                    int width,
                                    const float* bias, float* dst, typename T::V lo, typename T::V hi) {
  constexpr int NV = kBlock / T::kLanes, L = T::kLanes;
  typename T::V acc[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) acc[v] = T::Load(bias + v * L);
  for (int t = 0; t < taps.count; ++t) {
    if (Checked && (ix0 + taps.kx[t] < 0 || ix0 + taps.kx[t] >= in_w)) continue;
    // Offsets are added before forming the pointer: the pixel (iy0, ix0)
    // itself may lie in the padding, outside the tensor.
    const float* src = in_n + (base + taps.offset[t]);
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (Full || (v + 1) * L <= width) {
        acc[v] = T::Fma(T::Load(src + v * L), taps.w[t][v], acc[v]);
      } else if (v * L < width) {
        acc[v] = T::Fma(T::LoadN(src + v * L, width - v * L), taps.w[t][v], acc[v]);
      }
    }
  }
  StoreBlock<T>(acc, dst, Full ? kBlock : width, lo, hi);
}

// Four interior pixels at once: four independent FMA chains per tap.
template <class T>
PL_BLOCK_INLINE void DepthwiseQuad(const RowTaps<T>& taps, const float* in_n, int64_t base, int64_t step, const float* bias,
                                   float* dst, int64_t dst_step, typename T::V lo, typename T::V hi) {
  constexpr int NV = kBlock / T::kLanes, L = T::kLanes;
  typename T::V acc[4][NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) {
    const typename T::V b = T::Load(bias + v * L);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) acc[j][v] = b;
  }
  for (int t = 0; t < taps.count; ++t) {
    const float* src = in_n + (base + taps.offset[t]);
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[j][v] = T::Fma(T::Load(src + j * step + v * L), taps.w[t][v], acc[j][v]);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < 4; ++j) StoreBlock<T>(acc[j], dst + j * dst_step, kBlock, lo, hi);
}

// The output columns [*lo, *hi) whose three tap columns all lie inside the
// image: 0 <= ox*S - pad_left and ox*S - pad_left + 2 < in_w. Floor division
// for the upper bound, which may be negative.
inline void InteriorColumns(const ConvGeometry& g, int* lo, int* hi) {
  const int S = g.stride_w, last = g.in_w - 3 + g.pad_left;  // largest ox*S allowed
  *lo = std::min(g.out_w, (g.pad_left + S - 1) / S);
  *hi = std::max(*lo, std::min(g.out_w, last < 0 ? 0 : last / S + 1));
}

template <class T, bool Full>
void DepthwiseBlockRow(const ConvGeometry& g, const RowTaps<T>& taps, const float* in_n, int oy, float* out_row,
                       int b, int width, const float* bias, typename T::V lo, typename T::V hi) {
  const int C = g.in_c, S = g.stride_w;
  // Interior: every tap column inside the image, 0 <= ox*S - pad_left and ox*S - pad_left + 2 < in_w.
  int ox_lo, ox_hi;
  InteriorColumns(g, &ox_lo, &ox_hi);
  const int iy0 = oy * g.stride_h - g.pad_top;
  auto base_of = [&](int ox) { return (int64_t(iy0) * g.in_w + (ox * S - g.pad_left)) * C + b * kBlock; };
  float* dst0 = out_row + b * kBlock;
  for (int ox = 0; ox < ox_lo; ++ox) {
    DepthwisePixel<T, Full, true>(taps, in_n, base_of(ox), ox * S - g.pad_left, g.in_w, width, bias,
                                  dst0 + int64_t(ox) * C, lo, hi);
  }
  int ox = ox_lo;
  if (Full) {
    for (; ox + 4 <= ox_hi; ox += 4) {
      DepthwiseQuad<T>(taps, in_n, base_of(ox), int64_t(S) * C, bias, dst0 + int64_t(ox) * C, C, lo, hi);
    }
  }
  for (; ox < ox_hi; ++ox) {
    DepthwisePixel<T, Full, false>(taps, in_n, base_of(ox), 0, g.in_w, width, bias, dst0 + int64_t(ox) * C, lo, hi);
  }
  for (; ox < g.out_w; ++ox) {
    DepthwisePixel<T, Full, true>(taps, in_n, base_of(ox), ox * S - g.pad_left, g.in_w, width, bias,
                                  dst0 + int64_t(ox) * C, lo, hi);
  }
}

// An interior row (all three input rows inside the image) of one full block
// with exactly N taps: the taps' weights and offsets are compile-time arrays
// the compiler keeps in registers, so each output vector costs N loads and N
// FMAs, and nothing is set up beyond reading the block's N taps.
template <class T, int N>
void DepthwiseInteriorRow(const ConvGeometry& g, const PackedDepthwiseView& w, int b, const float* in_n, int oy,
                          float* out_row, typename T::V lo, typename T::V hi) {
  constexpr int NV = kBlock / T::kLanes, L = T::kLanes;
  const int C = g.in_c, S = g.stride_w;
  const uint8_t* tap = w.block_taps + size_t(b) * contract::kKernelTaps;
  const float* wt = w.weights + size_t(b) * contract::kKernelTaps * kBlock;
  typename T::V wv[N][NV], bias[NV];
  int64_t off[N];
  int kx[N];
#pragma GCC unroll 9
  for (int t = 0; t < N; ++t) {
    kx[t] = tap[t] % 3;
    off[t] = (int64_t(tap[t] / 3) * g.in_w + kx[t]) * C;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) wv[t][v] = T::Load(wt + t * kBlock + v * L);
  }
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) bias[v] = T::Load(w.bias + size_t(b) * kBlock + v * L);
  int ox_lo, ox_hi;
  InteriorColumns(g, &ox_lo, &ox_hi);
  const int64_t row0 = int64_t(oy * g.stride_h - g.pad_top) * g.in_w * C + b * kBlock;
  float* dst0 = out_row + b * kBlock;
  // Border pixels: each tap's column checked.
  auto border = [&](int ox) {
    const int ix0 = ox * S - g.pad_left;
    typename T::V a[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) a[v] = bias[v];
#pragma GCC unroll 9
    for (int t = 0; t < N; ++t) {
      if (ix0 + kx[t] < 0 || ix0 + kx[t] >= g.in_w) continue;
      const float* src = in_n + (row0 + int64_t(ix0) * C + off[t]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) a[v] = T::Fma(T::Load(src + v * L), wv[t][v], a[v]);
    }
    StoreBlock<T>(a, dst0 + int64_t(ox) * C, kBlock, lo, hi);
  };
  for (int ox = 0; ox < ox_lo; ++ox) border(ox);
  const int64_t step = int64_t(S) * C;
  int ox = ox_lo;
  for (; ox + 2 <= ox_hi; ox += 2) {
    const float* src = in_n + (row0 + int64_t(ox * S - g.pad_left) * C);
    typename T::V a0[NV], a1[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) a0[v] = a1[v] = bias[v];
#pragma GCC unroll 9
    for (int t = 0; t < N; ++t) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        a0[v] = T::Fma(T::Load(src + off[t] + v * L), wv[t][v], a0[v]);
        a1[v] = T::Fma(T::Load(src + step + off[t] + v * L), wv[t][v], a1[v]);
      }
    }
    StoreBlock<T>(a0, dst0 + int64_t(ox) * C, kBlock, lo, hi);
    StoreBlock<T>(a1, dst0 + int64_t(ox + 1) * C, kBlock, lo, hi);
  }
  for (; ox < ox_hi; ++ox) {
    const float* src = in_n + (row0 + int64_t(ox * S - g.pad_left) * C);
    typename T::V a0[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) a0[v] = bias[v];
#pragma GCC unroll 9
    for (int t = 0; t < N; ++t) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) a0[v] = T::Fma(T::Load(src + off[t] + v * L), wv[t][v], a0[v]);
    }
    StoreBlock<T>(a0, dst0 + int64_t(ox) * C, kBlock, lo, hi);
  }
  for (; ox < g.out_w; ++ox) border(ox);
}

template <class T>
void DepthwiseRows(const ConvGeometry& g, const PackedDepthwiseView& w, const float* input, float* output, int n,
                   int oy0, int oy1) {
  constexpr int NV = kBlock / T::kLanes, L = T::kLanes;
  const int C = g.in_c;
  const float* in_n = input + int64_t(n) * g.in_h * g.in_w * C;
  float* out_n = output + int64_t(n) * g.out_h * g.out_w * C;
  const typename T::V lo = T::Broadcast(g.act_min), hi = T::Broadcast(g.act_max);
  // Rows outermost, blocks inside: the blocks of one pixel are adjacent
  // cache lines, so a row's input and output stream through memory in order
  // (measured: blocks outermost is up to 2x slower on 112x112x96).
  RowTaps<T> taps{};
  for (int oy = oy0; oy < oy1; ++oy) {
    const int iy0 = oy * g.stride_h - g.pad_top;
    const bool interior_row = iy0 >= 0 && iy0 + 2 < g.in_h;
    float* out_row = out_n + int64_t(oy) * g.out_w * C;
    for (int b = 0; b < w.blocks; ++b) {
      const int width = std::min(kBlock, C - b * kBlock);
      if (width == kBlock && interior_row) {
        switch (w.block_tap_count[size_t(b)]) {
          case 4: DepthwiseInteriorRow<T, 4>(g, w, b, in_n, oy, out_row, lo, hi); continue;
          case 3: DepthwiseInteriorRow<T, 3>(g, w, b, in_n, oy, out_row, lo, hi); continue;
          case 5: DepthwiseInteriorRow<T, 5>(g, w, b, in_n, oy, out_row, lo, hi); continue;
          case 9: DepthwiseInteriorRow<T, 9>(g, w, b, in_n, oy, out_row, lo, hi); continue;
          default: break;
        }
      }
      taps.count = 0;
      for (int t = 0; t < w.block_tap_count[size_t(b)]; ++t) {
        const int tap = w.block_taps[size_t(b) * contract::kKernelTaps + t];
        const int ky = tap / 3, kx = tap % 3;
        if (iy0 + ky < 0 || iy0 + ky >= g.in_h) continue;
        const int i = taps.count++;
        taps.kx[i] = kx;
        taps.offset[i] = (int64_t(ky) * g.in_w + kx) * C;
        const float* wt = w.weights + (size_t(b) * contract::kKernelTaps + t) * kBlock;
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) taps.w[i][v] = T::Load(wt + v * L);
      }
      const float* bias = w.bias + size_t(b) * kBlock;
      // Border rows, partial blocks and other tap counts.
      if (width == kBlock) {
        DepthwiseBlockRow<T, true>(g, taps, in_n, oy, out_row, b, width, bias, lo, hi);
      } else {
        DepthwiseBlockRow<T, false>(g, taps, in_n, oy, out_row, b, width, bias, lo, hi);
      }
    }
  }
}

}  // namespace block_impl
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_BLOCK_SIMD_IMPL_H_
