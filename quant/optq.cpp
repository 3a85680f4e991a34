#include "quant/optq.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <memory>

#include "quant/greedy_columns.h"
#include "quant/inverse_factor.h"
#include "runtime/error.h"

namespace axe {

namespace {

// H symmetric, double column-major or fp32 row-major: column c of H is the
// contiguous h.data() + c K either way.
template <class HMatrix>
std::shared_ptr<const OptqFactor> factor_impl(const HMatrix& h, const OptqOptions& o) {
  auto f = std::make_shared<OptqFactor>();
  const Eigen::Index K = h.rows();

  // Dead columns: no signal in the calibration data; their weights are zeroed
  // (and their diagonal taken as 1).
  Eigen::VectorXd diag = h.diagonal().template cast<double>();
  std::vector<char> dead(static_cast<size_t>(K), 0);
  for (Eigen::Index i = 0; i < K; ++i)
    if (diag(i) == 0) {
      diag(i) = 1;
      dead[static_cast<size_t>(i)] = 1;
    }
  // Act order: the quantization order; tiles stay in the original order.
  const std::vector<Eigen::Index> perm = column_order(diag, o.act_order);
  tbb::task_arena arena(std::max(1, o.threads));
  // H in quantization order, hp(i, j) = H(perm[i], perm[j]), is never formed:
  // the factor's input J (hp + damp I) J is built in fp32 straight from H
  // (H holds fp32 values, so this equals casting the damped double hp).
  // Its mean diagonal, summed in order as Eigen's diagonal().mean() does.
  double diag_sum = K > 0 ? diag(perm[0]) : 0.0;
  for (Eigen::Index i = 1; i < K; ++i) diag_sum += diag(perm[static_cast<size_t>(i)]);
  const double mean_diag = diag_sum / static_cast<double>(K);
  double damp = o.damp * mean_diag;
  const Ops& ops = o.ops ? *o.ops : best_ops();
  RowMatrixF U, a(K, K);
  // a(i, j) = hp(K-1-i, K-1-j) (+ damp on the diagonal); H is symmetric, so
  // row i reads H's column perm[K-1-i], contiguous in its column-major storage.
  auto build = [&] {
    a.resize(K, K);  // released by a successful (or late failing) factorization
    tbb::parallel_for(Eigen::Index{0}, K, [&](Eigen::Index i) {
      const Eigen::Index pi = perm[static_cast<size_t>(K - 1 - i)];
      const auto* hc = h.data() + pi * K;
      float* ai = a.data() + i * K;
      if (o.act_order) {
        for (Eigen::Index j = 0; j < K; ++j) ai[j] = static_cast<float>(static_cast<double>(hc[perm[static_cast<size_t>(K - 1 - j)]]));
      } else {  // perm is the identity: H's column reversed
        for (Eigen::Index j = 0; j < K; ++j) ai[j] = static_cast<float>(static_cast<double>(hc[K - 1 - j]));
      }
      ai[i] = static_cast<float>(diag(pi) + damp);
    });
  };
  for (int attempt = 0;; ++attempt) {
    bool ok = false;
    arena.execute([&] {
      build();
      ok = inverse_upper_factor_reversed(ops, a, U);
    });
    if (ok) break;
    if (attempt == 8) fail(AXE_ERR_INTERNAL, "OPTQ: the Hessian cannot be factorized even with damping " + std::to_string(damp));
    damp = damp > 0 ? damp * 10 : 1e-6 * std::max(mean_diag, 1e-12);
  }
  a = RowMatrixF();  // consumed by the factorization
  f->damping = damp / std::max(mean_diag, 1e-300);
  U.transposeInPlace();  // the loop's products want U^T; U itself is no longer needed
  f->ut = std::move(U);
  f->perm = perm;
  f->dead = std::move(dead);
  f->act_order = o.act_order;
  f->damp = o.damp;
  return f;
}

std::vector<int8_t> quantize_impl(const float* w_in, size_t rows, size_t cols, const OptqFactor& f, ScaleGrid scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& o) {
  const Eigen::Index K = static_cast<Eigen::Index>(cols);
  if (f.ut.rows() != K || f.act_order != o.act_order || f.damp != o.damp)
    fail(AXE_ERR_INTERNAL, "OPTQ: a factor made for other columns or options");
  const Eigen::Map<const RowMatrixF> W(w_in, static_cast<Eigen::Index>(rows), K);
  // W in quantization order (dead columns zero), row by row.
  RowMatrixF Wp(static_cast<Eigen::Index>(rows), K);
  tbb::task_arena arena(std::max(1, o.threads));
  arena.execute([&] {
    tbb::parallel_for(Eigen::Index{0}, static_cast<Eigen::Index>(rows), [&](Eigen::Index r) {
      const float* wr = W.data() + r * K;
      float* out = Wp.data() + r * K;
      for (Eigen::Index i = 0; i < K; ++i) {
        const Eigen::Index c = f.perm[static_cast<size_t>(i)];
        out[i] = f.dead[static_cast<size_t>(c)] ? 0.0f : wr[c];
      }
    });
  });
  GreedyColumns g;
  g.feedback = Feedback::kRoundingError;
  g.full_error = o.full_error;
  g.block = o.block;
  g.toward_zero = o.toward_zero;
  g.threads = o.threads;
  g.ops = o.ops;
  return greedy_quantize_columns_transposed(Wp, f.ut, f.perm, scales, bits, axe, g);
}

}  // namespace

std::shared_ptr<const OptqFactor> optq_factor(const Eigen::MatrixXd& h, const OptqOptions& o) {
  return factor_impl(h, o);
}

std::shared_ptr<const OptqFactor> optq_factor(const RowMatrixF& h, const OptqOptions& o) { return factor_impl(h, o); }

std::vector<int8_t> optq_quantize(const float* w, size_t rows, size_t cols, const OptqFactor& f, ScaleGrid scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& o) {
  return quantize_impl(w, rows, cols, f, scales, bits, axe, o);
}

std::vector<int8_t> optq_quantize(const float* w, size_t rows, size_t cols, const Eigen::MatrixXd& h, ScaleGrid scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& o, double* damping_used) {
  const auto f = factor_impl(h, o);
  if (damping_used) *damping_used = f->damping;
  return quantize_impl(w, rows, cols, *f, scales, bits, axe, o);
}

std::vector<int8_t> optq_quantize(const float* w, size_t rows, size_t cols, const RowMatrixF& h, ScaleGrid scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& o, double* damping_used) {
  const auto f = factor_impl(h, o);
  if (damping_used) *damping_used = f->damping;
  return quantize_impl(w, rows, cols, *f, scales, bits, axe, o);
}

}  // namespace axe
