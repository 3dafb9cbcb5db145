// The vectorised pattern-conv kernel, written once over a vector "traits"
// type and instantiated per ISA (conv_avx2.cc, conv_avx512.cc, conv_neon.cc).
// Include it only from those files: it must be compiled with the ISA's flags.
//
// Algorithm (why it is shaped like this):
//  1. The NHWC input rows a block needs are copied into channel-planar planes,
//     split by stride phase (row parity x column parity for stride 2) and
//     zero-padded. In that layout the input a tap (ky, kx) needs for output
//     pixel p is at plane[phase(ky, kx)][p + (ky/sh)*pitch + kx/sw]: one
//     constant offset per tap over the flattened block. Every tap therefore
//     becomes contiguous vector loads, for stride 1 and 2 alike.
//  2. Output pixels are vectorised along that flattened row-major block (row
//     pitch = out_w + 2/sw, so a few padding columns are computed and then
//     dropped). Small images still fill whole vectors because rows run on
//     into each other.
//  3. For each chunk of NV vectors and each filter, the kernel walks only the
//     filter's kept kernels, grouped by pattern: 4 broadcasts and 4*NV FMAs per
//     kernel. Pruned kernels and pruned taps cost nothing.
//  4. The planar result gets bias and the fused activation and is scattered
//     back to NHWC.
#ifndef PATTERNLITE_DELEGATE_KERNELS_CONV_SIMD_IMPL_H_
#define PATTERNLITE_DELEGATE_KERNELS_CONV_SIMD_IMPL_H_

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "delegate/kernels/conv_kernel.h"

namespace patternlite {
namespace simd_impl {

struct BlockLayout {
  int pitch = 0;        // plane row pitch == output row pitch in the flattened block
  int rows = 0;         // output rows computed (the 2D path rounds up to kTileRows)
  int plane_rows = 0;   // rows per phase plane
  int pixels = 0;       // flattened outputs computed (rows * pitch)
  int pixels_padded = 0;  // rounded up to whole vectors
  size_t plane = 0;     // floats per phase plane (with read slack)
  size_t channel_stride = 0;  // floats per channel (all phases)
  int phases = 1;
  int tap_offset[9] = {};  // offset of tap 3*ky+kx from the channel base
};

// Output rows per register tile of the 2D path: each input row vector loaded
// serves up to this many output rows (a tap at row ky of output row j reads
// the same input row as tap ky-1 of output row j+1).
constexpr int kTileRows = 4;

inline BlockLayout MakeLayout(const ConvGeometry& g, int rows, int lanes, bool tiled) {
  BlockLayout b;
  const int sh = g.stride_h, sw = g.stride_w;
  b.pitch = g.out_w + 2 / sw;
  b.rows = rows;
  if (tiled) {  // whole vectors per row and whole tiles per block
    b.pitch = (b.pitch + lanes - 1) / lanes * lanes;
    b.rows = (rows + kTileRows - 1) / kTileRows * kTileRows;
  }
  b.plane_rows = b.rows + 2 / sh;
  b.pixels = b.rows * b.pitch;
  b.pixels_padded = (b.pixels + lanes - 1) / lanes * lanes;
  const size_t reach = size_t(b.pixels_padded) + size_t(2 / sh) * b.pitch + 2 / sw + lanes;
  const size_t need = std::max(size_t(b.plane_rows) * b.pitch, reach);
  b.plane = (need + 15) & ~size_t{15};
  b.phases = sh * sw;
  b.channel_stride = b.plane * b.phases;
  for (int t = 0; t < 9; ++t) {
    const int ky = t / 3, kx = t % 3;
    const int phase = (ky % sh) * sw + (kx % sw);
    b.tap_offset[t] = int(phase * b.plane) + (ky / sh) * b.pitch + kx / sw;
  }
  return b;
}

// Whether the 2D register-tiled path suits this conv: stride 1, and rows wide
// enough that rounding them to whole vectors wastes little.
inline bool UseTiledPath(const ConvGeometry& g, int lanes) {
  if (g.stride_h != g.stride_w || g.stride_h > 2) return false;
  const int padded = (g.out_w + lanes - 1) / lanes * lanes;
  return 8 * (padded - g.out_w) <= 2 * padded;  // <= 25% padding
}

// Step 1: NHWC rows -> zero-padded, phase-split, channel-planar planes.
// Tiles of kTile pixels x kTile channels are transposed in registers; the
// ragged edges (pixels or channels short of a tile) go element by element.
template <class T>
inline void FillPlanes(const ConvGeometry& g, const BlockLayout& b, const float* in_n, int oy0, float* planes) {
  constexpr int kTile = T::kTile;
  static const float kZeros[kTile] = {};
  const int sh = g.stride_h, sw = g.stride_w, C = g.in_c;
  const int c_tiled = C / kTile * kTile;
  for (int c = 0; c < C; ++c) {
    float* base = planes + size_t(c) * b.channel_stride;
    for (int ph = 0; ph < b.phases; ++ph) {
      float* pl = base + size_t(ph) * b.plane;
      std::memset(pl + size_t(b.plane_rows) * b.pitch, 0,
                  (b.plane - size_t(b.plane_rows) * b.pitch) * sizeof(float));
    }
  }
  const float* src[kTile];
  float* dst[kTile];
  for (int py = 0; py < sh; ++py) {
    for (int r = 0; r < b.plane_rows; ++r) {
      const int iy = (oy0 + r) * sh + py - g.pad_top;
      const bool row_in = iy >= 0 && iy < g.in_h;
      for (int px = 0; px < sw; ++px) {
        const size_t ph_off = size_t(py * sw + px) * b.plane + size_t(r) * b.pitch;
        auto pixel = [&](int x) -> const float* {
          const int ix = x * sw + px - g.pad_left;
          return row_in && ix >= 0 && ix < g.in_w ? in_n + (size_t(iy) * g.in_w + ix) * C : nullptr;
        };
        int x = 0;
        for (; x + kTile <= b.pitch; x += kTile) {
          const float* px_ptr[kTile];
          for (int i = 0; i < kTile; ++i) px_ptr[i] = pixel(x + i);
          for (int c = 0; c < c_tiled; c += kTile) {
            for (int i = 0; i < kTile; ++i) src[i] = px_ptr[i] != nullptr ? px_ptr[i] + c : kZeros;
            for (int j = 0; j < kTile; ++j) dst[j] = planes + size_t(c + j) * b.channel_stride + ph_off + x;
            T::TransposeTile(src, dst);
          }
          for (int i = 0; i < kTile; ++i) {
            for (int c = c_tiled; c < C; ++c) {
              planes[size_t(c) * b.channel_stride + ph_off + x + i] = px_ptr[i] != nullptr ? px_ptr[i][c] : 0.0f;
            }
          }
        }
        for (; x < b.pitch; ++x) {
          const float* p = pixel(x);
          float* d = planes + ph_off + x;
          for (int c = 0; c < C; ++c) d[size_t(c) * b.channel_stride] = p != nullptr ? p[c] : 0.0f;
        }
      }
    }
  }
}

// Step 3 for one chunk of NV vectors, one filter and one channel block. The
// first block starts from zero; later blocks add to the partial sums.
template <class T, int NV>
inline void FilterChunk(const PackedConv& w, const BlockLayout& b, int g_begin, int g_end, bool first,
                        const float* planes, int p0, float* out_plane) {
  typename T::V acc[NV];
  float* out = out_plane + p0;
  for (int v = 0; v < NV; ++v) acc[v] = first ? T::Zero() : T::Load(out + v * T::kLanes);
  const float* weights = w.kernel_weights.data();
  const int32_t* chans = w.kernel_channel.data();
  for (int gi = g_begin; gi < g_end; ++gi) {
    const PackedGroup& grp = w.groups[gi];
    const int o0 = b.tap_offset[grp.taps[0]], o1 = b.tap_offset[grp.taps[1]];
    const int o2 = b.tap_offset[grp.taps[2]], o3 = b.tap_offset[grp.taps[3]];
    for (int k = grp.begin; k < grp.end; ++k) {
      const float* src = planes + size_t(chans[k]) * b.channel_stride + p0;
      const float* wk = weights + size_t(k) * 4;
      const typename T::V w0 = T::Broadcast(wk[0]), w1 = T::Broadcast(wk[1]);
      const typename T::V w2 = T::Broadcast(wk[2]), w3 = T::Broadcast(wk[3]);
      for (int v = 0; v < NV; ++v) {
        const float* s = src + v * T::kLanes;
        acc[v] = T::Fma(w0, T::Load(s + o0), acc[v]);
        acc[v] = T::Fma(w1, T::Load(s + o1), acc[v]);
        acc[v] = T::Fma(w2, T::Load(s + o2), acc[v]);
        acc[v] = T::Fma(w3, T::Load(s + o3), acc[v]);
      }
    }
  }
  for (int v = 0; v < NV; ++v) T::Store(out + v * T::kLanes, acc[v]);
}

// Runs `body(g_begin, g_end, first, out_plane)` for every filter, channel
// block by channel block: the input window of one block (kChannelBlock
// channels x a few rows) stays in L1 while all filters sweep over it. The
// first block starts each filter's sums; a later block with no kernels for a
// filter has nothing to add and is skipped.
template <class Body>
inline void ForEachFilterBlock(const PackedConv& w, const BlockLayout& b, float* outputs, Body&& body) {
  const int nb = w.channel_blocks;
  const int32_t* fg = w.filter_groups.data();
  for (int blk = 0; blk < nb; ++blk) {
    for (int f = 0; f < w.out_channels; ++f) {
      const int g_begin = fg[f * nb + blk], g_end = fg[f * nb + blk + 1];
      if (blk > 0 && g_begin == g_end) continue;
      body(g_begin, g_end, blk == 0, outputs + size_t(w.filter_order[f]) * b.pixels_padded);
    }
  }
}

template <class T, int NV>
inline void AllFiltersChunk(const PackedConv& w, const BlockLayout& b, const float* planes, int p0,
                            float* outputs) {
  ForEachFilterBlock(w, b, outputs, [&](int g_begin, int g_end, bool first, float* out_plane) {
    FilterChunk<T, NV>(w, b, g_begin, g_end, first, planes, p0, out_plane);
  });
}

// ---- 2D path: aligned column variants and a kTileRows x NV register tile.
//
// The input rows a block needs are stored once per horizontal tap kx, already
// shifted: variant[c][r][kx][x] = input(row r, column x*sw + kx - pad_left).
// Every tap (ky, kx) of output row j is then the *aligned* row
// ((j*sh + ky)*3 + kx)*pitch: no load of the inner loop splits a cache line,
// and the load/FMA ports, not line splits, bound the kernel.

// Input rows (per channel) a block of `rows` output rows reads.
inline int VariantRows(int rows, int sh) { return (rows - 1) * sh + 3; }

template <class T>
inline void FillVariants(const ConvGeometry& g, int pitch, int width, int in_rows, size_t channel_stride,
                         const float* in_n, int oy0, float* planes) {
  const size_t xt_stride = size_t(in_rows) * 3 * width;
  constexpr int kTile = T::kTile;
  static const float kZeros[kTile] = {};
  const int sw = g.stride_w, C = g.in_c;
  const int c_tiled = C / kTile * kTile;
  const float* src[kTile];
  float* dst[kTile];
  for (int r = 0; r < in_rows; ++r) {
    const int iy = oy0 * g.stride_h + r - g.pad_top;
    const bool row_in = iy >= 0 && iy < g.in_h;
    for (int kx = 0; kx < 3; ++kx) {
      const size_t row_off = size_t(r * 3 + kx) * width;
      auto pixel = [&](int x) -> const float* {
        const int ix = x * sw + kx - g.pad_left;
        return row_in && ix >= 0 && ix < g.in_w ? in_n + (size_t(iy) * g.in_w + ix) * C : nullptr;
      };
      for (int x = 0; x < pitch; x += kTile) {  // pitch and width are multiples of kTile
        const size_t x_off = size_t(x / width) * xt_stride + x % width;
        const float* px_ptr[kTile];
        for (int i = 0; i < kTile; ++i) px_ptr[i] = pixel(x + i);
        for (int c = 0; c < c_tiled; c += kTile) {
          for (int i = 0; i < kTile; ++i) src[i] = px_ptr[i] != nullptr ? px_ptr[i] + c : kZeros;
          for (int j = 0; j < kTile; ++j) dst[j] = planes + size_t(c + j) * channel_stride + row_off + x_off;
          T::TransposeTile(src, dst);
        }
        for (int i = 0; i < kTile; ++i) {
          for (int c = c_tiled; c < C; ++c) {
            planes[size_t(c) * channel_stride + row_off + x_off + i] = px_ptr[i] != nullptr ? px_ptr[i][c] : 0.0f;
          }
        }
      }
    }
  }
}

#define PL_ALWAYS_INLINE inline __attribute__((always_inline))

// All taps of pattern kMask for one kernel on one tile. Loads are written as
// compile-time multiples of the pitch, so the compiler merges the loads that
// two taps of one column share across tile rows.
template <class T, int kMask, int S, int NV>
PL_ALWAYS_INLINE void PatternTile(const float* src, const float* wk,
                                  typename T::V (&acc)[kTileRows][NV]) {
  int n = 0;
#pragma GCC unroll 9
  for (int t = 0; t < 9; ++t) {
    if (!((kMask >> t) & 1)) continue;
    const typename T::V wv = T::Broadcast(wk[n++]);
    const int ky = t / 3, kx = t % 3;
#pragma GCC unroll 4
    for (int j = 0; j < kTileRows; ++j) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        acc[j][v] = T::Fma(wv, T::Load(src + ((j * S + ky) * 3 + kx) * NV * T::kLanes + v * T::kLanes), acc[j][v]);
      }
    }
  }
}

// Any mask at run time: used only if a mask is missing from the table.
template <class T, int S, int NV>
inline void GenericTile(const float* src, const float* wk, const uint8_t* taps,
                        typename T::V (&acc)[kTileRows][NV]) {
  for (int n = 0; n < 4; ++n) {
    const typename T::V wv = T::Broadcast(wk[n]);
    const int ky = taps[n] / 3, kx = taps[n] % 3;
    for (int j = 0; j < kTileRows; ++j) {
      for (int v = 0; v < NV; ++v) {
        acc[j][v] = T::Fma(wv, T::Load(src + ((j * S + ky) * 3 + kx) * NV * T::kLanes + v * T::kLanes), acc[j][v]);
      }
    }
  }
}

template <class T, int S, int NV>
inline void FilterTile(const PackedConv& w, size_t out_pitch, size_t channel_stride, int g_begin,
                       int g_end, bool first, const float* src_tile, float* out) {
  typename T::V acc[kTileRows][NV];
  for (int j = 0; j < kTileRows; ++j) {
    for (int v = 0; v < NV; ++v) acc[j][v] = first ? T::Zero() : T::Load(out + j * out_pitch + v * T::kLanes);
  }
  const float* weights = w.kernel_weights.data();
  const int32_t* chans = w.kernel_channel.data();
  for (int gi = g_begin; gi < g_end; ++gi) {
    const PackedGroup& grp = w.groups[gi];
    switch (grp.mask) {
#define PL_MASK(M)                                                                                    \
  case M:                                                                                             \
    for (int k = grp.begin; k < grp.end; ++k) {                                                       \
      PatternTile<T, M, S, NV>(src_tile + size_t(chans[k]) * channel_stride, weights + size_t(k) * 4, acc); \
    }                                                                                                 \
    break;
#include "delegate/kernels/pattern_masks.inc"
#undef PL_MASK
      default:
        for (int k = grp.begin; k < grp.end; ++k) {
          GenericTile<T, S, NV>(src_tile + size_t(chans[k]) * channel_stride, weights + size_t(k) * 4, grp.taps, acc);
        }
    }
  }
  for (int j = 0; j < kTileRows; ++j) {
    for (int v = 0; v < NV; ++v) T::Store(out + j * out_pitch + v * T::kLanes, acc[j][v]);
  }
}

// Output rows [oy0, oy1) through the aligned-variant 2D path. The planar
// result (pitch b.pitch, b.pixels_padded per channel) goes to `outs`.
template <class T, int S, int NV>
inline void TiledRows(const PackedConv& w, const BlockLayout& b, const float* planes, float* outs) {
  constexpr int W = NV * T::kLanes;
  const size_t pitch = size_t(b.pitch);
  const size_t xt_stride = b.channel_stride / (b.pitch / W);
  for (int r = 0; r < b.rows; r += kTileRows) {
    for (int x = 0; x < b.pitch; x += W) {
      const float* src = planes + size_t(x / W) * xt_stride + size_t(r * S) * 3 * W;
      ForEachFilterBlock(w, b, outs, [&](int g_begin, int g_end, bool first, float* out_plane) {
        FilterTile<T, S, NV>(w, pitch, b.channel_stride, g_begin, g_end, first, src, out_plane + size_t(r) * pitch + x);
      });
    }
  }
}

// ---- Input-stationary path (channel-major): for one tile of R output rows x
// NV vectors and one block of filters, each input channel's whole 3x3
// neighbourhood of the tile ((R-1)*S+3 rows x 3 column variants x NV vectors)
// is loaded into registers once; every kept kernel of that channel then costs
// only its 4 broadcasts and 4*R*NV register FMAs, plus one load and one store
// per accumulator of its filter's tile in an L1-resident buffer. One input
// load thus serves every filter that reads the channel ("load redundancy
// elimination" across filters), which is what lets the FMA units, not the
// load ports, set the pace.

template <class T, int S, int R, int NV>
struct InputTile {
  static constexpr int kRows = (R - 1) * S + 3;
  typename T::V v[kRows][3][NV];
};

template <class T, int kMask, int S, int R, int NV>
PL_ALWAYS_INLINE void StationaryKernel(const InputTile<T, S, R, NV>& in, const float* wk, float* acc) {
  constexpr int W = NV * T::kLanes;
  typename T::V a[R][NV];
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) a[j][v] = T::Load(acc + j * W + v * T::kLanes);
  }
  int n = 0;
#pragma GCC unroll 9
  for (int t = 0; t < 9; ++t) {
    if (!((kMask >> t) & 1)) continue;
    const typename T::V wv = T::Broadcast(wk[n++]);
    const int ky = t / 3, kx = t % 3;
#pragma GCC unroll 8
    for (int j = 0; j < R; ++j) {
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) a[j][v] = T::Fma(wv, in.v[j * S + ky][kx][v], a[j][v]);
    }
  }
#pragma GCC unroll 8
  for (int j = 0; j < R; ++j) {
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) T::Store(acc + j * W + v * T::kLanes, a[j][v]);
  }
}

// Fallback for a mask outside the table: taps read back from memory.
template <class T, int S, int R, int NV>
inline void StationaryGeneric(const float* src, const uint8_t* taps, const float* wk, float* acc) {
  constexpr int W = NV * T::kLanes;
  for (int j = 0; j < R; ++j) {
    for (int v = 0; v < NV; ++v) {
      typename T::V a = T::Load(acc + j * W + v * T::kLanes);
      for (int n = 0; n < 4; ++n) {
        const int ky = taps[n] / 3, kx = taps[n] % 3;
        a = T::Fma(T::Broadcast(wk[n]), T::Load(src + ((j * S + ky) * 3 + kx) * W + v * T::kLanes), a);
      }
      T::Store(acc + j * W + v * T::kLanes, a);
    }
  }
}

// One tile, one filter block: acc[f][R][W] over every input channel.
template <class T, int S, int R, int NV>
inline void StationaryTile(const ChannelMajorPack& cm, int block, int in_c, const float* src_tile, size_t cs,
                           float* acc, int filters) {
  constexpr int W = NV * T::kLanes;
  constexpr int kRows = InputTile<T, S, R, NV>::kRows;
  std::memset(acc, 0, sizeof(float) * size_t(filters) * R * W);
  const int32_t* gidx = cm.group_index.data() + size_t(block) * in_c;
  const PackedGroup* groups = cm.groups.data();
  const int32_t* kf = cm.kernel_filter.data();
  const float* kw = cm.kernel_weights.data();
  for (int c = 0; c < in_c; ++c) {
    const int g_begin = gidx[c], g_end = gidx[c + 1];
    if (g_begin == g_end) continue;
    const float* src = src_tile + size_t(c) * cs;
    InputTile<T, S, R, NV> in;
#pragma GCC unroll 12
    for (int r = 0; r < kRows; ++r) {
#pragma GCC unroll 3
      for (int kx = 0; kx < 3; ++kx) {
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) in.v[r][kx][v] = T::Load(src + (r * 3 + kx) * W + v * T::kLanes);
      }
    }
    for (int gi = g_begin; gi < g_end; ++gi) {
      const PackedGroup& grp = groups[gi];
      switch (grp.mask) {
#define PL_MASK(M)                                                                                 \
  case M:                                                                                          \
    for (int k = grp.begin; k < grp.end; ++k) {                                                    \
      StationaryKernel<T, M, S, R, NV>(in, kw + size_t(k) * 4, acc + size_t(kf[k]) * (R * W));     \
    }                                                                                              \
    break;
#include "delegate/kernels/pattern_masks.inc"
#undef PL_MASK
        default:
          for (int k = grp.begin; k < grp.end; ++k) {
            StationaryGeneric<T, S, R, NV>(src, grp.taps, kw + size_t(k) * 4, acc + size_t(kf[k]) * (R * W));
          }
      }
    }
  }
}

// Bias, activation and the planar -> NHWC transpose of one finished tile:
// acc[f][j][x] for filters [o0, o0+nf), rows [oy, oy+rows), columns [ox, ox+cols).
template <class T, int R, int W>
inline void WriteTile(const ConvGeometry& g, const float* bias, float* acc, int o0, int nf, int oy, int rows,
                      int ox, int cols, float* out_n) {
  constexpr int kTile = T::kTile;
  const typename T::V lo = T::Broadcast(g.act_min), hi = T::Broadcast(g.act_max);
  for (int f = 0; f < nf; ++f) {
    const typename T::V bv = T::Broadcast(bias[o0 + f]);
    float* a = acc + size_t(f) * R * W;
    for (int i = 0; i < R * W; i += T::kLanes) T::Store(a + i, T::Min(T::Max(T::Add(T::Load(a + i), bv), lo), hi));
  }
  const int O = g.out_c;
  const int f_tiled = nf / kTile * kTile, c_tiled = cols / kTile * kTile;
  const float* src[kTile];
  float* dst[kTile];
  for (int j = 0; j < rows; ++j) {
    float* out_row = out_n + (size_t(oy + j) * g.out_w + ox) * O + o0;
    const float* acc_row = acc + size_t(j) * W;
    for (int x = 0; x < c_tiled; x += kTile) {
      for (int f = 0; f < f_tiled; f += kTile) {
        for (int i = 0; i < kTile; ++i) src[i] = acc_row + size_t(f + i) * R * W + x;
        for (int i = 0; i < kTile; ++i) dst[i] = out_row + size_t(x + i) * O + f;
        T::TransposeTile(src, dst);
      }
      for (int i = 0; i < kTile; ++i) {
        for (int f = f_tiled; f < nf; ++f) out_row[size_t(x + i) * O + f] = acc_row[size_t(f) * R * W + x + i];
      }
    }
    for (int x = c_tiled; x < cols; ++x) {
      for (int f = 0; f < nf; ++f) out_row[size_t(x) * O + f] = acc_row[size_t(f) * R * W + x];
    }
  }
}

// Output rows [oy0, oy1) of one image through the input-stationary path,
// written straight to NHWC.
template <class T, int S, int R, int NV>
inline void StationaryRows(const ConvGeometry& g, const PackedConv& w, const BlockLayout& b, const float* planes,
                           int oy0, int oy1, float* out_n, Workspace* ws) {
  constexpr int W = NV * T::kLanes;
  const ChannelMajorPack& cm = w.channel_major;
  const size_t xt_stride = b.channel_stride / (b.pitch / W);
  ws->accumulators.resize(size_t(cm.filter_block) * R * W);
  float* acc = ws->accumulators.data();
  for (int r = 0; r < b.rows; r += R) {
    const int rows = std::min(R, oy1 - oy0 - r);
    if (rows <= 0) break;
    for (int x = 0; x < b.pitch; x += W) {
      const int cols = std::min(W, g.out_w - x);
      const float* src = planes + size_t(x / W) * xt_stride + size_t(r * S) * 3 * W;
      for (int blk = 0; blk < cm.blocks; ++blk) {
        const int f0 = blk * cm.filter_block;
        const int nf = std::min(w.out_channels - f0, cm.filter_block);
        StationaryTile<T, S, R, NV>(cm, blk, w.in_channels, src, b.channel_stride, acc, nf);
        WriteTile<T, R, W>(g, w.bias.data(), acc, f0, nf, oy0 + r, rows, x, cols, out_n);
      }
    }
  }
}

template <class T>
void ConvRows(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n, int oy0,
              int oy1, Workspace* ws) {
  constexpr int kMaxVectors = 4;  // 4 accumulators x 1 row: enough in flight to hide FMA latency
  const int L = T::kLanes;
  const bool tiled = UseTiledPath(g, L);
  const float* in_n = input + size_t(n) * g.in_h * g.in_w * g.in_c;
  BlockLayout b;
  float* outs = nullptr;
  if (tiled) {
    static const bool stationary = std::getenv("PL_STATIONARY") == nullptr || std::getenv("PL_STATIONARY")[0] != '0';
    const int tile_rows = !stationary ? kTileRows : g.stride_h == 1 ? T::kStationaryRows : T::kStationaryRows2;
    b.pitch = (g.out_w + L - 1) / L * L;
    b.rows = (oy1 - oy0 + tile_rows - 1) / tile_rows * tile_rows;
    b.pixels = b.rows * b.pitch;
    b.pixels_padded = b.pixels;
    const int in_rows = VariantRows(b.rows, g.stride_h);
    const int nv = stationary ? 1 : b.pitch % (2 * L) == 0 ? 2 : 1;  // x-tile width in vectors
    b.channel_stride = size_t(in_rows) * 3 * b.pitch;
    ws->input_planes.resize(b.channel_stride * g.in_c);
    if (!stationary) ws->output_planes.resize(size_t(b.pixels_padded) * g.out_c);
    outs = ws->output_planes.data();
    const float* planes = ws->input_planes.data();
    FillVariants<T>(g, b.pitch, nv * L, in_rows, b.channel_stride, in_n, oy0, ws->input_planes.data());
    if (stationary) {
      float* out_n = output + size_t(n) * g.out_h * g.out_w * g.out_c;
      if (g.stride_h == 1) {
        StationaryRows<T, 1, T::kStationaryRows, 1>(g, w, b, planes, oy0, oy1, out_n, ws);
      } else {
        StationaryRows<T, 2, T::kStationaryRows2, 1>(g, w, b, planes, oy0, oy1, out_n, ws);
      }
      return;
    } else if (g.stride_h == 1) {
      nv == 2 ? TiledRows<T, 1, 2>(w, b, planes, outs) : TiledRows<T, 1, 1>(w, b, planes, outs);
    } else {
      nv == 2 ? TiledRows<T, 2, 2>(w, b, planes, outs) : TiledRows<T, 2, 1>(w, b, planes, outs);
    }
  } else {
    b = MakeLayout(g, oy1 - oy0, L, false);
    ws->input_planes.resize(b.channel_stride * g.in_c);
    ws->output_planes.resize(size_t(b.pixels_padded) * g.out_c);
    float* planes = ws->input_planes.data();
    outs = ws->output_planes.data();
    FillPlanes<T>(g, b, in_n, oy0, planes);
    int p0 = 0;
    for (; p0 + kMaxVectors * L <= b.pixels_padded; p0 += kMaxVectors * L) {
      AllFiltersChunk<T, kMaxVectors>(w, b, planes, p0, outs);
    }
    switch ((b.pixels_padded - p0) / L) {
      case 3: AllFiltersChunk<T, 3>(w, b, planes, p0, outs); break;
      case 2: AllFiltersChunk<T, 2>(w, b, planes, p0, outs); break;
      case 1: AllFiltersChunk<T, 1>(w, b, planes, p0, outs); break;
      default: break;
    }
  }

  // Step 4a: bias and activation on the planar result (contiguous: the
  // compiler vectorises it). Padding columns get clamped too; they are dropped.
  const int O = g.out_c;
  for (int o = 0; o < O; ++o) {
    float* plane = outs + size_t(o) * b.pixels_padded;
    const float bias = w.bias[o];
    for (int p = 0; p < b.pixels; ++p) plane[p] = std::min(std::max(plane[p] + bias, g.act_min), g.act_max);
  }
  // Step 4b: planar -> NHWC, kTile x kTile register transposes, ragged edges
  // element by element.
  constexpr int kTile = T::kTile;
  float* out_n = output + size_t(n) * g.out_h * g.out_w * O;
  const int o_tiled = O / kTile * kTile;
  const float* src[kTile];
  float* dst[kTile];
  for (int r = 0; r < oy1 - oy0; ++r) {
    float* out_row = out_n + size_t(oy0 + r) * g.out_w * O;
    const float* plane_row = outs + size_t(r) * b.pitch;
    int ox = 0;
    for (; ox + kTile <= g.out_w; ox += kTile) {
      for (int o = 0; o < o_tiled; o += kTile) {
        for (int i = 0; i < kTile; ++i) src[i] = plane_row + size_t(o + i) * b.pixels_padded + ox;
        for (int j = 0; j < kTile; ++j) dst[j] = out_row + size_t(ox + j) * O + o;
        T::TransposeTile(src, dst);
      }
      for (int j = 0; j < kTile; ++j) {
        for (int o = o_tiled; o < O; ++o) out_row[size_t(ox + j) * O + o] = plane_row[size_t(o) * b.pixels_padded + ox + j];
      }
    }
    for (; ox < g.out_w; ++ox) {
      for (int o = 0; o < O; ++o) out_row[size_t(ox) * O + o] = plane_row[size_t(o) * b.pixels_padded + ox];
    }
  }
}

}  // namespace simd_impl
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_CONV_SIMD_IMPL_H_
