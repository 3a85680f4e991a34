#include "quant/optq.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <numeric>

#include "runtime/error.h"

namespace axe {

using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<int8_t> optq_quantize(const float* w_in, size_t rows, size_t cols, Eigen::MatrixXd h, const float* scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& o, double* damping_used) {
  const int32_t qmax = (1 << (bits - 1)) - 1;
  const Eigen::Index K = static_cast<Eigen::Index>(cols);
  RowMatrixF W = Eigen::Map<const RowMatrixF>(w_in, rows, cols);

  // Dead columns: no signal in the calibration data; their weights are zeroed.
  for (Eigen::Index i = 0; i < K; ++i)
    if (h(i, i) == 0) {
      h(i, i) = 1;
      W.col(i).setZero();
    }
  // Act order: the quantization order; tiles stay in the original order.
  std::vector<Eigen::Index> perm(cols);
  std::iota(perm.begin(), perm.end(), 0);
  if (o.act_order)
    std::stable_sort(perm.begin(), perm.end(), [&](Eigen::Index a, Eigen::Index b) { return h(a, a) > h(b, b); });
  Eigen::MatrixXd hp(K, K);
  RowMatrixF Wp(rows, cols);
  for (Eigen::Index i = 0; i < K; ++i) {
    Wp.col(i) = W.col(perm[i]);
    for (Eigen::Index j = 0; j < K; ++j) hp(i, j) = h(perm[i], perm[j]);
  }

  // U = upper Cholesky factor of (H + damp I)^-1, raising damp until it exists.
  const double mean_diag = hp.diagonal().mean();
  double damp = o.damp * mean_diag;
  Eigen::MatrixXf U;
  for (int attempt = 0;; ++attempt) {
    Eigen::MatrixXd hd = hp;
    hd.diagonal().array() += damp;
    Eigen::LLT<Eigen::MatrixXd> llt(hd);
    if (llt.info() == Eigen::Success) {
      const Eigen::MatrixXd hinv = llt.solve(Eigen::MatrixXd::Identity(K, K));
      Eigen::LLT<Eigen::MatrixXd> llt2(hinv);
      if (llt2.info() == Eigen::Success) {
        U = Eigen::MatrixXd(llt2.matrixU()).cast<float>();
        break;
      }
    }
    if (attempt == 8) fail(AXE_ERR_INTERNAL, "OPTQ: the Hessian cannot be factorized even with damping " + std::to_string(damp));
    damp = damp > 0 ? damp * 10 : 1e-6 * std::max(mean_diag, 1e-12);
  }
  if (damping_used) *damping_used = damp / std::max(mean_diag, 1e-300);

  std::vector<int8_t> codes(rows * cols, 0);
  const size_t B = std::max<size_t>(1, o.block);
  const size_t chunk = 16;
  tbb::task_arena arena(std::max(1, o.threads));
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, (rows + chunk - 1) / chunk, [&](size_t c) {
      const Eigen::Index r0 = static_cast<Eigen::Index>(c * chunk);
      const Eigen::Index rn = std::min<Eigen::Index>(static_cast<Eigen::Index>(rows) - r0, chunk);
      auto Wc = Wp.middleRows(r0, rn);
      Eigen::MatrixXf E(rn, static_cast<Eigen::Index>(B));
      for (Eigen::Index i1 = 0; i1 < K; i1 += static_cast<Eigen::Index>(B)) {
        const Eigen::Index i2 = std::min<Eigen::Index>(K, i1 + static_cast<Eigen::Index>(B)), nb = i2 - i1;
        for (Eigen::Index i = i1; i < i2; ++i) {
          const float d = U(i, i);
          const Eigen::Index col = perm[i];
          for (Eigen::Index r = 0; r < rn; ++r) {
            const size_t row = static_cast<size_t>(r0 + r);
            const float s = scales[row];
            const double v = Wc(r, i);
            double fed_back = v;  // what the error is measured from
            int32_t q;
            if (axe) {
              double clipped;
              q = axe->quantize(row, static_cast<size_t>(col), v, s, &clipped);
              if (!o.full_error) fed_back = clipped;
            } else {
              q = round_clamp(v / s, qmax);
            }
            codes[row * cols + static_cast<size_t>(col)] = static_cast<int8_t>(q);
            const float e = static_cast<float>((fed_back - static_cast<double>(s) * q) / d);
            E(r, i - i1) = e;
            if (i + 1 < i2) Wc.row(r).segment(i + 1, i2 - i - 1) -= e * U.row(i).segment(i + 1, i2 - i - 1);
          }
        }
        if (i2 < K) Wc.rightCols(K - i2).noalias() -= E.leftCols(nb) * U.block(i1, i2, nb, K - i2);
      }
    });
  });
  return codes;
}

}  // namespace axe
