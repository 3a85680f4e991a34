// fp32 GEMM/GEMV, y = x * W^T with W row-major [N][K] as llama2.c stores it
// (read in place from the mapped file). Dot-product form: an MR x NR tile of
// outputs keeps MR*NR vector accumulators over a block of K, then reduces each
// across lanes. Every output element sees the same sequence of operations
// whatever the tile it falls in (K blocks of kKC, lane-wise FMAs, one lane
// reduction per block, blocks added in order), so results do not depend on M,
// on the row split between threads, or on prefill vs decode.
#if defined(AXE_RUNTIME_KERNELS_MATMUL_F32_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef AXE_RUNTIME_KERNELS_MATMUL_F32_INL_H_
#undef AXE_RUNTIME_KERNELS_MATMUL_F32_INL_H_
#else
#define AXE_RUNTIME_KERNELS_MATMUL_F32_INL_H_
#endif

#include <algorithm>
#include <type_traits>

#include "hwy/highway.h"
#include "runtime/ops/ops.h"

HWY_BEFORE_NAMESPACE();
namespace axe {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;



namespace matmul_detail {
// K block: an NR-row weight panel and MR token rows stay in L1 (24 + 16 KiB
// of 48). 1024 beat 512 by 10-30% at M = 512 once rows were cache-line
// aligned (docs/PERFORMANCE.md); it sets the summation order (K blocks), the
// same for prefill and decode.
constexpr size_t kKC = kMatMulKBlock;
// Token block: as many tokens as keep their K block within 512 KiB of L2
// (128 tokens at K >= 1024); a weight panel is fetched from memory once per
// token block. 1 MiB was slower (L2 is 2 MiB on the Sapphire Rapids-class
// VM, and the panels and outputs need room too).
constexpr size_t kXBlockBytes = size_t{1} << 19;
constexpr size_t kMC = 128;  // the 16-bit path's token block (matmul_half-inl.h)
#if HWY_TARGET == HWY_AVX2
constexpr size_t kMR = 3, kNR = 4;  // 12 accumulators + 4 operands of 16 ymm
#elif HWY_TARGET == HWY_EMU128 || HWY_TARGET == HWY_SCALAR
constexpr size_t kMR = 2, kNR = 2;
#else
constexpr size_t kMR = 4, kNR = 6;  // 24 accumulators + 5 operands of 32 zmm
#endif
// Decode (one token): weights stream from memory, and more rows in flight
// means more memory-level parallelism: 12 rows beat 6 by ~15% end to end
// (docs/PERFORMANCE.md). 12 accumulators + 2 operands fit 16 ymm registers.
#if HWY_TARGET == HWY_SCALAR
constexpr size_t kGemvNR = 2;
#else
constexpr size_t kGemvNR = 12;
#endif
}  // namespace matmul_detail

// How a tile reads weights as fp32 vectors: Full loads Lanes(d) weights at
// p, Tail the last n < Lanes(d) of a row, zero-padded. fp32 weights load as
// they are; 16-bit ones are widened (matmul_half-inl.h), through the same
// tiles and so the same operations.
struct LoadF32 {
  template <class D>
  HWY_INLINE hn::Vec<D> Full(D d, const float* HWY_RESTRICT p) const {
    return hn::LoadU(d, p);
  }
  template <class D>
  HWY_INLINE hn::Vec<D> Tail(D d, const float* HWY_RESTRICT p, size_t n) const {
    return hn::MaskedLoad(hn::FirstN(d, n), d, p);
  }
};

// The sum of a vector's lanes by halving: the lower half plus the upper half,
// until one lane is left (on 16 lanes: lane j + lane j + 8, then + 4, + 2,
// + 1). Every output element is reduced by this tree, whichever path computes
// it, so that the bits do not depend on the tile (see below for zmm tiles).
template <class D>
HWY_INLINE float ReduceHalving(D d, hn::Vec<D> v) {
#if HWY_TARGET == HWY_SCALAR
  (void)d;
  return hn::GetLane(v);
#else
  if constexpr (hn::MaxLanes(d) == 1) {
    return hn::GetLane(v);
  } else {
    const hn::Half<D> dh;
    return ReduceHalving(dh, hn::Add(hn::LowerHalf(dh, v), hn::UpperHalf(dh, v)));
  }
#endif
}

#if HWY_TARGET <= HWY_AVX3
// The same tree for many zmm accumulators at once, every stage carrying
// several accumulators' partial sums in one register (a transpose-reduce):
// each stage's add is, lane for lane, the add ReduceHalving does.
namespace zmm_reduce {
// [a lanes j + j+8 | b lanes j + j+8], j < 8.
HWY_INLINE __m512 Halve16(__m512 a, __m512 b) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(1, 0, 1, 0)),
                       _mm512_shuffle_f32x4(a, b, _MM_SHUFFLE(3, 2, 3, 2)));
}
// From two Halve16 results (accumulators A, B and C, D): one 128-bit block
// each for A, B, C, D, lanes j + j+4, j < 4.
HWY_INLINE __m512 Halve8(__m512 ab, __m512 cd) {
  return _mm512_add_ps(_mm512_shuffle_f32x4(ab, cd, _MM_SHUFFLE(2, 0, 2, 0)),
                       _mm512_shuffle_f32x4(ab, cd, _MM_SHUFFLE(3, 1, 3, 1)));
}
// Within each 128-bit block: [g j + j+2 | h j + j+2], j < 2.
HWY_INLINE __m512 Halve4(__m512 g, __m512 h) {
  return _mm512_add_ps(_mm512_shuffle_ps(g, h, _MM_SHUFFLE(1, 0, 1, 0)), _mm512_shuffle_ps(g, h, _MM_SHUFFLE(3, 2, 3, 2)));
}
// Within each 128-bit block: [p 0+1, p 2+3, q 0+1, q 2+3].
HWY_INLINE __m512 Halve2(__m512 p, __m512 q) {
  return _mm512_add_ps(_mm512_shuffle_ps(p, q, _MM_SHUFFLE(2, 0, 2, 0)), _mm512_shuffle_ps(p, q, _MM_SHUFFLE(3, 1, 3, 1)));
}
// Column n of a 4-token tile: one 128-bit block per token, its partial sums.
HWY_INLINE __m512 Column(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  return Halve8(Halve16(a0, a1), Halve16(a2, a3));
}
// Block m of v: `lanes` floats into y (added to them when `add`).
template <int m>
HWY_INLINE void StoreBlock(__m512 v, float* HWY_RESTRICT y, __mmask8 lanes, bool add) {
  __m128 r = _mm512_extractf32x4_ps(v, m);
  if (add) r = _mm_add_ps(_mm_maskz_loadu_ps(lanes, y), r);
  _mm_mask_storeu_ps(y, lanes, r);
}
}  // namespace zmm_reduce
#endif

template <size_t MR, size_t NR, class W = float, class Load = LoadF32>
HWY_INLINE void DotTile(const float* HWY_RESTRICT x, size_t ldx, const W* HWY_RESTRICT w, size_t ldw, size_t k0,
                        size_t k1, float* HWY_RESTRICT y, size_t ldy, bool add, Load load = Load()) {
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  const size_t L = hn::Lanes(d);
  V acc[MR][NR];
  for (size_t m = 0; m < MR; ++m)
    for (size_t n = 0; n < NR; ++n) acc[m][n] = hn::Zero(d);
  size_t k = k0;
  for (; k + L <= k1; k += L) {
    V xv[MR];
    for (size_t m = 0; m < MR; ++m) xv[m] = hn::LoadU(d, x + m * ldx + k);
    for (size_t n = 0; n < NR; ++n) {
      const V wv = load.Full(d, w + n * ldw + k);
      for (size_t m = 0; m < MR; ++m) acc[m][n] = hn::MulAdd(xv[m], wv, acc[m][n]);
    }
  }
  if (k < k1) {
    const auto mask = hn::FirstN(d, k1 - k);
    V xv[MR];
    for (size_t m = 0; m < MR; ++m) xv[m] = hn::MaskedLoad(mask, d, x + m * ldx + k);
    for (size_t n = 0; n < NR; ++n) {
      const V wv = load.Tail(d, w + n * ldw + k, k1 - k);
      for (size_t m = 0; m < MR; ++m) acc[m][n] = hn::MulAdd(xv[m], wv, acc[m][n]);
    }
  }
#if HWY_TARGET <= HWY_AVX3
  if constexpr (MR == 4 && NR == 6) {
    using namespace zmm_reduce;
    __m512 col[6];
    for (size_t n = 0; n < 6; ++n) col[n] = Column(acc[0][n].raw, acc[1][n].raw, acc[2][n].raw, acc[3][n].raw);
    // Block m: token m's rows 0..3, then rows 4, 5 (twice).
    const __m512 r03 = Halve2(Halve4(col[0], col[1]), Halve4(col[2], col[3]));
    const __m512 p45 = Halve4(col[4], col[5]);
    const __m512 r45 = Halve2(p45, p45);
    StoreBlock<0>(r03, y, 0xF, add);
    StoreBlock<1>(r03, y + ldy, 0xF, add);
    StoreBlock<2>(r03, y + 2 * ldy, 0xF, add);
    StoreBlock<3>(r03, y + 3 * ldy, 0xF, add);
    StoreBlock<0>(r45, y + 4, 0x3, add);
    StoreBlock<1>(r45, y + ldy + 4, 0x3, add);
    StoreBlock<2>(r45, y + 2 * ldy + 4, 0x3, add);
    StoreBlock<3>(r45, y + 3 * ldy + 4, 0x3, add);
    return;
  }
#endif
  for (size_t m = 0; m < MR; ++m)
    for (size_t n = 0; n < NR; ++n) {
      const float s = ReduceHalving(d, acc[m][n]);
      y[m * ldy + n] = add ? y[m * ldy + n] + s : s;
    }
}

// All tokens [m0, m1) against rows [n, n + NR) for one K block. While the
// tiles run, the next panel's part of the K block, rows [n + NR, next_end),
// is prefetched into L2 a few lines per tile, so that a panel coming from
// memory does not stall its first tile (it is read once per token block).
template <size_t NR, class W = float, class Load = LoadF32>
HWY_INLINE void TokensTimesPanel(const float* x, size_t ldx, size_t m0, size_t m1, const W* w, size_t ldw, size_t k0,
                                 size_t k1, float* y, size_t ldy, size_t n, bool add, size_t next_end = 0,
                                 Load load = Load()) {
  constexpr size_t MR = matmul_detail::kMR;
  const size_t next_rows = next_end > n + NR ? std::min(next_end - n - NR, NR) : 0;
  constexpr size_t kLine = 64 / sizeof(W);
  const size_t lines_per_row = (k1 - k0 + kLine - 1) / kLine;
  const size_t lines = next_rows * lines_per_row;
  const size_t tiles = (m1 - m0 + MR - 1) / MR;
  const size_t per_tile = tiles ? (lines + tiles - 1) / tiles : 0;
  size_t line = 0;
  auto prefetch_some = [&] {
    for (size_t e = std::min(lines, line + per_tile); line < e; ++line) {
      const size_t r = line / lines_per_row, c = line % lines_per_row;
      __builtin_prefetch(w + (n + NR + r) * ldw + k0 + c * kLine, 0, 2);
    }
  };
  size_t m = m0;
  for (; m + MR <= m1; m += MR) {
    prefetch_some();
    DotTile<MR, NR>(x + m * ldx, ldx, w + n * ldw, ldw, k0, k1, y + m * ldy + n, ldy, add, load);
  }
  for (; m < m1; ++m) DotTile<1, NR>(x + m * ldx, ldx, w + n * ldw, ldw, k0, k1, y + m * ldy + n, ldy, add, load);
}

void MatMulF32(const float* x, size_t ldx, size_t M, const float* w, size_t ldw, size_t K, float* y, size_t ldy,
               size_t n_begin, size_t n_end, bool accumulate) {
  using namespace matmul_detail;
  constexpr size_t NR = kNR;
  const size_t kc = std::min(K, kKC);
  const size_t mc = std::max(kMR, kXBlockBytes / (kc * sizeof(float)) / kMR * kMR);
  if (M < 4) {
    // Few tokens (decode): a panel's rows run through all K blocks before the
    // next panel, so each row streams from memory in one piece. y receives
    // the same block sums in the same order as with K blocks outermost.
    const auto panels = [&](auto nr, size_t& n) {
      constexpr size_t R = decltype(nr)::value;
      for (; n + R <= n_end; n += R)
        for (size_t k0 = 0; k0 < K; k0 += kKC)
          TokensTimesPanel<R>(x, ldx, 0, M, w, ldw, k0, std::min(K, k0 + kKC), y, ldy, n, accumulate || k0 > 0);
    };
    size_t n = n_begin;
    if (M == 1) panels(std::integral_constant<size_t, kGemvNR>(), n);
    panels(std::integral_constant<size_t, NR>(), n);
    panels(std::integral_constant<size_t, 1>(), n);
    return;
  }
  for (size_t m0 = 0; m0 < M; m0 += mc) {
    const size_t m1 = std::min(M, m0 + mc);
    for (size_t k0 = 0; k0 < K; k0 += kKC) {
      const size_t k1 = std::min(K, k0 + kKC);
      const bool add = accumulate || k0 > 0;
      size_t n = n_begin;
      for (; n + NR <= n_end; n += NR)
        TokensTimesPanel<NR>(x, ldx, m0, m1, w, ldw, k0, k1, y, ldy, n, add, m1 - m0 >= 4 * kMR ? n_end : 0);
      for (; n < n_end; ++n) TokensTimesPanel<1>(x, ldx, m0, m1, w, ldw, k0, k1, y, ldy, n, add);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace axe
HWY_AFTER_NAMESPACE();

#endif  // include guard
