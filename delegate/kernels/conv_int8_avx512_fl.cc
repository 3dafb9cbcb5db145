// AVX-512 VNNI + VBMI int8 pattern-conv kernel with FILTER lanes
// (docs/int8.md, "The filter-lane kernel"): the 16 int32 lanes of a vector
// are 16 consecutive output channels of one output pixel, as in XNNPACK's
// dense int8 kernels, instead of 16 pixels of one output channel.
//
//  1. Row-triple tables: per output row and group of 4 input channels, one
//     table whose 12-byte column j holds the group's offset input bytes
//     (u = x ^ 0x80) of the row's 3 input rows at padded input column j:
//     byte 12*j + 4*ky + c%4. Padding holds the offset zero point, so a
//     padded tap contributes what the packed bias correction removes. The
//     3x3 neighbourhood of output column ox is then the 36 contiguous bytes
//     from 12*stride*ox, and one unaligned 64-byte load of them is the table
//     vpermb reads: the same index serves every pixel and both strides, and
//     an input byte is moved once per output row, not once per tap.
//  2. Per block of 16 filters and each input channel c that any of them
//     keeps (pack: fl_* arrays), the index vector (lane f: the table
//     positions of filter f's 4 taps on c) and the weight vector (lane f:
//     its 4 weights, 0 where f prunes c) stay in registers while, for each
//     pixel of a tile, one vpermb gathers the 16 filters' tap dwords and one
//     vpdpbusd accumulates them: no per-pattern work, any mask per filter,
//     and the accumulators stay in registers over all channels.
//  3. Tiles are up to 8 columns of two output rows (one row, up to 12
//     columns, for a call's odd last row), the columns split evenly (56:
//     7 x 8; 14: 2 x 7), so no lane computes a pixel twice. A tile's
//     windows are first copied to aligned 64-byte records: a window at
//     12*stride*ox straddles two cache lines, and each is read once per
//     block of filters.
//  4. Per-lane requantisation (TFLite's double rounding, requantize.h); a
//     pixel's 16 filters are 16 contiguous output bytes in NHWC.
//
// Connectivity pruning saves work only where all 16 filters of a block prune
// a channel (the (block, channel) pair is then absent from the pack).
//
// The same file holds the shared-pattern tiles (SharedTile; docs/int8.md,
// "Shared patterns"): where the 16 filters of a block read each kept channel
// through one pattern, they share the row-triple tables, but a pixel's 4 tap
// bytes are one broadcast operand instead of a vpermb per vpdpbusd.
#include <algorithm>
#include <array>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <utility>

#include "delegate/kernels/conv_int8_kernel.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx512vbmi,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512vnni,avx512vbmi,avx2,fma")
// GCC 12 flags the intrinsics' undefined pass-through operands (`__Y`) in the
// requantisation as maybe-uninitialized, once per inlined tile shape.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#include <immintrin.h>

#include "delegate/kernels/conv_int8_x86.h"
#include "delegate/kernels/requantize_avx512.h"

namespace patternlite {
namespace {

#if defined(__clang__)
#define PL_UNROLL _Pragma("unroll")
#else
#define PL_UNROLL _Pragma("GCC unroll 16")
#endif

constexpr int kLanes = 16;
// Pixels per register tile: one accumulator each, plus the block's index and
// weight vectors and the permuted tap dwords (32 zmm).
constexpr int kMaxRowPix = 12;  // a tile within one output row
constexpr int kMaxPairPix = 8;  // a tile of two whole rows: rows of at most 8 pixels
constexpr int kColumn = 12;     // bytes per padded input column of a row-triple table
constexpr int kWindow = 64;     // the bytes vpermb reads per pixel
constexpr int kAhead = 32;  // entries the weight prefetch runs ahead (8-32 measured; 32 best cold)

size_t Up(size_t b) { return (b + kScratchAlign - 1) / kScratchAlign * kScratchAlign; }

// One output row's tables: channel group q at q * group_stride, the padded
// columns 0..columns-1 (input column j - pad_left), then slack for the last
// pixel's 64-byte window and the shared-pattern tiles' 128-byte reads.
struct Triples {
  int columns;
  size_t group_stride;
  size_t row_bytes;  // all groups of one output row
  explicit Triples(const ConvGeometry& g)
      : columns((g.out_w - 1) * g.stride_w + 3),
        group_stride(Up(size_t(columns) * kColumn + 2 * kWindow)),
        row_bytes(group_stride * size_t((g.in_c + 3) / 4)) {}
};

// The row-triple tables of output row oy.
void BuildTriples(const int8_t* img, const ConvGeometry& g, const Triples& t, int oy, __m128i pad, uint8_t* tab) {
  const int C = g.in_c;
  const int8_t* rows[3];
  for (int ky = 0; ky < 3; ++ky) {
    const int iy = oy * g.stride_h - g.pad_top + ky;
    rows[ky] = iy >= 0 && iy < g.in_h ? img + size_t(iy) * g.in_w * C : nullptr;
  }
  // 64 channels per step (the last step masked): 3 row loads, 8 in-lane
  // unpacks and up to 16 stores per column.
  const __m512i flip = _mm512_set1_epi8(char(0x80));
  const __m512i pad64 = _mm512_set1_epi32(_mm_cvtsi128_si32(pad));  // pad: one byte repeated
  for (int c0 = 0; c0 < C; c0 += 64) {
    const int n = std::min(64, C - c0), groups = (n + 3) / 4;
    const __mmask64 m = n == 64 ? ~__mmask64(0) : (__mmask64(1) << n) - 1;
    uint8_t* dst = tab + size_t(c0 / 4) * t.group_stride;
    for (int j = 0; j < t.columns; ++j, dst += kColumn) {
      const int ix = j - g.pad_left;
      const bool inside = ix >= 0 && ix < g.in_w;
      __m512i r[3];
      for (int ky = 0; ky < 3; ++ky) {
        r[ky] = inside && rows[ky] != nullptr
                    ? _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, rows[ky] + size_t(ix) * C + c0), flip)
                    : pad64;
      }
      // 128-bit lane k holds channels c0+16k..: groups 4k..4k+3 of the step;
      // q[i] lane k is group 4k+i: [r0, r1, r2, r2] dwords. Each 16-byte store
      // spills 4 bytes into the next column, which the next column's store
      // (or the slack) takes.
      const __m512i lo01 = _mm512_unpacklo_epi32(r[0], r[1]), hi01 = _mm512_unpackhi_epi32(r[0], r[1]);
      const __m512i lo22 = _mm512_unpacklo_epi32(r[2], r[2]), hi22 = _mm512_unpackhi_epi32(r[2], r[2]);
      const __m512i q[4] = {_mm512_unpacklo_epi64(lo01, lo22), _mm512_unpackhi_epi64(lo01, lo22),
                            _mm512_unpacklo_epi64(hi01, hi22), _mm512_unpackhi_epi64(hi01, hi22)};
      for (int k = 0; k < 4; ++k) {
        for (int i = 0; i < 4 && 4 * k + i < groups; ++i) {
          const __m128i lane = k == 0   ? _mm512_castsi512_si128(q[i])
                               : k == 1 ? _mm512_extracti32x4_epi32(q[i], 1)
                               : k == 2 ? _mm512_extracti32x4_epi32(q[i], 2)
                                        : _mm512_extracti32x4_epi32(q[i], 3);
          _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + size_t(4 * k + i) * t.group_stride), lane);
        }
      }
    }
  }
}

// Requantises a tile's accumulators (16 filters from o0, lanes om) and
// stores each pixel's 16 outputs, contiguous in NHWC.
template <int R, int NP>
inline void StoreTile(const Int8ConvKernelParams& p, const __m512i (&acc)[R][NP], int o0, __mmask16 om, int8_t* out,
                      size_t out_row) {
  const PackedConvInt8View& w = p.weights;
  const int O = p.geometry.out_c;
  const Avx512LaneQuant lq = MakeAvx512LaneQuantFromShift(_mm512_maskz_loadu_epi32(om, w.multiplier + o0),
                                                           _mm512_maskz_loadu_epi32(om, w.shift + o0));
  PL_UNROLL
  for (int r = 0; r < R; ++r) {
    PL_UNROLL
    for (int i = 0; i < NP; ++i) {
      _mm_mask_storeu_epi8(out + r * out_row + size_t(i) * O + o0, om, RequantizeAvx512(acc[r][i], lq, p.quant));
    }
  }
}

// One tile: NP pixels (stride SW apart in the tables) of each of R output
// rows (tables row_bytes apart, outputs out_row apart), all blocks of 16
// filters.
template <int R, int NP, int SW, bool kCopy>
void Tile(const Int8ConvKernelParams& p, const uint8_t* tab, size_t row_bytes, int8_t* out, size_t out_row,
          uint8_t* rec, bool first) {
  const PackedConvInt8View& w = p.weights;
  const int O = p.geometry.out_c;
  const int groups = (p.geometry.in_c + 3) / 4;
  const size_t tab_stride = Triples(p.geometry).group_stride;
  // Where the tile's records fit in L1, the pixels' windows are copied to
  // aligned records first: a window at 12*SW*i straddles two cache lines,
  // and the loop below reads each window once per block of filters.
  constexpr size_t rec_stride = size_t(R) * NP * kWindow;
  if (kCopy) {
    for (int q = 0; q < groups; ++q) {
      for (int r = 0; r < R; ++r) {
        for (int i = 0; i < NP; ++i) {
          _mm512_store_si512(rec + q * rec_stride + (r * NP + i) * kWindow,
                             _mm512_loadu_si512(tab + q * tab_stride + r * row_bytes + i * SW * kColumn));
        }
      }
    }
  }
  for (int b = 0; b < w.fl_blocks; ++b) {
    const int o0 = b * kLanes, nf = std::min(kLanes, O - o0);
    const __mmask16 om = __mmask16((1u << nf) - 1);
    const __m512i bias = _mm512_maskz_loadu_epi32(om, w.bias_u8 + o0);
    __m512i acc[R][NP];
    PL_UNROLL
    for (int r = 0; r < R; ++r) {
      PL_UNROLL
      for (int i = 0; i < NP; ++i) acc[r][i] = bias;
    }
    for (int e = w.fl_block_entries[b], ee = w.fl_block_entries[b + 1]; e < ee; ++e) {
      // A layer's weights come from DRAM on its first tile (measured: a
      // 512-channel layer ran 1.5x slower with L3 flushed, as inside a
      // model): ask for them well ahead.
      if (first) {  // later tiles find them in L2
        _mm_prefetch(reinterpret_cast<const char*>(w.fl_index + size_t(e + kAhead) * 64), _MM_HINT_T0);
        _mm_prefetch(reinterpret_cast<const char*>(w.fl_weights + size_t(e + kAhead) * 64), _MM_HINT_T0);
      }
      const __m512i idx = _mm512_loadu_si512(w.fl_index + size_t(e) * 64);
      const __m512i wv = _mm512_loadu_si512(w.fl_weights + size_t(e) * 64);
      const size_t q = size_t(w.fl_channel[e] / 4);
      // Unrolled, so that the accumulators live in registers (GCC -O2 keeps
      // the array in memory otherwise: a load and store per vpdpbusd).
      PL_UNROLL
      for (int r = 0; r < R; ++r) {
        PL_UNROLL
        for (int i = 0; i < NP; ++i) {
          const __m512i win = kCopy ? _mm512_load_si512(rec + q * rec_stride + (r * NP + i) * kWindow)
                                    : _mm512_loadu_si512(tab + q * tab_stride + r * row_bytes + i * SW * kColumn);
          acc[r][i] = _mm512_dpbusd_epi32(acc[r][i], _mm512_permutexvar_epi8(idx, win), wv);
        }
      }
    }
    StoreTile<R, NP>(p, acc, o0, om, out, out_row);
  }
}

// The shared-pattern tiles requantise per filter; each filter's constants
// (UniformQuant) are made once per call after the tap-dword slots, since
// deriving them from the multiplier and shift on every tile takes more
// instructions than broadcasting them from memory.
using FilterQuant = UniformQuant;

size_t SharedSlotBytes(const Int8ConvKernelParams& p) { return Up(size_t(p.weights.sp_slots) * 64); }

// How a shared-pattern tile (R rows of NP pixels, column stride SW) gathers
// its tap dwords: segments of pixels of one row whose windows fit in the 128
// bytes one vpermi2b reads (8 pixels at stride 1, 4 at stride 2), each with
// its byte lanes (mask), where its window starts (row, padded column), and
// per byte lane the pixel's column offset within its segment. Fixed by the
// tile's shape, so made at compile time.
template <int R, int NP, int SW>
struct SegmentPlan {
  static constexpr int kSegPix = SW == 1 ? 8 : 4;  // ((n - 1) * SW + 3) * 12 <= 128 bytes
  static constexpr int kRowSegs = (NP + kSegPix - 1) / kSegPix;
  static constexpr int kCount = R * kRowSegs;
  struct Segments {
    std::array<uint64_t, kCount> mask{};
    std::array<int, kCount> row{}, column{};
    std::array<uint8_t, 64> offset{};
  };
  static constexpr Segments Make() {
    Segments g{};
    for (int r = 0; r < R; ++r) {
      for (int s = 0; s < kRowSegs; ++s) {
        const int i0 = s * kSegPix, i1 = std::min(NP, i0 + kSegPix);
        const int d0 = r * NP + i0, d1 = r * NP + i1;
        const uint64_t below_d1 = d1 * 4 >= 64 ? ~uint64_t(0) : (uint64_t(1) << (4 * d1)) - 1;
        g.mask[r * kRowSegs + s] = below_d1 & ~((uint64_t(1) << (4 * d0)) - 1);
        g.row[r * kRowSegs + s] = r;
        g.column[r * kRowSegs + s] = i0 * SW;
        for (int i = i0; i < i1; ++i) {
          for (int t = 0; t < 4; ++t) g.offset[4 * (r * NP + i) + t] = uint8_t(kColumn * SW * (i - i0));
        }
      }
    }
    return g;
  }
  static constexpr Segments kPlan = Make();
};

// One tile of a shared-pattern pack (pattern_pack_int8.h, sp_*): every
// entry's 16 filters read one channel through one pattern, so a pixel's 4
// tap bytes are the same for all lanes and one broadcast dword replaces the
// vpermb. First, per slot (channel, pattern), the tile's tap dwords (dword d
// = pixel d's 4 taps, rows after each other) are gathered from the tables
// into `dwords` by one vpermi2b per segment of pixels whose windows fit in
// 128 bytes (8 at stride 1, 4 at stride 2); then per block the accumulators
// take one broadcast vpdpbusd per (entry, pixel), weights in a register.
template <int R, int NP, int SW>
void SharedTile(const Int8ConvKernelParams& p, const uint8_t* tab, size_t row_bytes, int8_t* out, size_t out_row,
                uint8_t* dwords, bool first) {
  static_assert(R * NP <= kLanes, "a tile's tap dwords fill at most one vector");
  const PackedConvInt8View& w = p.weights;
  const int O = p.geometry.out_c;
  const int groups = (p.geometry.in_c + 3) / 4;
  const size_t tab_stride = Triples(p.geometry).group_stride;
  using Plan = SegmentPlan<R, NP, SW>;
  constexpr int kSegs = Plan::kCount;
  size_t seg_at[kSegs];
  for (int s = 0; s < kSegs; ++s) seg_at[s] = Plan::kPlan.row[s] * row_bytes + size_t(Plan::kPlan.column[s]) * kColumn;
  const __m512i offv = _mm512_loadu_si512(Plan::kPlan.offset.data());
  for (int q = 0; q < groups; ++q) {
    const int s0 = w.sp_group_slots[q], s1 = w.sp_group_slots[q + 1];
    if (s0 == s1) continue;
    const uint8_t* g = tab + q * tab_stride;
    __m512i lo[kSegs], hi[kSegs];
    PL_UNROLL
    for (int s = 0; s < kSegs; ++s) {
      lo[s] = _mm512_loadu_si512(g + seg_at[s]);
      hi[s] = _mm512_loadu_si512(g + seg_at[s] + 64);
    }
    for (int sl = s0; sl < s1; ++sl) {
      const __m512i idx = _mm512_add_epi8(_mm512_set1_epi32(int(w.sp_slot_index[sl])), offv);
      __m512i t = _mm512_maskz_permutex2var_epi8(Plan::kPlan.mask[0], lo[0], idx, hi[0]);
      PL_UNROLL
      for (int s = 1; s < kSegs; ++s) {
        t = _mm512_or_si512(t, _mm512_maskz_permutex2var_epi8(Plan::kPlan.mask[s], lo[s], idx, hi[s]));
      }
      _mm512_store_si512(dwords + size_t(sl) * 64, t);
    }
  }
  // Per block, 16 accumulators, one per filter, whose lanes are the tile's
  // pixels: an entry's tap dwords are one load, and each filter's weight
  // dword is vpdpbusd's broadcast memory operand (no shuffle, no extra load
  // instruction), so the loop is 16 vpdpbusd per 64-byte load.
  for (int b = 0; b < w.sp_blocks; ++b) {
    const int o0 = b * kLanes, nf = std::min(kLanes, O - o0);
    __m512i acc[kLanes];
    PL_UNROLL
    for (int f = 0; f < kLanes; ++f) acc[f] = _mm512_set1_epi32(f < nf ? w.bias_u8[o0 + f] : 0);
    for (int e = w.sp_block_entries[b], ee = w.sp_block_entries[b + 1]; e < ee; ++e) {
      if (first) _mm_prefetch(reinterpret_cast<const char*>(w.sp_weights + size_t(e + kAhead) * 64), _MM_HINT_T0);
      const __m512i x = _mm512_load_si512(dwords + size_t(w.sp_entry_slot[e]) * 64);
      const int8_t* wp = w.sp_weights + size_t(e) * 64;
      PL_UNROLL
      for (int f = 0; f < kLanes; ++f) {
        int32_t wd;
        std::memcpy(&wd, wp + 4 * f, 4);
        acc[f] = _mm512_dpbusd_epi32(acc[f], x, _mm512_set1_epi32(wd));
      }
    }
    // Requantise per filter (16 pixels each), then a 16x16 byte transpose
    // gives each pixel's 16 outputs, contiguous in NHWC.
    const FilterQuant* fq = reinterpret_cast<const FilterQuant*>(dwords + SharedSlotBytes(p)) + o0;
    __m128i rows[kLanes];
    PL_UNROLL
    for (int f = 0; f < kLanes; ++f) {
      rows[f] = f < nf ? RequantizeAvx512(acc[f], MakeAvx512LaneQuantUniform(fq[f]), p.quant) : _mm_setzero_si128();
    }
    int8_x86::Transpose16x16(rows);
    const __mmask16 om = __mmask16((1u << nf) - 1);
    PL_UNROLL
    for (int r = 0; r < R; ++r) {
      PL_UNROLL
      for (int i = 0; i < NP; ++i) _mm_mask_storeu_epi8(out + r * out_row + size_t(i) * O + o0, om, rows[r * NP + i]);
    }
  }
}

using TileFn = void (*)(const Int8ConvKernelParams&, const uint8_t*, size_t, int8_t*, size_t, uint8_t*, bool);

template <int R, int SW, bool kCopy, int... I>
constexpr std::array<TileFn, sizeof...(I)> TileTable(std::integer_sequence<int, I...>) {
  return {{&Tile<R, I + 1, SW, kCopy>...}};
}

template <int R, int kMax>
struct TileTables {
  using Row = std::array<TileFn, kMax>;
  // [copy][stride_w - 1][np - 1]
  static constexpr std::array<std::array<Row, 2>, 2> kFns = {
      {{{TileTable<R, 1, false>(std::make_integer_sequence<int, kMax>()),
         TileTable<R, 2, false>(std::make_integer_sequence<int, kMax>())}},
       {{TileTable<R, 1, true>(std::make_integer_sequence<int, kMax>()),
         TileTable<R, 2, true>(std::make_integer_sequence<int, kMax>())}}}};
};

template <int R, int SW, int... I>
constexpr std::array<TileFn, sizeof...(I)> SharedTileTable(std::integer_sequence<int, I...>) {
  return {{&SharedTile<R, I + 1, SW>...}};
}

template <int R, int kMax>
struct SharedTileTables {
  using Row = std::array<TileFn, kMax>;
  // [stride_w - 1][np - 1]
  static constexpr std::array<Row, 2> kFns = {{SharedTileTable<R, 1>(std::make_integer_sequence<int, kMax>()),
                                               SharedTileTable<R, 2>(std::make_integer_sequence<int, kMax>())}};
};

// Copy a tile's windows to records when they take at most this much L1
// (measured on VGG-16's layers: copying 256 input channels' records, 64 KiB,
// ran 15% slower than reading the tables).
constexpr size_t kMaxRecordBytes = 32 << 10;

}  // namespace

namespace {

// The tiles of output rows [oy0, oy1): two rows per tile where the call has
// them (up to 16 accumulators: more independent chains than one row of a
// narrow image gives), the columns split evenly over the fewest tiles.
// `shared`: the shared-pattern tiles (sp_* form), else the vpermb ones.
void RunRows(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0, int oy1,
             void* scratch, bool shared) {
  const ConvGeometry& g = p.geometry;
  const int O = g.out_c, W = g.out_w;
  // The conv3x3 judge claims column strides 1 and 2 only.
  assert(g.stride_w == 1 || g.stride_w == 2);
  const int sw = g.stride_w - 1;
  const int8_t* img = input + size_t(n) * g.in_h * g.in_w * g.in_c;
  const Triples t(g);
  uint8_t* tab = static_cast<uint8_t*>(scratch);
  uint8_t* rec = tab + 2 * t.row_bytes;  // records, or the shared tiles' tap dwords
  const __m128i pad = _mm_set1_epi8(char(uint8_t(p.quant.zp_in + 128)));
  const size_t out_row = size_t(W) * O;
  if (shared) {
    FilterQuant* fq = reinterpret_cast<FilterQuant*>(rec + SharedSlotBytes(p));
    for (int o = 0; o < O; ++o) fq[o] = MakeUniformQuant(p.weights.multiplier[o], p.weights.shift[o]);
  }
  for (int oy = oy0; oy < oy1;) {
    int8_t* out = output + (size_t(n) * g.out_h + oy) * out_row;
    const bool pair = oy + 1 < oy1;
    BuildTriples(img, g, t, oy, pad, tab);
    if (pair) BuildTriples(img, g, t, oy + 1, pad, tab + t.row_bytes);
    const int most = pair ? kMaxPairPix : kMaxRowPix;
    const int tiles = (W + most - 1) / most;
    for (int k = 0, x0 = 0; k < tiles; ++k) {
      const int x1 = W * (k + 1) / tiles;
      const int np = x1 - x0;
      TileFn fn;
      if (shared) {
        fn = pair ? SharedTileTables<2, kMaxPairPix>::kFns[sw][np - 1]
                  : SharedTileTables<1, kMaxRowPix>::kFns[sw][np - 1];
      } else {
        const bool copy = size_t((g.in_c + 3) / 4) * (pair ? 2 : 1) * np * kWindow <= kMaxRecordBytes;
        fn = pair ? TileTables<2, kMaxPairPix>::kFns[copy][sw][np - 1]
                  : TileTables<1, kMaxRowPix>::kFns[copy][sw][np - 1];
      }
      fn(p, tab + size_t(x0) * g.stride_w * kColumn, t.row_bytes, out + size_t(x0) * O, out_row, rec,
         oy == oy0 && k == 0);
      x0 = x1;
    }
    oy += pair ? 2 : 1;
  }
}

}  // namespace

size_t Int8ConvScratchAvx512VnniFl(const Int8ConvKernelParams& p, int /*rows*/) {
  const size_t records = size_t((p.geometry.in_c + 3) / 4) * std::max(kMaxRowPix, 2 * kMaxPairPix) * kWindow;
  return 2 * Triples(p.geometry).row_bytes + std::min(records, kMaxRecordBytes);
}

void Int8ConvRowsAvx512VnniFl(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0,
                              int oy1, void* scratch, size_t /*scratch_bytes*/) {
  RunRows(p, input, output, n, oy0, oy1, scratch, false);
}

size_t Int8ConvScratchAvx512VnniSp(const Int8ConvKernelParams& p, int /*rows*/) {
  return 2 * Triples(p.geometry).row_bytes + SharedSlotBytes(p) + size_t(p.geometry.out_c) * sizeof(FilterQuant);
}

void Int8ConvRowsAvx512VnniSp(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0,
                              int oy1, void* scratch, size_t /*scratch_bytes*/) {
  assert(p.weights.sp_blocks > 0);
  RunRows(p, input, output, n, oy0, oy1, scratch, true);
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif
