// The vectorised pattern-conv kernel, written once over a vector "traits"
// type and instantiated per ISA (conv_avx2.cc, conv_avx512.cc, conv_neon.cc).
// Include it only from those files: it must be compiled with the ISA's flags.
//
// Design (docs/packed-layout.md has the full reasoning): input-stationary.
//  1. The NHWC input rows a block of output rows needs are copied, channel by
//     channel, into an "input tile" layout in which the input of every 3x3 tap
//     of an output vector is itself an aligned, contiguous vector:
//       * wide images: one copy of each input row per horizontal tap kx,
//         already shifted (and subsampled for stride 2), cut into x-tiles of
//         one vector: [c][x-tile][input row][kx][L];
//       * narrow images (where rounding a row to whole vectors would waste
//         lanes): one copy per tap over the flattened output pixels, an
//         im2col restricted to the 9 taps: [c][x-tile][ky][kx][NV*L].
//  2. For one tile of output vectors and one block of filters, each input
//     channel's tap vectors are loaded into registers once. Every kept kernel
//     of that channel (any filter of the block) then costs its 4 broadcasts
//     and 4 register FMAs per output vector, plus one load and one store per
//     accumulator vector of an L1-resident tile buffer. One input load serves
//     every filter that reads the channel, so the FMA units, not the load
//     ports, set the pace; kernels are grouped by pattern so the register
//     choice of each pattern is compiled in (one specialisation per mask).
//  3. The finished tile gets bias and the fused activation in the buffer and
//     is transposed straight into the NHWC output.
#ifndef PATTERNLITE_DELEGATE_KERNELS_CONV_SIMD_IMPL_H_
#define PATTERNLITE_DELEGATE_KERNELS_CONV_SIMD_IMPL_H_

#include <algorithm>
#include <cassert>
#include <cstring>

#include "delegate/contract_generated.h"
#include "delegate/kernels/conv_kernel.h"

namespace patternlite {
namespace simd_impl {

#define PL_ALWAYS_INLINE inline __attribute__((always_inline))

// Weights per kept kernel: the taps of a pattern (spec/contract.toml).
constexpr int kTaps = contract::kPatternTaps;
static_assert(kTaps == 4, "the kernels' register tiling is tuned for 4-tap patterns");

// ---- The register tile.

// R output rows x NV vectors. The input it needs: (R-1)*S+3 input rows x 3
// horizontal taps x NV vectors (the narrow layout is the case R=1, S=1).
template <class T, int S, int R, int NV>
struct InputTile {
  static constexpr int kRows = (R - 1) * S + 3;
  typename T::V v[kRows][3][NV];
};

// One kernel of pattern kMask on the tile: acc[R][W] += weights * taps.
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

// Where the input of tap column kx, input-tile row r, vector v lives,
// relative to the tile's data in one channel.
struct WideOffsets {  // planar rows: [row][column phase][pp]
  int row_stride, phase_stride, stride;
  int operator()(int r, int kx, int v, int lanes) const {
    return r * row_stride + (kx % stride) * phase_stride + kx / stride + v * lanes;
  }
};
template <int W>
struct NarrowOffsets {  // im2col of the 9 taps: [ky][kx][W]
  int operator()(int r, int kx, int v, int lanes) const { return (r * 3 + kx) * W + v * lanes; }
};

// One tile and one filter block over every input channel: acc[f][R][W].
// `src_tile` is the tile's data in channel 0; channel c is c * cs further.
template <class T, int S, int R, int NV, class Off>
inline void StationaryTile(const ChannelMajorView& cm, int block, int in_c, const float* src_tile, size_t cs,
                           const Off& off, float* acc, int filters) {
  constexpr int W = NV * T::kLanes;
  constexpr int kRows = InputTile<T, S, R, NV>::kRows;
  std::memset(acc, 0, sizeof(float) * size_t(filters) * R * W);
  const int32_t* gidx = cm.group_index + size_t(block) * in_c;
  const PackedGroup* groups = cm.groups;
  const int32_t* kf = cm.kernel_filter;
  const float* kw = cm.kernel_weights;
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
        for (int v = 0; v < NV; ++v) in.v[r][kx][v] = T::Load(src + off(r, kx, v, T::kLanes));
      }
    }
    // `end` is read once: the accumulator stores could alias `grp` as far as
    // the compiler knows, so `grp.end` in the condition was reloaded per kernel.
    for (int gi = g_begin; gi < g_end; ++gi) {
      const PackedGroup& grp = groups[gi];
      switch (grp.mask) {
#define PL_MASK(M)                                                                                 \
  case M:                                                                                          \
    static_assert(contract::IsTapMask(M), "pattern_masks.inc holds a mask of the wrong size");     \
    for (int k = grp.begin, end = grp.end; k < end; ++k) {                                         \
      StationaryKernel<T, M, S, R, NV>(in, kw + size_t(k) * kTaps, acc + size_t(kf[k]) * (R * W)); \
    }                                                                                              \
    break;
#include "delegate/kernels/pattern_masks.inc"
#undef PL_MASK
        default:  // unreachable: every 4-of-9 mask is in the table, and packing admits only those
          break;
      }
    }
  }
}

// Bias, activation and the planar -> NHWC transpose of one finished tile:
// acc[f][j][x] holds filters [o0, o0+nf); row j, column x of the tile is
// output pixel `first_pixel + j*row_pitch + x` (row_pitch = out_w for the
// wide layout; the narrow layout is one flattened row).
template <class T, int R, int W>
inline void WriteTile(const ConvGeometry& g, const float* bias, float* acc, int o0, int nf, size_t first_pixel,
                      int rows, int cols, float* out_n) {
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
    float* out_row = out_n + (first_pixel + size_t(j) * g.out_w) * O + o0;
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

// ---- Filling the input-tile layouts from NHWC.

// The kTile pixels px[i] (NHWC; null for zero padding) of all C channels into
// channel-planar rows: dst[c * cs + i] = px[i][c].
template <class T>
inline void TransposePixels(const float* const px[T::kTile], int C, size_t cs, float* dst) {
  constexpr int kTile = T::kTile;
  static const float kZeros[kTile] = {};
  const int c_tiled = C / kTile * kTile;
  const float* src[kTile];
  float* out[kTile];
  for (int c = 0; c < c_tiled; c += kTile) {
    for (int i = 0; i < kTile; ++i) src[i] = px[i] != nullptr ? px[i] + c : kZeros;
    for (int j = 0; j < kTile; ++j) out[j] = dst + size_t(c + j) * cs;
    T::TransposeTile(src, out);
  }
  for (int i = 0; i < kTile; ++i) {
    for (int c = c_tiled; c < C; ++c) dst[size_t(c) * cs + i] = px[i] != nullptr ? px[i][c] : 0.0f;
  }
}

// Wide layout: planes[c][r][phase][pp] = input(row oy0*S + r - pad_top,
// column x*S + phase - pad_left), x in [0, pp). Tap (ky, kx) of output
// (row j, column x) is then row j*S + ky, phase kx % S, column x + kx / S:
// unaligned loads, but each is made once per channel and tile and shared by
// all its kernels, so the fill stays one transpose per input element.
template <class T>
inline void FillPlanar(const ConvGeometry& g, int pp, int in_rows, size_t cs, const float* in_n, int oy0,
                       float* planes) {
  constexpr int kTile = T::kTile;
  const int S = g.stride_w, C = g.in_c;
  for (int r = 0; r < in_rows; ++r) {
    const int iy = oy0 * g.stride_h + r - g.pad_top;
    const bool row_in = iy >= 0 && iy < g.in_h;
    for (int ph = 0; ph < S; ++ph) {
      const size_t row_off = (size_t(r) * S + ph) * pp;
      for (int x0 = 0; x0 < pp; x0 += kTile) {  // pp is a multiple of kTile
        const float* px[kTile];
        for (int i = 0; i < kTile; ++i) {
          const int ix = (x0 + i) * S + ph - g.pad_left;
          px[i] = row_in && ix >= 0 && ix < g.in_w ? in_n + (size_t(iy) * g.in_w + ix) * C : nullptr;
        }
        TransposePixels<T>(px, C, cs, planes + row_off + x0);
      }
    }
  }
}

// Narrow layout: planes[c][x-tile][ky][kx][W] = input of tap (ky, kx) for the
// block's flattened output pixels p (row-major, no padding columns).
template <class T>
inline void FillNarrow(const ConvGeometry& g, int width, int pixels, int pixels_padded, size_t cs, const float* in_n,
                       int oy0, float* planes) {
  constexpr int kTile = T::kTile;
  const size_t xt_stride = size_t(9) * width;
  for (int t = 0; t < 9; ++t) {
    const int ky = t / 3, kx = t % 3;
    for (int p0 = 0; p0 < pixels_padded; p0 += kTile) {  // width is a multiple of kTile
      const float* px[kTile];
      for (int i = 0; i < kTile; ++i) {
        const int p = p0 + i;
        const int iy = (oy0 + p / g.out_w) * g.stride_h + ky - g.pad_top;
        const int ix = (p % g.out_w) * g.stride_w + kx - g.pad_left;
        const bool in = p < pixels && iy >= 0 && iy < g.in_h && ix >= 0 && ix < g.in_w;
        px[i] = in ? in_n + (size_t(iy) * g.in_w + ix) * g.in_c : nullptr;
      }
      const size_t off = size_t(p0 / width) * xt_stride + size_t(t) * width + p0 % width;
      TransposePixels<T>(px, g.in_c, cs, planes + off);
    }
  }
}

// ---- The scratch: the input planes, then the accumulator tile buffer.

// The wide layout's extent for `out_rows` output rows at stride S.
template <class T, int S>
struct WideShape {
  static constexpr int L = T::kLanes;
  static constexpr int R = S == 1 ? T::kStationaryRows : T::kStationaryRows2;
  int pitch, pp, rows, in_rows;
  size_t cs;  // floats per channel
  WideShape(const ConvGeometry& g, int out_rows)
      : pitch((g.out_w + L - 1) / L * L),
        pp((pitch + 1 + L + T::kTile - 1) / T::kTile * T::kTile),  // + the tap columns' reach
        rows((out_rows + R - 1) / R * R),
        in_rows((rows - 1) * S + 3),
        cs(size_t(in_rows) * S * pp) {}
  size_t accumulator_floats(int filter_block) const { return size_t(filter_block) * R * L; }
};

// The narrow layout's extent for `out_rows` output rows.
template <class T>
struct NarrowShape {
  static constexpr int NV = T::kNarrowVectors, W = NV * T::kLanes;
  int pixels, pixels_padded;
  size_t cs;  // floats per channel
  NarrowShape(const ConvGeometry& g, int out_rows)
      : pixels(out_rows * g.out_w), pixels_padded((pixels + W - 1) / W * W), cs(size_t(9) * pixels_padded) {}
  size_t accumulator_floats(int filter_block) const { return size_t(filter_block) * W; }
};

// Where the accumulators start: the planes rounded up to whole cache lines.
inline size_t AccumulatorOffset(size_t plane_floats) {
  constexpr size_t kLine = kScratchAlign / sizeof(float);
  return (plane_floats + kLine - 1) / kLine * kLine;
}

template <class Shape>
inline size_t ShapeScratchBytes(const Shape& shape, const ConvGeometry& g, int filter_block) {
  return (AccumulatorOffset(shape.cs * g.in_c) + shape.accumulator_floats(filter_block)) * sizeof(float);
}

template <class T>
size_t ScratchBytes(const ConvKernelParams& p, int out_rows) {
  const ConvGeometry& g = p.geometry;
  const int fb = p.weights.channel_major.filter_block;
  if (!UseWideLayout(g, T::kLanes)) return ShapeScratchBytes(NarrowShape<T>(g, out_rows), g, fb);
  if (g.stride_h == 1) return ShapeScratchBytes(WideShape<T, 1>(g, out_rows), g, fb);
  return ShapeScratchBytes(WideShape<T, 2>(g, out_rows), g, fb);
}

// ---- The two paths.

template <class T, int S>
inline void WideRows(const ConvGeometry& g, const PackedConvView& w, const float* in_n, int oy0, int oy1,
                     float* out_n, float* scratch) {
  constexpr int L = T::kLanes;
  constexpr int R = WideShape<T, S>::R;
  const WideShape<T, S> shape(g, oy1 - oy0);
  const int pitch = shape.pitch, pp = shape.pp, in_rows = shape.in_rows;
  const WideOffsets off{S * pp, pp, S};
  const size_t cs = shape.cs;
  float* const planes_w = scratch;
  FillPlanar<T>(g, pp, in_rows, cs, in_n, oy0, planes_w);

  const ChannelMajorView& cm = w.channel_major;
  float* acc = scratch + AccumulatorOffset(cs * g.in_c);
  const float* planes = planes_w;
  for (int r = 0; r < oy1 - oy0; r += R) {
    const int tile_rows = std::min(R, oy1 - oy0 - r);
    for (int x = 0; x < pitch; x += L) {
      const float* src = planes + size_t(r * S) * off.row_stride + x;
      for (int blk = 0; blk < cm.blocks; ++blk) {
        const int f0 = blk * cm.filter_block, nf = std::min(w.out_channels - f0, cm.filter_block);
        StationaryTile<T, S, R, 1>(cm, blk, w.in_channels, src, cs, off, acc, nf);
        WriteTile<T, R, L>(g, w.bias, acc, f0, nf, size_t(oy0 + r) * g.out_w + x, tile_rows,
                           std::min(L, g.out_w - x), out_n);
      }
    }
  }
}

template <class T>
inline void NarrowRows(const ConvGeometry& g, const PackedConvView& w, const float* in_n, int oy0, int oy1,
                       float* out_n, float* scratch) {
  constexpr int NV = NarrowShape<T>::NV, W = NarrowShape<T>::W;
  const NarrowShape<T> shape(g, oy1 - oy0);
  const int pixels = shape.pixels, pixels_padded = shape.pixels_padded;
  const size_t cs = shape.cs;
  float* const planes_w = scratch;
  FillNarrow<T>(g, W, pixels, pixels_padded, cs, in_n, oy0, planes_w);

  const ChannelMajorView& cm = w.channel_major;
  float* acc = scratch + AccumulatorOffset(cs * g.in_c);
  const float* planes = planes_w;
  // Filter blocks outermost: a block's weights are then read once per row
  // block and re-read from cache for its further pixel tiles (3% on the
  // 7x7x512 layer, which has two tiles and two blocks by default).
  for (int blk = 0; blk < cm.blocks; ++blk) {
    const int f0 = blk * cm.filter_block, nf = std::min(w.out_channels - f0, cm.filter_block);
    for (int p = 0; p < pixels; p += W) {
      const float* src = planes + size_t(p / W) * contract::kKernelTaps * W;
      StationaryTile<T, 1, 1, NV>(cm, blk, w.in_channels, src, cs, NarrowOffsets<W>(), acc, nf);
      WriteTile<T, 1, W>(g, w.bias, acc, f0, nf, size_t(oy0) * g.out_w + p, 1, std::min(W, pixels - p),
                         out_n);
    }
  }
}

// The kernel: `scratch` holds ScratchBytes<T>(p, oy1 - oy0) bytes, 64-byte aligned.
template <class T>
void ConvRows(const ConvKernelParams& p, const float* input, float* output, int n, int oy0, int oy1, void* scratch,
              size_t scratch_bytes) {
  const ConvGeometry& g = p.geometry;
  const PackedConvView& w = p.weights;
  assert(scratch_bytes >= ScratchBytes<T>(p, oy1 - oy0) && size_t(scratch) % kScratchAlign == 0);
  (void)scratch_bytes;
  float* ws = static_cast<float*>(scratch);
  const float* in_n = input + size_t(n) * g.in_h * g.in_w * g.in_c;
  float* out_n = output + size_t(n) * g.out_h * g.out_w * g.out_c;
  if (!UseWideLayout(g, T::kLanes)) {
    NarrowRows<T>(g, w, in_n, oy0, oy1, out_n, ws);
  } else if (g.stride_h == 1) {
    WideRows<T, 1>(g, w, in_n, oy0, oy1, out_n, ws);
  } else {
    WideRows<T, 2>(g, w, in_n, oy0, oy1, out_n, ws);
  }
}

}  // namespace simd_impl
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_CONV_SIMD_IMPL_H_
