#include "quant/optq.h"

#include <tbb/task_arena.h>

#include <algorithm>

#include "quant/greedy_columns.h"
#include "quant/inverse_factor.h"
#include "runtime/error.h"

namespace axe {

std::vector<int8_t> optq_quantize(const float* w_in, size_t rows, size_t cols, Eigen::MatrixXd h, ScaleGrid scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& o, double* damping_used) {
  const Eigen::Index K = static_cast<Eigen::Index>(cols);
  RowMatrixF W = Eigen::Map<const RowMatrixF>(w_in, rows, cols);

  // Dead columns: no signal in the calibration data; their weights are zeroed.
  for (Eigen::Index i = 0; i < K; ++i)
    if (h(i, i) == 0) {
      h(i, i) = 1;
      W.col(i).setZero();
    }
  // Act order: the quantization order; tiles stay in the original order.
  const std::vector<Eigen::Index> perm = column_order(h.diagonal(), o.act_order);
  Eigen::MatrixXd hp(K, K);
  RowMatrixF Wp(rows, cols);
  for (Eigen::Index i = 0; i < K; ++i) {
    const size_t pi = static_cast<size_t>(i);
    Wp.col(i) = W.col(perm[pi]);
    for (Eigen::Index j = 0; j < K; ++j) hp(i, j) = h(perm[pi], perm[static_cast<size_t>(j)]);
  }

  // U = upper Cholesky factor of (H + damp I)^-1, raising damp until it exists.
  const double mean_diag = hp.diagonal().mean();
  double damp = o.damp * mean_diag;
  RowMatrixF U;
  const Ops& ops = o.ops ? *o.ops : best_ops();
  tbb::task_arena arena(std::max(1, o.threads));
  for (int attempt = 0;; ++attempt) {
    Eigen::MatrixXd hd = hp;
    hd.diagonal().array() += damp;
    bool ok = false;
    arena.execute([&] { ok = inverse_upper_factor(ops, hd, U); });
    if (ok) break;
    if (attempt == 8) fail(AXE_ERR_INTERNAL, "OPTQ: the Hessian cannot be factorized even with damping " + std::to_string(damp));
    damp = damp > 0 ? damp * 10 : 1e-6 * std::max(mean_diag, 1e-12);
  }
  if (damping_used) *damping_used = damp / std::max(mean_diag, 1e-300);

  GreedyColumns g;
  g.feedback = Feedback::kRoundingError;
  g.full_error = o.full_error;
  g.block = o.block;
  g.toward_zero = o.toward_zero;
  g.threads = o.threads;
  g.ops = o.ops;
  return greedy_quantize_columns(Wp, U, perm, scales, bits, axe, g);
}

}  // namespace axe
