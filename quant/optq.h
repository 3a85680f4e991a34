// OPTQ (GPTQ) for one linear layer, with or without the AXE constraint
// (docs/AXE.md section 4): columns are quantized one at a time (in
// act order if asked), each column's error is fed back to the columns not yet
// quantized through the upper Cholesky factor U of H^-1, lazily in blocks of
// columns with one GEMM per block. Dead columns (diag(H) = 0) are zeroed; if a
// factorization fails the damping grows tenfold and it is retried, so a layer
// is never written without its constraint.
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <vector>

#include "quant/axe_constraint.h"
#include "quant/row_matrix.h"
#include "runtime/ops/ops.h"

namespace axe {

struct OptqOptions {
  double damp = 0.01;      // fraction of mean(diag(H)) added to the diagonal
  bool act_order = false;  // quantize columns by descending diag(H)
  size_t block = 128;      // columns per lazy update
  bool toward_zero = false;  // round toward zero (EP-init's first stage)
  // AXE: feed back the full error w - s*q instead of (clipped v) - s*q, the
  // reference implementation's choice (AXE.md section 4).
  bool full_error = false;
  int threads = 1;
  const Ops* ops = nullptr;  // the SIMD table products run on; null: best_ops()
};

// H: cols x cols, sum of x~ x~^T over calibration tokens (quantized inputs).
// Returns codes [rows][cols] in the original column order. `axe` (may be
// null) holds the layer's soft thresholds and running budgets.
std::vector<int8_t> optq_quantize(const float* w, size_t rows, size_t cols, const Eigen::MatrixXd& h, ScaleGrid scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& options, double* damping_used);
// The same with H in fp32, both triangles filled (as the calibration keeps
// it): equal to the double overload given the same values.
std::vector<int8_t> optq_quantize(const float* w, size_t rows, size_t cols, const RowMatrixF& h, ScaleGrid scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& options, double* damping_used);

}  // namespace axe
