// x86 paths of the activation quantizers (act_quant.h): raw intrinsics in
// functions compiled for their target (GCC target attributes), run only after
// the CPU check in int8_pack.cpp / group_pack.cpp. Each gives exactly the
// bytes of the scalar reference, for every input:
//  - Ranges. min_ps(x, acc) is x < acc ? x : acc, std::min(acc, x) exactly
//    (and max_ps(x, acc) std::max(acc, x)): a NaN x keeps acc. The
//    accumulators start at +0 and only move to values strictly below (above)
//    it, so they never hold -0 or NaN, and the lanes' order does not matter.
//    |x| maxima with no NaN are order-free too; a group span holding a NaN
//    (where ggml's running MAX depends on the order) takes the scalar loop.
//  - Per-token codes: max_ps(v, vmin) then min_ps(., vmax) is the scalar
//    clamp (a NaN v fails max_ps's test: vmin; vmin <= vmax, so the order
//    of the two clamps only changes the sign of a zero, which converts to
//    the same integer); cvtps2dq rounds to nearest even (default MXCSR, the
//    mode std::nearbyint uses too); the zero point is added as an integer.
//  - Group codes: a NaN product becomes +0, the clamp to [-qmax, qmax] has
//    no NaN left to disagree on, and std::round (half away from zero) is
//    r = trunc(t), plus sign(t) where |t - r| >= 0.5 (t - r is exact).
//    Spans of 32 columns (the Q8_0 rule) go 16 (ymm: 8) at a time: their
//    maxima and sums are reduced by one transpose, the scales computed with
//    the same IEEE divisions as group_span_params, and the fp16 rounding of
//    vcvtps2ph (nearest even) equals fp32_to_fp16 for every non-NaN value; a
//    batch holding a NaN goes span by span.
// Column tails use masked loads (no byte past the row, or past valid_cols,
// is read) and masked or partial stores.
#if defined(__x86_64__)
// GCC 12's AVX-512 intrinsics (min/max/shuffle/permute) start from
// _mm512_undefined_ps() and trip -W(maybe-)uninitialized when inlined.
#pragma GCC diagnostic ignored "-Wuninitialized"
#if !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "runtime/kernels/act_quant.h"

// Highway's AVX2 target (cpu_features().avx2) includes F16C.
#define AXE_AVX2 __attribute__((target("avx2,fma,f16c")))
#define AXE_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))

namespace axe {
namespace {

// ggml's running MAX(amax, |v|) over v[k0, k1), in order (NaNs included).
float scalar_amax(const float* v, size_t k0, size_t k1) {
  float amax = 0.0f;
  for (size_t k = k0; k < k1; ++k) {
    const float a = std::fabs(v[k]);
    amax = amax > a ? amax : a;
  }
  return amax;
}

// ---- AVX-512 ------------------------------------------------------------

AXE_AVX512 inline __mmask16 tail_mask16(size_t n) {  // the first min(n, 16) lanes
  return n >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << n) - 1);
}

AXE_AVX512 inline float hmin512(__m512 v) {
  v = _mm512_min_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_min_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_min_ps(v, _mm512_permute_ps(v, 0x4E));
  v = _mm512_min_ps(v, _mm512_permute_ps(v, 0xB1));
  return _mm512_cvtss_f32(v);
}

AXE_AVX512 inline float hmax512(__m512 v) {
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0x4E));
  v = _mm512_max_ps(v, _mm512_shuffle_f32x4(v, v, 0xB1));
  v = _mm512_max_ps(v, _mm512_permute_ps(v, 0x4E));
  v = _mm512_max_ps(v, _mm512_permute_ps(v, 0xB1));
  return _mm512_cvtss_f32(v);
}

AXE_AVX512 inline int32_t hsum512(__m512i v) {
  v = _mm512_add_epi32(v, _mm512_shuffle_i32x4(v, v, 0x4E));
  v = _mm512_add_epi32(v, _mm512_shuffle_i32x4(v, v, 0xB1));
  v = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_BADC));
  v = _mm512_add_epi32(v, _mm512_shuffle_epi32(v, _MM_PERM_CDAB));
  return _mm_cvtsi128_si32(_mm512_castsi512_si128(v));
}

// x, or x with its non-finite lanes made +0 (which leaves a range from 0 unchanged).
template <bool kFiniteOnly>
AXE_AVX512 inline __m512 in512(__m512 x) {
  if constexpr (kFiniteOnly)
    return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(_mm512_abs_ps(x), _mm512_set1_ps(INFINITY), _CMP_LT_OQ), x);
  else return x;
}

// The row's range [lo, hi] (from 0), over its finite values only when kFiniteOnly.
template <bool kFiniteOnly>
AXE_AVX512 inline void range512(const float* row, size_t cols, float& lo, float& hi) {
  __m512 lo0 = _mm512_setzero_ps(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
  size_t k = 0;
  for (; k + 32 <= cols; k += 32) {
    const __m512 x0 = in512<kFiniteOnly>(_mm512_loadu_ps(row + k)), x1 = in512<kFiniteOnly>(_mm512_loadu_ps(row + k + 16));
    lo0 = _mm512_min_ps(x0, lo0), hi0 = _mm512_max_ps(x0, hi0);
    lo1 = _mm512_min_ps(x1, lo1), hi1 = _mm512_max_ps(x1, hi1);
  }
  for (; k < cols; k += 16) {
    const __m512 x = in512<kFiniteOnly>(_mm512_maskz_loadu_ps(tail_mask16(cols - k), row + k));  // absent lanes: +0
    lo0 = _mm512_min_ps(x, lo0), hi0 = _mm512_max_ps(x, hi0);
  }
  lo = hmin512(_mm512_min_ps(lo0, lo1));
  hi = hmax512(_mm512_max_ps(hi0, hi1));
}

AXE_AVX512 inline __m128i codes512(__m512 x, __m512 inv, __m512 vmin, __m512 vmax, __m512i zero) {
  __m512 v = _mm512_mul_ps(x, inv);
  v = _mm512_max_ps(v, vmin);  // NaN: vmin
  v = _mm512_min_ps(v, vmax);
  return _mm512_cvtepi32_epi8(_mm512_add_epi32(_mm512_cvtps_epi32(v), zero));
}

// round(clamp(nan0(x * id), -qmax, qmax)) as int32 lanes.
AXE_AVX512 inline __m512i group_codes512(__m512 x, __m512 id, __m512 nqmax, __m512 qmax) {
  __m512 t = _mm512_mul_ps(x, id);
  t = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(t, t, _CMP_ORD_Q), t);  // NaN: +0
  t = _mm512_min_ps(_mm512_max_ps(t, nqmax), qmax);
  __m512i i = _mm512_cvttps_epi32(t);
  const __m512 frac = _mm512_sub_ps(t, _mm512_cvtepi32_ps(i));  // exact
  const __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(frac), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __mmask16 neg = _mm512_cmp_ps_mask(t, _mm512_setzero_ps(), _CMP_LT_OQ);
  const __m512i one = _mm512_set1_epi32(1);
  i = _mm512_mask_add_epi32(i, up & static_cast<__mmask16>(~neg), i, one);
  return _mm512_mask_sub_epi32(i, up & neg, i, one);
}

// ---- AVX2 -----------------------------------------------------------------

AXE_AVX2 inline __m256i tail_mask8(size_t n) {  // lanes < min(n, 8): all ones
  const int c = static_cast<int>(std::min<size_t>(n, 8));
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(c), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AXE_AVX2 inline __m256 abs256(__m256 x) {
  return _mm256_castsi256_ps(_mm256_and_si256(_mm256_castps_si256(x), _mm256_set1_epi32(0x7FFFFFFF)));
}

AXE_AVX2 inline float hmin256(__m256 v) {
  __m128 s = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_min_ps(s, _mm_movehl_ps(s, s));
  s = _mm_min_ps(s, _mm_shuffle_ps(s, s, 0x55));
  return _mm_cvtss_f32(s);
}

AXE_AVX2 inline float hmax256(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ps(s, _mm_shuffle_ps(s, s, 0x55));
  return _mm_cvtss_f32(s);
}

AXE_AVX2 inline int32_t hsum256(__m256i v) {
  __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
  s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
  return _mm_cvtsi128_si32(s);
}

template <bool kFiniteOnly>
AXE_AVX2 inline __m256 in256(__m256 x) {
  if constexpr (kFiniteOnly) return _mm256_and_ps(_mm256_cmp_ps(abs256(x), _mm256_set1_ps(INFINITY), _CMP_LT_OQ), x);
  else return x;
}

template <bool kFiniteOnly>
AXE_AVX2 inline void range256(const float* row, size_t cols, float& lo, float& hi) {
  __m256 lo0 = _mm256_setzero_ps(), lo1 = lo0, hi0 = lo0, hi1 = lo0;
  size_t k = 0;
  for (; k + 16 <= cols; k += 16) {
    const __m256 x0 = in256<kFiniteOnly>(_mm256_loadu_ps(row + k)), x1 = in256<kFiniteOnly>(_mm256_loadu_ps(row + k + 8));
    lo0 = _mm256_min_ps(x0, lo0), hi0 = _mm256_max_ps(x0, hi0);
    lo1 = _mm256_min_ps(x1, lo1), hi1 = _mm256_max_ps(x1, hi1);
  }
  for (; k < cols; k += 8) {
    const __m256 x = in256<kFiniteOnly>(_mm256_maskload_ps(row + k, tail_mask8(cols - k)));  // absent lanes: +0
    lo0 = _mm256_min_ps(x, lo0), hi0 = _mm256_max_ps(x, hi0);
  }
  lo = hmin256(_mm256_min_ps(lo0, lo1));
  hi = hmax256(_mm256_max_ps(hi0, hi1));
}

// 8 codes in [0, 255], in the low 8 bytes.
AXE_AVX2 inline __m128i codes256(__m256 x, __m256 inv, __m256 vmin, __m256 vmax, __m256i zero) {
  __m256 v = _mm256_mul_ps(x, inv);
  v = _mm256_max_ps(v, vmin);  // NaN: vmin
  v = _mm256_min_ps(v, vmax);
  const __m256i i = _mm256_add_epi32(_mm256_cvtps_epi32(v), zero);
  const __m128i w = _mm_packs_epi32(_mm256_castsi256_si128(i), _mm256_extracti128_si256(i, 1));
  return _mm_packus_epi16(w, w);  // exact: every value fits
}

AXE_AVX2 inline __m256i group_codes256(__m256 x, __m256 id, __m256 nqmax, __m256 qmax) {
  __m256 t = _mm256_mul_ps(x, id);
  t = _mm256_and_ps(_mm256_cmp_ps(t, t, _CMP_ORD_Q), t);  // NaN: +0
  t = _mm256_min_ps(_mm256_max_ps(t, nqmax), qmax);
  const __m256i i = _mm256_cvttps_epi32(t);
  const __m256 frac = _mm256_sub_ps(t, _mm256_cvtepi32_ps(i));  // exact
  const __m256i up = _mm256_castps_si256(_mm256_cmp_ps(abs256(frac), _mm256_set1_ps(0.5f), _CMP_GE_OQ));
  // +1 or -1 by t's sign (a -0 has frac 0: no step).
  const __m256i step = _mm256_or_si256(_mm256_srai_epi32(_mm256_castps_si256(t), 31), _mm256_set1_epi32(1));
  return _mm256_add_epi32(i, _mm256_and_si256(up, step));
}

}  // namespace

AXE_AVX512 void quantize_activation_rows_avx512(const float* x, size_t ldx, size_t m0, size_t m1,
                                                Int8Activations& out) {
  const size_t cols = out.cols;
  for (size_t m = m0; m < m1; ++m) {
    const float* row = x + m * ldx;
    uint8_t* dst = out.codes.data() + m * out.kp;
    float lo, hi;
    range512<false>(row, cols, lo, hi);
    if (!std::isfinite(lo) || !std::isfinite(hi)) range512<true>(row, cols, lo, hi);
    const ActRowParams p = act_row_params(lo, hi, out.range);
    const __m512 inv = _mm512_set1_ps(p.inv), vmin = _mm512_set1_ps(p.vmin), vmax = _mm512_set1_ps(p.vmax);
    const __m512i zero = _mm512_set1_epi32(p.zero);
    size_t k = 0;
    for (; k + 32 <= cols; k += 32) {
      const __m128i c0 = codes512(_mm512_loadu_ps(row + k), inv, vmin, vmax, zero);
      const __m128i c1 = codes512(_mm512_loadu_ps(row + k + 16), inv, vmin, vmax, zero);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst + k), _mm256_set_m128i(c1, c0));
    }
    for (; k < cols; k += 16) {
      const __mmask16 mask = tail_mask16(cols - k);
      const __m128i c = codes512(_mm512_maskz_loadu_ps(mask, row + k), inv, vmin, vmax, zero);
      _mm_mask_storeu_epi8(dst + k, mask, c);
    }
    std::fill(dst + cols, dst + out.kp, static_cast<uint8_t>(p.zero));
    out.scales[m] = p.scale;
    out.zeros[m] = p.zero;
  }
}

AXE_AVX2 void quantize_activation_rows_avx2(const float* x, size_t ldx, size_t m0, size_t m1, Int8Activations& out) {
  const size_t cols = out.cols;
  for (size_t m = m0; m < m1; ++m) {
    const float* row = x + m * ldx;
    uint8_t* dst = out.codes.data() + m * out.kp;
    float lo, hi;
    range256<false>(row, cols, lo, hi);
    if (!std::isfinite(lo) || !std::isfinite(hi)) range256<true>(row, cols, lo, hi);
    const ActRowParams p = act_row_params(lo, hi, out.range);
    const __m256 inv = _mm256_set1_ps(p.inv), vmin = _mm256_set1_ps(p.vmin), vmax = _mm256_set1_ps(p.vmax);
    const __m256i zero = _mm256_set1_epi32(p.zero);
    size_t k = 0;
    for (; k + 16 <= cols; k += 16) {
      const __m128i c0 = codes256(_mm256_loadu_ps(row + k), inv, vmin, vmax, zero);
      const __m128i c1 = codes256(_mm256_loadu_ps(row + k + 8), inv, vmin, vmax, zero);
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst + k), _mm_unpacklo_epi64(c0, c1));
    }
    for (; k < cols; k += 8) {
      const size_t n = std::min<size_t>(cols - k, 8);
      const __m128i c = codes256(_mm256_maskload_ps(row + k, tail_mask8(n)), inv, vmin, vmax, zero);
      alignas(16) uint8_t tmp[16];
      _mm_store_si128(reinterpret_cast<__m128i*>(tmp), c);
      std::memcpy(dst + k, tmp, n);
    }
    std::fill(dst + cols, dst + out.kp, static_cast<uint8_t>(p.zero));
    out.scales[m] = p.scale;
    out.zeros[m] = p.zero;
  }
}

namespace {

// ---- group codes: one span at a time (any span), or 32-column spans in batches ----

// The span [c0, c1) of row v (x[m]): its |x| maximum, scale and blocks.
AXE_AVX512 void group_span512(const float* v, size_t c0, size_t c1, size_t valid, float qmax_s, size_t m,
                              GroupActivations& out) {
  const __m512 qmax = _mm512_set1_ps(qmax_s), nqmax = _mm512_set1_ps(-qmax_s);
  const size_t end = std::min(c1, valid);
  // |x| maximum over [c0, end), NaN-free lanes; any NaN: the scalar loop.
  __m512 acc = _mm512_setzero_ps();
  __mmask16 nan = 0;
  for (size_t k = c0; k < end; k += 16) {
    const __m512 a = _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask16(end - k), v + k));
    nan |= _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
    acc = _mm512_max_ps(a, acc);
  }
  const float amax = nan ? scalar_amax(v, c0, end) : hmax512(acc);
  const GroupSpanParams p = group_span_params(amax, qmax_s);
  const __m512 id = _mm512_set1_ps(p.id);
  for (size_t b0 = c0; b0 < c1; b0 += kGroupSize) {
    const size_t g = b0 / kGroupSize;
    out.scales[m * out.groups + g] = p.stored;
    int8_t* c = out.codes.data() + m * out.cols + b0;
    const size_t n = valid > b0 ? valid - b0 : 0;  // valid columns in the block (absent ones: code 0)
    const __m512i i0 = group_codes512(_mm512_maskz_loadu_ps(tail_mask16(n), v + b0), id, nqmax, qmax);
    const __m512i i1 =
        group_codes512(_mm512_maskz_loadu_ps(tail_mask16(n > 16 ? n - 16 : 0), v + b0 + 16), id, nqmax, qmax);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c),
                        _mm256_set_m128i(_mm512_cvtepi32_epi8(i1), _mm512_cvtepi32_epi8(i0)));
    out.sums[m * out.groups + g] = hsum512(_mm512_add_epi32(i0, i1));
  }
}

template <bool kAdd>
AXE_AVX512 inline __m512 op512(__m512 a, __m512 b) {
  if constexpr (kAdd) return _mm512_castsi512_ps(_mm512_add_epi32(_mm512_castps_si512(a), _mm512_castps_si512(b)));
  else return _mm512_max_ps(a, b);
}

// Lane g of the result = the max (kAdd: int32 sum) of v[g]'s lanes. The
// values are NaN-free, so the order of the max does not matter.
template <bool kAdd>
AXE_AVX512 inline __m512 transpose_reduce16(const __m512* v) {
  __m512 w[8], x[4], y[2];
  for (int i = 0; i < 8; ++i)  // [v2i partial (8) | v2i+1 partial (8)]
    w[i] = op512<kAdd>(_mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0x44),
                       _mm512_shuffle_f32x4(v[2 * i], v[2 * i + 1], 0xEE));
  for (int i = 0; i < 4; ++i)  // quarter q: v4i+q (4 partials)
    x[i] = op512<kAdd>(_mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0x88),
                       _mm512_shuffle_f32x4(w[2 * i], w[2 * i + 1], 0xDD));
  for (int i = 0; i < 2; ++i)  // quarter q: v8i+q, v8i+4+q (2 partials each)
    y[i] = op512<kAdd>(_mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0x44), _mm512_shuffle_ps(x[2 * i], x[2 * i + 1], 0xEE));
  // Lane 4q + r: v[q + 4r]; the permutation puts v[g] in lane g.
  const __m512 z = op512<kAdd>(_mm512_shuffle_ps(y[0], y[1], 0x88), _mm512_shuffle_ps(y[0], y[1], 0xDD));
  return _mm512_permutexvar_ps(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), z);
}

// Up to 16 spans of 32 columns, groups [g0, g0 + nb) of row v: maxima, scales
// and sums 16 at a time. False (nothing written) when a NaN is among them.
AXE_AVX512 bool group_batch512(const float* v, size_t g0, size_t nb, size_t valid, float qmax_s, size_t m,
                               GroupActivations& out) {
  __m512 a[16];
  __mmask16 nan = 0;
  for (size_t b = 0; b < 16; ++b) {
    const size_t b0 = (g0 + b) * kGroupSize, n = b < nb && valid > b0 ? valid - b0 : 0;
    const __m512 x0 = _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask16(n), v + b0));
    const __m512 x1 = _mm512_abs_ps(_mm512_maskz_loadu_ps(tail_mask16(n > 16 ? n - 16 : 0), v + b0 + 16));
    nan |= _mm512_cmp_ps_mask(x0, x1, _CMP_UNORD_Q);
    a[b] = _mm512_max_ps(x0, x1);
  }
  if (nan) return false;
  // group_span_params, 16 at a time: the same IEEE divisions; fp16 rounding
  // to nearest even equals fp32_to_fp16 for every non-NaN value.
  const __m512 qmax = _mm512_set1_ps(qmax_s), nqmax = _mm512_set1_ps(-qmax_s);
  const __m512 d = _mm512_div_ps(transpose_reduce16<false>(a), qmax);
  const __m512 id = _mm512_maskz_div_ps(_mm512_cmp_ps_mask(d, _mm512_setzero_ps(), _CMP_NEQ_UQ), _mm512_set1_ps(1.0f), d);
  const __m512 stored = _mm512_cvtph_ps(_mm512_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __mmask16 lanes = tail_mask16(nb);
  _mm512_mask_storeu_ps(out.scales.data() + m * out.groups + g0, lanes, stored);
  alignas(64) float ids[16];
  _mm512_store_ps(ids, id);
  __m512 sums[16];
  for (size_t b = 0; b < 16; ++b) {
    if (b >= nb) {
      sums[b] = _mm512_setzero_ps();
      continue;
    }
    const size_t b0 = (g0 + b) * kGroupSize, n = valid > b0 ? valid - b0 : 0;
    const __m512 idb = _mm512_set1_ps(ids[b]);
    const __m512i i0 = group_codes512(_mm512_maskz_loadu_ps(tail_mask16(n), v + b0), idb, nqmax, qmax);
    const __m512i i1 =
        group_codes512(_mm512_maskz_loadu_ps(tail_mask16(n > 16 ? n - 16 : 0), v + b0 + 16), idb, nqmax, qmax);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.codes.data() + m * out.cols + b0),
                        _mm256_set_m128i(_mm512_cvtepi32_epi8(i1), _mm512_cvtepi32_epi8(i0)));
    sums[b] = _mm512_castsi512_ps(_mm512_add_epi32(i0, i1));
  }
  _mm512_mask_storeu_epi32(out.sums.data() + m * out.groups + g0, lanes,
                           _mm512_castps_si512(transpose_reduce16<true>(sums)));
  return true;
}

AXE_AVX2 void group_span256(const float* v, size_t c0, size_t c1, size_t valid, float qmax_s, size_t m,
                            GroupActivations& out) {
  const __m256 qmax = _mm256_set1_ps(qmax_s), nqmax = _mm256_set1_ps(-qmax_s);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  const size_t end = std::min(c1, valid);
  __m256 acc = _mm256_setzero_ps(), nan = _mm256_setzero_ps();
  for (size_t k = c0; k < end; k += 8) {
    const __m256 a = abs256(_mm256_maskload_ps(v + k, tail_mask8(end - k)));
    nan = _mm256_or_ps(nan, _mm256_cmp_ps(a, a, _CMP_UNORD_Q));
    acc = _mm256_max_ps(a, acc);
  }
  const float amax = _mm256_movemask_ps(nan) ? scalar_amax(v, c0, end) : hmax256(acc);
  const GroupSpanParams p = group_span_params(amax, qmax_s);
  const __m256 id = _mm256_set1_ps(p.id);
  for (size_t b0 = c0; b0 < c1; b0 += kGroupSize) {
    const size_t g = b0 / kGroupSize;
    out.scales[m * out.groups + g] = p.stored;
    int8_t* c = out.codes.data() + m * out.cols + b0;
    const size_t n = valid > b0 ? valid - b0 : 0;
    __m256i i[4];
    for (size_t q = 0; q < 4; ++q) {
      const size_t nq = n > 8 * q ? n - 8 * q : 0;
      i[q] = group_codes256(_mm256_maskload_ps(v + b0 + 8 * q, tail_mask8(nq)), id, nqmax, qmax);
    }
    // [-127, 127]: the saturating packs are exact; the dword permutation undoes their lane interleave.
    const __m256i b = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(c), _mm256_permutevar8x32_epi32(b, order));
    out.sums[m * out.groups + g] = hsum256(_mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3])));
  }
}

template <bool kAdd>
AXE_AVX2 inline __m256 op256(__m256 a, __m256 b) {
  if constexpr (kAdd) return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(a), _mm256_castps_si256(b)));
  else return _mm256_max_ps(a, b);
}

// Lane g of the result = the max (kAdd: int32 sum) of v[g]'s lanes (NaN-free).
template <bool kAdd>
AXE_AVX2 inline __m256 transpose_reduce8(const __m256* v) {
  __m256 w[4], x[2];
  for (int i = 0; i < 4; ++i)  // [v2i partial (4) | v2i+1 partial (4)]
    w[i] = op256<kAdd>(_mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x20),
                       _mm256_permute2f128_ps(v[2 * i], v[2 * i + 1], 0x31));
  for (int i = 0; i < 2; ++i)  // half h: v4i+h, v4i+2+h (2 partials each)
    x[i] = op256<kAdd>(_mm256_shuffle_ps(w[2 * i], w[2 * i + 1], 0x44), _mm256_shuffle_ps(w[2 * i], w[2 * i + 1], 0xEE));
  // Lane 4h + r: v[h + 2r]; the permutation puts v[g] in lane g.
  const __m256 z = op256<kAdd>(_mm256_shuffle_ps(x[0], x[1], 0x88), _mm256_shuffle_ps(x[0], x[1], 0xDD));
  return _mm256_permutevar8x32_ps(z, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

// Up to 8 spans of 32 columns at a time (see group_batch512).
AXE_AVX2 bool group_batch256(const float* v, size_t g0, size_t nb, size_t valid, float qmax_s, size_t m,
                                 GroupActivations& out) {
  __m256 a[8], nan = _mm256_setzero_ps();
  for (size_t b = 0; b < 8; ++b) {
    const size_t b0 = (g0 + b) * kGroupSize, n = b < nb && valid > b0 ? valid - b0 : 0;
    __m256 x[4];
    for (size_t q = 0; q < 4; ++q) x[q] = abs256(_mm256_maskload_ps(v + b0 + 8 * q, tail_mask8(n > 8 * q ? n - 8 * q : 0)));
    nan = _mm256_or_ps(nan, _mm256_or_ps(_mm256_cmp_ps(x[0], x[1], _CMP_UNORD_Q), _mm256_cmp_ps(x[2], x[3], _CMP_UNORD_Q)));
    a[b] = _mm256_max_ps(_mm256_max_ps(x[0], x[1]), _mm256_max_ps(x[2], x[3]));
  }
  if (_mm256_movemask_ps(nan)) return false;
  const __m256 qmax = _mm256_set1_ps(qmax_s), nqmax = _mm256_set1_ps(-qmax_s);
  const __m256 d = _mm256_div_ps(transpose_reduce8<false>(a), qmax);
  const __m256 id =
      _mm256_and_ps(_mm256_cmp_ps(d, _mm256_setzero_ps(), _CMP_NEQ_UQ), _mm256_div_ps(_mm256_set1_ps(1.0f), d));
  const __m256 stored = _mm256_cvtph_ps(_mm256_cvtps_ph(d, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
  const __m256i lanes = tail_mask8(nb);
  _mm256_maskstore_ps(out.scales.data() + m * out.groups + g0, lanes, stored);
  alignas(32) float ids[8];
  _mm256_store_ps(ids, id);
  const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
  __m256 sums[8];
  for (size_t b = 0; b < 8; ++b) {
    if (b >= nb) {
      sums[b] = _mm256_setzero_ps();
      continue;
    }
    const size_t b0 = (g0 + b) * kGroupSize, n = valid > b0 ? valid - b0 : 0;
    const __m256 idb = _mm256_set1_ps(ids[b]);
    __m256i i[4];
    for (size_t q = 0; q < 4; ++q)
      i[q] = group_codes256(_mm256_maskload_ps(v + b0 + 8 * q, tail_mask8(n > 8 * q ? n - 8 * q : 0)), idb, nqmax, qmax);
    const __m256i c = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out.codes.data() + m * out.cols + b0),
                        _mm256_permutevar8x32_epi32(c, order));
    sums[b] = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_add_epi32(i[0], i[1]), _mm256_add_epi32(i[2], i[3])));
  }
  _mm256_maskstore_epi32(out.sums.data() + m * out.groups + g0, lanes, _mm256_castps_si256(transpose_reduce8<true>(sums)));
  return true;
}

}  // namespace

AXE_AVX512 void quantize_group_activation_rows_avx512(const float* x, size_t ldx, size_t m0, size_t m1,
                                                      GroupActivations& out, const GroupActFormat& f) {
  const float qmax = static_cast<float>((1 << (f.bits - 1)) - 1);
  const size_t valid = f.valid_cols ? f.valid_cols : out.cols;
  const size_t span = f.group ? f.group : out.cols;
  for (size_t m = m0; m < m1; ++m) {
    const float* v = x + m * ldx;
    if (span == kGroupSize) {
      for (size_t g0 = 0; g0 < out.groups; g0 += 16) {
        const size_t nb = std::min<size_t>(16, out.groups - g0);
        if (!group_batch512(v, g0, nb, valid, qmax, m, out))
          for (size_t g = g0; g < g0 + nb; ++g) group_span512(v, g * kGroupSize, (g + 1) * kGroupSize, valid, qmax, m, out);
      }
    } else {
      for (size_t c0 = 0; c0 < out.cols; c0 += span) group_span512(v, c0, std::min(out.cols, c0 + span), valid, qmax, m, out);
    }
  }
}

AXE_AVX2 void quantize_group_activation_rows_avx2(const float* x, size_t ldx, size_t m0, size_t m1,
                                                      GroupActivations& out, const GroupActFormat& f) {
  const float qmax = static_cast<float>((1 << (f.bits - 1)) - 1);
  const size_t valid = f.valid_cols ? f.valid_cols : out.cols;
  const size_t span = f.group ? f.group : out.cols;
  for (size_t m = m0; m < m1; ++m) {
    const float* v = x + m * ldx;
    if (span == kGroupSize) {
      for (size_t g0 = 0; g0 < out.groups; g0 += 8) {
        const size_t nb = std::min<size_t>(8, out.groups - g0);
        if (!group_batch256(v, g0, nb, valid, qmax, m, out))
          for (size_t g = g0; g < g0 + nb; ++g) group_span256(v, g * kGroupSize, (g + 1) * kGroupSize, valid, qmax, m, out);
      }
    } else {
      for (size_t c0 = 0; c0 < out.cols; c0 += span) group_span256(v, c0, std::min(out.cols, c0 + span), valid, qmax, m, out);
    }
  }
}

}  // namespace axe
#endif
