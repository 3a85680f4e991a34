// OPTQ's factor: the upper triangular U with H^-1 = U^T U, computed without
// forming H^-1. If H = R R^T with R upper triangular (a Cholesky factorization
// of H with rows and columns reversed), then H^-1 = R^-T R^-1, so U = R^-1.
// Both steps are blocked so that almost all the work is fp32 matrix products
// on the runtime's dispatched matmul, spread over the current task arena's
// threads: a right-looking Cholesky (K^3/3) and a recursive triangular
// inverse (K^3/3), against K^3 + 2 K^3/3 for Cholesky, inverse and Cholesky
// again in double, single-threaded (the previous approach).
#pragma once
#include <Eigen/Dense>

#include "quant/row_matrix.h"
#include "runtime/ops/ops.h"

namespace axe {

// h: symmetric K x K (already damped). Returns false when h is not
// numerically positive definite in fp32 (a pivot below 1e-6 of its
// diagonal, or not finite); u is then unspecified.
bool inverse_upper_factor(const Ops& ops, const Eigen::MatrixXd& h, RowMatrixF& u);

// The same from a = J h J in fp32 (rows and columns reversed; only the lower
// triangle is read), which it consumes (overwritten, or moved into u): the
// caller builds it straight from its own H, with no double copy. Equal to the
// overload above when a(i, j) = float(h(K-1-i, K-1-j)). The triangular
// inverse runs in a's storage, so the factorization needs one K x K matrix
// plus K^2 / 4-sized temporaries.
bool inverse_upper_factor_reversed(const Ops& ops, RowMatrixF& a, RowMatrixF& u);

}  // namespace axe
