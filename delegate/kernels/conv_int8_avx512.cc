// AVX-512 VNNI + VBMI int8 pattern-conv kernel (docs/int8.md, "The AVX-512
// kernel"): 16 int32 lanes, one vpdpbusd (u8 x s8, 4 bytes per lane) per kept
// kernel and vector of 16 output pixels, the tap dwords of every (channel,
// pattern) slot made by one vpermt2b from a per-channel table.
//
//  1. Input prep: the call's input rows are transposed from NHWC into
//     per-channel byte planes [c][input row][column phase][pp] in the offset
//     domain (u = x ^ 0x80), 16 pixels x 16 channels at a time with a byte
//     transpose; padding holds the offset zero point, so a padded tap
//     contributes exactly what the packed bias correction removes.
//  2. Pixels: the call's output pixels (rows [oy0, oy1) x out_w) are
//     flattened into tiles of 16, so narrow images (7x7, 14x14) waste no
//     lanes; a tile may span several output rows ("pieces").
//  3. Per (channel, tile) one tap-major table: the 8 non-centre taps x 16
//     pixels = 128 bytes in two zmm (masked loads straight from the planes,
//     one per piece and tap) plus the centre tap's 16 bytes, each repeated in
//     the 4 bytes of its pixel's dword (one vpermb). Any slot's tap dwords are
//     then one vpermt2b (index = the slot's table bases + the pixel number)
//     and one byte blend for the centre: ~3 instructions per slot and tile,
//     the table built once for all the channel's slots (the tables of a
//     block's tiles together, so a slot's index and mask are made once).
//  4. Per chunk of slots (packing: pattern_pack_int8.h) the slot tiles of a
//     block of up to kTiles pixel tiles (a call's tiles split evenly over its
//     blocks) go to an L1 buffer; each output channel keeps its
//     kTiles accumulators in registers over its kept kernels of the chunk
//     (vpdpbusd with the weights' dword broadcast and the tile as memory
//     operand); accumulators pass through memory only between chunks.
//  5. Requantisation (CONV_2D's double rounding, requantize.h) of 16 pixels per
//     vector into a staging tile, 16x16 byte transposes into NHWC: the
//     flattened pixels are contiguous in the output.
//
// Built with the AVX-512 flags plus VNNI, BW and VBMI through the target
// pragma below (so that the build lists need no flags of their own); called
// only after dispatch checked those features on the CPU.
#include <algorithm>
#include <cassert>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "delegate/kernels/conv_int8_kernel.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512vl,avx512bw,avx512vnni,avx512vbmi,avx2,fma"))), \
                             apply_to = function)
#else
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,avx512bw,avx512vnni,avx512vbmi,avx2,fma")
#endif

#include <immintrin.h>

#include "delegate/kernels/conv_int8_x86.h"
#include "delegate/kernels/requantize_avx512.h"

#if defined(PL_INT8_PHASE_TIMERS)
#include <x86intrin.h>
#endif

namespace patternlite {

// Phase timers for measurement builds only (tests/native/int8_kernel_bench.cc):
// rdtsc cycles per phase, summed over calls; one thread.
#if defined(PL_INT8_PHASE_TIMERS)
enum Int8Phase {
  kPhasePlanes,
  kPhasePieces,
  kPhaseTables,
  kPhaseSlots,
  kPhaseDot,
  kPhaseRequant,
  kPhaseStore,
  kPhaseCount
};
uint64_t g_int8_phase_cycles[kPhaseCount];
extern const char* const g_int8_phase_names[] = {"planes", "pieces", "tables", "slots", "dot", "requant", "store"};
extern const int g_int8_phases = kPhaseCount;
#define PL_PHASE_BEGIN(v) uint64_t v = __rdtsc()
#define PL_PHASE_END(phase, v) (g_int8_phase_cycles[phase] += __rdtsc() - (v), (v) = __rdtsc())
#define PL_PHASE_RESET(v) ((v) = __rdtsc())
constexpr bool kSplitRequant = true;
#else
#define PL_PHASE_BEGIN(v)
#define PL_PHASE_END(phase, v)
#define PL_PHASE_RESET(v)
constexpr bool kSplitRequant = false;
#endif

namespace {

constexpr int kLanes = 16;
// Output channels whose kernel lists run interleaved (kFilters x NT
// accumulators). 1: on a Zen 5 class CPU the loop is bound by its one 64-byte
// tile load per vpdpbusd, not by the latency, and 2 lost 5-10% at keep 0.28
// on the lists' tails (docs/int8.md, round 2). -DPL_INT8_FILTERS=2 to measure.
#ifndef PL_INT8_FILTERS
#define PL_INT8_FILTERS 1
#endif
constexpr int kFilters = PL_INT8_FILTERS;
constexpr int kTiles = 4;  // pixel tiles per accumulator block (8 measured no faster)
constexpr size_t kAlign = kScratchAlign;

size_t Up(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }

// Where the kernel's scratch goes, for `out_rows` output rows.
struct Shape {
  int pp = 0, in_rows = 0;
  size_t cs = 0;  // bytes of one channel's planes
  size_t planes = 0, tiles = 0, acc = 0, stage = 0, total = 0;
  Shape(const Int8ConvKernelParams& p, int out_rows) {
    const ConvGeometry& g = p.geometry;
    // Plane columns reach out_w - 1 + 2 / stride_w; whole 16-byte blocks.
    pp = (g.out_w + 2 + 15) / 16 * 16;
    in_rows = (out_rows - 1) * g.stride_h + 3;
    cs = size_t(in_rows) * g.stride_w * pp;
    planes = Up(cs * g.in_c + 64);  // a masked tap load may address up to 64 bytes past a plane
    tiles = Up(size_t(p.weights.max_chunk_slots) * kTiles * 64);
    acc = p.weights.chunks > 1 || kSplitRequant ? Up(size_t(g.out_c) * kTiles * kLanes * sizeof(int32_t)) : 0;
    stage = Up(size_t(g.out_c) * kTiles * kLanes);
    total = planes + tiles + acc + stage;
  }
};

// Planes[c][r][ph][x] = offset input at row oy0*Sh + r - pad_top, column
// x*Sw + ph - pad_left; the offset zero point outside the image.
void FillPlanes(const ConvGeometry& g, const Shape& sh, uint8_t pad_byte, const int8_t* in_n, int oy0,
                uint8_t* planes) {
  const int Sw = g.stride_w, C = g.in_c;
  const __m128i flip = _mm_set1_epi8(char(0x80));
  const __m128i pad = _mm_set1_epi8(char(pad_byte));
  for (int r = 0; r < sh.in_rows; ++r) {
    const int iy = oy0 * g.stride_h + r - g.pad_top;
    for (int ph = 0; ph < Sw; ++ph) {
      uint8_t* row = planes + (size_t(r) * Sw + ph) * sh.pp;
      if (iy < 0 || iy >= g.in_h) {
        for (int c = 0; c < C; ++c) std::memset(row + size_t(c) * sh.cs, pad_byte, sh.pp);
        continue;
      }
      const int8_t* in_row = in_n + size_t(iy) * g.in_w * C;
      for (int x0 = 0; x0 < sh.pp; x0 += 16) {
        for (int c0 = 0; c0 < C; c0 += 16) {
          const int nc = std::min(16, C - c0);
          const __mmask16 cm = __mmask16((1u << nc) - 1);
          __m128i v[16];
          for (int i = 0; i < 16; ++i) {
            const int ix = (x0 + i) * Sw + ph - g.pad_left;
            v[i] = ix < 0 || ix >= g.in_w
                       ? pad
                       : _mm_xor_si128(_mm_maskz_loadu_epi8(cm, in_row + size_t(ix) * C + c0), flip);
          }
          int8_x86::Transpose16x16(v);
          uint8_t* dst = row + size_t(c0) * sh.cs + x0;
          for (int i = 0; i < nc; ++i) _mm_store_si128(reinterpret_cast<__m128i*>(dst + size_t(i) * sh.cs), v[i]);
        }
      }
    }
  }
}

// A tile's run of pixels within one output row, as masked loads: for tap t,
// the plane bytes at channel base + off[t] land in the table lanes of mask[t]
// (A for taps 0..3, B for 5..8, C lanes 0..15 for the centre).
struct Piece {
  intptr_t off[9];
  __mmask64 mask[9];
};

// The pieces of the tile of flattened pixels [p0, p0 + count).
int TilePieces(const ConvGeometry& g, const Shape& sh, int p0, int count, Piece* pieces) {
  const int W = g.out_w, Sh = g.stride_h, Sw = g.stride_w;
  int n = 0;
  for (int lane = 0; lane < count;) {
    const int p = p0 + lane, j = p / W, ox = p % W;
    const int len = std::min(count - lane, W - ox);
    Piece& pc = pieces[n++];
    const uint64_t run = ((uint64_t(1) << len) - 1) << lane;  // len <= 16
    for (int t = 0; t < 9; ++t) {
      const int ky = t / 3, kx = t % 3;
      const intptr_t src = intptr_t((size_t(j * Sh + ky) * Sw + kx % Sw) * sh.pp) + ox + kx / Sw;
      const int slot = t < 4 ? t : t == 4 ? 0 : t - 5;  // 16-byte lane group in A / B / C
      pc.off[t] = src - lane - 16 * slot;
      pc.mask[t] = __mmask64(run << (16 * slot));
    }
    lane += len;
  }
  return n;
}

// Byte 4i+k = i: pixel i's number in each byte of its dword.
inline __m512i PixelQuads() {
  return _mm512_set_epi32(0x0F0F0F0F, 0x0E0E0E0E, 0x0D0D0D0D, 0x0C0C0C0C, 0x0B0B0B0B, 0x0A0A0A0A, 0x09090909,
                          0x08080808, 0x07070707, 0x06060606, 0x05050505, 0x04040404, 0x03030303, 0x02020202,
                          0x01010101, 0x00000000);
}

// The tap-major table of one channel for one tile: A = taps 0..3, B = taps
// 5..8 (16 bytes each), Cx = the centre tap, each byte repeated 4 times.
struct Table {
  __m512i a, b, cx;
};

inline Table BuildTable(const uint8_t* cp, const Piece* pieces, int np) {
  __m512i a = _mm512_setzero_si512(), b = _mm512_setzero_si512(), c = _mm512_setzero_si512();
  for (int i = 0; i < np; ++i) {
    const Piece& pc = pieces[i];
    // The addresses of masked-off bytes may lie outside the planes: masked
    // loads never touch them. Integer arithmetic avoids out-of-array pointers.
    const auto at = [&](int t) { return reinterpret_cast<const void*>(reinterpret_cast<intptr_t>(cp) + pc.off[t]); };
    a = _mm512_mask_loadu_epi8(a, pc.mask[0], at(0));
    a = _mm512_mask_loadu_epi8(a, pc.mask[1], at(1));
    a = _mm512_mask_loadu_epi8(a, pc.mask[2], at(2));
    a = _mm512_mask_loadu_epi8(a, pc.mask[3], at(3));
    c = _mm512_mask_loadu_epi8(c, pc.mask[4], at(4));
    b = _mm512_mask_loadu_epi8(b, pc.mask[5], at(5));
    b = _mm512_mask_loadu_epi8(b, pc.mask[6], at(6));
    b = _mm512_mask_loadu_epi8(b, pc.mask[7], at(7));
    b = _mm512_mask_loadu_epi8(b, pc.mask[8], at(8));
  }
  return {a, b, _mm512_permutexvar_epi8(PixelQuads(), c)};
}

// The tap dwords of the slots [s, se) of one channel for the NT tiles of a
// block: the NT tables stay in registers, and each slot's permute index and
// centre mask are made once for all tiles.
template <int NT>
inline void SlotTiles(const uint8_t* cp, const Piece (*pieces)[kLanes], const int* np, const Int8Slot* slots, int s,
                      int se, uint8_t* out) {
  PL_PHASE_BEGIN(t0);
  Table t[NT];
  for (int r = 0; r < NT; ++r) t[r] = BuildTable(cp, pieces[r], np[r]);
  PL_PHASE_END(kPhaseTables, t0);
  const __m512i quad = PixelQuads();
  for (int si = s; si < se; ++si, out += NT * 64) {
    const Int8Slot& sl = slots[si];
    const __m512i idx = _mm512_add_epi32(quad, _mm512_set1_epi32(int32_t(sl.table_base)));
    // No centre: an empty blend mask.
    const __mmask64 centre = sl.centre < 0 ? __mmask64(0) : __mmask64(0x1111111111111111ull << sl.centre);
    for (int r = 0; r < NT; ++r) {
      const __m512i d = _mm512_permutex2var_epi8(t[r].a, idx, t[r].b);
      _mm512_store_si512(out + r * 64, _mm512_mask_blend_epi8(centre, d, t[r].cx));
    }
  }
  PL_PHASE_END(kPhaseSlots, t0);
}

// One output channel's 16 pixels (requantize_avx512.h, constants broadcast).
inline void Requantize16(__m512i acc, int32_t m, int shift, const Int8Quant& q, int8_t* dst) {
  _mm_store_si128(reinterpret_cast<__m128i*>(dst), RequantizeAvx512(acc, MakeAvx512LaneQuantUniform(m, shift), q));
}

// The kernels of one chunk for F output channels o.. o+F-1 over the NT tiles
// of a block: F x NT accumulators in registers, from the corrected bias (first
// chunk) or the accumulator buffer; into the buffer, or requantised into the
// staging tile after the last chunk.
template <int NT, int F>
inline void Filters(const PackedConvInt8View& w, const Int8Quant& quant, const uint8_t* tiles, int32_t* acc,
                    int8_t* stage, const int32_t* ck, int o, bool first, bool last) {
  __m512i a[F][NT];
  for (int f = 0; f < F; ++f) {
    const int32_t* ao = acc + size_t(o + f) * kTiles * kLanes;
    for (int r = 0; r < NT; ++r) {
      a[f][r] = first ? _mm512_set1_epi32(w.bias_u8[o + f]) : _mm512_load_si512(ao + r * kLanes);
    }
  }
  const Int8Kernel* kn[F];
  int len[F];
  for (int f = 0; f < F; ++f) {
    kn[f] = w.kernels + ck[o + f];
    len[f] = ck[o + f + 1] - ck[o + f];
  }
  const auto step = [&](int f, const Int8Kernel& kk) {
    const __m512i wv = _mm512_set1_epi32(kk.weights);
    const uint8_t* tile = tiles + size_t(kk.slot) * NT * 64;
    for (int r = 0; r < NT; ++r) a[f][r] = _mm512_dpbusd_epi32(a[f][r], _mm512_load_si512(tile + r * 64), wv);
  };
  int common = len[0];
  for (int f = 1; f < F; ++f) common = std::min(common, len[f]);
  for (int i = 0; i < common; ++i) {
    for (int f = 0; f < F; ++f) step(f, kn[f][i]);
  }
  for (int f = 0; f < F; ++f) {
    for (int i = common; i < len[f]; ++i) step(f, kn[f][i]);
  }
  for (int f = 0; f < F; ++f) {
    if (last && !kSplitRequant) {
      int8_t* so = stage + size_t(o + f) * kTiles * kLanes;
      for (int r = 0; r < NT; ++r) Requantize16(a[f][r], w.multiplier[o + f], w.shift[o + f], quant, so + r * kLanes);
    } else {
      int32_t* ao = acc + size_t(o + f) * kTiles * kLanes;
      for (int r = 0; r < NT; ++r) _mm512_store_si512(ao + r * kLanes, a[f][r]);
    }
  }
}

// One block of NT pixel tiles starting at flattened pixel p0 (NT <= kTiles:
// the block's accumulators stay in registers).
template <int NT>
void Block(const Int8ConvKernelParams& p, const Shape& sh, const uint8_t* planes, uint8_t* tiles, int32_t* acc,
           int8_t* stage, int p0, int npix, int8_t* out_pixels) {
  const ConvGeometry& g = p.geometry;
  const PackedConvInt8View& w = p.weights;
  const int O = g.out_c;
  PL_PHASE_BEGIN(t0);
  Piece pieces[NT][kLanes];
  int np[NT];
  for (int r = 0; r < NT; ++r) {
    np[r] = TilePieces(g, sh, p0 + r * kLanes, std::min(kLanes, npix - r * kLanes), pieces[r]);
  }
  PL_PHASE_END(kPhasePieces, t0);
  const int chunks = w.chunks;
  for (int k = 0; k < chunks; ++k) {
    // The chunk's slot tiles: [slot][tile][64 bytes]; slots of a channel are adjacent.
    const int s0 = w.chunk_slots[k], s1 = w.chunk_slots[k + 1];
    for (int s = s0; s < s1;) {
      const int c = w.slots[s].channel;
      int se = s + 1;
      while (se < s1 && w.slots[se].channel == c) ++se;
      SlotTiles<NT>(planes + size_t(c) * sh.cs, pieces, np, w.slots, s, se, tiles + size_t(s - s0) * NT * 64);
      s = se;
    }
    PL_PHASE_RESET(t0);  // SlotTiles timed its own phases
    const int32_t* ck = w.chunk_kernels + size_t(k) * O;
    const bool first = k == 0, last = k == chunks - 1;
    for (int o = 0; o < O; o += kFilters) {
      if (o + kFilters <= O) {
        Filters<NT, kFilters>(w, p.quant, tiles, acc, stage, ck, o, first, last);
      } else {
        for (int oo = o; oo < O; ++oo) Filters<NT, 1>(w, p.quant, tiles, acc, stage, ck, oo, first, last);
      }
    }
    PL_PHASE_END(kPhaseDot, t0);
    if (last && kSplitRequant) {
      for (int o = 0; o < O; ++o) {
        const int32_t* ao = acc + size_t(o) * kTiles * kLanes;
        int8_t* so = stage + size_t(o) * kTiles * kLanes;
        for (int r = 0; r < NT; ++r) {
          Requantize16(_mm512_load_si512(ao + r * kLanes), w.multiplier[o], w.shift[o], p.quant, so + r * kLanes);
        }
      }
      PL_PHASE_END(kPhaseRequant, t0);
    }
  }
  // Staging [o][pixel] -> NHWC: the block's pixels are contiguous in the output.
  for (int r = 0; r < NT; ++r) {
    const int cols = std::min(kLanes, npix - r * kLanes);
    int8_x86::WriteStage(stage + r * kLanes, kTiles * kLanes, O, cols, out_pixels + size_t(r) * kLanes * O);
  }
  PL_PHASE_END(kPhaseStore, t0);
}

// Block<NT> for the block's tile count NT = ceil(npix / 16) <= kTiles.
template <int NT>
void RunBlock(const Int8ConvKernelParams& p, const Shape& sh, const uint8_t* planes, uint8_t* tiles, int32_t* acc,
              int8_t* stage, int p0, int npix, int8_t* dst, std::integral_constant<int, NT>) {
  if constexpr (NT > 1) {
    if ((npix + kLanes - 1) / kLanes < NT) {
      RunBlock(p, sh, planes, tiles, acc, stage, p0, npix, dst, std::integral_constant<int, NT - 1>());
      return;
    }
  }
  Block<NT>(p, sh, planes, tiles, acc, stage, p0, npix, dst);
}

}  // namespace

void Int8ConvRowsAvx512Vnni(const Int8ConvKernelParams& p, const int8_t* input, int8_t* output, int n, int oy0,
                            int oy1, void* scratch, size_t scratch_bytes) {
  // Packs whose blocks share patterns, and dense-ish packs, run faster with
  // 16 filters per vector (docs/int8.md).
  if (Int8PreferSharedPatterns(p)) {
    Int8ConvRowsAvx512VnniSp(p, input, output, n, oy0, oy1, scratch, scratch_bytes);
    return;
  }
  if (Int8PreferFilterLanes(p)) {
    Int8ConvRowsAvx512VnniFl(p, input, output, n, oy0, oy1, scratch, scratch_bytes);
    return;
  }
  const ConvGeometry& g = p.geometry;
  const Shape sh(p, oy1 - oy0);
  assert(scratch_bytes >= sh.total && size_t(scratch) % kScratchAlign == 0);
  (void)scratch_bytes;
  uint8_t* base = static_cast<uint8_t*>(scratch);
  uint8_t* planes = base;
  uint8_t* tiles = base + sh.planes;
  int32_t* acc = reinterpret_cast<int32_t*>(base + sh.planes + sh.tiles);
  int8_t* stage = reinterpret_cast<int8_t*>(base + sh.planes + sh.tiles + sh.acc);

  const int8_t* in_n = input + size_t(n) * g.in_h * g.in_w * g.in_c;
  int8_t* out_n = output + size_t(n) * g.out_h * g.out_w * g.out_c;
  PL_PHASE_BEGIN(t0);
  FillPlanes(g, sh, uint8_t(uint8_t(int8_t(p.quant.zp_in)) ^ 0x80), in_n, oy0, planes);
  PL_PHASE_END(kPhasePlanes, t0);

  const int total = (oy1 - oy0) * g.out_w;
  int8_t* out_pixels = out_n + size_t(oy0) * g.out_w * g.out_c;
  // The call's tiles split evenly over the fewest blocks of <= kTiles (13
  // tiles: 4+3+3+3, not 4+4+4+1): a block of 1-2 tiles has too few
  // accumulator chains to hide vpdpbusd's latency.
  const int tiles_total = (total + kLanes - 1) / kLanes;
  const int blocks = (tiles_total + kTiles - 1) / kTiles;
  for (int b = 0; b < blocks; ++b) {
    const int p0 = tiles_total * b / blocks * kLanes;
    const int npix = std::min(tiles_total * (b + 1) / blocks * kLanes, total) - p0;
    int8_t* dst = out_pixels + size_t(p0) * g.out_c;
    RunBlock(p, sh, planes, tiles, acc, stage, p0, npix, dst, std::integral_constant<int, kTiles>());
  }
}

size_t Int8ConvScratchAvx512Vnni(const Int8ConvKernelParams& p, int rows) {
  if (Int8PreferSharedPatterns(p)) return Int8ConvScratchAvx512VnniSp(p, rows);
  return Int8PreferFilterLanes(p) ? Int8ConvScratchAvx512VnniFl(p, rows) : Shape(p, rows).total;
}

}  // namespace patternlite

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC pop_options
#endif
