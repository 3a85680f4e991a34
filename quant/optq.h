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
#include <memory>
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

// What OPTQ derives from H alone: the quantization order, the dead columns
// and U^T, U the upper Cholesky factor of (H + damping)^-1 in that order. The
// layers that read one input (wq/wk/wv, w1/w3) share H, so they can share
// this too: made once, it saves two thirds of their factorizations.
struct OptqFactor {
  std::vector<Eigen::Index> perm;  // perm[i]: the column quantized i-th
  std::vector<char> dead;          // by original column: diag(H) == 0
  RowMatrixF ut;                   // U^T, in quantization order
  double damping = 0;              // the damping used, as a fraction of mean(diag(H))
  bool act_order = false;          // the options it was made with
  double damp = 0;
};

// The factor of H (either storage) with `options`' damping and order; the
// damping grows tenfold until the factorization succeeds.
std::shared_ptr<const OptqFactor> optq_factor(const Eigen::MatrixXd& h, const OptqOptions& options);
std::shared_ptr<const OptqFactor> optq_factor(const RowMatrixF& h, const OptqOptions& options);
// One layer's codes from a factor of its H, made with the same act_order and
// damp (checked).
std::vector<int8_t> optq_quantize(const float* w, size_t rows, size_t cols, const OptqFactor& factor, ScaleGrid scales,
                                  int bits, AxeConstraint* axe, const OptqOptions& options);

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
