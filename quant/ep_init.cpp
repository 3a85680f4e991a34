#include "quant/ep_init.h"

#include <cmath>

#include "quant/axe_constraint.h"

namespace axe {
namespace {

// Shrinks the codes at `idx` onto the l1 ball of radius z.
void project(std::vector<int8_t>& codes, const std::vector<size_t>& idx, double z) {
  std::vector<double> mag(idx.size());
  for (size_t i = 0; i < idx.size(); ++i) mag[i] = std::abs(static_cast<double>(codes[idx[i]]));
  const double theta = l1_projection_threshold(mag, z);
  if (theta == 0) return;
  for (size_t i : idx) {
    const double a = std::max(std::abs(static_cast<double>(codes[i])) - theta, 0.0);
    codes[i] = static_cast<int8_t>((codes[i] < 0 ? -1 : 1) * std::trunc(a));
  }
}

}  // namespace

void ep_init_project(std::vector<int8_t>& codes, size_t rows, size_t cols, const AccumulationPlan& plan, int act_bits,
                     bool act_signed) {
  const int shift = (act_signed ? 1 : 0) - act_bits;
  auto radius = [&](uint32_t bits) { return std::ldexp(static_cast<double>(AccumulationPlan::acc_limit(bits)), shift); };
  const uint32_t n_tiles = plan.n_tiles(cols);
  const bool outer_binds = plan.outer_binds(cols);
  std::vector<std::vector<size_t>> tiles(n_tiles);
  std::vector<size_t> row_idx(cols);
  for (size_t r = 0; r < rows; ++r) {
    for (auto& t : tiles) t.clear();
    for (size_t k = 0; k < cols; ++k) {
      tiles[plan.tile_of(k)].push_back(r * cols + k);
      row_idx[k] = r * cols + k;
    }
    for (const auto& t : tiles) project(codes, t, radius(plan.inner_bits));
    if (outer_binds) project(codes, row_idx, radius(plan.outer_bits));
  }
}

}  // namespace axe
