// OPTQ's factor U (H^-1 = U^T U, upper) from the blocked fp32 path agrees
// with the direct double-precision computation, on every target; a matrix
// that is not positive definite is refused.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

#include "quant/inverse_factor.h"

using namespace axe;

TEST_CASE("inverse_upper_factor matches Cholesky(inverse(H)) and refuses indefinite matrices") {
  for (Target t : supported_targets())
    for (Eigen::Index K : {Eigen::Index{5}, Eigen::Index{128}, Eigen::Index{300}}) {
      CAPTURE(target_name(t));
      CAPTURE(K);
      std::mt19937 rng(static_cast<uint32_t>(K));
      std::normal_distribution<double> normal;
      Eigen::MatrixXd x(2 * K, K);
      for (Eigen::Index i = 0; i < x.rows(); ++i)
        for (Eigen::Index j = 0; j < K; ++j) x(i, j) = normal(rng) * (1.0 + j % 4) + (j ? 0.3 * x(i, j - 1) : 0.0);
      Eigen::MatrixXd h = x.transpose() * x;
      h.diagonal().array() += 0.01 * h.diagonal().mean();
      RowMatrixF u;
      REQUIRE(inverse_upper_factor(ops_for(t), h, u));
      const Eigen::MatrixXd hinv = h.llt().solve(Eigen::MatrixXd::Identity(K, K));
      const Eigen::MatrixXd want = hinv.llt().matrixU();
      CHECK(u.triangularView<Eigen::StrictlyLower>().toDenseMatrix().cwiseAbs().maxCoeff() == 0.0f);
      const double err = (u.cast<double>() - want).cwiseAbs().maxCoeff() / want.cwiseAbs().maxCoeff();
      CHECK(err < 2e-4);
      Eigen::MatrixXd bad = h;
      bad.row(K / 2).setZero();
      bad.col(K / 2).setZero();
      CHECK_FALSE(inverse_upper_factor(ops_for(t), bad, u));
    }
}

// The factor's triangular inverse skips products it knows are zero
// (quant/inverse_factor.cpp, gemm_nt_view): whole K blocks (kMatMulKBlock) of
// leading zeros in w's rows, and the zeros after the last nonzero
// column of a block of x's rows. Either must leave every output's bits as the
// full product gives them, or the .axe bytes would depend on the skip.
TEST_CASE("matmul_f32: skipping leading zero K blocks or trailing zeros keeps every output's bits") {
  constexpr size_t K = 2600, M = 9, N = 48, kKBlock = kMatMulKBlock;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  auto fill = [&](std::vector<float>& v) {
    for (float& a : v) a = normal(rng);
  };
  std::vector<float> x(M * K), w(N * K), y0(M * N);
  fill(x);
  fill(w);
  fill(y0);  // the products accumulate onto these
  for (Target t : supported_targets()) {
    CAPTURE(target_name(t));
    const Ops& ops = ops_for(t);
    {  // w's row r is zero before column 55 r
      std::vector<float> wz = w;
      for (size_t r = 0; r < N; ++r) std::fill_n(wz.begin() + r * K, std::min(K, 55 * r), 0.0f);
      std::vector<float> full = y0, skipped = y0;
      ops.matmul_f32(x.data(), K, M, wz.data(), K, K, full.data(), N, 0, N, true);
      for (size_t r0 = 0; r0 < N; r0 += 16) {
        const size_t skip = std::min(K, 55 * r0) / kKBlock * kKBlock;
        ops.matmul_f32(x.data() + skip, K, M, wz.data() + skip, K, K - skip, skipped.data(), N, r0, r0 + 16, true);
      }
      CHECK(std::memcmp(full.data(), skipped.data(), full.size() * sizeof(float)) == 0);
    }
    {  // x's row i is zero after column 300 i
      std::vector<float> xz = x;
      for (size_t i = 0; i < M; ++i) std::fill(xz.begin() + i * K + std::min(K, 300 * i + 1), xz.begin() + (i + 1) * K, 0.0f);
      std::vector<float> full = y0, skipped = y0;
      ops.matmul_f32(xz.data(), K, M, w.data(), K, K, full.data(), N, 0, N, true);
      for (size_t i0 = 0; i0 < M; i0 += 3) {
        const size_t i1 = std::min(M, i0 + 3), k1 = std::min(K, 300 * (i1 - 1) + 1);
        ops.matmul_f32(xz.data() + i0 * K, K, i1 - i0, w.data(), K, k1, skipped.data() + i0 * N, N, 0, N, true);
      }
      CHECK(std::memcmp(full.data(), skipped.data(), full.size() * sizeof(float)) == 0);
    }
  }
}
