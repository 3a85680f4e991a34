// The groupwise int64 reference, the portable scalar int32 kernel, the kernel
// table and the choice among its kernels.
#include <algorithm>
#include <cstring>

#include "runtime/kernels/accumulation_plan.h"
#include "runtime/kernels/group_kernels.h"

namespace axe {

void group_gemm_reference(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0,
                          size_t n1, const GroupOutput& out) {
  const size_t G = w.groups;
  for (size_t m = m0; m < m1; ++m) {
    const int8_t* a = x.codes.data() + m * x.cols;
    for (size_t n = n0; n < n1; ++n) {
      float acc = 0.0f;
      for (size_t g = 0; g < G; ++g) {
        int64_t isum = 0;
        for (size_t k = g * kGroupSize; k < (g + 1) * kGroupSize; ++k) isum += int64_t{w.code(n, k)} * a[k];
        if (out.d) out.d[m * out.ldd + n * G + g] = static_cast<int32_t>(isum);
        acc = group_accumulate(acc, isum, w.scales[n * G + g], x.scales[m * G + g]);
      }
      group_store(out, m, n, acc);
    }
  }
}

bool group_int16_exact(const GroupWeights& w) {
  // An int16 lane adds 8 vpmaddubsw pair sums of one row: 16 products u * a
  // with u = q + offset in [0, 2^bits - 1] (every code non-negative: B = 0).
  const ActivationRange a{-127, 127};
  const int64_t umax = (int64_t{1} << w.bits) - 1, limit = AccumulationPlan::acc_limit(16);
  return worst_case_magnitude(2 * umax, 0, a) <= limit && worst_case_magnitude(16 * umax, 0, a) <= limit;
}

namespace {

// Row n's codes q[cols], decoded from the packed blocks (group_types.h).
void decode_row(const GroupWeights& w, size_t n, int8_t* q) {
  const size_t r = n % kGroupPanelRows;
  for (size_t g = 0; g < w.groups; ++g) {
    const uint8_t* b = w.block(n / kGroupPanelRows, g);
    int8_t* dst = q + g * kGroupSize;
    if (w.bits == 8) {
      for (size_t k = 0; k < kGroupSize; ++k) dst[k] = static_cast<int8_t>(b[(k / 4) * 64 + 4 * r + k % 4] ^ 0x80u);
    } else {
      for (size_t k = 0; k < 16; ++k) {
        const uint8_t v = b[(k / 4) * 64 + 4 * r + k % 4];
        dst[k] = static_cast<int8_t>((v & 0x0F) - 8);
        dst[k + 16] = static_cast<int8_t>((v >> 4) - 8);
      }
    }
  }
}

// Row n's codes, decoded once and reused for every token.
void gemm_scalar_int32(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0, size_t n1,
                       const GroupOutput& out) {
  const size_t G = w.groups;
  std::vector<int8_t> q(w.cols);
  for (size_t n = n0; n < n1; ++n) {
    decode_row(w, n, q.data());
    for (size_t m = m0; m < m1; ++m) {
      const int8_t* a = x.codes.data() + m * x.cols;
      float acc = 0.0f;
      for (size_t g = 0; g < G; ++g) {
        int32_t isum = 0;
        for (size_t k = g * kGroupSize; k < (g + 1) * kGroupSize; ++k) isum += int32_t{q[k]} * a[k];
        if (out.d) out.d[m * out.ldd + n * G + g] = isum;
        acc = group_accumulate(acc, isum, w.scales[n * G + g], x.scales[m * G + g]);
      }
      group_store(out, m, n, acc);
    }
  }
}

bool always(const GroupWeights&) { return true; }

#if defined(__x86_64__)
bool usable_avx2_int32(const GroupWeights&) { return cpu_features().avx2; }
bool usable_avx2_int16(const GroupWeights& w) { return cpu_features().avx2 && w.bits == 4 && group_int16_exact(w); }
bool usable_avxvnni_int32(const GroupWeights&) { return cpu_features().avx2 && cpu_features().avx_vnni; }
bool usable_avx512_int32(const GroupWeights&) { return cpu_features().avx512; }
bool usable_avx512_int16(const GroupWeights& w) { return cpu_features().avx512 && w.bits == 4 && group_int16_exact(w); }
bool usable_avx512vnni_int32(const GroupWeights&) { return cpu_features().avx512_vnni; }
#endif

}  // namespace

const std::vector<GroupKernel>& group_kernels() {
  static const std::vector<GroupKernel> kernels = {
      {"reference-int64", GroupAccumulator::kInt64, Target::kScalar, &group_gemm_reference, &always},
      {"scalar-int32", GroupAccumulator::kInt32, Target::kScalar, &gemm_scalar_int32, &always},
#if defined(__x86_64__)
      {"avx2-int32", GroupAccumulator::kInt32, Target::kAVX2, &group_x86::avx2_int32, &usable_avx2_int32},
      {"avx2-int16", GroupAccumulator::kInt16, Target::kAVX2, &group_x86::avx2_int16, &usable_avx2_int16},
      {"avx-vnni-int32", GroupAccumulator::kInt32, Target::kAVX2, &group_x86::avxvnni_int32, &usable_avxvnni_int32},
      {"avx512-int32", GroupAccumulator::kInt32, Target::kAVX512, &group_x86::avx512_int32, &usable_avx512_int32},
      {"avx512-int16", GroupAccumulator::kInt16, Target::kAVX512, &group_x86::avx512_int16, &usable_avx512_int16},
      {"avx512-vnni-int32", GroupAccumulator::kInt32, Target::kAVX512VNNI, &group_x86::avx512vnni_int32,
       &usable_avx512vnni_int32},
#endif
  };
  return kernels;
}

const GroupKernel* find_group_kernel(const std::string& name) {
  for (const GroupKernel& k : group_kernels())
    if (name == k.name) return &k;
  return nullptr;
}

const GroupKernel& choose_group_kernel(Target max_target, const GroupWeights& w, size_t /*tokens*/) {
  // Fastest first, as measured by bench/bench_group.cpp (docs in group_kernels.h).
  static const char* const order[] = {"avx512-vnni-int32", "avx-vnni-int32", "avx512-int16", "avx512-int32",
                                      "avx2-int16",        "avx2-int32",     "scalar-int32"};
  for (const char* name : order) {
    const GroupKernel* k = find_group_kernel(name);
    if (k && k->target <= max_target && k->usable(w)) return *k;
  }
  return group_kernels().front();
}

}  // namespace axe
