// The groupwise integer GEMM/GEMV kernels (group_types.h) and how one is chosen.
//
// Every kernel computes, for tokens [m0, m1) and rows [n0, n1):
//   isum[g] = sum_{k in group g} q[n][k] * a[m][k]        (exact integer)
//   acc = 0; for g = 0, 1, ...: acc = group_accumulate(acc, isum[g], dw[n][g], dx[m][g])
//   v = acc (+ bias[n]);  y[m][n] = v  (or y[m][n] += v with accumulate)
// group_accumulate is THE fp32 order: one fused multiply-add per group,
// fma(float(isum), dw * dx, acc), groups in order. float(isum) is exact
// (|isum| <= 32 * 128 * 127 < 2^24), dw * dx is one rounded product and the
// fma one rounding, so every kernel (scalar, AVX2, AVX-512, VNNI; int16 or
// int32 accumulators) gives bit-identical outputs, whatever M, the row range
// or the thread split. (llama.cpp's own order differs per platform: its
// generic code does sumf += isum * dw * dx, its AVX2 code an fma per 8-lane
// partial sum; results agree with it to fp32 rounding, not bit for bit.)
//
// Integer exactness:
//  - int32 (vpdpbusd; or vpmaddubsw + vpmaddwd per step): always exact.
//    vpdpbusd multiplies the stored u = q + offset (unsigned) by a (signed)
//    and the kernel subtracts offset * sum(a); vpmaddubsw pair sums of u x a
//    fit int16 only for 4-bit (2 * 15 * 127), so 8-bit uses |q| x sign(q) * a
//    (pairs <= 2 * 128 * 127 = 32512) before vpmaddwd widens.
//  - int16 (vpmaddubsw + vpaddw over a whole group, vpmaddwd once per group):
//    each int16 lane sums 16 products u * a of one row; exact when
//    worst_case_magnitude(16 * max u, 0, [-127, 127]) <= 32767: 4-bit only
//    (16 * 15 * 127 = 30480; 8-bit would be 16 * 255 * 127).
// Activation codes must be in [-127, 127] (quantize_group_activations).
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/cpu_target.h"
#include "runtime/kernels/group_types.h"

namespace axe {

// The defined fp32 step of the outer sum over groups (see above).
inline float group_accumulate(float acc, int64_t isum, float dw, float dx) {
  return std::fma(static_cast<float>(isum), dw * dx, acc);
}

struct GroupOutput {
  float* y = nullptr;  // [tokens][ldy] outputs (may be null)
  size_t ldy = 0;
  const float* bias = nullptr;  // [rows] or null
  bool accumulate = false;      // y += v instead of y = v
  // Tests: the exact integer sum of every group, d[m * ldd + n * groups + g]
  // (ldd >= rows * groups), or null.
  int32_t* d = nullptr;
  size_t ldd = 0;
};

inline void group_store(const GroupOutput& out, size_t m, size_t n, float acc) {
  if (!out.y) return;
  float v = acc;
  if (out.bias) v = v + out.bias[n];
  float& dst = out.y[m * out.ldy + n];
  dst = out.accumulate ? dst + v : v;
}

using GroupGemmFn = void (*)(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0,
                             size_t n1, const GroupOutput& out);

enum class GroupAccumulator : uint8_t { kInt64, kInt32, kInt16 };

struct GroupKernel {
  const char* name;  // e.g. "avx512-vnni-int32"
  GroupAccumulator accumulator;
  Target target;  // the SIMD level it needs (a context forced lower skips it)
  GroupGemmFn run;
  // The CPU has the instructions and the kernel is exact for these weights
  // (int16 kernels: 4-bit only, by the worst case above).
  bool (*usable)(const GroupWeights& w);
};

// Every kernel compiled in, the int64 reference first.
const std::vector<GroupKernel>& group_kernels();
const GroupKernel* find_group_kernel(const std::string& name);

// The kernel to run for `tokens` tokens of these weights at or below
// `max_target`: the first usable one of a fixed preference measured with
// bench/bench_group.cpp on a Sapphire Rapids-class Xeon: avx512-vnni-int32,
// avx-vnni-int32, avx512-int16, avx512-int32, avx2-int16, avx2-int32,
// scalar-int32 (the int16 kernels are 4-bit only). Decode is memory-bound
// (every SIMD kernel streams at the memory's rate) and prefill ranks the same
// way, so one order serves both; `tokens` is where a split would go. Never
// inexact, so the choice changes speed only.
//
// Preconditions of every kernel: x.cols == w.cols; activation codes in
// [-127, 127] (the 8-bit int32 kernels without VNNI negate them); y has
// row stride ldy >= n1. Row ranges may start and end anywhere, but a range
// that splits a 16-row panel computes the whole panel (threads should split
// at multiples of 16 rows).
const GroupKernel& choose_group_kernel(Target max_target, const GroupWeights& w, size_t tokens);

// The scalar int64 reference: exact by construction, the bits all kernels match.
void group_gemm_reference(const GroupActivations& x, size_t m0, size_t m1, const GroupWeights& w, size_t n0,
                          size_t n1, const GroupOutput& out);

// True when int16 lanes summing 16 stored codes u = q + offset times
// activations in [-127, 127] cannot leave int16 (and neither can a pair sum):
// worst_case_magnitude from accumulation_plan.h.
bool group_int16_exact(const GroupWeights& w);

#if defined(__x86_64__)
// The x86 kernels (group_x86.cpp); call only through the table, which checks the CPU.
namespace group_x86 {
void avx512vnni_int32(const GroupActivations&, size_t, size_t, const GroupWeights&, size_t, size_t, const GroupOutput&);
void avx512_int32(const GroupActivations&, size_t, size_t, const GroupWeights&, size_t, size_t, const GroupOutput&);
void avx512_int16(const GroupActivations&, size_t, size_t, const GroupWeights&, size_t, size_t, const GroupOutput&);
void avxvnni_int32(const GroupActivations&, size_t, size_t, const GroupWeights&, size_t, size_t, const GroupOutput&);
void avx2_int32(const GroupActivations&, size_t, size_t, const GroupWeights&, size_t, size_t, const GroupOutput&);
void avx2_int16(const GroupActivations&, size_t, size_t, const GroupWeights&, size_t, size_t, const GroupOutput&);
}  // namespace group_x86
#endif

}  // namespace axe
