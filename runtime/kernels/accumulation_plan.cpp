#include "runtime/kernels/accumulation_plan.h"

#include <algorithm>
#include <cmath>
#include <vector>

namespace axe {

ActivationRange ActivationRange::of(int bits, bool is_signed) {
  ActivationRange r;
  if (is_signed) {
    r.nu = (1 << (bits - 1)) - 1;
    r.mu = -r.nu;
  } else {
    r.mu = 0;
    r.nu = (1 << bits) - 1;
  }
  return r;
}

uint32_t AccumulationPlan::n_tiles(size_t cols) const {
  if (kind == TileKind::kLanes) return std::min<uint32_t>(tile, static_cast<uint32_t>((cols + 1) / 2));
  return static_cast<uint32_t>((cols + tile - 1) / tile);
}

uint64_t AccumulationPlan::largest_tile(size_t cols) const {
  std::vector<uint64_t> count(n_tiles(cols), 0);
  for (size_t k = 0; k < cols; ++k) ++count[tile_of(k)];
  return count.empty() ? 0 : *std::max_element(count.begin(), count.end());
}

bool AccumulationPlan::outer_binds(size_t cols) const {
  const uint32_t n = n_tiles(cols);
  const uint32_t log_tiles = n <= 1 ? 0 : static_cast<uint32_t>(std::ceil(std::log2(n)));
  return outer_bits < inner_bits + log_tiles;
}

std::string AccumulationPlan::invalid_reason() const {
  if (tile == 0) return "tile size must be positive";
  if (inner_bits < 2 || inner_bits > 32) return "P_I must be in [2, 32]";
  if (outer_bits < inner_bits || outer_bits > 32) return "P_O must be in [P_I, 32]";
  return "";
}

std::string AccumulationPlan::describe() const {
  return std::string(kind == TileKind::kContiguous ? "contiguous T=" : "lanes x") + std::to_string(tile) +
         ", P_I=" + std::to_string(inner_bits) + ", P_O=" + std::to_string(outer_bits);
}

namespace {

// Each tile's sums of positive and of negative codes in one row: what
// plan.tile_of assigns, walked tile by tile (contiguous) or pair by pair
// (lanes) rather than dividing for every column (that division was most of
// a load's plan check and of `axe verify`).
void tile_sums(const int8_t* q, size_t cols, const AccumulationPlan& plan, int64_t* pos, int64_t* neg) {
  const uint32_t n_tiles = plan.n_tiles(cols);
  std::fill(pos, pos + n_tiles, 0);
  std::fill(neg, neg + n_tiles, 0);
  if (n_tiles == 0) return;
  if (plan.kind == TileKind::kContiguous) {
    for (uint32_t t = 0; t < n_tiles; ++t) {
      int64_t p = 0, n = 0;
      for (size_t k = size_t{t} * plan.tile, e = std::min(cols, size_t{t + 1} * plan.tile); k < e; ++k) {
        const int32_t v = q[k];
        p += v > 0 ? v : 0;
        n += v < 0 ? v : 0;
      }
      pos[t] = p;
      neg[t] = n;
    }
    return;
  }
  // Lanes: columns 2j and 2j + 1 go to tile j % plan.tile, so every period
  // of 2 * plan.tile columns gives each tile one pair.
  const size_t period = 2 * size_t{plan.tile};
  size_t k0 = 0;
  for (; k0 + period <= cols; k0 += period) {
    const int8_t* p = q + k0;
    for (uint32_t j = 0; j < plan.tile; ++j) {
      const int32_t a = p[2 * j], b = p[2 * j + 1];
      pos[j] += (a > 0 ? a : 0) + (b > 0 ? b : 0);
      neg[j] += (a < 0 ? a : 0) + (b < 0 ? b : 0);
    }
  }
  for (size_t k = k0; k < cols; ++k) {
    const int32_t v = q[k];
    pos[(k - k0) / 2] += v > 0 ? v : 0;
    neg[(k - k0) / 2] += v < 0 ? v : 0;
  }
}

}  // namespace

PlanCheck check_plan(const int8_t* codes, size_t rows, size_t cols, size_t ld, const AccumulationPlan& plan,
                     ActivationRange x) {
  PlanCheck r;
  const uint32_t n_tiles = plan.n_tiles(cols);
  const int64_t inner = AccumulationPlan::acc_limit(plan.inner_bits);
  const int64_t outer = AccumulationPlan::acc_limit(plan.outer_bits);
  std::vector<int64_t> pos(n_tiles), neg(n_tiles);
  for (size_t row = 0; row < rows; ++row) {
    tile_sums(codes + row * ld, cols, plan, pos.data(), neg.data());
    int64_t pos_row = 0, neg_row = 0;
    for (uint32_t t = 0; t < n_tiles; ++t) {
      const int64_t m = worst_case_magnitude(pos[t], neg[t], x);
      r.worst_inner_use = std::max(r.worst_inner_use, static_cast<double>(m) / inner);
      if (m > inner) {
        if (r.first_bad_row < 0) r.first_bad_row = static_cast<int64_t>(row), r.first_bad_tile = t;
        ++r.inner_violations;
      }
      pos_row += pos[t];
      neg_row += neg[t];
    }
    const int64_t m = worst_case_magnitude(pos_row, neg_row, x);
    r.worst_outer_use = std::max(r.worst_outer_use, static_cast<double>(m) / outer);
    if (m > outer) {
      if (r.first_bad_row < 0) r.first_bad_row = static_cast<int64_t>(row), r.first_bad_tile = -1;
      ++r.outer_violations;
    }
    r.tiles += n_tiles;
  }
  r.rows = rows;
  return r;
}

void clip_codes_to_plan(int8_t* codes, size_t rows, size_t cols, size_t ld, const AccumulationPlan& plan,
                        ActivationRange x) {
  const int64_t inner = AccumulationPlan::acc_limit(plan.inner_bits);
  const int64_t outer = AccumulationPlan::acc_limit(plan.outer_bits);
  std::vector<int64_t> pos(plan.n_tiles(cols)), neg(plan.n_tiles(cols));
  for (size_t r = 0; r < rows; ++r) {
    std::fill(pos.begin(), pos.end(), 0);
    std::fill(neg.begin(), neg.end(), 0);
    int64_t pos_row = 0, neg_row = 0;
    int8_t* q = codes + r * ld;
    for (size_t c = 0; c < cols; ++c) {
      const uint32_t t = plan.tile_of(c);
      int v = q[c];
      auto fits = [&](int cand) {
        const int64_t p = std::max(cand, 0), n = std::min(cand, 0);
        return worst_case_magnitude(pos[t] + p, neg[t] + n, x) <= inner &&
               worst_case_magnitude(pos_row + p, neg_row + n, x) <= outer;
      };
      while (v != 0 && !fits(v)) v += v > 0 ? -1 : 1;  // 0 always fits
      (v > 0 ? pos[t] : neg[t]) += v;
      (v > 0 ? pos_row : neg_row) += v;
      q[c] = static_cast<int8_t>(v);
    }
  }
}

}  // namespace axe
