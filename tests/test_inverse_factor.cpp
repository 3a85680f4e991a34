// OPTQ's factor U (H^-1 = U^T U, upper) from the blocked fp32 path agrees
// with the direct double-precision computation, on every target; a matrix
// that is not positive definite is refused.
#include <doctest/doctest.h>

#include <random>

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
