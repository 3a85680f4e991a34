// A random layer for the quantizer tests: Gaussian weights, then calibration
// inputs whose columns are unevenly scaled (1 + j % period) and correlated
// (each adds `carry` times its left neighbour), drawn in that order from one
// seeded stream.
#pragma once
#include <Eigen/Dense>

#include <random>
#include <vector>

struct RandomLayer {
  std::vector<float> w;  // rows x cols
  Eigen::MatrixXd x;     // tokens x cols
};

inline RandomLayer random_layer(uint32_t seed, size_t rows, size_t cols, Eigen::Index tokens, int period, double carry) {
  RandomLayer l;
  std::mt19937 rng(seed);
  std::normal_distribution<double> normal;
  l.w.resize(rows * cols);
  for (auto& v : l.w) v = static_cast<float>(normal(rng));
  l.x.resize(tokens, static_cast<Eigen::Index>(cols));
  for (Eigen::Index i = 0; i < l.x.rows(); ++i)
    for (Eigen::Index j = 0; j < l.x.cols(); ++j)
      l.x(i, j) = normal(rng) * (1.0 + j % period) + (j > 0 ? carry * l.x(i, j - 1) : 0.0);
  return l;
}
