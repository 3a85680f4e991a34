// The int64 reference and the narrow-datapath emulation (scalar, portable).
#include <algorithm>
#include <vector>

#include "runtime/kernels/int8_kernels.h"

namespace axe {

void int8_gemm_reference(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                         const Int8Output& out) {
  for (size_t m = m0; m < m1; ++m) {
    const uint8_t* u = x.codes.data() + m * x.kp;
    for (size_t n = n0; n < n1; ++n) {
      int64_t raw = 0;
      for (size_t k = 0; k < w.cols; ++k) raw += int64_t{w.code(n, k)} * u[k];
      int8_epilogue(x, m, w, n, raw, 0, out);
    }
  }
}

namespace {

struct Register {
  int64_t lo, hi;
  bool saturate;
  // Adds v; returns whether the exact value left the range.
  bool add(int64_t& acc, int64_t v) const {
    const int64_t exact = acc + v;
    if (exact >= lo && exact <= hi) {
      acc = exact;
      return false;
    }
    if (saturate) {
      acc = std::clamp(exact, lo, hi);
    } else {
      const int64_t span = hi - lo + 1;
      acc = ((exact - lo) % span + span) % span + lo;
    }
    return true;
  }
};

}  // namespace

void int8_gemm_emulated(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                        const Int8Output& out, const DatapathSpec& spec, OverflowCounts& counts) {
  const AccumulationPlan& plan = spec.plan;
  const Register inner{-(int64_t{1} << (plan.inner_bits - 1)), (int64_t{1} << (plan.inner_bits - 1)) - 1,
                       spec.saturate};
  const Register outer{-(int64_t{1} << (plan.outer_bits - 1)), (int64_t{1} << (plan.outer_bits - 1)) - 1,
                       spec.saturate};
  const int32_t offset = x.range.is_signed() ? 128 : 0;  // the datapath multiplies codes in [mu, nu]
  const uint32_t n_tiles = plan.n_tiles(w.cols);
  // Columns of each tile in increasing order.
  std::vector<std::vector<uint32_t>> tiles(n_tiles);
  for (size_t k = 0; k < w.cols; ++k) tiles[plan.tile_of(k)].push_back(static_cast<uint32_t>(k));
  std::vector<int8_t> q(w.cols);
  for (size_t n = n0; n < n1; ++n) {
    for (size_t k = 0; k < w.cols; ++k) q[k] = w.code(n, k);
    for (size_t m = m0; m < m1; ++m) {
      const uint8_t* u = x.codes.data() + m * x.kp;
      int64_t total = 0;
      for (const auto& cols : tiles) {
        int64_t acc = 0;
        for (uint32_t k : cols) counts.inner += inner.add(acc, int64_t{q[k]} * (int32_t{u[k]} - offset));
        counts.outer += outer.add(total, acc);
      }
      ++counts.dot_products;
      int8_epilogue(x, m, w, n, total, offset, out);
    }
  }
}

}  // namespace axe
