#include "quant/inverse_factor.h"

#include <tbb/parallel_for.h>

#include <cmath>

#include "runtime/parallel.h"

namespace axe {
namespace {

constexpr Eigen::Index kBlock = 128;

// y (m x n, stride ldy) += x (m x k) * w^T, w: n x k; rows of w in parallel.
void gemm_nt(const Ops& ops, const RowMatrixF& x, const RowMatrixF& w, float* y, size_t ldy) {
  const size_t m = static_cast<size_t>(x.rows()), k = static_cast<size_t>(x.cols()), n = static_cast<size_t>(w.rows());
  parallel_rows(n, 16, m * n * k >= (size_t{1} << 18), [&](size_t r0, size_t r1) {
    ops.matmul_f32(x.data(), k, m, w.data(), k, k, y, ldy, r0, r1, true);
  });
}

// In-place lower Cholesky of the symmetric a (only its lower part is read).
// A pivot below 1e-6 of its column's original diagonal is cancellation
// noise in fp32 (a numerically singular matrix): refused.
bool blocked_cholesky(const Ops& ops, RowMatrixF& a) {
  const Eigen::Index K = a.rows();
  const Eigen::VectorXf diag = a.diagonal();
  for (Eigen::Index j = 0; j < K; j += kBlock) {
    const Eigen::Index b = std::min(kBlock, K - j), m = K - j - b;
    Eigen::MatrixXd a11 = a.block(j, j, b, b).cast<double>();
    Eigen::LLT<Eigen::MatrixXd> llt(a11);
    if (llt.info() != Eigen::Success) return false;
    const Eigen::MatrixXf l11 = Eigen::MatrixXd(llt.matrixL()).cast<float>();
    if (!l11.allFinite()) return false;
    for (Eigen::Index i = 0; i < b; ++i)
      if (!(double{l11(i, i)} * l11(i, i) > 1e-6 * diag(j + i))) return false;
    a.block(j, j, b, b) = l11;
    if (m == 0) break;
    // L21 = A21 L11^-T, rows independent.
    RowMatrixF l21(m, b);
    tbb::parallel_for(Eigen::Index{0}, (m + 255) / 256, [&](Eigen::Index c) {
      const Eigen::Index r0 = c * 256, rn = std::min<Eigen::Index>(256, m - r0);
      l21.middleRows(r0, rn) =
          l11.triangularView<Eigen::Lower>().solve(a.block(j + b + r0, j, rn, b).transpose()).transpose();
    });
    a.block(j + b, j, m, b) = l21;
    // A22 -= L21 L21^T (the whole block; only its lower part is used later).
    const RowMatrixF neg = -l21;
    gemm_nt(ops, neg, l21, a.data() + (j + b) * K + (j + b), static_cast<size_t>(K));
  }
  a.triangularView<Eigen::StrictlyUpper>().setZero();
  return a.allFinite();
}

// Inverse of the lower triangular l (n x n), recursively:
// [L11 0; L21 L22]^-1 = [X11 0; -X22 L21 X11, X22].
RowMatrixF lower_inverse(const Ops& ops, const RowMatrixF& l) {
  const Eigen::Index n = l.rows();
  if (n <= kBlock) {
    const Eigen::MatrixXf lc = l;
    return RowMatrixF(lc.triangularView<Eigen::Lower>().solve(Eigen::MatrixXf::Identity(n, n)));
  }
  const Eigen::Index n1 = ((n / 2 + kBlock - 1) / kBlock) * kBlock, n2 = n - n1;
  const RowMatrixF x11 = lower_inverse(ops, l.topLeftCorner(n1, n1));
  const RowMatrixF x22 = lower_inverse(ops, l.bottomRightCorner(n2, n2));
  const RowMatrixF l21 = l.bottomLeftCorner(n2, n1);
  RowMatrixF t = RowMatrixF::Zero(n2, n1);  // L21 X11
  gemm_nt(ops, l21, RowMatrixF(x11.transpose()), t.data(), static_cast<size_t>(n1));
  RowMatrixF x21 = RowMatrixF::Zero(n2, n1);  // X22 T
  gemm_nt(ops, x22, RowMatrixF(t.transpose()), x21.data(), static_cast<size_t>(n1));
  RowMatrixF x = RowMatrixF::Zero(n, n);
  x.topLeftCorner(n1, n1) = x11;
  x.bottomRightCorner(n2, n2) = x22;
  x.bottomLeftCorner(n2, n1) = -x21;
  return x;
}

}  // namespace

bool inverse_upper_factor(const Ops& ops, const Eigen::MatrixXd& h, RowMatrixF& u) {
  const Eigen::Index K = h.rows();
  // A = J H J (J reverses the order); A = L L^T gives H = R R^T, R = J L J.
  RowMatrixF a(K, K);
  for (Eigen::Index i = 0; i < K; ++i)
    for (Eigen::Index j = 0; j < K; ++j) a(i, j) = static_cast<float>(h(K - 1 - i, K - 1 - j));
  if (!blocked_cholesky(ops, a)) return false;
  const RowMatrixF x = lower_inverse(ops, a);  // L^-1, so U = R^-1 = J L^-1 J
  if (!x.allFinite()) return false;
  u.resize(K, K);
  for (Eigen::Index i = 0; i < K; ++i)
    for (Eigen::Index j = 0; j < K; ++j) u(i, j) = x(K - 1 - i, K - 1 - j);
  return true;
}

}  // namespace axe
