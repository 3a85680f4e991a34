// Kernels behind quant/quant_simd.h, written once against xsimd batches and
// instantiated per instruction set:
//   quant_simd_avx512.cpp  xsimd::avx512f  (-mavx512f)
//   quant_simd_avx.cpp     xsimd::avx      (-mavx)
//   quant_simd_sse2.cpp    xsimd::sse2     (x86-64 baseline)
// quant_simd.cpp sees only the declarations below and picks one with
// xsimd::dispatch. The definitions are compiled only where
// AXE_QUANT_SIMD_KERNELS is defined (the per-arch files).
//
// Bit-exactness rules for this file (the tests check every bit):
//  * no reassociation: a sum runs in the scalar order, in one lane;
//  * no FMA contraction: GCC contracts a*b+c on vector types into FMA under
//    its default -ffp-contract=fast (even with -std=c++20) whenever the
//    target has FMA, and AVX-512F does. The pragma below turns it off for
//    the kernels; the build also passes -ffp-contract=off to these files;
//    the tests fail if either is lost;
//  * only code templated on the arch may be emitted in the per-arch objects:
//    a non-inlined copy of a shared inline function (std::max, std::abs, a
//    std::vector member, ...) compiled with -mavx512f is a weak symbol the
//    linker may pick for baseline callers too (SIGILL on older CPUs; at -O0
//    nothing is inlined). Hence the builtins and hand-written loops below;
//    `nm -C quant_simd_avx512.o | grep ' [WV] '` must list only symbols
//    that name the arch.
#pragma once
#ifdef AXE_QUANT_SIMD_KERNELS
// No a*b+c -> fma contraction in the kernels (see above), whatever the
// command line says. Before any include, so that xsimd's and the
// intrinsics' inline functions get the same options and still inline.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif
#endif
// GCC 12's AVX-512 headers trip -Wmaybe-uninitialized on their own
// _mm512_undefined_* (GCC bug 105593).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <xsimd/xsimd.hpp>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#include <cstddef>

namespace axe::quant_simd {

// The instruction sets dispatched over, best first (xsimd wants them sorted
// by version). AVX rather than AVX2: these kernels use no integer vectors,
// so nothing is lost (on AVX2 CPUs xsimd picks it). No FMA target: the
// scalar reference has no fused operations to match.
// xsimd 8.1 caveats: it reads the AVX bit from the wrong CPUID leaf, so an
// AVX-only CPU (Sandy/Ivy Bridge) gets SSE2; and it does not ask the OS
// (XGETBV) whether AVX/AVX-512 state is enabled.
using Archs = xsimd::arch_list<xsimd::avx512f, xsimd::avx, xsimd::sse2>;

struct MseRowScales {
  template <class Arch>
  void operator()(Arch, const float* w, size_t rows, size_t cols, size_t ldw, int bits, float* scales,
                  double* errors) const;  // errors: see mse_row_scales_simd_on
};

#define AXE_QUANT_SIMD_INSTANTIATE(prefix, Arch)                                                          \
  prefix template void MseRowScales::operator()<Arch>(Arch, const float*, size_t, size_t, size_t, int, float*, \
                                                      double*) const;

AXE_QUANT_SIMD_INSTANTIATE(extern, xsimd::avx512f)
AXE_QUANT_SIMD_INSTANTIATE(extern, xsimd::avx)
AXE_QUANT_SIMD_INSTANTIATE(extern, xsimd::sse2)

}  // namespace axe::quant_simd

#ifdef AXE_QUANT_SIMD_KERNELS
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <type_traits>

#include "quant/scales.h"

namespace axe::quant_simd {

// Lane i: double(x / s[i]), the division done in float as the scalar code
// does (row[k] / s, then promoted to double in round_clamp). xsimd 8.1 has
// no float -> double widening, so this one step is per arch. s must hold
// batch<double, A>::size floats, and (SSE2) 4 readable ones.
template <class A>
inline xsimd::batch<double, A> div_as_float(float x, const float* s) noexcept {
  if constexpr (false) {
#if XSIMD_WITH_AVX512F
  } else if constexpr (std::is_same_v<A, xsimd::avx512f>) {
    return _mm512_cvtps_pd(_mm256_div_ps(_mm256_set1_ps(x), _mm256_loadu_ps(s)));
#endif
#if XSIMD_WITH_AVX
  } else if constexpr (std::is_same_v<A, xsimd::avx>) {
    return _mm256_cvtps_pd(_mm_div_ps(_mm_set1_ps(x), _mm_loadu_ps(s)));
#endif
  } else {
    static_assert(std::is_same_v<A, xsimd::sse2>, "no div_as_float for this arch");
    return _mm_cvtps_pd(_mm_div_ps(_mm_set1_ps(x), _mm_loadu_ps(s)));  // lanes 2, 3 unused
  }
}

template <class Arch>
void MseRowScales::operator()(Arch, const float* w, size_t rows, size_t cols, size_t ldw, int bits,
                              float* scales, double* errors) const {
  using bf = xsimd::batch<float, Arch>;
  using bd = xsimd::batch<double, Arch>;
  constexpr size_t F = bf::size, D = bd::size;
  constexpr int kCandidates = 19;  // i = 20 .. 2, as in mse_row_scales
  constexpr size_t NV = (kCandidates + D - 1) / D;
  const int32_t qmax = (1 << (bits - 1)) - 1;
  const bd hi(static_cast<double>(qmax)), lo(-static_cast<double>(qmax));
  alignas(64) float sf[NV * D + 4];  // candidate scales; the padding lanes hold 1
  alignas(64) double sd[NV * D];
  alignas(64) double err[NV * D];
  alignas(64) float lanes[F];

  for (size_t r = 0; r < rows; ++r) {
    const float* row = w + r * ldw;
    // absmax = max |row[k]|. max is exact, so the lane order does not matter
    // for finite values; Inf and NaN (which std::max skips or keeps by
    // position) send the row to the scalar code.
    bf acc(0.0f);
    auto finite = bf(0.0f) == bf(0.0f);
    const bf big(FLT_MAX);
    size_t k = 0;
    for (; k + F <= cols; k += F) {
      const bf a = xsimd::abs(bf::load_unaligned(row + k));
      finite = finite & (a <= big);
      acc = xsimd::max(acc, a);
    }
    acc.store_aligned(lanes);
    float absmax = 0;
    bool ok = xsimd::all(finite);
    for (size_t j = 0; j < F; ++j) absmax = absmax < lanes[j] ? lanes[j] : absmax;  // std::max
    for (; k < cols; ++k) {
      const float a = __builtin_fabsf(row[k]);
      ok = ok && a <= FLT_MAX;
      absmax = absmax < a ? a : absmax;
    }
    if (ok && absmax == 0) {
      scales[r] = 1.0f;
      if (errors)
        for (int c = 0; c < kCandidates; ++c) errors[r * kCandidates + c] = NAN;
      continue;
    }
    for (int c = 0; c < kCandidates; ++c) {
      const int i = 20 - c;
      const float s = absmax * static_cast<float>(i) / 20.0f / static_cast<float>(qmax);
      ok = ok && s > 0 && s <= FLT_MAX;  // else row[k] / s can be NaN: leave it to the scalar code
      sf[c] = s;
      sd[c] = static_cast<double>(s);
    }
    if (!ok) {
      mse_row_scales(row, 1, cols, ldw, bits, scales + r);
      if (errors)
        for (int c = 0; c < kCandidates; ++c) errors[r * kCandidates + c] = NAN;
      continue;
    }
    for (size_t c = kCandidates; c < NV * D + 4; ++c) sf[c] = 1.0f;
    for (size_t c = kCandidates; c < NV * D; ++c) sd[c] = 1.0;

    // err[c] += d * d over k in order, one candidate per lane. With s > 0
    // finite and row[k] finite, row[k] / s is never NaN, so clamping with
    // max/min equals std::clamp, and q's value equals round_clamp's int32 as
    // a double except that -0.0 is not turned into +0.0: that only changes
    // the sign of d when row[k] is +-0, and d * d is +0 either way.
    bd e[NV], s[NV];
    for (size_t v = 0; v < NV; ++v) {
      e[v] = bd(0.0);
      s[v] = bd::load_aligned(sd + v * D);
    }
    for (k = 0; k < cols; ++k) {
      const float x = row[k];
      const bd xd(static_cast<double>(x));
      for (size_t v = 0; v < NV; ++v) {
        const bd q = xsimd::min(xsimd::max(xsimd::nearbyint(div_as_float<Arch>(x, sf + v * D)), lo), hi);
        const bd d = xd - s[v] * q;
        e[v] = e[v] + d * d;
      }
    }
    for (size_t v = 0; v < NV; ++v) e[v].store_aligned(err + v * D);
    double best_err = INFINITY;
    float best = absmax / qmax;
    for (int c = 0; c < kCandidates; ++c)
      if (err[c] < best_err) best_err = err[c], best = sf[c];
    scales[r] = best;
    if (errors)
      for (int c = 0; c < kCandidates; ++c) errors[r * kCandidates + c] = err[c];
  }
}

}  // namespace axe::quant_simd
#endif  // AXE_QUANT_SIMD_KERNELS
