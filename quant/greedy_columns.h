// The loop OPTQ and GPFQ share (docs/AXE.md sections 4 and 5):
// columns are quantized one at a time in a given order, and each column's
// feedback is spread over the columns not yet quantized through one row of a
// coefficient matrix, eagerly inside a block of columns and lazily (one GEMM
// per block) beyond it. Rows are independent and run in parallel chunks.
//
//   OPTQ: V = W, C = U (upper Cholesky factor of H^-1),
//         feedback e = (v - s*q) / U[t,t],   V[:, later] -= e * C[t, later]
//   GPFQ: V = W (diag(ds) + Lg)^T, C = Lh^T,
//         feedback e = s*q,                  V[:, later] -= e * C[t, later]
#pragma once
#include <Eigen/Dense>

#include <cstdint>
#include <vector>

#include "quant/axe_constraint.h"
#include "quant/row_matrix.h"
#include "quant/scales.h"
#include "runtime/ops/ops.h"

namespace axe {

enum class Feedback {
  kRoundingError,  // OPTQ: (fed-back value - s*q) / C[t,t]
  kQuantized,      // GPFQ: s*q
};

struct GreedyColumns {
  Feedback feedback = Feedback::kRoundingError;
  // OPTQ with AXE: measure the error from the original v rather than from
  // the thresholded, clipped value (AXE.md section 4's variant).
  bool full_error = false;
  // EP-init's first stage: round toward zero instead of to nearest (no AXE).
  bool toward_zero = false;
  size_t block = 128;  // columns per lazy update
  int threads = 1;
  const Ops* ops = nullptr;  // the SIMD table products run on; null: best_ops()
};

// V: rows x K values in quantization order (consumed); C: K x K, row t holds
// column t's coefficients onto the later columns; perm[t] is the original
// column quantized t-th (tiles and codes use original columns). Returns
// codes [rows][K] in the original order.
std::vector<int8_t> greedy_quantize_columns(RowMatrixF& V, const RowMatrixF& C, const std::vector<Eigen::Index>& perm,
                                            ScaleGrid scales, int bits, AxeConstraint* axe, const GreedyColumns& o);

// The same given ct = C^T (the layout the trailing products use), which the
// caller may have made in place; C itself is not needed.
std::vector<int8_t> greedy_quantize_columns_transposed(RowMatrixF& V, const RowMatrixF& ct,
                                                       const std::vector<Eigen::Index>& perm, ScaleGrid scales,
                                                       int bits, AxeConstraint* axe, const GreedyColumns& o);

// Quantization order: 0..K-1, or by descending d[k] (stable) for act order.
std::vector<Eigen::Index> column_order(const Eigen::VectorXd& d, bool act_order);

}  // namespace axe
