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
#include <cstring>

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
  if (g.stride_h != 1 || g.stride_w != 1) return false;
  const int natural = g.out_w + 2;
  const int padded = (natural + lanes - 1) / lanes * lanes;
  return padded >= 2 * lanes && 8 * (padded - g.out_w) <= 2 * padded;  // <= 25% padding
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

// ---- 2D path: a kTileRows x NV register tile, one specialisation per mask.

#define PL_ALWAYS_INLINE inline __attribute__((always_inline))

// All taps of pattern kMask for one kernel on one tile. Loads are written as
// (row, column) expressions of compile-time constants, so the compiler merges
// the loads two taps share across tile rows.
template <class T, int kMask, int NV>
PL_ALWAYS_INLINE void PatternTile(const float* src, size_t pitch, const float* wk,
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
        acc[j][v] = T::Fma(wv, T::Load(src + size_t(j + ky) * pitch + kx + v * T::kLanes), acc[j][v]);
      }
    }
  }
}

// Any mask at run time: used only if a mask is missing from the table.
template <class T, int NV>
inline void GenericTile(const float* src, size_t pitch, const float* wk, const uint8_t* taps,
                        typename T::V (&acc)[kTileRows][NV]) {
  for (int n = 0; n < 4; ++n) {
    const typename T::V wv = T::Broadcast(wk[n]);
    const int ky = taps[n] / 3, kx = taps[n] % 3;
    for (int j = 0; j < kTileRows; ++j) {
      for (int v = 0; v < NV; ++v) {
        acc[j][v] = T::Fma(wv, T::Load(src + size_t(j + ky) * pitch + kx + v * T::kLanes), acc[j][v]);
      }
    }
  }
}

template <class T, int NV>
inline void FilterTile(const PackedConv& w, const BlockLayout& b, int g_begin, int g_end, bool first,
                       const float* planes, size_t tile, float* out_plane) {
  typename T::V acc[kTileRows][NV];
  float* out = out_plane + tile;
  for (int j = 0; j < kTileRows; ++j) {
    for (int v = 0; v < NV; ++v) {
      acc[j][v] = first ? T::Zero() : T::Load(out + size_t(j) * b.pitch + v * T::kLanes);
    }
  }
  const float* weights = w.kernel_weights.data();
  const int32_t* chans = w.kernel_channel.data();
  const size_t pitch = size_t(b.pitch);
  for (int gi = g_begin; gi < g_end; ++gi) {
    const PackedGroup& grp = w.groups[gi];
    switch (grp.mask) {
#define PL_MASK(M)                                                                         \
  case M:                                                                                  \
    for (int k = grp.begin; k < grp.end; ++k) {                                            \
      PatternTile<T, M, NV>(planes + size_t(chans[k]) * b.channel_stride + tile, pitch,    \
                            weights + size_t(k) * 4, acc);                                 \
    }                                                                                      \
    break;
#include "delegate/kernels/pattern_masks.inc"
#undef PL_MASK
      default:
        for (int k = grp.begin; k < grp.end; ++k) {
          GenericTile<T, NV>(planes + size_t(chans[k]) * b.channel_stride + tile, pitch,
                             weights + size_t(k) * 4, grp.taps, acc);
        }
    }
  }
  for (int j = 0; j < kTileRows; ++j) {
    for (int v = 0; v < NV; ++v) T::Store(out + size_t(j) * b.pitch + v * T::kLanes, acc[j][v]);
  }
}

// One tile (kTileRows rows x NV vectors at `tile`) for every filter.
template <class T, int NV>
inline void AllFiltersTile(const PackedConv& w, const BlockLayout& b, const float* planes, size_t tile,
                           float* outputs) {
  ForEachFilterBlock(w, b, outputs, [&](int g_begin, int g_end, bool first, float* out_plane) {
    FilterTile<T, NV>(w, b, g_begin, g_end, first, planes, tile, out_plane);
  });
}

template <class T>
void ConvRows(const ConvGeometry& g, const PackedConv& w, const float* input, float* output, int n, int oy0,
              int oy1, Workspace* ws) {
  constexpr int kMaxVectors = 4;  // 4 accumulators x 1 row: enough in flight to hide FMA latency
  const int L = T::kLanes;
  const bool tiled = UseTiledPath(g, L);
  const BlockLayout b = MakeLayout(g, oy1 - oy0, L, tiled);
  ws->input_planes.resize(b.channel_stride * g.in_c);
  ws->output_planes.resize(size_t(b.pixels_padded) * g.out_c);
  const float* in_n = input + size_t(n) * g.in_h * g.in_w * g.in_c;
  float* planes = ws->input_planes.data();
  float* outs = ws->output_planes.data();
  FillPlanes<T>(g, b, in_n, oy0, planes);

  if (tiled) {
    for (int r = 0; r < b.rows; r += kTileRows) {
      int x = 0;
      for (; x + 2 * L <= b.pitch; x += 2 * L) AllFiltersTile<T, 2>(w, b, planes, size_t(r) * b.pitch + x, outs);
      if (x < b.pitch) AllFiltersTile<T, 1>(w, b, planes, size_t(r) * b.pitch + x, outs);
    }
  } else {
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
