// The vectorised int8 pattern-conv kernel, written once over a traits type
// and instantiated per instruction set (conv_int8_avx512.cc: AVX-512 VNNI,
// conv_int8_avxvnni.cc: AVX-VNNI, conv_int8_avx2.cc: AVX2, conv_int8_neon.cc:
// NEON sdot). Include it only from those files, after their target pragmas.
//
// Design (docs/int8.md):
//  1. The input rows a block of output rows needs are copied into channel
//     planes of bytes, [c][input row][column phase][pp], already offset for
//     the dot-product instruction (x ^ 0x80 = x + 128 for the u8 x s8 x86
//     instructions, x itself for NEON's s8 x s8 sdot) and with the padding
//     border holding the offset zero point, so that a padded tap contributes
//     exactly what the packed bias correction removes.
//  2. The output is cut into tiles of R output rows x L columns. For each
//     chunk of input channels (packing: pattern_pack_int8.h), every
//     (channel, pattern) slot of the chunk gets a tile of "tap dwords": for
//     each output pixel, the 4 input bytes under the pattern's taps. Those
//     tiles stay in L1.
//  3. Then each output channel keeps its R accumulator vectors in registers
//     over its kept kernels of the chunk: one kernel is one dot-product
//     instruction per vector with its 4 weights broadcast as one dword. The
//     accumulators go through an L1 buffer only between chunks.
//  4. After the last chunk the accumulators are requantised (CONV_2D's double
//     rounding, vectorised: requantize.h has the scalar form) into an int8
//     staging tile that is transposed into the NHWC output.
#ifndef PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_SIMD_IMPL_H_
#define PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_SIMD_IMPL_H_

#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>

#include "delegate/kernels/conv_int8_kernel.h"

namespace patternlite {
namespace int8_impl {

// Where the kernel's scratch goes, for `out_rows` output rows.
template <class T>
struct Shape {
  static constexpr int L = T::kLanes, R = T::kRows;
  static constexpr size_t kAlign = kScratchAlign;
  int pitch = 0, pp = 0, rows = 0, in_rows = 0;
  size_t cs = 0;  // bytes of one channel's planes
  size_t planes = 0, tiles = 0, acc = 0, stage = 0, total = 0;
  static size_t Up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
  Shape(const Int8ConvKernelParams& p, int out_rows) {
    const ConvGeometry& g = p.geometry;
    pitch = (g.out_w + L - 1) / L * L;
    // The tap columns reach 2 / stride_w further, and a tap load reads up to
    // 16 bytes (the NEON build reads 8 for 4 lanes): slack keeps it inside.
    pp = (pitch + 2 + 16 + 15) / 16 * 16;
    rows = (out_rows + R - 1) / R * R;
    in_rows = (rows - 1) * g.stride_h + 3;
    cs = size_t(in_rows) * g.stride_w * pp;
    planes = Up(cs * g.in_c);
    tiles = Up(size_t(p.weights.max_chunk_slots) * R * T::kParts * L * sizeof(int32_t));
    acc = p.weights.chunks > 1 ? Up(size_t(g.out_c) * R * L * sizeof(int32_t)) : 0;
    stage = Up(size_t(g.out_c) * R * L);
    total = planes + tiles + acc + stage;
  }
};

template <class T>
size_t ScratchBytes(const Int8ConvKernelParams& p, int rows) {
  return Shape<T>(p, rows).total;
}

// Planes[c][r][ph][x] = offset input at row oy0*Sh + r - pad_top, column
// x*Sw + ph - pad_left; the offset zero point outside the image.
template <class T>
inline void FillPlanes(const ConvGeometry& g, const Shape<T>& sh, uint8_t xor_byte, uint8_t pad_byte,
                       const int8_t* in_n, int oy0, uint8_t* planes) {
  const int Sw = g.stride_w, C = g.in_c;
  for (int r = 0; r < sh.in_rows; ++r) {
    const int iy = oy0 * g.stride_h + r - g.pad_top;
    const bool row_in = iy >= 0 && iy < g.in_h;
    for (int ph = 0; ph < Sw; ++ph) {
      uint8_t* row = planes + (size_t(r) * Sw + ph) * sh.pp;
      for (int x = 0; x < sh.pp; ++x) {
        const int ix = x * Sw + ph - g.pad_left;
        uint8_t* dst = row + x;
        if (!row_in || ix < 0 || ix >= g.in_w) {
          for (int c = 0; c < C; ++c) dst[size_t(c) * sh.cs] = pad_byte;
        } else {
          const int8_t* src = in_n + (size_t(iy) * g.in_w + ix) * C;
          for (int c = 0; c < C; ++c) dst[size_t(c) * sh.cs] = uint8_t(src[c]) ^ xor_byte;
        }
      }
    }
  }
}

template <class T>
void ConvRows(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0, int oy1,
              void* scratch, size_t scratch_bytes) {
  constexpr int L = T::kLanes, R = T::kRows, P = T::kParts;
  using V = typename T::V;
  using W = typename T::W;
  const ConvGeometry& g = p.geometry;
  const Int8Quant& q = p.quant;
  const PackedConvInt8View& w = p.weights;
  const Shape<T> sh(p, oy1 - oy0);
  assert(scratch_bytes >= sh.total && size_t(scratch) % kScratchAlign == 0);
  (void)scratch_bytes;
  uint8_t* base = static_cast<uint8_t*>(scratch);
  uint8_t* planes = base;
  int32_t* tiles = reinterpret_cast<int32_t*>(base + sh.planes);
  int32_t* acc = reinterpret_cast<int32_t*>(base + sh.planes + sh.tiles);
  int8_t* stage = reinterpret_cast<int8_t*>(base + sh.planes + sh.tiles + sh.acc);

  const int8_t* in_n = input + size_t(n) * g.in_h * g.in_w * g.in_c;
  int8_t* out_n = output + size_t(n) * g.out_h * g.out_w * g.out_c;
  const uint8_t xor_byte = T::kSignedInput ? 0 : 0x80;
  FillPlanes<T>(g, sh, xor_byte, uint8_t(uint8_t(int8_t(q.zp_in)) ^ xor_byte), in_n, oy0, planes);

  const int O = g.out_c, Sh = g.stride_h, Sw = g.stride_w, pp = sh.pp;
  const int32_t* bias = T::kSignedInput ? w.bias_s8 : w.bias_u8;
  const int chunks = w.chunks;
  for (int j0 = 0; j0 < oy1 - oy0; j0 += R) {
    const int tile_rows = std::min(R, oy1 - oy0 - j0);
    for (int x0 = 0; x0 < sh.pitch; x0 += L) {
      for (int k = 0; k < chunks; ++k) {
        // The chunk's tap-dword tiles: [slot][row][part][L].
        const int s0 = w.chunk_slots[k], s1 = w.chunk_slots[k + 1];
        for (int s = s0; s < s1; ++s) {
          const Int8Slot& slot = w.slots[s];
          const uint8_t* cp = planes + size_t(slot.channel) * sh.cs + x0;
          const uint8_t* tap[4];
          for (int t = 0; t < 4; ++t) {
            const int ky = slot.taps[t] / 3, kx = slot.taps[t] % 3;
            tap[t] = cp + (size_t(j0 * Sh + ky) * Sw + kx % Sw) * pp + kx / Sw;
          }
          int32_t* dst = tiles + size_t(s - s0) * R * P * L;
          const size_t row_step = size_t(Sh) * Sw * pp;
#pragma GCC unroll 8
          for (int j = 0; j < R; ++j) {
            T::Build(tap[0] + j * row_step, tap[1] + j * row_step, tap[2] + j * row_step, tap[3] + j * row_step,
                     dst + j * P * L);
          }
        }
        const int32_t* ck = w.chunk_kernels + size_t(k) * O;
        const bool first = k == 0, last = k == chunks - 1;
        for (int o = 0; o < O; ++o) {
          V a[R];
          int32_t* ao = acc + size_t(o) * R * L;
#pragma GCC unroll 8
          for (int j = 0; j < R; ++j) a[j] = first ? T::Set1(bias[o]) : T::Load(ao + j * L);
          for (int kk = ck[o], ke = ck[o + 1]; kk < ke; ++kk) {
            const Int8Kernel kn = w.kernels[kk];
            const W wv = T::Weights(kn.weights);
            const int32_t* tile = tiles + size_t(kn.slot) * R * P * L;
#pragma GCC unroll 8
            for (int j = 0; j < R; ++j) a[j] = T::Dot(a[j], tile + j * P * L, wv);
          }
          if (last) {
            int8_t* so = stage + size_t(o) * R * L;
#pragma GCC unroll 8
            for (int j = 0; j < R; ++j) T::Requantize(a[j], w.multiplier[o], w.shift[o], q, so + j * L);
          } else {
#pragma GCC unroll 8
            for (int j = 0; j < R; ++j) T::Store(ao + j * L, a[j]);
          }
        }
      }
      // Staging [o][row][L] -> NHWC.
      const int cols = std::min(L, g.out_w - x0);
      for (int j = 0; j < tile_rows; ++j) {
        int8_t* out_row = out_n + (size_t(oy0 + j0 + j) * g.out_w + x0) * O;
        T::WriteStage(stage + j * L, R * L, O, cols, out_row);
      }
    }
  }
}

// The portable part of WriteStage: out[x * O + o] = stage[o * o_stride + x].
inline void WriteStageScalar(const int8_t* stage, int o_stride, int O, int o0, int cols, int8_t* out_row) {
  for (int x = 0; x < cols; ++x) {
    int8_t* dst = out_row + size_t(x) * O;
    for (int o = o0; o < O; ++o) dst[o] = stage[size_t(o) * o_stride + x];
  }
}

}  // namespace int8_impl
}  // namespace patternlite

#endif  // PATTERNLITE_DELEGATE_KERNELS_CONV_INT8_SIMD_IMPL_H_
