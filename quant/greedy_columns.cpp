#include "quant/greedy_columns.h"

#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <numeric>


namespace axe {

std::vector<Eigen::Index> column_order(const Eigen::VectorXd& d, bool act_order) {
  std::vector<Eigen::Index> perm(static_cast<size_t>(d.size()));
  std::iota(perm.begin(), perm.end(), 0);
  if (act_order) std::stable_sort(perm.begin(), perm.end(), [&](Eigen::Index a, Eigen::Index b) { return d(a) > d(b); });
  return perm;
}

std::vector<int8_t> greedy_quantize_columns(RowMatrixF& V, const RowMatrixF& C, const std::vector<Eigen::Index>& perm,
                                            ScaleGrid scales, int bits, AxeConstraint* axe, const GreedyColumns& o) {
  // The trailing update V[:, later] -= E C[block, later] runs on the
  // runtime's matmul, which wants C's columns as rows.
  const RowMatrixF ct = C.transpose();
  return greedy_quantize_columns_transposed(V, ct, perm, scales, bits, axe, o);
}

std::vector<int8_t> greedy_quantize_columns_transposed(RowMatrixF& V, const RowMatrixF& ct,
                                                       const std::vector<Eigen::Index>& perm, ScaleGrid scales,
                                                       int bits, AxeConstraint* axe, const GreedyColumns& o) {
  const int32_t qmax = (1 << (bits - 1)) - 1;
  const size_t rows = static_cast<size_t>(V.rows()), cols = static_cast<size_t>(V.cols());
  const Eigen::Index K = V.cols();
  std::vector<int8_t> codes(rows * cols, 0);
  const size_t B = std::max<size_t>(1, o.block);
  // Rows per task: each chunk streams C's remaining rows once per block, so
  // larger chunks read them fewer times; 16 when there are few rows, to keep
  // the threads busy. Rows are independent, so the codes do not depend on it.
  const size_t chunk = rows >= 64 * 4 * static_cast<size_t>(std::max(1, o.threads)) ? 64 : 16;
  const bool optq = o.feedback == Feedback::kRoundingError;
  // C's diagonal blocks (the eager updates inside a block read C[t, t..]),
  // block b at rows b B of `diag`: diag(b B + r, c) = C(b B + r, b B + c).
  RowMatrixF diag(K, std::min<Eigen::Index>(K, static_cast<Eigen::Index>(B)));
  for (Eigen::Index i1 = 0; i1 < K; i1 += static_cast<Eigen::Index>(B)) {
    const Eigen::Index nb = std::min<Eigen::Index>(K, i1 + static_cast<Eigen::Index>(B)) - i1;
    for (Eigen::Index r = 0; r < nb; ++r)
      for (Eigen::Index c = 0; c < nb; ++c) diag(i1 + r, c) = ct(i1 + c, i1 + r);
  }
  const Ops& ops = o.ops ? *o.ops : best_ops();
  tbb::task_arena arena(std::max(1, o.threads));
  arena.execute([&] {
    tbb::parallel_for(size_t{0}, (rows + chunk - 1) / chunk, [&](size_t c) {
      const Eigen::Index r0 = static_cast<Eigen::Index>(c * chunk);
      const Eigen::Index rn = std::min<Eigen::Index>(static_cast<Eigen::Index>(rows) - r0, chunk);
      auto Vc = V.middleRows(r0, rn);
      RowMatrixF E(rn, static_cast<Eigen::Index>(B));
      for (Eigen::Index i1 = 0; i1 < K; i1 += static_cast<Eigen::Index>(B)) {
        const Eigen::Index i2 = std::min<Eigen::Index>(K, i1 + static_cast<Eigen::Index>(B)), nb = i2 - i1;
        for (Eigen::Index i = i1; i < i2; ++i) {
          const Eigen::Index col = perm[static_cast<size_t>(i)];
          for (Eigen::Index r = 0; r < rn; ++r) {
            const size_t row = static_cast<size_t>(r0 + r);
            const float s = scales.at(row, static_cast<size_t>(col));
            const double v = Vc(r, i);
            double fed_back = v;  // what the OPTQ error is measured from
            int32_t q;
            if (axe) {
              double clipped;
              q = axe->quantize(row, static_cast<size_t>(col), v, s, &clipped);
              if (!o.full_error) fed_back = clipped;
            } else {
              q = o.toward_zero ? trunc_clamp(v / s, qmax) : round_clamp(v / s, qmax);
            }
            codes[row * cols + static_cast<size_t>(col)] = static_cast<int8_t>(q);
            const double sq = static_cast<double>(s) * q;
            const float e = static_cast<float>(optq ? (fed_back - sq) / diag(i, i - i1) : sq);
            E(r, i - i1) = -e;
            if (i + 1 < i2) Vc.row(r).segment(i + 1, i2 - i - 1) -= e * diag.row(i).segment(i - i1 + 1, i2 - i - 1);
          }
        }
        if (i2 < K)
          ops.matmul_f32(E.data(), B, static_cast<size_t>(rn), ct.data() + i2 * K + i1, static_cast<size_t>(K),
                         static_cast<size_t>(nb), V.data() + r0 * K + i2, static_cast<size_t>(K), 0,
                         static_cast<size_t>(K - i2), true);
      }
    });
  });
  return codes;
}

}  // namespace axe
