#include "quant/gpfq.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>

#include "quant/greedy_columns.h"

namespace axe {

namespace {

template <class M>
std::vector<int8_t> gpfq_impl(const float* w_in, size_t rows, size_t cols, const M& h, const M& g, ScaleGrid scales,
                              int bits, AxeConstraint* axe, const GpfqOptions& o) {
  const Eigen::Index K = static_cast<Eigen::Index>(cols);
  const std::vector<Eigen::Index> perm = column_order(h.diagonal().template cast<double>(), o.act_order);
  auto at = [&](Eigen::Index i) { return perm[static_cast<size_t>(i)]; };
  // In quantization order: A = diag(ds) + Lg (lower, with diagonal) and
  // C = Lh^T (strictly upper), both rows scaled by 1 / diag(H).
  RowMatrixF A = RowMatrixF::Zero(K, K);
  RowMatrixF C = RowMatrixF::Zero(K, K);
  for (Eigen::Index t = 0; t < K; ++t) {
    const double d = static_cast<double>(h(at(t), at(t)));
    if (d == 0) continue;  // a dead column: v_t = 0
    for (Eigen::Index j = 0; j <= t; ++j) A(t, j) = static_cast<float>(static_cast<double>(g(at(t), at(j))) / d);
    for (Eigen::Index j = 0; j < t; ++j) C(j, t) = static_cast<float>(static_cast<double>(h(at(t), at(j))) / d);
  }
  // base = W_perm A^T, rows in parallel chunks, on the runtime's matmul.
  const Ops& ops = o.ops ? *o.ops : best_ops();
  const Eigen::Map<const RowMatrixF> W(w_in, static_cast<Eigen::Index>(rows), K);
  RowMatrixF Wp(static_cast<Eigen::Index>(rows), K);
  for (Eigen::Index t = 0; t < K; ++t) Wp.col(t) = W.col(at(t));
  RowMatrixF V(static_cast<Eigen::Index>(rows), K);
  const size_t chunk = 64;
  tbb::task_arena arena(std::max(1, o.threads));
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, (rows + chunk - 1) / chunk, [&](size_t c) {
      const Eigen::Index r0 = static_cast<Eigen::Index>(c * chunk);
      const Eigen::Index rn = std::min<Eigen::Index>(static_cast<Eigen::Index>(rows) - r0, chunk);
      ops.matmul_f32(Wp.data() + r0 * K, static_cast<size_t>(K), static_cast<size_t>(rn), A.data(), static_cast<size_t>(K),
                     static_cast<size_t>(K), V.data() + r0 * K, static_cast<size_t>(K), 0, static_cast<size_t>(K), false);
    });
  });
  GreedyColumns gc;
  gc.feedback = Feedback::kQuantized;
  gc.block = o.block;
  gc.toward_zero = o.toward_zero;
  gc.threads = o.threads;
  gc.ops = o.ops;
  A = RowMatrixF();
  C.transposeInPlace();  // the loop's products want C^T
  return greedy_quantize_columns_transposed(V, C, perm, scales, bits, axe, gc);
}

}  // namespace

std::vector<int8_t> gpfq_quantize(const float* w, size_t rows, size_t cols, const Eigen::MatrixXd& h,
                                  const Eigen::MatrixXd& g, ScaleGrid scales, int bits, AxeConstraint* axe,
                                  const GpfqOptions& o) {
  return gpfq_impl(w, rows, cols, h, g, scales, bits, axe, o);
}

std::vector<int8_t> gpfq_quantize(const float* w, size_t rows, size_t cols, const RowMatrixF& h, const RowMatrixF& g,
                                  ScaleGrid scales, int bits, AxeConstraint* axe, const GpfqOptions& o) {
  return gpfq_impl(w, rows, cols, h, g, scales, bits, axe, o);
}

}  // namespace axe
