#include "quant/search.h"

#include <algorithm>

#include "quant/naive_bits.h"
#include "quant/row_matrix.h"

namespace axe {

std::vector<LayerBits> search_candidates(const QuantFormat& qf, uint64_t max_tile) {
  std::vector<LayerBits> out;
  auto fits = [&](int n, int m) { return data_type_bound(max_tile, n, m, qf.act_signed) <= qf.plan.inner_bits; };
  for (int n = qf.act_bits; n >= 2; --n) {
    for (int m = qf.weight_bits; m >= 2; --m) {
      out.push_back({m, n});
      if (fits(n, m)) break;
    }
    if (fits(n, qf.weight_bits)) break;
  }
  return out;
}

double calibration_error(const LinearF32& lin, const std::vector<int8_t>& codes, ScaleGrid scales,
                         const LayerStats& st) {
  const Eigen::Index rows = static_cast<Eigen::Index>(lin.rows()), K = static_cast<Eigen::Index>(lin.cols());
  // One piece for the usual layers; strips of rows for very large ones (a
  // 32000-row classifier would need three rows x K double matrices).
  const Eigen::Index strip = rows * K > (Eigen::Index{1} << 24) ? 4096 : rows;
  const Eigen::MatrixXd h = st.h.cast<double>(), g = st.g.cast<double>();  // fp32 values, exactly
  double err = 0;
  for (Eigen::Index r0 = 0; r0 < rows; r0 += strip) {
    const Eigen::Index n = std::min(strip, rows - r0);
    const Eigen::MatrixXd W = Eigen::Map<const RowMatrixF>(lin.data() + r0 * K, n, K).cast<double>();
    Eigen::MatrixXd B(n, K);
    for (Eigen::Index i = 0; i < n; ++i)
      for (Eigen::Index k = 0; k < K; ++k)
        B(i, k) = double{scales.at(static_cast<size_t>(r0 + i), static_cast<size_t>(k))} *
                  codes[static_cast<size_t>((r0 + i) * K + k)];
    err += -2.0 * ((B * g).cwiseProduct(W)).sum() + ((B * h).cwiseProduct(B)).sum();
  }
  return err;
}

}  // namespace axe
