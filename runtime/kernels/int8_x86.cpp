// x86 integer kernels: raw intrinsics in functions compiled for their target
// (GCC target attributes), so the rest of the library stays portable and
// these run only after the CPU check in int8_kernels.cpp.
//
// All kernels are dot-product form: an MR x NR tile of (token, row) outputs
// keeps one vector accumulator per output over the row's 64-column blocks and
// reduces across lanes at the end. Column k of a block sits in byte k of a
// 64-byte (zmm) vector, or byte k % 32 of the first or second ymm vector.
//  - int32 (VNNI): vpdpbusd, u8 x s8 quadruples summed into int32 lanes.
//  - int32 (AVX2): vpmaddubsw pair sums, widened by vpmaddwd, when every pair
//    sum provably fits int16 (2 * 255 * max|q| <= 32767); otherwise the exact
//    widening form (zero/sign-extend to int16, vpmaddwd).
//  - int16: vpmaddubsw + vpaddw. Lane j of a zmm sums columns with
//    (k / 2) % 32 == j (ymm: % 16): a subset of one tile of a lanes plan
//    whose tile count divides the lane count, or of one contiguous tile when
//    T is a multiple of 64 and the lanes are widened to int32 (vpmaddwd) at
//    every tile boundary. Exact because the plan holds for those subsets
//    (AXE.md: every subset of a tile's terms stays within the bound).
//    Signed activations use |q| x (sign(q) * c) so each product is exact.
#if defined(__x86_64__)
// GCC 12's own AVX-512 extract intrinsics (used by _mm512_reduce_add_epi32)
// start from _mm256_undefined_si256() and trip -Wuninitialized when inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "runtime/kernels/int8_x86.h"

#define AXE_AVX2 __attribute__((target("avx2,fma")))
#define AXE_AVXVNNI __attribute__((target("avx2,fma,avxvnni")))
#define AXE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#define AXE_AVX512VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")))

namespace axe {
namespace {

// Raw accumulations of one tile: raw[m * NR + n] (int32: every kernel's sum
// fits, see int32_fits in int8_kernels.cpp).
template <int MR, int NR>
using TileFn = void (*)(const uint8_t* x, size_t ldx, const int8_t* w, size_t ldw, size_t blocks, size_t widen,
                        int32_t* raw);

// ---- weight loads ------------------------------------------------------
template <bool P4>
AXE_AVX512 inline __m512i load_w512(const int8_t* row, size_t b) {
  if constexpr (!P4) {
    return _mm512_loadu_si512(row + b * 64);
  } else {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 32));
    const __m256i mask = _mm256_set1_epi8(0x0F);
    const __m256i lo = _mm256_and_si256(v, mask), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), mask);
    return _mm512_sub_epi8(_mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1), _mm512_set1_epi8(8));
  }
}

template <bool P4>
AXE_AVX2 inline void load_w256(const int8_t* row, size_t b, __m256i& w0, __m256i& w1) {
  if constexpr (!P4) {
    w0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 64));
    w1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 64 + 32));
  } else {
    const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(row + b * 32));
    const __m256i mask = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
    w0 = _mm256_sub_epi8(_mm256_and_si256(v, mask), eight);
    w1 = _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(v, 4), mask), eight);
  }
}

AXE_AVX2 inline int32_t hsum256(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

// Sums of 16 vectors of int32 lanes at once: out[i] = sum of the lanes of
// v[i]. A transpose-and-add tree (30 shuffles and adds instead of 16 full
// reductions), which matters because a 4x4 tile reduces after every row.
AXE_AVX512 inline void reduce16(const __m512i* v, int32_t* out) {
  __m512i s[4];
  for (int j = 0; j < 4; ++j) {
    const __m512i* a = v + 4 * j;
    const __m512i r0 = _mm512_add_epi32(_mm512_unpacklo_epi32(a[0], a[1]), _mm512_unpackhi_epi32(a[0], a[1]));
    const __m512i r1 = _mm512_add_epi32(_mm512_unpacklo_epi32(a[2], a[3]), _mm512_unpackhi_epi32(a[2], a[3]));
    s[j] = _mm512_add_epi32(_mm512_unpacklo_epi64(r0, r1), _mm512_unpackhi_epi64(r0, r1));
  }
  const __m512i u0 = _mm512_add_epi32(_mm512_shuffle_i32x4(s[0], s[1], 0x88), _mm512_shuffle_i32x4(s[0], s[1], 0xDD));
  const __m512i u1 = _mm512_add_epi32(_mm512_shuffle_i32x4(s[2], s[3], 0x88), _mm512_shuffle_i32x4(s[2], s[3], 0xDD));
  const __m512i r = _mm512_add_epi32(_mm512_shuffle_i32x4(u0, u1, 0x88), _mm512_shuffle_i32x4(u0, u1, 0xDD));
  _mm512_storeu_si512(out, r);
}

// Reduces an MR x NR tile of int32 vectors into raw[m * NR + n].
template <int MR, int NR>
AXE_AVX512 inline void reduce_tile(__m512i (&acc)[MR][NR], int32_t* raw) {
  if constexpr (MR * NR == 16) {
    reduce16(&acc[0][0], raw);
  } else {
    for (int m = 0; m < MR; ++m)
      for (int n = 0; n < NR; ++n) raw[m * NR + n] = _mm512_reduce_add_epi32(acc[m][n]);
  }
}

// ---- AVX-512 VNNI, int32 -------------------------------------------------
template <int MR, int NR, bool P4>
AXE_AVX512VNNI void tile_vnni512(const uint8_t* x, size_t ldx, const int8_t* w, size_t ldw, size_t blocks, size_t,
                                 int32_t* raw) {
  __m512i acc[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) acc[m][n] = _mm512_setzero_si512();
  for (size_t b = 0; b < blocks; ++b) {
    __m512i xv[MR];
    for (int m = 0; m < MR; ++m) xv[m] = _mm512_loadu_si512(x + m * ldx + b * 64);
    for (int n = 0; n < NR; ++n) {
      const __m512i wv = load_w512<P4>(w + n * ldw, b);
      for (int m = 0; m < MR; ++m) acc[m][n] = _mm512_dpbusd_epi32(acc[m][n], xv[m], wv);
    }
  }
  reduce_tile<MR, NR>(acc, raw);
}

// ---- AVX-512BW, int16 ----------------------------------------------------
// widen: blocks per tile (contiguous plans), 0 to widen once at the end.
template <int MR, int NR, bool kSigned, bool P4, bool kWiden>
AXE_AVX512 void tile_i16_512(const uint8_t* x, size_t ldx, const int8_t* w, size_t ldw, size_t blocks, size_t widen,
                             int32_t* raw) {
  const __m512i ones = _mm512_set1_epi16(1), flip = _mm512_set1_epi8(static_cast<char>(0x80));
  __m512i acc16[MR][NR], acc32[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) acc16[m][n] = acc32[m][n] = _mm512_setzero_si512();
  size_t since_widen = 0;
  for (size_t b = 0; b < blocks; ++b) {
    __m512i xv[MR];
    for (int m = 0; m < MR; ++m) {
      xv[m] = _mm512_loadu_si512(x + m * ldx + b * 64);
      if constexpr (kSigned) xv[m] = _mm512_xor_si512(xv[m], flip);  // u - 128: the signed code
    }
    for (int n = 0; n < NR; ++n) {
      const __m512i wv = load_w512<P4>(w + n * ldw, b);
      if constexpr (kSigned) {
        const __m512i wa = _mm512_abs_epi8(wv);
        const __mmask64 neg = _mm512_movepi8_mask(wv);
        for (int m = 0; m < MR; ++m) {
          const __m512i xs = _mm512_mask_sub_epi8(xv[m], neg, _mm512_setzero_si512(), xv[m]);
          acc16[m][n] = _mm512_add_epi16(acc16[m][n], _mm512_maddubs_epi16(wa, xs));
        }
      } else {
        for (int m = 0; m < MR; ++m) acc16[m][n] = _mm512_add_epi16(acc16[m][n], _mm512_maddubs_epi16(xv[m], wv));
      }
    }
    if constexpr (kWiden) {
      if (++since_widen == widen) {
        since_widen = 0;
        for (int m = 0; m < MR; ++m)
          for (int n = 0; n < NR; ++n) {
            acc32[m][n] = _mm512_add_epi32(acc32[m][n], _mm512_madd_epi16(acc16[m][n], ones));
            acc16[m][n] = _mm512_setzero_si512();
          }
      }
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) acc32[m][n] = _mm512_add_epi32(acc32[m][n], _mm512_madd_epi16(acc16[m][n], ones));
  reduce_tile<MR, NR>(acc32, raw);
}

// ---- AVX2, int16 -----------------------------------------------------------
template <int MR, int NR, bool kSigned, bool P4, bool kWiden>
AXE_AVX2 void tile_i16_256(const uint8_t* x, size_t ldx, const int8_t* w, size_t ldw, size_t blocks, size_t widen,
                           int32_t* raw) {
  const __m256i ones = _mm256_set1_epi16(1), flip = _mm256_set1_epi8(static_cast<char>(0x80));
  __m256i acc16[MR][NR], acc32[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) acc16[m][n] = acc32[m][n] = _mm256_setzero_si256();
  size_t since_widen = 0;
  for (size_t b = 0; b < blocks; ++b) {
    __m256i xv[MR][2];
    for (int m = 0; m < MR; ++m)
      for (int h = 0; h < 2; ++h) {
        xv[m][h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + m * ldx + b * 64 + h * 32));
        if constexpr (kSigned) xv[m][h] = _mm256_xor_si256(xv[m][h], flip);  // u - 128: the signed code
      }
    for (int n = 0; n < NR; ++n) {
      __m256i wv[2];
      load_w256<P4>(w + n * ldw, b, wv[0], wv[1]);
      for (int h = 0; h < 2; ++h) {
        const __m256i wa = kSigned ? _mm256_abs_epi8(wv[h]) : wv[h];
        for (int m = 0; m < MR; ++m) {
          const __m256i p = kSigned ? _mm256_maddubs_epi16(wa, _mm256_sign_epi8(xv[m][h], wv[h]))
                                    : _mm256_maddubs_epi16(xv[m][h], wv[h]);
          acc16[m][n] = _mm256_add_epi16(acc16[m][n], p);
        }
      }
    }
    if constexpr (kWiden) {
      if (++since_widen == widen) {
        since_widen = 0;
        for (int m = 0; m < MR; ++m)
          for (int n = 0; n < NR; ++n) {
            acc32[m][n] = _mm256_add_epi32(acc32[m][n], _mm256_madd_epi16(acc16[m][n], ones));
            acc16[m][n] = _mm256_setzero_si256();
          }
      }
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n)
      raw[m * NR + n] = hsum256(_mm256_add_epi32(acc32[m][n], _mm256_madd_epi16(acc16[m][n], ones)));
}

// ---- AVX2, int32 -----------------------------------------------------------
// kPairs: vpmaddubsw pair sums are exact (caller checked 2*255*max|q| <= 32767).
template <int MR, int NR, bool P4, bool kPairs>
AXE_AVX2 void tile_i32_256(const uint8_t* x, size_t ldx, const int8_t* w, size_t ldw, size_t blocks, size_t,
                           int32_t* raw) {
  const __m256i ones = _mm256_set1_epi16(1);
  __m256i acc[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) acc[m][n] = _mm256_setzero_si256();
  for (size_t b = 0; b < blocks; ++b) {
    __m256i xv[MR][2];
    for (int m = 0; m < MR; ++m)
      for (int h = 0; h < 2; ++h)
        xv[m][h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + m * ldx + b * 64 + h * 32));
    for (int n = 0; n < NR; ++n) {
      __m256i wv[2];
      load_w256<P4>(w + n * ldw, b, wv[0], wv[1]);
      for (int h = 0; h < 2; ++h) {
        if constexpr (kPairs) {
          for (int m = 0; m < MR; ++m)
            acc[m][n] = _mm256_add_epi32(acc[m][n], _mm256_madd_epi16(_mm256_maddubs_epi16(xv[m][h], wv[h]), ones));
        } else {
          const __m256i wlo = _mm256_cvtepi8_epi16(_mm256_castsi256_si128(wv[h]));
          const __m256i whi = _mm256_cvtepi8_epi16(_mm256_extracti128_si256(wv[h], 1));
          for (int m = 0; m < MR; ++m) {
            const __m256i xlo = _mm256_cvtepu8_epi16(_mm256_castsi256_si128(xv[m][h]));
            const __m256i xhi = _mm256_cvtepu8_epi16(_mm256_extracti128_si256(xv[m][h], 1));
            acc[m][n] = _mm256_add_epi32(acc[m][n], _mm256_madd_epi16(xlo, wlo));
            acc[m][n] = _mm256_add_epi32(acc[m][n], _mm256_madd_epi16(xhi, whi));
          }
        }
      }
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) raw[m * NR + n] = hsum256(acc[m][n]);
}

// ---- AVX-VNNI (ymm), int32 -------------------------------------------------
template <int MR, int NR, bool P4>
AXE_AVXVNNI void tile_avxvnni(const uint8_t* x, size_t ldx, const int8_t* w, size_t ldw, size_t blocks, size_t,
                              int32_t* raw) {
  __m256i acc[MR][NR];
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) acc[m][n] = _mm256_setzero_si256();
  for (size_t b = 0; b < blocks; ++b) {
    __m256i xv[MR][2];
    for (int m = 0; m < MR; ++m)
      for (int h = 0; h < 2; ++h)
        xv[m][h] = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(x + m * ldx + b * 64 + h * 32));
    for (int n = 0; n < NR; ++n) {
      __m256i wv[2];
      load_w256<P4>(w + n * ldw, b, wv[0], wv[1]);
      for (int h = 0; h < 2; ++h)
        for (int m = 0; m < MR; ++m) acc[m][n] = _mm256_dpbusd_avx_epi32(acc[m][n], xv[m][h], wv[h]);
    }
  }
  for (int m = 0; m < MR; ++m)
    for (int n = 0; n < NR; ++n) raw[m * NR + n] = hsum256(acc[m][n]);
}

// The wide epilogue of a 4x4 tile in one vector, lane m * 4 + n, with the
// same operations in the same order as int8_epilogue (so bit-identical):
// D = raw - (z - offset) * sum(q); y = (s_w * s_x) * float(D) (+ bias).
AXE_AVX512 void epilogue_4x4(const int32_t* raw, const Int8Activations& x, size_t m, const Int8Weights& w, size_t n,
                             int32_t offset, const Int8Output& out) {
  const __m512i rs = _mm512_broadcast_i32x4(_mm_loadu_si128(reinterpret_cast<const __m128i*>(&w.row_sums[n])));
  const __m512i z = _mm512_set_epi32(
      x.zeros[m + 3] - offset, x.zeros[m + 3] - offset, x.zeros[m + 3] - offset, x.zeros[m + 3] - offset,
      x.zeros[m + 2] - offset, x.zeros[m + 2] - offset, x.zeros[m + 2] - offset, x.zeros[m + 2] - offset,
      x.zeros[m + 1] - offset, x.zeros[m + 1] - offset, x.zeros[m + 1] - offset, x.zeros[m + 1] - offset,
      x.zeros[m] - offset, x.zeros[m] - offset, x.zeros[m] - offset, x.zeros[m] - offset);
  const __m512i d = _mm512_sub_epi32(_mm512_loadu_si512(raw), _mm512_mullo_epi32(z, rs));
  if (out.d) {
    alignas(64) int32_t tmp[16];
    _mm512_store_si512(tmp, d);
    for (int i = 0; i < 4; ++i) std::memcpy(out.d + (m + i) * out.ldd + n, tmp + 4 * i, 16);
  }
  if (out.y) {
    const __m512 sw = _mm512_broadcast_f32x4(_mm_loadu_ps(&w.scales[n]));
    const __m512 sx = _mm512_set_ps(x.scales[m + 3], x.scales[m + 3], x.scales[m + 3], x.scales[m + 3],
                                    x.scales[m + 2], x.scales[m + 2], x.scales[m + 2], x.scales[m + 2],
                                    x.scales[m + 1], x.scales[m + 1], x.scales[m + 1], x.scales[m + 1],
                                    x.scales[m], x.scales[m], x.scales[m], x.scales[m]);
    __m512 y = _mm512_mul_ps(_mm512_mul_ps(sw, sx), _mm512_cvtepi32_ps(d));
    if (out.bias) y = _mm512_add_ps(y, _mm512_broadcast_f32x4(_mm_loadu_ps(out.bias + n)));
    alignas(64) float tmp[16];
    _mm512_store_ps(tmp, y);
    for (int i = 0; i < 4; ++i) {
      float* dst = out.y + (m + i) * out.ldy + n;
      if (out.accumulate)
        for (int j = 0; j < 4; ++j) dst[j] += tmp[4 * i + j];
      else
        std::memcpy(dst, tmp + 4 * i, 16);
    }
  }
}

// ---- AVX-512 VNNI GEMV for 4-bit weights (decode) ---------------------------
// Packed 4-bit rows keep block b's columns 0..31 in the low and 32..63 in the
// high nibbles of its 32 bytes, so one 64-byte load holds blocks b and b + 1:
// its low nibbles are columns 0..31 of both, its high nibbles columns 32..63.
// The activations are permuted once per token to match, and the nibbles are
// used as stored (u = q + 8 in [0, 15]), so a pair of blocks costs one load,
// two masks, a shift and two vpdpbusd; the raw sum is then corrected by
// 8 * sum(x) over every column (padding included: its nibble is 8 and its
// activation the zero point), exactly.
template <int NR>
AXE_AVX512VNNI inline void gemv_w4_rows(const uint8_t* xp, const uint8_t* xr, const int8_t* w, size_t ldw,
                                        size_t blocks, int32_t* raw) {
  const __m512i mask = _mm512_set1_epi8(0x0F);
  __m512i acc[NR];
  for (int r = 0; r < NR; ++r) acc[r] = _mm512_setzero_si512();
  const size_t pairs = blocks / 2;
  for (size_t p = 0; p < pairs; ++p) {
    const __m512i xa = _mm512_loadu_si512(xp + p * 128), xb = _mm512_loadu_si512(xp + p * 128 + 64);
    for (int r = 0; r < NR; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(reinterpret_cast<uintptr_t>(w) + (NR + r) * ldw + p * 64), _MM_HINT_T0);
      const __m512i v = _mm512_loadu_si512(w + r * ldw + p * 64);
      acc[r] = _mm512_dpbusd_epi32(acc[r], xa, _mm512_and_si512(v, mask));
      acc[r] = _mm512_dpbusd_epi32(acc[r], xb, _mm512_and_si512(_mm512_srli_epi16(v, 4), mask));
    }
  }
  if (blocks % 2) {  // the last block alone: 32 bytes, as the tiled kernels read it
    const size_t b = blocks - 1;
    const __m512i xv = _mm512_loadu_si512(xr + b * 64);
    const __m256i m256 = _mm256_set1_epi8(0x0F);
    for (int r = 0; r < NR; ++r) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * ldw + b * 32));
      const __m256i lo = _mm256_and_si256(v, m256), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m256);
      acc[r] = _mm512_dpbusd_epi32(acc[r], xv, _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1));
    }
  }
  for (int r = 0; r < NR; ++r) raw[r] = _mm512_reduce_add_epi32(acc[r]);
}

AXE_AVX512VNNI void gemv_w4_vnni512_impl(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w,
                                         size_t n0, size_t n1, const Int8Output& out) {
  const size_t blocks = w.kp / 64, ldw = w.row_bytes();
  thread_local std::vector<uint8_t> permuted;
  permuted.resize(blocks / 2 * 128);
  for (size_t m = m0; m < m1; ++m) {
    const uint8_t* xr = x.codes.data() + m * x.kp;
    uint8_t* xp = permuted.data();
    for (size_t p = 0; p < blocks / 2; ++p) {
      const uint8_t* b0 = xr + 2 * p * 64;
      std::memcpy(xp + p * 128, b0, 32);
      std::memcpy(xp + p * 128 + 32, b0 + 64, 32);
      std::memcpy(xp + p * 128 + 64, b0 + 32, 32);
      std::memcpy(xp + p * 128 + 96, b0 + 96, 32);
    }
    int64_t sum_x = 0;
    for (size_t k = 0; k < x.kp; ++k) sum_x += xr[k];
    int32_t raw[4];
    size_t n = n0;
    for (; n + 4 <= n1; n += 4) {
      gemv_w4_rows<4>(xp, xr, w.data.data() + n * ldw, ldw, blocks, raw);
      for (int r = 0; r < 4; ++r) int8_epilogue(x, m, w, n + r, int64_t{raw[r]} - 8 * sum_x, 0, out);
    }
    for (; n < n1; ++n) {
      gemv_w4_rows<1>(xp, xr, w.data.data() + n * ldw, ldw, blocks, raw);
      int8_epilogue(x, m, w, n, int64_t{raw[0]} - 8 * sum_x, 0, out);
    }
  }
}

// ---- the driver: tiles over tokens and rows, then the wide epilogue --------
template <int MR, int NR>
struct TileSet {
  TileFn<MR, NR> full;
  TileFn<1, NR> one_token;
  TileFn<MR, 1> one_row;
  TileFn<1, 1> single;
  // Vector epilogue of a full tile, or null for the scalar one.
  void (*epilogue)(const int32_t*, const Int8Activations&, size_t, const Int8Weights&, size_t, int32_t,
                   const Int8Output&) = nullptr;
};

// Rows [0, rows) of 4-bit packed weights (load_w512's layout: block b's 32
// bytes hold its columns 0..31 in the low and 32..63 in the high nibbles,
// each code + 8) as int8 rows of blocks * 64 columns. Every kernel of this
// file needs AVX2 at least.
AXE_AVX2 void unpack4_rows(const int8_t* w, size_t ldw, size_t rows, size_t blocks, int8_t* out) {
  const __m256i mask = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
  for (size_t r = 0; r < rows; ++r)
    for (size_t b = 0; b < blocks; ++b) {
      const __m256i v = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + r * ldw + b * 32));
      int8_t* dst = out + (r * blocks + b) * 64;
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_sub_epi8(_mm256_and_si256(v, mask), eight));
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + 32),
                          _mm256_sub_epi8(_mm256_and_si256(_mm256_srli_epi16(v, 4), mask), eight));
    }
}

// t: the tiles for w's storage; t8: the same tiles reading int8 rows. With
// 4-bit weights and more than one tile of tokens, each panel is unpacked
// once per token block and the 8-bit tiles read it: the same integers in
// the same order, so the same sums, without unpacking again for every tile
// of MR tokens (prefill, calibration), in token blocks of kUnpackTokens or
// more (measured: unpacking for 16 tokens loses to the 4-bit tiles).
constexpr size_t kUnpackTokens = 32;
template <int MR, int NR>
void drive(const TileSet<MR, NR>& t, const TileSet<MR, NR>& t8, const Int8Activations& x, size_t m0, size_t m1,
           const Int8Weights& w, size_t n0, size_t n1, const Int8Output& out, size_t widen, int32_t offset) {
  const size_t blocks = w.kp / 64, ldx = x.kp;
  const uint8_t* xd = x.codes.data();
  int32_t raw[MR * NR];
  thread_local std::vector<int8_t> panel;
  if (w.packed4 && m1 - m0 >= kUnpackTokens) panel.resize(NR * blocks * 64);
  bool unpack = false;  // for the current token block
  // The rows [n, n + rows) as the tiles read them.
  auto rows_at = [&](size_t n, size_t rows, size_t& ld) -> const int8_t* {
    if (!unpack) {
      ld = w.row_bytes();
      return w.data.data() + n * ld;
    }
    unpack4_rows(w.data.data() + n * w.row_bytes(), w.row_bytes(), rows, blocks, panel.data());
    ld = blocks * 64;
    return panel.data();
  };
  auto finish = [&](size_t m, size_t n, int mr, int nr) {
    for (int i = 0; i < mr; ++i)
      for (int j = 0; j < nr; ++j) int8_epilogue(x, m + i, w, n + j, raw[i * nr + j], offset, out);
  };
  // Token blocks keep their activations in L2 while the weight panels of the
  // row range stream through L1.
  constexpr size_t kTokenBlock = 64;
  for (size_t mb = m0; mb < m1; mb += kTokenBlock) {
    const size_t me = std::min(m1, mb + kTokenBlock);
    unpack = w.packed4 && me - mb >= kUnpackTokens;
    const TileSet<MR, NR>& ts = unpack ? t8 : t;
    size_t n = n0;
    for (; n + NR <= n1; n += NR) {
      size_t ldw = 0;
      const int8_t* wn = rows_at(n, NR, ldw);
      size_t m = mb;
      for (; m + MR <= me; m += MR) {
        ts.full(xd + m * ldx, ldx, wn, ldw, blocks, widen, raw);
        if (ts.epilogue) ts.epilogue(raw, x, m, w, n, offset, out);
        else finish(m, n, MR, NR);
      }
      for (; m < me; ++m) {
        ts.one_token(xd + m * ldx, ldx, wn, ldw, blocks, widen, raw);
        finish(m, n, 1, NR);
      }
    }
    for (; n < n1; ++n) {
      size_t ldw = 0;
      const int8_t* wn = rows_at(n, 1, ldw);
      size_t m = mb;
      for (; m + MR <= me; m += MR) {
        ts.one_row(xd + m * ldx, ldx, wn, ldw, blocks, widen, raw);
        finish(m, n, MR, 1);
      }
      for (; m < me; ++m) {
        ts.single(xd + m * ldx, ldx, wn, ldw, blocks, widen, raw);
        finish(m, n, 1, 1);
      }
    }
  }
}

#define AXE_TILESET(FN, MR, NR, ...) \
  TileSet<MR, NR> { &FN<MR, NR, __VA_ARGS__>, &FN<1, NR, __VA_ARGS__>, &FN<MR, 1, __VA_ARGS__>, &FN<1, 1, __VA_ARGS__> }
#define AXE_TILESET_4X4_512(FN, ...)                                                                       \
  TileSet<4, 4> {                                                                                           \
    &FN<4, 4, __VA_ARGS__>, &FN<1, 4, __VA_ARGS__>, &FN<4, 1, __VA_ARGS__>, &FN<1, 1, __VA_ARGS__>, &epilogue_4x4 \
  }

// Blocks of 64 columns per contiguous tile, 0 for lanes plans.
size_t widen_blocks(const Int8Weights& w) {
  return w.plan.kind == TileKind::kContiguous ? w.plan.tile / 64 : 0;
}

}  // namespace

void gemm_avx512vnni_int32(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                           const Int8Output& out) {
  static const auto t8 = AXE_TILESET_4X4_512(tile_vnni512, false);
  static const auto t4 = AXE_TILESET_4X4_512(tile_vnni512, true);
  drive(w.packed4 ? t4 : t8, t8, x, m0, m1, w, n0, n1, out, 0, 0);
}

void gemv_avx512vnni_w4(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                        const Int8Output& out) {
  gemv_w4_vnni512_impl(x, m0, m1, w, n0, n1, out);
}

void gemm_avx512_int16(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                       const Int8Output& out) {
  const bool s = x.range.is_signed();
  const size_t widen = widen_blocks(w);
  const int32_t offset = s ? 128 : 0;
  if (widen == 0) {  // lanes plan: 16 accumulators, widened once per row
    static const TileSet<4, 4> sets[2][2] = {
        {AXE_TILESET_4X4_512(tile_i16_512, false, false, false), AXE_TILESET_4X4_512(tile_i16_512, false, true, false)},
        {AXE_TILESET_4X4_512(tile_i16_512, true, false, false), AXE_TILESET_4X4_512(tile_i16_512, true, true, false)}};
    drive(sets[s][w.packed4], sets[s][0], x, m0, m1, w, n0, n1, out, 0, offset);
  } else {  // contiguous tiles: int16 and int32 accumulators side by side
    static const TileSet<2, 4> sets[2][2] = {
        {AXE_TILESET(tile_i16_512, 2, 4, false, false, true), AXE_TILESET(tile_i16_512, 2, 4, false, true, true)},
        {AXE_TILESET(tile_i16_512, 2, 4, true, false, true), AXE_TILESET(tile_i16_512, 2, 4, true, true, true)}};
    drive(sets[s][w.packed4], sets[s][0], x, m0, m1, w, n0, n1, out, widen, offset);
  }
}

void gemm_avx2_int16(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                     const Int8Output& out) {
  const bool s = x.range.is_signed();
  const size_t widen = widen_blocks(w);
  const int32_t offset = s ? 128 : 0;
  if (widen == 0) {
    static const TileSet<2, 4> sets[2][2] = {
        {AXE_TILESET(tile_i16_256, 2, 4, false, false, false), AXE_TILESET(tile_i16_256, 2, 4, false, true, false)},
        {AXE_TILESET(tile_i16_256, 2, 4, true, false, false), AXE_TILESET(tile_i16_256, 2, 4, true, true, false)}};
    drive(sets[s][w.packed4], sets[s][0], x, m0, m1, w, n0, n1, out, 0, offset);
  } else {
    static const TileSet<2, 2> sets[2][2] = {
        {AXE_TILESET(tile_i16_256, 2, 2, false, false, true), AXE_TILESET(tile_i16_256, 2, 2, false, true, true)},
        {AXE_TILESET(tile_i16_256, 2, 2, true, false, true), AXE_TILESET(tile_i16_256, 2, 2, true, true, true)}};
    drive(sets[s][w.packed4], sets[s][0], x, m0, m1, w, n0, n1, out, widen, offset);
  }
}

void gemm_avx2_int32(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                     const Int8Output& out) {
  const bool pairs = 2 * 255 * w.max_abs <= 32767;
  static const TileSet<2, 4> sets[2][2] = {
      {AXE_TILESET(tile_i32_256, 2, 4, false, false), AXE_TILESET(tile_i32_256, 2, 4, false, true)},
      {AXE_TILESET(tile_i32_256, 2, 4, true, false), AXE_TILESET(tile_i32_256, 2, 4, true, true)}};
  drive(sets[w.packed4][pairs], sets[0][pairs], x, m0, m1, w, n0, n1, out, 0, 0);
}

void gemm_avxvnni_int32(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                        const Int8Output& out) {
  static const auto t8 = AXE_TILESET(tile_avxvnni, 2, 4, false);
  static const auto t4 = AXE_TILESET(tile_avxvnni, 2, 4, true);
  drive(w.packed4 ? t4 : t8, t8, x, m0, m1, w, n0, n1, out, 0, 0);
}

}  // namespace axe
#endif  // __x86_64__
