#include "quant/axe_constraint.h"

#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <utility>

namespace axe {

double l1_projection_threshold(std::vector<double> v, double z) {
  double sum = 0;
  for (double x : v) sum += x;
  if (sum <= z) return 0.0;
  std::sort(v.begin(), v.end(), std::greater<double>());
  double c = 0, theta = 0;
  for (size_t j = 0; j < v.size(); ++j) {
    c += v[j];
    const double t = (c - z) / static_cast<double>(j + 1);
    if (v[j] > t) theta = t;  // rho = the largest j with u_j * j > c_j - z
  }
  return theta;
}

namespace {

// Clamps to [-qmax, qmax] before converting, so every input is defined
// behaviour: infinities saturate, NaN gives 0 (the driver refuses
// non-finite weights before they get here).
int32_t clamp_to_int(double r, int32_t qmax) {
  if (std::isnan(r)) return 0;
  const double q = qmax;
  return static_cast<int32_t>(r > q ? q : r < -q ? -q : r);
}

}  // namespace

int32_t round_clamp(double v, int32_t qmax) {
  return clamp_to_int(std::nearbyint(v), qmax);  // the default rounding mode: half to even
}

int32_t trunc_clamp(double v, int32_t qmax) { return clamp_to_int(std::trunc(v), qmax); }

AxeConstraint::AxeConstraint(const AccumulationPlan& plan, ActivationRange x, int weight_bits, size_t rows,
                             size_t cols)
    : plan_(plan), x_(x), qmax_((1 << (weight_bits - 1)) - 1), cols_(cols), n_tiles_(plan.n_tiles(cols)) {
  outer_binds_ = plan.outer_binds(cols);
  lambda_.assign(rows * n_tiles_, 0.0);
  pos_.assign(rows * n_tiles_, 0);
  neg_.assign(rows * n_tiles_, 0);
  pos_row_.assign(rows, 0);
  neg_row_.assign(rows, 0);
}

void AxeConstraint::set_soft_thresholds(const float* w, size_t ldw, ScaleGrid scales) {
  const size_t rows = pos_row_.size();
  const double z = (std::ldexp(1.0, static_cast<int>(plan_.inner_bits)) - 2.0) / (x_.nu - x_.mu);
  // Rows are independent (each writes its own lambdas): in parallel on the
  // current arena, in chunks of rows sharing their scratch.
  constexpr size_t kChunk = 16;
  tbb::parallel_for(size_t{0}, (rows + kChunk - 1) / kChunk, [&](size_t c) {
    std::vector<std::vector<double>> tiles(n_tiles_);
    std::vector<float> tile_scale(n_tiles_);
    for (size_t r = c * kChunk; r < std::min(rows, (c + 1) * kChunk); ++r) {
      for (auto& t : tiles) t.clear();
      std::fill(tile_scale.begin(), tile_scale.end(), 1.0f);
      for (size_t k = 0; k < cols_; ++k) {
        tile_scale[plan_.tile_of(k)] = scales.at(r, k);
        tiles[plan_.tile_of(k)].push_back(w[r * ldw + k] / scales.at(r, k));
      }
      for (uint32_t t = 0; t < n_tiles_; ++t) {
        auto& v = tiles[t];
        double mean = 0;
        for (double a : v) mean += a;
        // A short last contiguous tile is zero-padded to T (the zeros move the mean).
        const size_t width = plan_.kind == TileKind::kContiguous ? plan_.tile : v.size();
        mean /= static_cast<double>(std::max<size_t>(width, 1));
        for (double& a : v) a = std::abs(a - mean);
        v.resize(width, std::abs(mean));  // |0 - mean| for the padding
        lambda_[r * n_tiles_ + t] = tile_scale[t] * l1_projection_threshold(std::move(v), z);
      }
    }
  });
}

int32_t AxeConstraint::quantize(size_t row, size_t col, double v, float scale, double* clipped) {
  const size_t i = row * n_tiles_ + plan_.tile_of(col);
  // 1. soft threshold
  const double lambda = lambda_[i];
  v = v > 0 ? std::max(v - lambda, 0.0) : -std::max(-v - lambda, 0.0);
  // 2. hard clip to the remaining budget, in integer units
  auto range = [&](int64_t p, int64_t n, uint32_t bits, double& lo, double& hi) {
    const double acc = static_cast<double>(AccumulationPlan::acc_limit(bits));
    const double mu = x_.mu, nu = x_.nu;
    if (x_.mu == 0) {
      hi = (acc - nu * p) / nu;
      lo = (-acc - nu * n) / nu;
    } else {
      hi = std::min((acc - (nu * p + mu * n)) / nu, (-acc - (mu * p + nu * n)) / mu);
      lo = std::max((acc - (nu * p + mu * n)) / mu, (-acc - (mu * p + nu * n)) / nu);
    }
  };
  double lo, hi;
  range(pos_[i], neg_[i], plan_.inner_bits, lo, hi);
  if (outer_binds_) {
    double lo_row, hi_row;
    range(pos_row_[row], neg_row_[row], plan_.outer_bits, lo_row, hi_row);
    lo = std::max(lo, lo_row);
    hi = std::min(hi, hi_row);
  }
  const double q_lo = std::ceil(std::min(lo, 0.0)), q_hi = std::floor(std::max(hi, 0.0));
  v = std::clamp(v, scale * q_lo, scale * q_hi);
  if (clipped) *clipped = v;
  // 3. round with the fixed scale, clamp to the M-bit range (and the budget:
  //    guards against v / scale rounding past an integer bound)
  int32_t q = round_clamp(v / scale, qmax_);
  q = static_cast<int32_t>(std::clamp<double>(q, q_lo, q_hi));
  // 4. the integer code joins the running sums
  (q > 0 ? pos_[i] : neg_[i]) += q;
  (q > 0 ? pos_row_[row] : neg_row_[row]) += q;
  return q;
}

}  // namespace axe
