// Highway implementation of the narrow-datapath stepping (per target):
// one tile of one row, every token at once in vector lanes.
#if defined(AXE_RUNTIME_KERNELS_EMULATE_STEPS_INL_H_) == defined(HWY_TARGET_TOGGLE)
#ifdef AXE_RUNTIME_KERNELS_EMULATE_STEPS_INL_H_
#undef AXE_RUNTIME_KERNELS_EMULATE_STEPS_INL_H_
#else
#define AXE_RUNTIME_KERNELS_EMULATE_STEPS_INL_H_
#endif

#include "hwy/highway.h"

HWY_BEFORE_NAMESPACE();
namespace axe {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// acc[m] = the P-bit register after adding q[c] * xs_t[c * ld + m] for the
// columns c of the tile in order, wrapping (sign-extension of the low P bits)
// or saturating; returns how many steps left the range. Needs bits <= 30 so
// that acc + term never overflows an int32 lane; m < M, ld >= M rounded up to
// the vector length (the padding lanes are ignored).
uint64_t EmulateSteps(const int32_t* q, const uint32_t* cols, size_t n_cols, const int32_t* xs_t, size_t ld,
                      size_t M, uint32_t bits, bool saturate, int32_t* acc) {
  const hn::ScalableTag<int32_t> d;
  const size_t L = hn::Lanes(d);
  const int shift = static_cast<int>(32 - bits);
  const auto lo = hn::Set(d, -(int32_t{1} << (bits - 1))), hi = hn::Set(d, (int32_t{1} << (bits - 1)) - 1);
  uint64_t events = 0;
  for (size_t m0 = 0; m0 < M; m0 += L) {
    const auto valid = hn::FirstN(d, M - m0);
    auto a = hn::Zero(d);
    for (size_t i = 0; i < n_cols; ++i) {
      const uint32_t c = cols[i];
      const auto exact = hn::Add(a, hn::Mul(hn::Set(d, q[c]), hn::LoadU(d, xs_t + c * ld + m0)));
      a = saturate ? hn::Min(hn::Max(exact, lo), hi) : hn::ShiftRightSame(hn::ShiftLeftSame(exact, shift), shift);
      events += hn::CountTrue(d, hn::And(hn::Ne(a, exact), valid));
    }
    hn::StoreU(a, d, acc + m0);
  }
  return events;
}

}  // namespace HWY_NAMESPACE
}  // namespace axe
HWY_AFTER_NAMESPACE();

#endif  // include guard
