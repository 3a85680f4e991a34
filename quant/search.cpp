#include "quant/search.h"

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

double calibration_error(const LinearF32& lin, const std::vector<int8_t>& codes, const std::vector<float>& scales,
                         const LayerStats& st) {
  const Eigen::Index rows = static_cast<Eigen::Index>(lin.rows()), K = static_cast<Eigen::Index>(lin.cols());
  const Eigen::MatrixXd W = Eigen::Map<const RowMatrixF>(lin.data(), rows, K).cast<double>();
  Eigen::MatrixXd B(rows, K);
  for (Eigen::Index i = 0; i < rows; ++i)
    for (Eigen::Index k = 0; k < K; ++k)
      B(i, k) = double{scales[static_cast<size_t>(i)]} * codes[static_cast<size_t>(i * K + k)];
  return -2.0 * ((B * st.g).cwiseProduct(W)).sum() + ((B * st.h).cwiseProduct(B)).sum();
}

}  // namespace axe
