// AVX-512 VNNI sparse int8 1x1 kernel (block_int8_kernels.h's pointwise),
// over a regrouped copy of the input.
//
// A register tile is 16 output pixels x one block of 16 filters: 16 zmm
// accumulators, and per kept input quad one weight vector (the block's 16
// dwords) and 16 vpdpbusd, one per pixel, each fed by a broadcast of that
// pixel's 4 input bytes. With the input in NHWC the 16 broadcasts read 16
// rows, so the tile needs 16 row pointers and x86 has 16 general registers:
// the compiler spilled them and shuffled accumulators (about 4 instructions
// per dot product). So each chunk of pixels is first copied, flipped to u8
// (x ^ 0x80, the bias corrects by -(zp_in + 128) * sum(w)), into groups of 16
// pixels whose 64-byte slabs of input channels lie one after another: a quad
// is then one base address and the 16 broadcasts are fixed displacements
// (64 bytes apart) from it. The copy is one load, flip and store per 64 input
// bytes, made once per chunk and read by every block of the layer.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "delegate/kernels/block_int8_kernels.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512vnni,avx2,fma")
#endif

#include "delegate/kernels/requantize_avx512.h"

namespace patternlite {
namespace {

constexpr int kGroup = 16;  // pixels per group and per register tile

// Output pixels [t0, t0 + n), n <= 16, flipped into one group: per slab of
// 16 input quads (64 bytes), the 16 pixels' slabs one after another, so
// quad q of pixel r is at byte SlabOffset(4q) + 64r. Bytes past in_c and
// pixels past n are 0: they meet zero weights or are never stored.
void PackGroup(const ConvGeometry& g, const int8_t* input, int64_t t0, int n, int8_t* dst) {
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  for (int r = 0; r < kGroup; ++r) {
    const int8_t* src = r < n ? PointwisePixel(g, input, t0 + r) : nullptr;
    for (int c0 = 0; c0 < g.in_c; c0 += 64) {
      __m512i v = _mm512_setzero_si512();
      if (src != nullptr) {
        const int bytes = std::min(64, g.in_c - c0);
        const __mmask64 m = bytes >= 64 ? ~__mmask64(0) : (__mmask64(1) << bytes) - 1;
        v = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, src + c0), flip);
      }
      _mm512_store_si512(dst + size_t(c0) * kGroup + size_t(r) * 64, v);
    }
  }
}

// The byte offset in a group of input channel c's quad (c a multiple of 4), pixel 0.
inline size_t SlabOffset(int c) { return size_t(c & ~63) * kGroup + size_t(c & 63); }

// One pixel r of a quad step in Dot8 and Dot4: broadcast its 4 bytes, one vpdpbusd into a<r>.
#define PL_DOT(i) "vpbroadcastd " #i "*64(%[x]), %[t]\n\tvpdpbusd %[w], %[t], %[a" #i "]\n\t"

// Eight pixels of a quad step: a_r += the 4 bytes at x[r] (broadcast) . w.
// In assembly: with intrinsics GCC 12 kept the loop-carried accumulators in
// rotating registers and copied all 16 every step, and turned the fixed
// displacements into index registers it then spilled. (An asm statement
// takes at most 30 operands and each accumulator counts twice, hence eight.)
inline __attribute__((always_inline)) void Dot8(__m512i& a0, __m512i& a1, __m512i& a2, __m512i& a3, __m512i& a4,
                                                __m512i& a5, __m512i& a6, __m512i& a7, __m512i w, const int8_t* x) {
  __m512i t;
  asm(PL_DOT(0) PL_DOT(1) PL_DOT(2) PL_DOT(3) PL_DOT(4) PL_DOT(5) PL_DOT(6) PL_DOT(7)
      : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [a4] "+v"(a4), [a5] "+v"(a5), [a6] "+v"(a6),
        [a7] "+v"(a7), [t] "=&v"(t)
      : [w] "v"(w), [x] "r"(x), "m"(*reinterpret_cast<const int8_t(*)[8 * 64]>(x)));
}

// Four pixels of a quad step, for a group's last few pixels (a 7x7 image's
// 49 pixels leave a group of 1: stepping all 16 accumulators for it cost a
// quarter of the layer's dot products).
inline __attribute__((always_inline)) void Dot4(__m512i& a0, __m512i& a1, __m512i& a2, __m512i& a3, __m512i w,
                                                const int8_t* x) {
  __m512i t;
  asm(PL_DOT(0) PL_DOT(1) PL_DOT(2) PL_DOT(3)
      : [a0] "+v"(a0), [a1] "+v"(a1), [a2] "+v"(a2), [a3] "+v"(a3), [t] "=&v"(t)
      : [w] "v"(w), [x] "r"(x), "m"(*reinterpret_cast<const int8_t(*)[4 * 64]>(x)));
}
#undef PL_DOT

// What a tile needs of its block beyond the weights, made once per block and chunk.
struct BlockOut {
  Avx512LaneQuant lane;
  __mmask16 channels;  // the block's real output channels
};

// One block of 16 filters over one group of 16 pixels; stores pixels [0, n).
inline __attribute__((always_inline)) void Tile(const PackedPointwiseInt8View& w, int b, const int8_t* group,
                                                const BlockOut& bo, const Avx512OutputStage& stage, int n,
                                                int8_t* dst, int out_c) {
  // Sixteen named accumulators, not an array: GCC keeps an array that an
  // asm statement reads in memory.
  const __m512i bias = _mm512_loadu_si512(w.bias_u8 + size_t(b) * kBlock);
  __m512i a0 = bias, a1 = bias, a2 = bias, a3 = bias, a4 = bias, a5 = bias, a6 = bias, a7 = bias;
  __m512i a8 = bias, a9 = bias, a10 = bias, a11 = bias, a12 = bias, a13 = bias, a14 = bias, a15 = bias;
  const int k0 = w.block_begin[b], k1 = w.block_begin[b + 1];
  // Only the accumulators of pixels [0, n) are stored: a short group steps 4 or 8 of them.
  if (n > 8) {
    for (int k = k0; k < k1; ++k) {
      const __m512i wv = _mm512_loadu_si512(w.quad_weights + size_t(k) * kBlock);
      const int8_t* x = group + SlabOffset(w.quad_channel[k]);
      Dot8(a0, a1, a2, a3, a4, a5, a6, a7, wv, x);
      Dot8(a8, a9, a10, a11, a12, a13, a14, a15, wv, x + 8 * 64);
    }
  } else if (n > 4) {
    for (int k = k0; k < k1; ++k) {
      const __m512i wv = _mm512_loadu_si512(w.quad_weights + size_t(k) * kBlock);
      Dot8(a0, a1, a2, a3, a4, a5, a6, a7, wv, group + SlabOffset(w.quad_channel[k]));
    }
  } else {
    for (int k = k0; k < k1; ++k) {
      const __m512i wv = _mm512_loadu_si512(w.quad_weights + size_t(k) * kBlock);
      Dot4(a0, a1, a2, a3, wv, group + SlabOffset(w.quad_channel[k]));
    }
  }
  const __m512i acc[kGroup] = {a0, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11, a12, a13, a14, a15};
  int8_t* out = dst + b * kBlock;
  const auto store4 = [&](int r, int count) {
    const __m512i y =
        stage.Pack4(RequantizeAvx512Int32(acc[r], bo.lane), RequantizeAvx512Int32(acc[r + 1], bo.lane),
                    RequantizeAvx512Int32(acc[r + 2], bo.lane), RequantizeAvx512Int32(acc[r + 3], bo.lane));
    Avx512OutputStage::Store4(y, out + size_t(r) * out_c, out_c, count, bo.channels);
  };
  if (n == kGroup) {
#pragma GCC unroll 4
    for (int r = 0; r < kGroup; r += 4) store4(r, 4);
  } else {
    for (int r = 0; r < n; r += 4) store4(r, std::min(4, n - r));
  }
}

}  // namespace

void PointwiseInt8Avx512Vnni(const PointwiseInt8Params& p, const int8_t* input, int8_t* output, int64_t p0,
                             int64_t p1) {
  const ConvGeometry& g = p.geometry;
  const PackedPointwiseInt8View& w = p.weights;
  const Avx512OutputStage stage(p.quant);
  // A group: 16 pixels x the input channels rounded up to 64 bytes.
  const size_t group_bytes = size_t((g.in_c + 63) / 64) * 64 * kGroup;
  const int64_t groups_per_chunk = std::max<int64_t>(1, int64_t(kPointwiseInt8ChunkBytes / group_bytes));
  // This thread's copy (64-byte aligned), sized once and reused by every later call on the thread.
  struct alignas(64) Line {
    int8_t bytes[64];
  };
  thread_local std::vector<Line> copy;
  const size_t need = size_t(groups_per_chunk) * group_bytes / sizeof(Line);
  if (copy.size() < need) copy.resize(need);
  int8_t* base = reinterpret_cast<int8_t*>(copy.data());
  for (int64_t c0 = p0; c0 < p1; c0 += groups_per_chunk * kGroup) {
    const int64_t c1 = std::min(p1, c0 + groups_per_chunk * kGroup);
    const int groups = int((c1 - c0 + kGroup - 1) / kGroup);
    for (int i = 0; i < groups; ++i) {
      const int64_t t0 = c0 + int64_t(i) * kGroup;
      PackGroup(g, input, t0, int(std::min<int64_t>(kGroup, c1 - t0)), base + size_t(i) * group_bytes);
    }
    for (int b = 0; b < w.blocks; ++b) {
      const int width = std::min(kBlock, w.out_channels - b * kBlock);
      const BlockOut bo{MakeAvx512LaneQuant(w.requant, size_t(b) * kBlock), __mmask16((1u << width) - 1)};
      for (int i = 0; i < groups; ++i) {
        const int64_t t0 = c0 + int64_t(i) * kGroup;
        Tile(w, b, base + size_t(i) * group_bytes, bo, stage, int(std::min<int64_t>(kGroup, c1 - t0)),
             output + t0 * g.out_c, g.out_c);
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
