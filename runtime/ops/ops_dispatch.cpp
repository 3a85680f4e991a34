// Compiles the ops for every Highway target and hands out one table per
// target. This is the only file that knows the list of targets.
#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "runtime/ops/ops_dispatch.cpp"
#include "hwy/foreach_target.h"  // IWYU pragma: keep
#include "hwy/highway.h"
#include "runtime/kernels/emulate_steps-inl.h"
#include "runtime/kernels/matmul_f32-inl.h"
#include "runtime/kernels/matmul_half-inl.h"
#include "runtime/ops/ops.h"
#include "runtime/ops/vector_ops-inl.h"

HWY_BEFORE_NAMESPACE();
namespace axe {
namespace HWY_NAMESPACE {

const Ops& GetOps(Target t) {
  static const Ops ops{t, &MatMulF32, &MatMulBF16, &MatMulF16, &RmsNorm, &Attention,
                       &SiluMul, &Softmax, &Hadamard, &EmulateSteps};
  return ops;
}

}  // namespace HWY_NAMESPACE
}  // namespace axe
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
#include <algorithm>
#include <cmath>

#include "runtime/error.h"

namespace axe {

const Ops& ops_for(Target t) {
  switch (t) {
// The portable fallback target: Highway 1.0.3 compiles HWY_SCALAR with GCC
// before 12.3 and HWY_EMU128 with newer GCC and with clang.
#if HWY_TARGETS & HWY_SCALAR
    case Target::kScalar: return N_SCALAR::GetOps(t);
#else
    case Target::kScalar: return N_EMU128::GetOps(t);
#endif
    case Target::kAVX2: return N_AVX2::GetOps(t);
    case Target::kAVX512: return N_AVX3::GetOps(t);
    case Target::kAVX512VNNI: return N_AVX3_DL::GetOps(t);
  }
  fail(AXE_ERR_INTERNAL, "unknown SIMD target");
}

const Ops& best_ops() { return ops_for(supported_targets().back()); }

std::vector<float> hadamard_scales(size_t n) {
  std::vector<float> out(n);
  size_t o = 0;
  for (int bit = 62; bit >= 0; --bit) {  // the blocks: the set bits of n, largest first
    const size_t b = size_t{1} << bit;
    if (!(n & b)) continue;
    const float inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(b)));
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(o), out.begin() + static_cast<std::ptrdiff_t>(o + b), inv);
    o += b;
  }
  return out;
}

}  // namespace axe
#endif
