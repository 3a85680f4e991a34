// The integer GEMM/GEMV kernels and how one is chosen.
//
// Each kernel computes D[m][n] = sum_k q[n][k] * (u[m][k] - z[m]) exactly for
// tokens [m0, m1) and rows [n0, n1), stores it in d (if not null) and writes
// y[m][n] = s_w[n] * s_x[m] * D (+ bias[n]) (if y is not null) in its
// epilogue. The zero-point term z * sum(q) is applied in that wide epilogue,
// never in the narrow accumulator.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/cpu_target.h"
#include "runtime/kernels/int8_types.h"

namespace axe {

struct Int8Output {
  int32_t* d = nullptr;  // exact dot products, row stride ldd (may be null)
  size_t ldd = 0;
  float* y = nullptr;  // dequantized outputs, row stride ldy (may be null)
  size_t ldy = 0;
  const float* bias = nullptr;  // [rows] or null
  bool accumulate = false;      // y += result instead of y = result
};

using Int8GemmFn = void (*)(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0,
                            size_t n1, const Int8Output& out);

enum class Int8Accumulator : uint8_t { kInt64, kInt32, kInt16 };

struct Int8Kernel {
  const char* name;          // e.g. "avx512-int16"
  Int8Accumulator accumulator;
  Target target;  // the SIMD level it needs (a context forced lower skips it)
  Int8GemmFn run;
  // Whether this kernel is exact for these weights and activations on this
  // CPU: the CPU has the instructions, and for int16 kernels the weights'
  // plan holds with P_I <= 16 for the activations' range, with a tile
  // partition the kernel's lanes respect.
  bool (*usable)(const Int8Weights& w, ActivationRange x);
};

// The kernels one integer layer runs, chosen once (runtime/kernels/int8_select.h):
// one for decode (a single token) and one for prefill (many tokens).
struct Int8KernelChoice {
  const Int8Kernel* decode = nullptr;
  const Int8Kernel* prefill = nullptr;
  const Int8Kernel& for_tokens(size_t n_tokens) const { return n_tokens > 1 ? *prefill : *decode; }
};

// How a context chooses kernels: the highest SIMD target it may use, and a
// kernel forced by name (AXE_INT8_KERNEL, read once when the policy is made).
struct Int8KernelPolicy {
  Target max_target = Target::kScalar;
  std::string forced;
  static Int8KernelPolicy from_environment(Target max_target);
};

// Every kernel compiled in, the int64 reference first.
const std::vector<Int8Kernel>& int8_kernels();
const Int8Kernel* find_int8_kernel(const std::string& name);

// The scalar int64 reference: exact by construction.
void int8_gemm_reference(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                         const Int8Output& out);

// Datapath emulation: what a P_I-bit inner / P_O-bit outer accumulator does
// under `emulated` (any widths <= 32), adding positions of each tile in
// increasing column order and the tile sums in tile order, each register
// wrapping (two's complement) or saturating. Counts the steps at which a
// register's exact value left its range. D is the emulated result minus the
// zero-point term, applied wide as in the kernels. Tiles (and rows) whose
// worst case over all inputs fits their register are summed directly, which
// gives the same result without stepping: AXE models run near kernel speed.
struct DatapathSpec {
  AccumulationPlan plan;  // partition and widths to emulate
  bool saturate = false;
};
struct Ops;
// One P-bit register step in int64, branch-free: adds v to acc, wrapping
// (sign-extend the low P bits) or saturating; 1 when the exact value left
// the range.
uint32_t add_narrow(int64_t& acc, int64_t v, uint32_t bits, bool saturate);
struct OverflowCounts {
  uint64_t inner = 0, outer = 0, dot_products = 0;
};
// What the emulation precomputes once per layer: the tiles' columns and the
// rows that can overflow at all (every other row is exact by its worst case).
struct EmulatedLayer {
  DatapathSpec spec;
  ActivationRange x;
  Int8KernelChoice kernels;  // the exact kernels that compute the rows that cannot overflow
  const Ops* ops = nullptr;  // the stepping of the rows that can
  std::vector<uint32_t> cols, start;  // columns of tile t: cols[start[t] .. start[t + 1])
  std::vector<size_t> stepped_rows;   // rows that can overflow, ascending
  std::vector<int32_t> stepped_codes; // their codes, [stepped_rows.size()][cols]
};
EmulatedLayer prepare_emulation(const Int8Weights& w, const DatapathSpec& spec, ActivationRange x,
                                const Int8KernelPolicy& policy);
void int8_gemm_emulated(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                        const Int8Output& out, const EmulatedLayer& layer, OverflowCounts& counts);
// Prepares (for the best target) and runs in one call.
void int8_gemm_emulated(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                        const Int8Output& out, const DatapathSpec& spec, OverflowCounts& counts);

// Shared epilogue: D from the kernel's raw accumulation, then y.
// `offset` is what the kernel subtracted from u before multiplying (0, or
// 128 for the signed int16 kernels).
inline void int8_epilogue(const Int8Activations& x, size_t m, const Int8Weights& w, size_t n, int64_t raw,
                          int32_t offset, const Int8Output& out) {
  const int64_t d = raw - int64_t{x.zeros[m] - offset} * w.row_sums[n];
  if (out.d) out.d[m * out.ldd + n] = static_cast<int32_t>(d);
  if (out.y) {
    float v = w.scales[n] * x.scales[m] * static_cast<float>(d);
    if (out.bias) v += out.bias[n];
    float& dst = out.y[m * out.ldy + n];
    dst = out.accumulate ? dst + v : v;
  }
}

}  // namespace axe
