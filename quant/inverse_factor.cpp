#include "quant/inverse_factor.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "runtime/parallel.h"

namespace axe {
namespace {

constexpr Eigen::Index kBlock = 128;

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
    // A22 -= L21 L21^T, its lower part only (nothing later reads above the
    // diagonal): the strip of columns [r0, r1) needs rows r0.. of it. Every
    // element is the whole-block product's (matmul_f32's contract), at half
    // the work; strips get uneven, so the threads take them as they free up.
    const RowMatrixF neg = -l21;
    float* a22 = a.data() + (j + b) * K + (j + b);
    const size_t mm = static_cast<size_t>(m), bb = static_cast<size_t>(b), lda = static_cast<size_t>(K);
    parallel_rows_balanced(mm, 16, 8, mm * mm * bb >= (size_t{1} << 19), [&](size_t r0, size_t r1) {
      ops.matmul_f32(neg.data() + r0 * bb, bb, mm - r0, l21.data(), bb, bb, a22 + r0 * lda, lda, r0, r1, true);
    });
  }
  a.triangularView<Eigen::StrictlyUpper>().setZero();
  return a.allFinite();
}

// y (m x n, stride ldy) += x (m x k, stride ldx) * w^T, w: n x k (stride
// ldw); rows of w in parallel. Each output is a dot product over k in
// matmul_f32's K blocks (kMatMulKBlock), added in order; a block of exact
// zeros adds +0 and so leaves the output's bits as they are. Two shapes of
// zeros are skipped:
//  - kLeadingZeros: w's row r is zero before column r (its leading whole K
//    blocks then contribute nothing);
//  - kTrailingZeros: x's row i is zero after column i (the products past a
//    block of x rows' last column are exact zeros).
enum class Zeros { kLeadingZeros, kTrailingZeros };
void gemm_nt_view(const Ops& ops, const float* x, size_t ldx, size_t m, size_t k, const float* w, size_t ldw, size_t n,
                  float* y, size_t ldy, Zeros zeros) {
  constexpr size_t kXRows = 256;    // rows of x per call where their zeros shorten k
  parallel_rows_balanced(n, 16, 4, m * n * k >= (size_t{1} << 18), [&](size_t r0, size_t r1) {
    if (zeros == Zeros::kLeadingZeros) {
      const size_t skip = std::min(k, r0) / kMatMulKBlock * kMatMulKBlock;  // whole K blocks
      ops.matmul_f32(x + skip, ldx, m, w + skip, ldw, k - skip, y, ldy, r0, r1, true);
      return;
    }
    for (size_t i0 = 0; i0 < m; i0 += kXRows) {
      const size_t i1 = std::min(m, i0 + kXRows);
      ops.matmul_f32(x + i0 * ldx, ldx, i1 - i0, w, ldw, std::min(k, i1), y + i0 * ldy, ldy, r0, r1, true);
    }
  });
}

// The inverse of the lower triangular l (n x n, stride ld, zero above the
// diagonal), recursively and in place:
// [L11 0; L21 L22]^-1 = [X11 0; -X22 L21 X11, X22].
void lower_inverse(const Ops& ops, float* l, size_t ld, Eigen::Index n) {
  using Stride = Eigen::OuterStride<>;
  using View = Eigen::Map<RowMatrixF, 0, Stride>;
  const Eigen::Index ld_i = static_cast<Eigen::Index>(ld);
  if (n <= kBlock) {
    const Eigen::MatrixXf lc = View(l, n, n, Stride(ld_i));
    const RowMatrixF inv(lc.triangularView<Eigen::Lower>().solve(Eigen::MatrixXf::Identity(n, n)));
    View(l, n, n, Stride(ld_i)) = inv;
    return;
  }
  const Eigen::Index n1 = ((n / 2 + kBlock - 1) / kBlock) * kBlock, n2 = n - n1;
  const size_t u1 = static_cast<size_t>(n1), u2 = static_cast<size_t>(n2);
  float* l22 = l + n1 * ld_i + n1;
  float* l21 = l + n1 * ld_i;
  lower_inverse(ops, l, ld, n1);     // X11
  lower_inverse(ops, l22, ld, n2);   // X22
  RowMatrixF t = RowMatrixF::Zero(n2, n1);  // T = L21 X11
  {
    const RowMatrixF x11t = View(l, n1, n1, Stride(ld_i)).transpose();
    gemm_nt_view(ops, l21, ld, u2, u1, x11t.data(), u1, u1, t.data(), u1, Zeros::kLeadingZeros);
  }
  const RowMatrixF tt = t.transpose();
  t = RowMatrixF();
  View(l21, n2, n1, Stride(ld_i)).setZero();  // L21 is no longer needed: X21 = -X22 T goes there
  gemm_nt_view(ops, l22, ld, u2, u2, tt.data(), u2, u1, l21, ld, Zeros::kTrailingZeros);
  View(l21, n2, n1, Stride(ld_i)) *= -1.0f;
}

}  // namespace

bool inverse_upper_factor(const Ops& ops, const Eigen::MatrixXd& h, RowMatrixF& u) {
  const Eigen::Index K = h.rows();
  // A = J H J (J reverses the order); A = L L^T gives H = R R^T, R = J L J.
  RowMatrixF a(K, K);
  for (Eigen::Index i = 0; i < K; ++i)
    for (Eigen::Index j = 0; j < K; ++j) a(i, j) = static_cast<float>(h(K - 1 - i, K - 1 - j));
  return inverse_upper_factor_reversed(ops, a, u);
}

bool inverse_upper_factor_reversed(const Ops& ops, RowMatrixF& a, RowMatrixF& u) {
  const Eigen::Index K = a.rows();
  if (!blocked_cholesky(ops, a)) return false;
  lower_inverse(ops, a.data(), static_cast<size_t>(K), K);  // X = L^-1 in place, so U = R^-1 = J X J
  if (!a.allFinite()) return false;
  // u(i, j) = x(K-1-i, K-1-j): element i K + j of u is element K^2-1-(i K + j)
  // of x, so U is x's storage reversed, in place.
  std::reverse(a.data(), a.data() + K * K);
  u = std::move(a);
  a = RowMatrixF();
  return true;
}

}  // namespace axe
