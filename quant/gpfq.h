// GPFQ for one linear layer in its covariance form (docs/AXE.md
// section 5), with or without the AXE constraint. GPFQ fits X w (the float
// model's inputs X) with X~ q (the partly quantized model's inputs X~),
// column by column, carrying the residual forward. Expanding the residual
// turns every inner product with it into entries of H = X~^T X~ and
// G = X~^T X (both K x K, summed over calibration tokens), so no activations
// are kept and the same integers come out as from the data form:
//
//   v_t = ds_t w_t + sum_{j<t} Lg[t,j] w_j - sum_{j<t} Lh[t,j] s q_j
//   ds = diag(G) / diag(H), Lg = strictly_lower(G) / diag(H) (row-wise),
//   Lh = strictly_lower(H) / diag(H)            (0 where diag(H) = 0)
//
// The first two terms are one GEMM, base = W (diag(ds) + Lg)^T; the last is
// fed back block by block like OPTQ's error (quant/greedy_columns.h).
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <vector>

#include "quant/axe_constraint.h"
#include "quant/row_matrix.h"
#include "runtime/ops/ops.h"

namespace axe {

struct GpfqOptions {
  bool act_order = false;  // quantize columns by descending diag(H)
  size_t block = 128;      // columns per lazy update
  bool toward_zero = false;  // round toward zero (EP-init's first stage)
  int threads = 1;
  const Ops* ops = nullptr;  // the SIMD table products run on; null: best_ops()
};

// h = X~^T X~ and g = X~^T X over the same calibration tokens (any common
// normalization). Returns codes [rows][cols] in the original column order.
std::vector<int8_t> gpfq_quantize(const float* w, size_t rows, size_t cols, const Eigen::MatrixXd& h,
                                  const Eigen::MatrixXd& g, ScaleGrid scales, int bits, AxeConstraint* axe,
                                  const GpfqOptions& options);
// The same with h and g in fp32 (as the calibration keeps them).
std::vector<int8_t> gpfq_quantize(const float* w, size_t rows, size_t cols, const RowMatrixF& h, const RowMatrixF& g,
                                  ScaleGrid scales, int bits, AxeConstraint* axe, const GpfqOptions& options);

}  // namespace axe
