// Row-major float matrix: the layout of weights and activations in axe.
#pragma once
#include <Eigen/Dense>

namespace axe {
using RowMatrixF = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
}  // namespace axe
