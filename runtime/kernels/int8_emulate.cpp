// The narrow-datapath emulation (see int8_kernels.h for its definition).
//
// Rows whose every tile, and whose total, provably fit their registers for
// any input cannot overflow; their exact result comes from the fastest exact
// kernel. Only the other rows are stepped, all tokens at once in vector lanes
// (Ops::emulate_steps), with activations transposed to [column][token].
#include <algorithm>
#include <vector>

#include "runtime/error.h"
#include "runtime/kernels/int8_kernels.h"
#include "runtime/kernels/int8_select.h"
#include "runtime/ops/ops.h"

namespace axe {

uint32_t add_narrow(int64_t& acc, int64_t v, uint32_t bits, bool saturate) {
  const int64_t exact = acc + v;
  const int64_t lo = -(int64_t{1} << (bits - 1)), hi = (int64_t{1} << (bits - 1)) - 1;
  const uint32_t shift = 64 - bits;
  const int64_t r = saturate ? std::clamp(exact, lo, hi)
                             : static_cast<int64_t>(static_cast<uint64_t>(exact) << shift) >> shift;
  acc = r;
  return r != exact;
}

EmulatedLayer prepare_emulation(const Int8Weights& w, const DatapathSpec& spec, ActivationRange x,
                                const Int8KernelPolicy& policy) {
  const AccumulationPlan& plan = spec.plan;
  const std::string bad = plan.invalid_reason();
  if (!bad.empty()) fail(AXE_ERR_INVALID_ARGUMENT, "emulated datapath: " + bad);
  EmulatedLayer e;
  e.spec = spec;
  e.kernels = choose_int8_kernels(w, x, policy);
  e.ops = &ops_for(policy.max_target);
  e.x = x;
  const uint32_t n_tiles = plan.n_tiles(w.cols);
  e.cols.resize(w.cols);
  e.start.assign(n_tiles + 1, 0);
  for (size_t k = 0; k < w.cols; ++k) ++e.start[plan.tile_of(k) + 1];
  for (uint32_t t = 0; t < n_tiles; ++t) e.start[t + 1] += e.start[t];
  std::vector<uint32_t> fill(e.start.begin(), e.start.end() - 1);
  for (size_t k = 0; k < w.cols; ++k) e.cols[fill[plan.tile_of(k)]++] = static_cast<uint32_t>(k);
  const int64_t inner_limit = AccumulationPlan::acc_limit(plan.inner_bits);
  const int64_t outer_limit = AccumulationPlan::acc_limit(plan.outer_bits);
  std::vector<int32_t> q(w.cols);
  for (size_t n = 0; n < w.rows; ++n) {
    for (size_t k = 0; k < w.cols; ++k) q[k] = w.code(n, k);
    int64_t pos_row = 0, neg_row = 0;
    bool safe = true;
    for (uint32_t t = 0; t < n_tiles; ++t) {
      int64_t p = 0, ng = 0;
      for (uint32_t i = e.start[t]; i < e.start[t + 1]; ++i) (q[e.cols[i]] > 0 ? p : ng) += q[e.cols[i]];
      safe = safe && worst_case_magnitude(p, ng, x) <= inner_limit;
      pos_row += p;
      neg_row += ng;
    }
    if (safe && worst_case_magnitude(pos_row, neg_row, x) <= outer_limit) continue;
    e.stepped_rows.push_back(n);
    e.stepped_codes.insert(e.stepped_codes.end(), q.begin(), q.end());
  }
  return e;
}

void int8_gemm_emulated(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                        const Int8Output& out, const DatapathSpec& spec, OverflowCounts& counts) {
  int8_gemm_emulated(x, m0, m1, w, n0, n1, out, prepare_emulation(w, spec, x.range, Int8KernelPolicy{supported_targets().back(), ""}), counts);
}

void int8_gemm_emulated(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                        const Int8Output& out, const EmulatedLayer& e, OverflowCounts& counts) {
  const AccumulationPlan& plan = e.spec.plan;
  if (x.range.mu < e.x.mu || x.range.nu > e.x.nu || x.range.is_signed() != e.x.is_signed())
    fail(AXE_ERR_INVALID_ARGUMENT, "emulated datapath: activations outside the range it was prepared for");
  const size_t M = m1 - m0;
  if (M == 0 || n0 >= n1) return;
  const Ops& ops = *e.ops;
  const uint32_t n_tiles = plan.n_tiles(w.cols);

  // Exact results for every row from the fastest exact kernel; the rows that
  // can overflow are overwritten below.
  e.kernels.for_tokens(M).run(x, m0, m1, w, n0, n1, out);
  counts.dot_products += M * (n1 - n0);
  auto first = std::lower_bound(e.stepped_rows.begin(), e.stepped_rows.end(), n0);
  auto last = std::lower_bound(e.stepped_rows.begin(), e.stepped_rows.end(), n1);
  if (first == last) return;

  const size_t ld = (M + 15) / 16 * 16;
  const int32_t offset = x.range.is_signed() ? 128 : 0;  // the datapath multiplies codes in [mu, nu]
  std::vector<int32_t> xs_t(w.cols * ld, 0);
  for (size_t m = 0; m < M; ++m)
    for (size_t k = 0; k < w.cols; ++k) xs_t[k * ld + m] = int32_t{x.codes.data()[(m0 + m) * x.kp + k]} - offset;
  const bool vector_inner = plan.inner_bits <= 30;
  std::vector<int64_t> tile_sums(n_tiles * ld);
  std::vector<int32_t> lane_sums(ld);
  for (auto it = first; it != last; ++it) {
    const size_t n = *it;
    const int32_t* q = e.stepped_codes.data() + static_cast<size_t>(it - e.stepped_rows.begin()) * w.cols;
    for (uint32_t t = 0; t < n_tiles; ++t) {
      const uint32_t* tc = e.cols.data() + e.start[t];
      const size_t nc = e.start[t + 1] - e.start[t];
      if (vector_inner) {
        counts.inner += ops.emulate_steps(q, tc, nc, xs_t.data(), ld, M, plan.inner_bits, e.spec.saturate,
                                          lane_sums.data());
        for (size_t m = 0; m < M; ++m) tile_sums[t * ld + m] = lane_sums[m];
      } else {
        for (size_t m = 0; m < M; ++m) {
          int64_t acc = 0;
          for (size_t i = 0; i < nc; ++i)
            counts.inner += add_narrow(acc, int64_t{q[tc[i]]} * xs_t[tc[i] * ld + m], plan.inner_bits, e.spec.saturate);
          tile_sums[t * ld + m] = acc;
        }
      }
    }
    for (size_t m = 0; m < M; ++m) {
      int64_t total = 0;
      for (uint32_t t = 0; t < n_tiles; ++t)
        counts.outer += add_narrow(total, tile_sums[t * ld + m], plan.outer_bits, e.spec.saturate);
      int8_epilogue(x, m0 + m, w, n, total, offset, out);
    }
  }
}

}  // namespace axe
