#include "runtime/kernels/int8_kernels.h"

#include <cstring>

#include "runtime/kernels/int8_x86.h"

namespace axe {
namespace {

void gemm_scalar_int32(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                       const Int8Output& out) {
  std::vector<int8_t> q(w.kp);
  for (size_t n = n0; n < n1; ++n) {
    for (size_t k = 0; k < w.kp; ++k) q[k] = w.code(n, k);
    for (size_t m = m0; m < m1; ++m) {
      const uint8_t* u = x.codes.data() + m * x.kp;
      int32_t acc = 0;
      for (size_t k = 0; k < w.kp; ++k) acc += int32_t{q[k]} * int32_t{u[k]};
      int8_epilogue(x, m, w, n, acc, 0, out);
    }
  }
}

bool always(const Int8Weights&, ActivationRange) { return true; }

// int32 accumulation of u8 codes is exact while 255 * sum|q| fits.
bool int32_fits(const Int8Weights& w, ActivationRange) {
  return int64_t{255} * w.max_abs * static_cast<int64_t>(w.kp) <= INT32_MAX;
}

// An int16 kernel whose lane j sums columns with (k / 2) % lanes == j.
bool int16_exact(const Int8Weights& w, ActivationRange x, uint32_t lanes) {
  if (!w.plan_holds || w.plan.inner_bits > 16) return false;
  if (x.is_signed() != w.x_range.is_signed() || x.mu < w.x_range.mu || x.nu > w.x_range.nu) return false;
  if (w.plan.kind == TileKind::kLanes) return lanes % w.plan.tile == 0;
  return w.plan.tile % 64 == 0;
}

#if defined(__x86_64__)
// The runtime's one CPU detector (runtime/cpu_target.h).
bool has_avx2() { return cpu_features().avx2; }
bool has_avx512() { return cpu_features().avx512; }
bool has_avx512vnni() { return cpu_features().avx512_vnni; }

bool usable_avx2_int32(const Int8Weights& w, ActivationRange x) { return has_avx2() && int32_fits(w, x); }
bool usable_avxvnni_int32(const Int8Weights& w, ActivationRange x) {
  return has_avx2() && cpu_features().avx_vnni && int32_fits(w, x);
}
bool usable_avx512vnni_int32(const Int8Weights& w, ActivationRange x) { return has_avx512vnni() && int32_fits(w, x); }
// The 4-bit GEMV sums the stored nibbles (q + 8 <= 15) before its correction.
bool usable_avx512vnni_w4(const Int8Weights& w, ActivationRange) {
  return has_avx512vnni() && w.packed4 && int64_t{255} * 15 * static_cast<int64_t>(w.kp) <= INT32_MAX;
}
bool usable_avx2_int16(const Int8Weights& w, ActivationRange x) { return has_avx2() && int16_exact(w, x, 16); }
bool usable_avx512_int16(const Int8Weights& w, ActivationRange x) { return has_avx512() && int16_exact(w, x, 32); }
#endif

}  // namespace

const std::vector<Int8Kernel>& int8_kernels() {
  static const std::vector<Int8Kernel> kernels = {
      {"reference-int64", Int8Accumulator::kInt64, Target::kScalar, &int8_gemm_reference, &always},
      {"scalar-int32", Int8Accumulator::kInt32, Target::kScalar, &gemm_scalar_int32, &int32_fits},
#if defined(__x86_64__)
      {"avx2-int32", Int8Accumulator::kInt32, Target::kAVX2, &gemm_avx2_int32, &usable_avx2_int32},
      {"avx-vnni-int32", Int8Accumulator::kInt32, Target::kAVX2, &gemm_avxvnni_int32, &usable_avxvnni_int32},
      {"avx2-int16", Int8Accumulator::kInt16, Target::kAVX2, &gemm_avx2_int16, &usable_avx2_int16},
      {"avx512-int16", Int8Accumulator::kInt16, Target::kAVX512, &gemm_avx512_int16, &usable_avx512_int16},
      {"avx512-vnni-int32", Int8Accumulator::kInt32, Target::kAVX512VNNI, &gemm_avx512vnni_int32,
       &usable_avx512vnni_int32},
      {"avx512-vnni-int32-w4gemv", Int8Accumulator::kInt32, Target::kAVX512VNNI, &gemv_avx512vnni_w4,
       &usable_avx512vnni_w4},
#endif
  };
  return kernels;
}

const Int8Kernel* find_int8_kernel(const std::string& name) {
  for (const Int8Kernel& k : int8_kernels())
    if (name == k.name) return &k;
  return nullptr;
}

}  // namespace axe
