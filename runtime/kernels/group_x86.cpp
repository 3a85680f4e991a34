// x86 groupwise kernels: raw intrinsics in functions compiled for their
// target (GCC target attributes; the library itself stays portable), run
// only after the CPU checks of the kernel table (group_reference.cpp).
//
// Form: an MR x NP tile = MR tokens x NP panels of 16 rows. One int32 lane
// per row (zmm: the 16 rows of a panel; ymm: 8, a panel in two halves), so a
// group's integer sum needs no horizontal reduction: for every column quad j
// of the group, one 64-byte chunk of the panel block holds the quad of all 16
// rows (group_types.h), and the token's 4 activation bytes are broadcast to
// every lane. Per group and tile, then, in lanes = rows:
//   int:   acc = -offset * sum(a)  (the stored codes are u = q + offset),
//          8 quad steps (vpdpbusd, or vpmaddubsw + vpmaddwd / + vpaddw),
//   fp32:  facc = fma(float(acc), dw * dx, facc)   (group_accumulate)
// and the tile's outputs are stored once, after its last group. Tokens are
// blocked by 64 so their codes stay in L1/L2 while a panel's stream is reused.
// Decode (one token) takes 4 panels at a time: 4 weight streams in flight.
// On zmm, prefill (6 tokens or more) takes another path: the activations are
// first rearranged into one record per tile and group, and the weights are
// taken in K blocks that stay in L1 (ptile512 and drive_prefill512 below).
//
// vpdpbusd is emitted with inline asm (the assembler knows it whatever the
// function's target), so that each register width has one tile template for
// all its modes; it runs only where the table found VNNI (AVX-512 VNNI for
// zmm, AVX-VNNI for the VEX ymm form).
#if defined(__x86_64__)
// GCC 12's own AVX-512 intrinsics start from _mm512_undefined_*() and trip
// -W(maybe-)uninitialized when inlined (as in int8_x86.cpp).
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "runtime/kernels/group_kernels.h"

#define AXE_G_AVX2 __attribute__((target("avx2,fma,f16c")))
#define AXE_G_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,fma,f16c")))

namespace axe {
namespace group_x86 {
namespace {

enum class Mode { kVnni, kInt32, kInt16 };

// One tile's inputs: token m's data at x + m * ldx, xs / xsum + m * groups;
// panel p's blocks at w + p * ldw, its scales at sh / sf + p * lds.
struct Args {
  const int8_t* x;
  size_t ldx;
  const float* xs;
  const int32_t* xsum;
  size_t groups;
  const uint8_t* w;
  size_t ldw;
  const uint16_t* sh;  // fp16 scales, or null
  const float* sf;     // fp32 scales (when sh is null)
  size_t lds;
};

// Where a tile's outputs go: token m, tile row r (0 .. NP * 16) at
// y[m * ldy + r]; only rows [lo, hi) are written (a partial panel, or a row
// range that starts or ends inside one).
struct Dst {
  float* y;
  size_t ldy;
  const float* bias;
  bool accumulate;
  int32_t* d;  // tests: d[m * ldd + r * groups + g]
  size_t ldd;
  int lo, hi;
};

using TileFn = void (*)(const Args&, const Dst&);

inline int32_t load_i32(const int8_t* p) {
  int32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Decode streams its panels from memory: each of the NP streams also asks
// for the block 2 KiB ahead (measured: +4-8% over the hardware prefetcher
// alone on one core). Addresses past the end are harmless to a prefetch (and
// computed as integers, so no out-of-bounds pointer is ever formed).
template <int NP, size_t kBlock>
inline void prefetch_ahead(const uint8_t* wg, size_t ldw) {
  constexpr size_t kAhead = 2048 / kBlock * kBlock;
  const uintptr_t base = reinterpret_cast<uintptr_t>(wg) + kAhead;
  for (int p = 0; p < NP; ++p)
    for (size_t l = 0; l < kBlock; l += 64) _mm_prefetch(reinterpret_cast<const char*>(base + p * ldw + l), _MM_HINT_T0);
}

// acc += u (unsigned bytes) . s (signed bytes), quadruples into int32 lanes.
AXE_G_AVX512 inline void dpbusd512(__m512i& acc, __m512i u, __m512i s) {
  asm("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u), "v"(s));
}
AXE_G_AVX2 inline void dpbusd256(__m256i& acc, __m256i u, __m256i s) {
  asm("%{vex%} vpdpbusd %2, %1, %0" : "+x"(acc) : "x"(u), "x"(s));
}

// ---- zmm: AVX-512 (VNNI, or BW with vpmaddubsw) -----------------------------
// The integer step of one quad for stored codes u (or |q| with the sign
// trick, where s already carries q's sign).
template <Mode MODE>
AXE_G_AVX512 inline void step512(__m512i& acc, __m512i& acc16, __m512i u, __m512i s) {
  if constexpr (MODE == Mode::kVnni) {
    dpbusd512(acc, u, s);
  } else if constexpr (MODE == Mode::kInt16) {
    acc16 = _mm512_add_epi16(acc16, _mm512_maddubs_epi16(u, s));
    asm("" : "+v"(acc16));  // keeps GCC from reassociating the chain into a tree (register spills)
  } else {
    acc = _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(u, s), _mm512_set1_epi16(1)));
    asm("" : "+v"(acc));
  }
}

// One group of an MR x NP tile: acc[m][p] = corr(m) + the group's integer
// dot products of token m with panel p's 16 rows. wg is panel 0's block of
// the group (panel p at + p * ldw); act(m, q) is token m's codes 4q .. 4q + 3
// as one int32 (quads 0..7 of the group). Shared by the kernel tiles and the
// prefill tiles, which differ only in where the activations come from.
template <int MR, int NP, int BITS, Mode MODE, class Act, class Corr>
AXE_G_AVX512 __attribute__((always_inline)) inline void group_sums512(const uint8_t* wg, size_t ldw, Act act,
                                                                     Corr corr, __m512i (&acc)[MR][NP]) {
  // 8-bit without VNNI: |q| x (sign(q) * a), since u x a pairs could saturate.
  constexpr bool kSignTrick = MODE == Mode::kInt32 && BITS == 8;
  const __m512i nib = _mm512_set1_epi8(0x0F), flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc16[MR][NP];
  for (int m = 0; m < MR; ++m)
    for (int p = 0; p < NP; ++p) {
      if constexpr (MODE == Mode::kInt16) acc16[m][p] = _mm512_setzero_si512();
      else acc[m][p] = _mm512_set1_epi32(corr(m));
    }
  if constexpr (BITS == 8) {
#pragma GCC unroll 8
    for (int j = 0; j < 8; ++j) {
      __m512i u[NP];
      __mmask64 neg[NP];
      for (int p = 0; p < NP; ++p) {
        u[p] = _mm512_loadu_si512(wg + p * ldw + j * 64);
        if constexpr (kSignTrick) {
          const __m512i q = _mm512_xor_si512(u[p], flip);
          neg[p] = _mm512_movepi8_mask(q);
          u[p] = _mm512_abs_epi8(q);  // -128 -> 0x80, read as 128
        }
      }
      for (int m = 0; m < MR; ++m) {
        const __m512i a = _mm512_set1_epi32(act(m, j));
        for (int p = 0; p < NP; ++p) {
          if constexpr (kSignTrick) {
            const __m512i s = _mm512_mask_sub_epi8(a, neg[p], _mm512_setzero_si512(), a);
            step512<MODE>(acc[m][p], acc16[m][p], u[p], s);
          } else {
            step512<MODE>(acc[m][p], acc16[m][p], u[p], a);
          }
        }
      }
    }
  } else {
#pragma GCC unroll 4
    for (int j = 0; j < 4; ++j) {  // chunk j: quad j (low nibbles) and quad j + 4 (high)
      __m512i lo[NP], hi[NP];
      for (int p = 0; p < NP; ++p) {
        const __m512i v = _mm512_loadu_si512(wg + p * ldw + j * 64);
        lo[p] = _mm512_and_si512(v, nib);
        hi[p] = _mm512_and_si512(_mm512_srli_epi16(v, 4), nib);
      }
      for (int m = 0; m < MR; ++m) {
        const __m512i alo = _mm512_set1_epi32(act(m, j));
        for (int p = 0; p < NP; ++p) step512<MODE>(acc[m][p], acc16[m][p], lo[p], alo);
        const __m512i ahi = _mm512_set1_epi32(act(m, j + 4));
        for (int p = 0; p < NP; ++p) step512<MODE>(acc[m][p], acc16[m][p], hi[p], ahi);
      }
    }
  }
  if constexpr (MODE == Mode::kInt16) {
    for (int m = 0; m < MR; ++m) {
      const __m512i c = _mm512_set1_epi32(corr(m));
      for (int p = 0; p < NP; ++p) acc[m][p] = _mm512_add_epi32(c, _mm512_madd_epi16(acc16[m][p], _mm512_set1_epi16(1)));
    }
  }
}

// facc[m][p] += float(acc[m][p]) * (panel p's scales of group g * dx(m)),
// the scales fp16 (sh) or fp32 (sf), panel p at + p * lds.
template <int MR, int NP, class Dx>
AXE_G_AVX512 __attribute__((always_inline)) inline void group_scale_add512(const __m512i (&acc)[MR][NP],
                                                                          const uint16_t* sh, const float* sf,
                                                                          size_t lds, size_t g, Dx dx,
                                                                          __m512 (&facc)[MR][NP]) {
  __m512 dw[NP];
  for (int p = 0; p < NP; ++p)
    dw[p] = sh ? _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(sh + p * lds + g * 16)))
               : _mm512_loadu_ps(sf + p * lds + g * 16);
  for (int m = 0; m < MR; ++m) {
    const __m512 dxm = _mm512_set1_ps(dx(m));
    for (int p = 0; p < NP; ++p)
      facc[m][p] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(acc[m][p]), _mm512_mul_ps(dw[p], dxm), facc[m][p]);
  }
}

template <int MR, int NP, int BITS, Mode MODE, bool kPrefetch = false>
AXE_G_AVX512 void tile512(const Args& t, const Dst& o) {
  // The stored codes' offset, which the sign trick (group_sums512) removes.
  constexpr bool kSignTrick = MODE == Mode::kInt32 && BITS == 8;
  constexpr int32_t kOffset = kSignTrick ? 0 : (BITS == 4 ? 8 : 128);
  constexpr size_t kBlock = BITS == 4 ? 256 : 512;
  __m512 facc[MR][NP];
  for (int m = 0; m < MR; ++m)
    for (int p = 0; p < NP; ++p) facc[m][p] = _mm512_setzero_ps();
  for (size_t g = 0; g < t.groups; ++g) {
    const int8_t* xg = t.x + g * kGroupSize;
    const uint8_t* wg = t.w + g * kBlock;
    if constexpr (kPrefetch) prefetch_ahead<NP, kBlock>(wg, t.ldw);
    __m512i acc[MR][NP];
    group_sums512<MR, NP, BITS, MODE>(
        wg, t.ldw, [&](int m, int q) { return load_i32(xg + m * t.ldx + 4 * q); },
        [&](int m) { return -kOffset * t.xsum[m * t.groups + g]; }, acc);
    if (o.d) {
      alignas(64) int32_t tmp[16];
      for (int m = 0; m < MR; ++m)
        for (int p = 0; p < NP; ++p) {
          _mm512_store_si512(tmp, acc[m][p]);
          for (int r = std::max(o.lo, p * 16); r < std::min(o.hi, p * 16 + 16); ++r)
            o.d[m * o.ldd + r * t.groups + g] = tmp[r - p * 16];
        }
    }
    group_scale_add512(acc, t.sh, t.sf, t.lds, g, [&](int m) { return t.xs[m * t.groups + g]; }, facc);
  }
  if (!o.y) return;
  for (int p = 0; p < NP; ++p) {
    const int lo = std::clamp(o.lo - p * 16, 0, 16), hi = std::clamp(o.hi - p * 16, 0, 16);
    if (lo >= hi) continue;
    const __mmask16 mask = static_cast<__mmask16>(((1u << hi) - 1) & ~((1u << lo) - 1));
    for (int m = 0; m < MR; ++m) {
      float* y = o.y + m * o.ldy + p * 16;
      __m512 v = facc[m][p];
      if (o.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, o.bias + p * 16));
      if (o.accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, y), v);
      _mm512_mask_storeu_ps(y, mask, v);
    }
  }
}

// ---- ymm: AVX2 (vpmaddubsw) or AVX-VNNI ------------------------------------
// A panel is two halves: rows 0..7 in bytes 0..31 of each chunk, 8..15 in 32..63.
template <Mode MODE>
AXE_G_AVX2 inline void step256(__m256i& acc, __m256i& acc16, __m256i u, __m256i s) {
  if constexpr (MODE == Mode::kVnni) {
    dpbusd256(acc, u, s);
  } else if constexpr (MODE == Mode::kInt16) {
    acc16 = _mm256_add_epi16(acc16, _mm256_maddubs_epi16(u, s));
    asm("" : "+x"(acc16));  // as in step512
  } else {
    acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1)));
    asm("" : "+x"(acc));
  }
}

template <int MR, int NP, int BITS, Mode MODE, bool kPrefetch = false>
AXE_G_AVX2 void tile256(const Args& t, const Dst& o) {
  constexpr bool kSignTrick = MODE == Mode::kInt32 && BITS == 8;
  constexpr int32_t kOffset = kSignTrick ? 0 : (BITS == 4 ? 8 : 128);
  constexpr size_t kBlock = BITS == 4 ? 256 : 512;
  constexpr int H = 2 * NP;  // half panels
  const __m256i nib = _mm256_set1_epi8(0x0F), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256 facc[MR][H];
  for (int m = 0; m < MR; ++m)
    for (int h = 0; h < H; ++h) facc[m][h] = _mm256_setzero_ps();
  for (size_t g = 0; g < t.groups; ++g) {
    __m256i acc[MR][H], acc16[MR][H];
    for (int m = 0; m < MR; ++m)
      for (int h = 0; h < H; ++h) {
        if constexpr (MODE == Mode::kInt16) acc16[m][h] = _mm256_setzero_si256();
        else acc[m][h] = _mm256_set1_epi32(-kOffset * t.xsum[m * t.groups + g]);
      }
    const int8_t* xg = t.x + g * kGroupSize;
    const uint8_t* wg = t.w + g * kBlock;
    if constexpr (kPrefetch) prefetch_ahead<NP, kBlock>(wg, t.ldw);
    if constexpr (BITS == 8) {
#pragma GCC unroll 8
      for (int j = 0; j < 8; ++j) {
        __m256i u[H], q[H];
        for (int h = 0; h < H; ++h) {
          u[h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + (h / 2) * t.ldw + j * 64 + (h % 2) * 32));
          if constexpr (kSignTrick) {
            q[h] = _mm256_xor_si256(u[h], flip);
            u[h] = _mm256_abs_epi8(q[h]);
          }
        }
        for (int m = 0; m < MR; ++m) {
          const __m256i a = _mm256_set1_epi32(load_i32(xg + m * t.ldx + 4 * j));
          for (int h = 0; h < H; ++h) {
            if constexpr (kSignTrick) step256<MODE>(acc[m][h], acc16[m][h], u[h], _mm256_sign_epi8(a, q[h]));
            else step256<MODE>(acc[m][h], acc16[m][h], u[h], a);
          }
        }
      }
    } else {
#pragma GCC unroll 4
      for (int j = 0; j < 4; ++j) {
        __m256i lo[H], hi[H];
        for (int h = 0; h < H; ++h) {
          const __m256i v =
              _mm256_loadu_si256(reinterpret_cast<const __m256i*>(wg + (h / 2) * t.ldw + j * 64 + (h % 2) * 32));
          lo[h] = _mm256_and_si256(v, nib);
          hi[h] = _mm256_and_si256(_mm256_srli_epi16(v, 4), nib);
        }
        for (int m = 0; m < MR; ++m) {
          const __m256i alo = _mm256_set1_epi32(load_i32(xg + m * t.ldx + 4 * j));
          const __m256i ahi = _mm256_set1_epi32(load_i32(xg + m * t.ldx + 16 + 4 * j));
          for (int h = 0; h < H; ++h) {
            step256<MODE>(acc[m][h], acc16[m][h], lo[h], alo);
            step256<MODE>(acc[m][h], acc16[m][h], hi[h], ahi);
          }
        }
      }
    }
    if constexpr (MODE == Mode::kInt16) {
      for (int m = 0; m < MR; ++m) {
        const __m256i c = _mm256_set1_epi32(-kOffset * t.xsum[m * t.groups + g]);
        for (int h = 0; h < H; ++h) acc[m][h] = _mm256_add_epi32(c, _mm256_madd_epi16(acc16[m][h], _mm256_set1_epi16(1)));
      }
    }
    if (o.d) {
      alignas(32) int32_t tmp[8];
      for (int m = 0; m < MR; ++m)
        for (int h = 0; h < H; ++h) {
          _mm256_store_si256(reinterpret_cast<__m256i*>(tmp), acc[m][h]);
          for (int r = std::max(o.lo, h * 8); r < std::min(o.hi, h * 8 + 8); ++r)
            o.d[m * o.ldd + r * t.groups + g] = tmp[r - h * 8];
        }
    }
    __m256 dw[H];
    for (int h = 0; h < H; ++h) {
      const size_t at = (h / 2) * t.lds + g * 16 + (h % 2) * 8;
      dw[h] = t.sh ? _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(t.sh + at)))
                   : _mm256_loadu_ps(t.sf + at);
    }
    for (int m = 0; m < MR; ++m) {
      const __m256 dx = _mm256_set1_ps(t.xs[m * t.groups + g]);
      for (int h = 0; h < H; ++h)
        facc[m][h] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[m][h]), _mm256_mul_ps(dw[h], dx), facc[m][h]);
    }
  }
  if (!o.y) return;
  const __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  for (int h = 0; h < H; ++h) {
    const int lo = std::clamp(o.lo - h * 8, 0, 8), hi = std::clamp(o.hi - h * 8, 0, 8);
    if (lo >= hi) continue;
    const __m256i mask = _mm256_and_si256(_mm256_cmpgt_epi32(lane, _mm256_set1_epi32(lo - 1)),
                                          _mm256_cmpgt_epi32(_mm256_set1_epi32(hi), lane));
    for (int m = 0; m < MR; ++m) {
      float* y = o.y + m * o.ldy + h * 8;
      __m256 v = facc[m][h];
      if (o.bias) v = _mm256_add_ps(v, _mm256_maskload_ps(o.bias + h * 8, mask));
      if (o.accumulate) v = _mm256_add_ps(_mm256_maskload_ps(y, mask), v);
      _mm256_maskstore_ps(y, mask, v);
    }
  }
}

// ---- zmm prefill: packed activation tiles, K blocks, sums kept in L1 ------
// For MR tokens or more, the activations of a block of tokens are first
// rearranged, per tile of MR tokens and per group, into one record:
//   int32 quad[8][MR]   token m's codes 4q .. 4q + 3 (quad q of the group)
//   int32 corr[MR]      -offset * sum of token m's codes in the group
//   float dx[MR]        token m's scale
// so that a tile reads all its activation operands from one pointer (the
// kernel above spends its integer registers on MR token pointers and their
// sums and scales, and spills). Tokens past the end are zero codes and zero
// scales, computed and never stored. The weights are taken in K blocks that
// fit in L1 (NP panels x kc groups) and reused by every tile of the token
// block; each tile's fp32 sums live in a small L1 buffer between K blocks, so
// every (token, row) still adds its groups in order with the same fused
// multiply-adds: the same bits as the reference.
template <int MR>
constexpr size_t kRecordBytes = 40 * MR;
// The tile: 6 tokens x 2 panels, 12 int32 and 12 fp32 accumulators (with the
// weights and a broadcast, 27 zmm for 8-bit, 30 for 4-bit; no spills). On the
// Sapphire Rapids-class VM, M = 512, K = N = 2048, one thread, quiet: 9.7 ms
// for Q4_0 and 9.8 for Q8_0, against 10.6/10.3 (4 x 2), 10.3/9.6 (4 x 3) and
// 11.1/10.7 (8 x 1). Then the tiles per token block, and the bytes of weights
// per K block (kept in L1 while every tile of the block passes over them).
constexpr int kPrefillMR = 6, kPrefillNP = 2;
constexpr size_t kPrefillTiles = 10, kPrefillL1Bytes = size_t{16} << 10;

// Records of tokens [m0, m1) (tiles of MR from m0), every group. A group's
// quads are a transpose of its MR x 8 dwords: tokens are loaded in pairs (one
// zmm each) and every 16 output dwords are gathered by masked permutes.
template <int MR>
AXE_G_AVX512 void pack_tiles512(const GroupActivations& x, size_t m0, size_t m1, int32_t offset, uint8_t* out) {
  static_assert(MR % 2 == 0 && MR <= 16, "tokens are packed in pairs");
  constexpr int kPairs = MR / 2, kOut = MR / 2;  // 8 * MR dwords = MR / 2 zmm
  constexpr size_t kRec = kRecordBytes<MR>;
  // Output dword e = 16 * o + l is token e % MR, quad e / MR: dword (e % MR % 2) * 8 + e / MR
  // of that token's pair.
  alignas(64) int32_t idx[kOut][16];
  __mmask16 mask[kOut][kPairs] = {};
  for (int o = 0; o < kOut; ++o)
    for (int l = 0; l < 16; ++l) {
      const int e = 16 * o + l, m = e % MR;
      idx[o][l] = (m % 2) * 8 + e / MR;
      mask[o][m / 2] = static_cast<__mmask16>(mask[o][m / 2] | (1u << l));
    }
  __m512i vidx[kOut];
  for (int o = 0; o < kOut; ++o) vidx[o] = _mm512_load_si512(idx[o]);
  const size_t G = x.groups;
  for (size_t t0 = m0; t0 < m1; t0 += MR) {
    uint8_t* tile = out + (t0 - m0) / MR * G * kRec;
    const int8_t* src[MR];
    const int32_t* sums[MR];
    const float* scales[MR];
    for (int m = 0; m < MR; ++m) {
      const bool real = t0 + m < m1;
      src[m] = real ? x.codes.data() + (t0 + m) * x.cols : nullptr;
      sums[m] = real ? x.sums.data() + (t0 + m) * G : nullptr;
      scales[m] = real ? x.scales.data() + (t0 + m) * G : nullptr;
    }
    for (size_t g = 0; g < G; ++g) {
      uint8_t* r = tile + g * kRec;
      __m512i pair[kPairs];
      for (int k = 0; k < kPairs; ++k) {
        const __m256i lo = src[2 * k] ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[2 * k] + g * kGroupSize))
                                      : _mm256_setzero_si256();
        const __m256i hi = src[2 * k + 1]
                               ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src[2 * k + 1] + g * kGroupSize))
                               : _mm256_setzero_si256();
        pair[k] = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);
      }
      for (int o = 0; o < kOut; ++o) {
        __m512i v = _mm512_setzero_si512();
        for (int k = 0; k < kPairs; ++k)
          if (mask[o][k]) v = _mm512_mask_permutexvar_epi32(v, mask[o][k], vidx[o], pair[k]);
        _mm512_storeu_si512(r + 64 * o, v);
      }
      int32_t* corr = reinterpret_cast<int32_t*>(r) + 8 * MR;
      float* dx = reinterpret_cast<float*>(r) + 9 * MR;
      for (int m = 0; m < MR; ++m) {
        corr[m] = sums[m] ? -offset * sums[m][g] : 0;
        dx[m] = scales[m] ? scales[m][g] : 0.0f;
      }
    }
  }
}

struct PTile {
  const uint8_t* xr;  // the tile's record of the block's first group
  size_t groups;      // groups in the K block
  const uint8_t* w;   // panel 0's block of that group; panel p at + p * ldw
  size_t ldw;
  const uint16_t* sh;  // panel 0's fp16 scales of that group, or null
  const float* sf;     // fp32 scales (when sh is null)
  size_t lds;
  float* f;  // running sums: token m, tile row r at f[m * NP * 16 + r]
  bool first;  // the first K block: the sums start from +0
  // Tests: d[m * ldd + r * G + g0 + g] for tile rows [lo, hi), tokens < mvalid.
  int32_t* d;
  size_t ldd, G, g0;
  int lo, hi, mvalid;
};

template <int MR, int NP, int BITS, Mode MODE, bool kD>
AXE_G_AVX512 void ptile512(const PTile& t) {
  constexpr size_t kBlock = BITS == 4 ? 256 : 512, kRec = kRecordBytes<MR>;
  __m512 facc[MR][NP];
  for (int m = 0; m < MR; ++m)
    for (int p = 0; p < NP; ++p) facc[m][p] = t.first ? _mm512_setzero_ps() : _mm512_load_ps(t.f + (m * NP + p) * 16);
  const uint8_t* xr = t.xr;
  const uint8_t* wg = t.w;
  for (size_t g = 0; g < t.groups; ++g, xr += kRec, wg += kBlock) {
    const int32_t* quad = reinterpret_cast<const int32_t*>(xr);
    const int32_t* corr = quad + 8 * MR;
    const float* dx = reinterpret_cast<const float*>(corr + MR);
    __m512i acc[MR][NP];
    group_sums512<MR, NP, BITS, MODE>(
        wg, t.ldw, [&](int m, int q) { return quad[q * MR + m]; }, [&](int m) { return corr[m]; }, acc);
    if constexpr (kD) {
      alignas(64) int32_t tmp[16];
      for (int m = 0; m < std::min(MR, t.mvalid); ++m)
        for (int p = 0; p < NP; ++p) {
          _mm512_store_si512(tmp, acc[m][p]);
          for (int r = std::max(t.lo, p * 16); r < std::min(t.hi, p * 16 + 16); ++r)
            t.d[m * t.ldd + r * t.G + t.g0 + g] = tmp[r - p * 16];
        }
    }
    group_scale_add512(acc, t.sh, t.sf, t.lds, g, [&](int m) { return dx[m]; }, facc);
  }
  for (int m = 0; m < MR; ++m)
    for (int p = 0; p < NP; ++p) _mm512_store_ps(t.f + (m * NP + p) * 16, facc[m][p]);
}

using PTileFn = void (*)(const PTile&);

struct PrefillSet {
  int mr, np;
  PTileFn full[2], one_panel[2];  // MR x NP and MR x 1; [0] plain, [1] with the tests' integer sums
  int32_t offset;                 // of the stored codes (0 with the sign trick)
  void (*pack)(const GroupActivations&, size_t, size_t, int32_t, uint8_t*);
};

#define AXE_G_PREFILL(MR, NP, BITS, MODE)                                                                   \
  PrefillSet {                                                                                             \
    MR, NP, {&ptile512<MR, NP, BITS, MODE, false>, &ptile512<MR, NP, BITS, MODE, true>},                   \
        {&ptile512<MR, 1, BITS, MODE, false>, &ptile512<MR, 1, BITS, MODE, true>},                         \
        ((MODE) == Mode::kInt32 && (BITS) == 8) ? 0 : ((BITS) == 4 ? 8 : 128), &pack_tiles512<MR>                 \
  }

// Tokens [m0, m1) (at least one tile), rows [n0, n1).
AXE_G_AVX512 void drive_prefill512(const PrefillSet& ps, const GroupActivations& x, size_t m0, size_t m1,
                                   const GroupWeights& w, size_t n0, size_t n1, const GroupOutput& out) {
  const size_t G = w.groups, bb = w.block_bytes(), ldw = G * bb, lds = G * kGroupPanelRows;
  const size_t mr = ps.mr, rec = 40 * mr;
  // Token blocks of kTiles tiles; K blocks of kc groups: NP panels' blocks in kPrefillL1Bytes.
  constexpr size_t kTiles = kPrefillTiles;
  const size_t kc = std::max<size_t>(1, kPrefillL1Bytes / (ps.np * bb));
  const uint16_t* sh = w.half_scales ? w.panel_half.data() : nullptr;
  const float* sf = w.half_scales ? nullptr : w.panel_f32.data();
  thread_local AlignedBuffer<uint8_t> records;
  thread_local AlignedBuffer<float> sums;
  const size_t block_tokens = kTiles * mr;
  if (records.size() < kTiles * G * rec) records.resize(kTiles * G * rec);
  if (sums.size() < block_tokens * ps.np * kGroupPanelRows) sums.resize(block_tokens * ps.np * kGroupPanelRows);
  const size_t p_begin = n0 / kGroupPanelRows, p_end = (n1 + kGroupPanelRows - 1) / kGroupPanelRows;
  const int dsel = out.d ? 1 : 0;
  for (size_t mb = m0; mb < m1; mb += block_tokens) {
    const size_t me = std::min(m1, mb + block_tokens), tiles = (me - mb + mr - 1) / mr;
    ps.pack(x, mb, me, ps.offset, records.data());
    for (size_t p = p_begin; p < p_end;) {
      const size_t np = p + ps.np <= p_end ? static_cast<size_t>(ps.np) : 1;
      const PTileFn f = (np == static_cast<size_t>(ps.np) ? ps.full : ps.one_panel)[dsel];
      const size_t row0 = p * kGroupPanelRows, tile_floats = mr * np * kGroupPanelRows;
      const int lo = static_cast<int>(std::max(n0, row0) - row0);
      const int hi = static_cast<int>(std::min(n1, row0 + np * kGroupPanelRows) - row0);
      for (size_t g0 = 0; g0 < G; g0 += kc) {
        const size_t g1 = std::min(G, g0 + kc);
        for (size_t t = 0; t < tiles; ++t) {
          const size_t tok = mb + t * mr;
          PTile a{records.data() + (t * G + g0) * rec,
                  g1 - g0,
                  w.data.data() + p * ldw + g0 * bb,
                  ldw,
                  sh ? sh + p * lds + g0 * kGroupPanelRows : nullptr,
                  sf ? sf + p * lds + g0 * kGroupPanelRows : nullptr,
                  lds,
                  sums.data() + t * tile_floats,
                  g0 == 0,
                  out.d ? out.d + tok * out.ldd + row0 * G : nullptr,
                  out.ldd,
                  G,
                  g0,
                  lo,
                  hi,
                  static_cast<int>(std::min(mr, me - tok))};
          f(a);
        }
      }
      if (out.y) {  // v = sum (+ bias); y = v, or y += v
        const __mmask16 all = 0xFFFF;
        for (size_t t = 0; t < tiles; ++t)
          for (size_t m = 0; m < mr && mb + t * mr + m < me; ++m) {
            const float* s = sums.data() + t * tile_floats + m * np * kGroupPanelRows;
            float* y = out.y + (mb + t * mr + m) * out.ldy + row0;
            for (size_t q = 0; q < np; ++q) {
              const int l = std::clamp(lo - static_cast<int>(q * 16), 0, 16), h = std::clamp(hi - static_cast<int>(q * 16), 0, 16);
              if (l >= h) continue;
              const __mmask16 mask = static_cast<__mmask16>(all & ((1u << h) - 1) & ~((1u << l) - 1));
              __m512 v = _mm512_load_ps(s + q * 16);
              if (out.bias) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(mask, out.bias + row0 + q * 16));
              if (out.accumulate) v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, y + q * 16), v);
              _mm512_mask_storeu_ps(y + q * 16, mask, v);
            }
          }
      }
      p += np;
    }
  }
}

// ---- the driver ------------------------------------------------------------
struct TileSet {
  int mr, np, gemv_np;
  TileFn full, one_token, one_panel, single, gemv;  // MRxNP, 1xNP, MRx1, 1x1, 1 x gemv_np
};

#define AXE_G_TILESET(TILE, MR, NP, GNP, BITS, MODE)                                                     \
  TileSet {                                                                                                \
    MR, NP, GNP, &TILE<MR, NP, BITS, MODE>, &TILE<1, NP, BITS, MODE>, &TILE<MR, 1, BITS, MODE>,           \
        &TILE<1, 1, BITS, MODE>, &TILE<1, GNP, BITS, MODE, true>                                          \
  }

void drive(const TileSet& ts, const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0,
           size_t n1, const GroupOutput& out) {
  if (m0 >= m1 || n0 >= n1) return;
  const size_t G = w.groups, ldw = G * w.block_bytes(), lds = G * kGroupPanelRows;
  const uint16_t* sh = w.half_scales ? w.panel_half.data() : nullptr;
  const float* sf = w.half_scales ? nullptr : w.panel_f32.data();
  auto run = [&](TileFn f, int np, size_t m, size_t p) {
    const size_t row0 = p * kGroupPanelRows;
    const Args a{x.codes.data() + m * x.cols, x.cols, x.scales.data() + m * G, x.sums.data() + m * G, G,
                 w.data.data() + p * ldw, ldw, sh ? sh + p * lds : nullptr, sf ? sf + p * lds : nullptr, lds};
    const int lo = static_cast<int>(std::max(n0, row0) - row0);
    const int hi = static_cast<int>(std::min(n1, row0 + np * kGroupPanelRows) - row0);
    const Dst d{out.y ? out.y + m * out.ldy + row0 : nullptr, out.ldy, out.bias ? out.bias + row0 : nullptr,
                out.accumulate, out.d ? out.d + m * out.ldd + row0 * G : nullptr, out.ldd, lo, hi};
    f(a, d);
  };
  const size_t p_begin = n0 / kGroupPanelRows, p_end = (n1 + kGroupPanelRows - 1) / kGroupPanelRows;
  if (m1 - m0 == 1) {  // decode: gemv_np weight streams in flight
    size_t p = p_begin;
    for (; p + ts.gemv_np <= p_end; p += ts.gemv_np) run(ts.gemv, ts.gemv_np, m0, p);
    for (; p < p_end; ++p) run(ts.single, 1, m0, p);
    return;
  }
  constexpr size_t kTokenBlock = 64;
  const size_t mr = ts.mr, np = ts.np;
  for (size_t mb = m0; mb < m1; mb += kTokenBlock) {
    const size_t me = std::min(m1, mb + kTokenBlock);
    size_t p = p_begin;
    for (; p + np <= p_end; p += np) {
      size_t m = mb;
      for (; m + mr <= me; m += mr) run(ts.full, ts.np, m, p);
      for (; m < me; ++m) run(ts.one_token, ts.np, m, p);
    }
    for (; p < p_end; ++p) {
      size_t m = mb;
      for (; m + mr <= me; m += mr) run(ts.one_panel, 1, m, p);
      for (; m < me; ++m) run(ts.single, 1, m, p);
    }
  }
}

template <Mode MODE>
void run512(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
            const GroupOutput& out) {
  // 8-bit codes never take int16 lanes (group_int16_exact): their int16 kernel is the int32 one.
  static const TileSet t8 = AXE_G_TILESET(tile512, 4, 2, 4, 8, MODE == Mode::kInt16 ? Mode::kInt32 : MODE);
  static const TileSet t4 = AXE_G_TILESET(tile512, 4, 2, 4, 4, MODE);
  static const PrefillSet p8 = AXE_G_PREFILL(kPrefillMR, kPrefillNP, 8, MODE == Mode::kInt16 ? Mode::kInt32 : MODE);
  static const PrefillSet p4 = AXE_G_PREFILL(kPrefillMR, kPrefillNP, 4, MODE);
  const PrefillSet& ps = w.bits == 4 ? p4 : p8;
  if (m1 > m0 && m1 - m0 >= static_cast<size_t>(ps.mr) && n0 < n1) return drive_prefill512(ps, x, m0, m1, w, n0, n1, out);
  drive(w.bits == 4 ? t4 : t8, x, m0, m1, w, n0, n1, out);
}

template <Mode MODE>
void run256(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
            const GroupOutput& out) {
  static const TileSet t8 = AXE_G_TILESET(tile256, 2, 1, 2, 8, MODE == Mode::kInt16 ? Mode::kInt32 : MODE);
  static const TileSet t4 = AXE_G_TILESET(tile256, 2, 1, 2, 4, MODE);
  drive(w.bits == 4 ? t4 : t8, x, m0, m1, w, n0, n1, out);
}

}  // namespace

void avx512vnni_int32(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
                      const GroupOutput& out) {
  run512<Mode::kVnni>(x, m0, m1, w, n0, n1, out);
}
void avx512_int32(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
                  const GroupOutput& out) {
  run512<Mode::kInt32>(x, m0, m1, w, n0, n1, out);
}
void avx512_int16(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
                  const GroupOutput& out) {
  run512<Mode::kInt16>(x, m0, m1, w, n0, n1, out);  // 4-bit only (the table checks)
}
void avxvnni_int32(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
                   const GroupOutput& out) {
  run256<Mode::kVnni>(x, m0, m1, w, n0, n1, out);
}
void avx2_int32(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
                const GroupOutput& out) {
  run256<Mode::kInt32>(x, m0, m1, w, n0, n1, out);
}
void avx2_int16(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
                const GroupOutput& out) {
  run256<Mode::kInt16>(x, m0, m1, w, n0, n1, out);
}

}  // namespace group_x86
}  // namespace axe
#endif  // __x86_64__
