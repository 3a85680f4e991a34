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

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace axe {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;



namespace matmul_detail {
constexpr size_t kKC = 1024;  // K block: an NR-row weight panel stays in L1
constexpr size_t kMC = 128;   // token block: the x block stays in L2
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
  for (size_t m = 0; m < MR; ++m)
    for (size_t n = 0; n < NR; ++n) {
      const float s = hn::GetLane(hn::SumOfLanes(d, acc[m][n]));
      y[m * ldy + n] = add ? y[m * ldy + n] + s : s;
    }
}

// All tokens [m0, m1) against rows [n, n + NR) for one K block.
template <size_t NR, class W = float, class Load = LoadF32>
HWY_INLINE void TokensTimesPanel(const float* x, size_t ldx, size_t m0, size_t m1, const W* w, size_t ldw, size_t k0,
                                 size_t k1, float* y, size_t ldy, size_t n, bool add, Load load = Load()) {
  constexpr size_t MR = matmul_detail::kMR;
  size_t m = m0;
  for (; m + MR <= m1; m += MR)
    DotTile<MR, NR>(x + m * ldx, ldx, w + n * ldw, ldw, k0, k1, y + m * ldy + n, ldy, add, load);
  for (; m < m1; ++m) DotTile<1, NR>(x + m * ldx, ldx, w + n * ldw, ldw, k0, k1, y + m * ldy + n, ldy, add, load);
}

void MatMulF32(const float* x, size_t ldx, size_t M, const float* w, size_t ldw, size_t K, float* y, size_t ldy,
               size_t n_begin, size_t n_end, bool accumulate) {
  using namespace matmul_detail;
  constexpr size_t NR = kNR;
  for (size_t m0 = 0; m0 < M; m0 += kMC) {
    const size_t m1 = std::min(M, m0 + kMC);
    for (size_t k0 = 0; k0 < K; k0 += kKC) {
      const size_t k1 = std::min(K, k0 + kKC);
      const bool add = accumulate || k0 > 0;
      size_t n = n_begin;
      if (M == 1) {
        for (; n + kGemvNR <= n_end; n += kGemvNR)
          TokensTimesPanel<kGemvNR>(x, ldx, m0, m1, w, ldw, k0, k1, y, ldy, n, add);
      }
      for (; n + NR <= n_end; n += NR) TokensTimesPanel<NR>(x, ldx, m0, m1, w, ldw, k0, k1, y, ldy, n, add);
      for (; n < n_end; ++n) TokensTimesPanel<1>(x, ldx, m0, m1, w, ldw, k0, k1, y, ldy, n, add);
    }
  }
}

}  // namespace HWY_NAMESPACE
}  // namespace axe
HWY_AFTER_NAMESPACE();

#endif  // include guard
