// fp32 GEMM/GEMV against 16-bit weights (bf16 or IEEE f16), y = x * W^T with
// W row-major [N][K] of raw 16-bit values, read in place from the mapped file
// and widened to fp32 on the fly. Widening is exact (bf16: bits << 16; f16:
// F16C on x86, an integer conversion elsewhere that handles subnormals,
// infinities and NaNs), and the activations stay fp32.
//
// Every output element sees exactly the sequence of operations of
// matmul_f32-inl.h's DotTile on the widened weights (K blocks of kKC,
// lane-wise FMAs, the last partial vector zero-padded, one lane reduction per
// block, blocks added in order), so results do not depend on M, on the row
// split between threads, or on prefill vs decode. Two paths share that order:
//  - few tokens (decode): weights are widened in registers as they stream in,
//    kGemvNR rows in flight, each row read whole before the next panel (not
//    in kKC pieces, which streamed about a quarter slower), since decode
//    is memory-bound;
//  - many tokens (prefill): each NR-row panel of a K block is widened once
//    into an fp32 buffer in L1 and run through matmul_f32's own tiles, so the
//    widening is amortized over the token block.
#if defined(AXE_RUNTIME_KERNELS_MATMUL_HALF_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef AXE_RUNTIME_KERNELS_MATMUL_HALF_INL_H_
#undef AXE_RUNTIME_KERNELS_MATMUL_HALF_INL_H_
#else
#define AXE_RUNTIME_KERNELS_MATMUL_HALF_INL_H_
#endif

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "hwy/highway.h"
#include "runtime/kernels/matmul_f32-inl.h"

HWY_BEFORE_NAMESPACE();
namespace axe {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

namespace matmul_half_detail {
// Token blocks with at least this many tokens widen each panel once into a
// buffer; smaller ones widen in registers (both give the same bits).
constexpr size_t kWidenMinTokens = 4;
// Upper bound of the fp32 lanes of any target (a zero-padded tail's size).
constexpr size_t kMaxLanes = 64;
}  // namespace matmul_half_detail

// Widen one vector of Lanes(d) 16-bit weights at p to fp32.
struct WidenBF16 {
  template <class D>
  HWY_INLINE hn::Vec<D> operator()(D d, const uint16_t* HWY_RESTRICT p) const {
    const hn::RebindToUnsigned<D> du32;
    const hn::Rebind<uint16_t, D> du16;
    return hn::BitCast(d, hn::ShiftLeft<16>(hn::PromoteTo(du32, hn::LoadU(du16, p))));
  }
};

struct WidenF16 {
  template <class D>
  HWY_INLINE hn::Vec<D> operator()(D d, const uint16_t* HWY_RESTRICT p) const {
    const hn::Rebind<uint16_t, D> du16;
#if HWY_ARCH_X86 && HWY_TARGET <= HWY_AVX2 && !defined(HWY_DISABLE_F16C)
    // vcvtph2ps: exact for every bit pattern (signalling NaNs come out quiet).
    const hn::Rebind<hwy::float16_t, D> df16;
    return hn::PromoteTo(d, hn::BitCast(df16, hn::LoadU(du16, p)));
#else
    // Highway 1.0.3's portable PromoteTo from float16 turns infinities and
    // NaNs into finite numbers, so convert the bits here, the way vcvtph2ps
    // does (NaNs keep their payload and come out quiet).
    const hn::RebindToUnsigned<D> du;
    const hn::RebindToSigned<D> di;
    const auto h = hn::PromoteTo(du, hn::LoadU(du16, p));
    const auto sign = hn::ShiftLeft<16>(hn::And(h, hn::Set(du, 0x8000u)));
    const auto em = hn::And(h, hn::Set(du, 0x7FFFu));
    const auto exp = hn::ShiftRight<10>(em);
    const auto mant = hn::And(em, hn::Set(du, 0x3FFu));
    const auto shifted = hn::ShiftLeft<13>(em);
    // Normal: rebias the exponent by 127 - 15 = 112.
    const auto normal = hn::Add(shifted, hn::Set(du, 0x38000000u));
    // Infinity or NaN: exponent 31 -> 255, quiet bit set for NaNs.
    const auto special = hn::Or(hn::Add(shifted, hn::Set(du, 0x70000000u)),
                                hn::IfThenElseZero(hn::Ne(mant, hn::Zero(du)), hn::Set(du, 0x00400000u)));
    // Zero or subnormal: mant * 2^-24, exact (a normal fp32).
    const auto sub = hn::BitCast(du, hn::Mul(hn::ConvertTo(d, hn::BitCast(di, mant)), hn::Set(d, 1.0f / 16777216.0f)));
    const auto mag = hn::IfThenElse(hn::Eq(exp, hn::Zero(du)), sub,
                                    hn::IfThenElse(hn::Eq(exp, hn::Set(du, 31u)), special, normal));
    return hn::BitCast(d, hn::Or(sign, mag));
#endif
  }
};

// The last n < Lanes(d) weights at p, zero-padded (as MaskedLoad pads fp32).
template <class D, class Widen>
HWY_INLINE hn::Vec<D> WidenTail(D d, const uint16_t* HWY_RESTRICT p, size_t n, Widen widen) {
  uint16_t tmp[matmul_half_detail::kMaxLanes] = {};
  std::memcpy(tmp, p, n * sizeof(uint16_t));
  return widen(d, tmp);
}

// Weights widened in registers, for matmul_f32's tiles (DotTile's Load).
template <class Widen>
struct LoadHalf {
  Widen widen;
  template <class D>
  HWY_INLINE hn::Vec<D> Full(D d, const uint16_t* HWY_RESTRICT p) const {
    return widen(d, p);
  }
  template <class D>
  HWY_INLINE hn::Vec<D> Tail(D d, const uint16_t* HWY_RESTRICT p, size_t n) const {
    return WidenTail(d, p, n, widen);
  }
};

// Rows [n, n + NR), columns [k0, k1) widened into buf (row stride ldb); the
// tail vector is zero-padded, as LoadHalf::Tail pads it.
template <size_t NR, class Widen>
HWY_INLINE void WidenPanel(const uint16_t* HWY_RESTRICT w, size_t ldw, size_t n, size_t k0, size_t k1,
                           float* HWY_RESTRICT buf, size_t ldb, Widen widen) {
  const hn::ScalableTag<float> d;
  const size_t L = hn::Lanes(d);
  for (size_t r = 0; r < NR; ++r) {
    const uint16_t* row = w + (n + r) * ldw;
    float* out = buf + r * ldb;
    size_t k = k0;
    for (; k + L <= k1; k += L) hn::StoreU(widen(d, row + k), d, out + (k - k0));
    if (k < k1) hn::StoreU(WidenTail(d, row + k, k1 - k, widen), d, out + (k - k0));
  }
}

// Rows [n, n + NR) for tokens [m0, m1) and one K block, through a buffer.
template <size_t NR, class Widen>
HWY_INLINE void WidenedPanel(const float* x, size_t ldx, size_t m0, size_t m1, const uint16_t* w, size_t ldw,
                             size_t k0, size_t k1, float* y, size_t ldy, size_t n, bool add, float* buf, size_t ldb,
                             Widen widen) {
  WidenPanel<NR>(w, ldw, n, k0, k1, buf, ldb, widen);
  // matmul_f32's tiles on the block [k0, k1) seen from k0: the same vectors.
  TokensTimesPanel<NR>(x + k0, ldx, m0, m1, buf, ldb, 0, k1 - k0, y + n, ldy, 0, add);
}

template <class Widen>
HWY_INLINE void MatMulHalf(const float* x, size_t ldx, size_t M, const uint16_t* w, size_t ldw, size_t K, float* y,
                           size_t ldy, size_t n_begin, size_t n_end, bool accumulate, Widen widen) {
  using namespace matmul_detail;
  using namespace matmul_half_detail;
  constexpr size_t NR = kNR;
  constexpr size_t kLdb = kKC + kMaxLanes;  // room for a padded tail vector
  HWY_ALIGN float buf[NR * kLdb];
  for (size_t m0 = 0; m0 < M; m0 += kMC) {
    const size_t m1 = std::min(M, m0 + kMC);
    if (m1 - m0 < kWidenMinTokens) {
      // Few tokens: a panel's rows run through all K blocks before the next
      // panel, so each row streams from memory in one piece (the prefetchers
      // see whole rows, not kKC pieces). y receives the same block sums in
      // the same order as with K blocks outermost.
      const auto panels = [&](auto nr, size_t& n, size_t n_stop) {
        constexpr size_t R = decltype(nr)::value;
        for (; n + R <= n_stop; n += R)
          for (size_t k0 = 0; k0 < K; k0 += kKC)
            TokensTimesPanel<R>(x, ldx, m0, m1, w, ldw, k0, std::min(K, k0 + kKC), y, ldy, n, accumulate || k0 > 0,
                                0, LoadHalf<Widen>{widen});
      };
      size_t n = n_begin;
      if (M == 1) panels(std::integral_constant<size_t, kGemvNR>(), n, n_end);
      panels(std::integral_constant<size_t, NR>(), n, n_end);
      panels(std::integral_constant<size_t, 1>(), n, n_end);
      continue;
    }
    for (size_t k0 = 0; k0 < K; k0 += kKC) {
      const size_t k1 = std::min(K, k0 + kKC);
      const bool add = accumulate || k0 > 0;
      size_t n = n_begin;
      for (; n + NR <= n_end; n += NR)
        WidenedPanel<NR>(x, ldx, m0, m1, w, ldw, k0, k1, y, ldy, n, add, buf, kLdb, widen);
      for (; n < n_end; ++n) WidenedPanel<1>(x, ldx, m0, m1, w, ldw, k0, k1, y, ldy, n, add, buf, kLdb, widen);
    }
  }
}

void MatMulBF16(const float* x, size_t ldx, size_t M, const uint16_t* w, size_t ldw, size_t K, float* y, size_t ldy,
                size_t n_begin, size_t n_end, bool accumulate) {
  MatMulHalf(x, ldx, M, w, ldw, K, y, ldy, n_begin, n_end, accumulate, WidenBF16());
}

void MatMulF16(const float* x, size_t ldx, size_t M, const uint16_t* w, size_t ldw, size_t K, float* y, size_t ldy,
               size_t n_begin, size_t n_end, bool accumulate) {
  MatMulHalf(x, ldx, M, w, ldw, K, y, ldy, n_begin, n_end, accumulate, WidenF16());
}

}  // namespace HWY_NAMESPACE
}  // namespace axe
HWY_AFTER_NAMESPACE();

#endif  // include guard
