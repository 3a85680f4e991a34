// GPFQ: the covariance form (H = X~^T X~, G = X~^T X, blocked) gives the same
// integers as the data form that carries the residual over the calibration
// tokens; AXE-GPFQ satisfies the plan; GPFQ beats round to nearest on the
// layer's own objective || X w - X~ s q ||.
#include <doctest/doctest.h>

#include "quant/gpfq.h"
#include "quant/scales.h"
#include "random_layer.h"

using namespace axe;

namespace {

struct Problem {
  size_t rows = 12, cols = 80;
  std::vector<float> w, scales;
  Eigen::MatrixXd x, xq;  // tokens x cols: float inputs and quantized-model inputs
  Eigen::MatrixXd h, g;
};

Problem make_problem(uint32_t seed, int bits) {
  Problem p;
  RandomLayer l = random_layer(seed, p.rows, p.cols, 300, 5, 0.4);
  p.w = std::move(l.w);
  p.x = std::move(l.x);
  // The quantized model sees its inputs on a coarse grid, slightly drifted.
  p.xq = (p.x * 2.0).array().round() / 2.0 + 0.05;
  p.xq.col(9).setZero();  // a dead column
  p.h = p.xq.transpose() * p.xq;
  p.g = p.xq.transpose() * p.x;
  p.scales.resize(p.rows);
  mse_row_scales(p.w.data(), p.rows, p.cols, p.cols, bits, p.scales.data());
  return p;
}

// The data form, in double: for each column (in the given order) the value
// that best matches the running residual u = sum_j (w_j X_j - s q_j X~_j).
std::vector<int8_t> gpfq_data_form(const Problem& p, int bits, AxeConstraint* axe, bool act_order) {
  const Eigen::Index K = static_cast<Eigen::Index>(p.cols);
  std::vector<Eigen::Index> order(p.cols);
  for (Eigen::Index k = 0; k < K; ++k) order[static_cast<size_t>(k)] = k;
  if (act_order)
    std::stable_sort(order.begin(), order.end(), [&](Eigen::Index a, Eigen::Index b) { return p.h(a, a) > p.h(b, b); });
  const int32_t qmax = (1 << (bits - 1)) - 1;
  std::vector<int8_t> q(p.rows * p.cols, 0);
  for (size_t r = 0; r < p.rows; ++r) {
    const double s = p.scales[r];
    Eigen::VectorXd u = Eigen::VectorXd::Zero(p.x.rows());
    for (Eigen::Index t : order) {
      const double wt = p.w[r * p.cols + static_cast<size_t>(t)];
      const double norm = p.xq.col(t).squaredNorm();
      const double v = norm == 0 ? 0.0 : p.xq.col(t).dot(u + wt * p.x.col(t)) / norm;
      const int32_t c = axe ? axe->quantize(r, static_cast<size_t>(t), v, p.scales[r]) : round_clamp(v / s, qmax);
      q[r * p.cols + static_cast<size_t>(t)] = static_cast<int8_t>(c);
      u += wt * p.x.col(t) - s * c * p.xq.col(t);
    }
  }
  return q;
}

// || X W^T - X~ (s q)^T ||^2
double output_error(const Problem& p, const std::vector<int8_t>& q) {
  Eigen::MatrixXd w(static_cast<Eigen::Index>(p.cols), static_cast<Eigen::Index>(p.rows)), wq = w;
  for (size_t r = 0; r < p.rows; ++r)
    for (size_t k = 0; k < p.cols; ++k) {
      w(k, r) = p.w[r * p.cols + k];
      wq(k, r) = double(p.scales[r]) * q[r * p.cols + k];
    }
  return (p.x * w - p.xq * wq).squaredNorm();
}

size_t count_differences(const std::vector<int8_t>& a, const std::vector<int8_t>& b) {
  size_t n = 0;
  for (size_t i = 0; i < a.size(); ++i) n += a[i] != b[i];
  return n;
}

}  // namespace

TEST_CASE("GPFQ: the covariance form gives the data form's integers, blocked or not, with act order") {
  for (int bits : {4, 8})
    for (bool act_order : {false, true})
      for (size_t block : {size_t{1}, size_t{16}, size_t{128}}) {
        const Problem p = make_problem(5 + bits, bits);
        GpfqOptions o;
        o.act_order = act_order;
        o.block = block;
        o.threads = 2;
        const auto cov = gpfq_quantize(p.w.data(), p.rows, p.cols, p.h, p.g, p.scales.data(), bits, nullptr, o);
        const auto data = gpfq_data_form(p, bits, nullptr, act_order);
        CAPTURE(bits);
        CAPTURE(act_order);
        CAPTURE(block);
        CHECK(count_differences(cov, data) == 0);
        for (size_t r = 0; r < p.rows; ++r) CHECK(cov[r * p.cols + 9] == 0);  // dead column
      }
}

TEST_CASE("AXE-GPFQ: same integers as the data form, and the plan holds with binding budgets") {
  for (const AccumulationPlan& plan :
       {AccumulationPlan{TileKind::kLanes, 16, 11, 32}, AccumulationPlan{TileKind::kContiguous, 32, 12, 13}}) {
    const Problem p = make_problem(17, 4);
    const ActivationRange xr = ActivationRange::of(8, false);
    AxeConstraint a1(plan, xr, 4, p.rows, p.cols), a2(plan, xr, 4, p.rows, p.cols);
    a1.set_soft_thresholds(p.w.data(), p.cols, p.scales.data());
    a2.set_soft_thresholds(p.w.data(), p.cols, p.scales.data());
    GpfqOptions o;
    o.block = 16;
    const auto cov = gpfq_quantize(p.w.data(), p.rows, p.cols, p.h, p.g, p.scales.data(), 4, &a1, o);
    const auto data = gpfq_data_form(p, 4, &a2, false);
    CAPTURE(plan.describe());
    CHECK(count_differences(cov, data) == 0);
    const PlanCheck c = check_plan(cov.data(), p.rows, p.cols, p.cols, plan, xr);
    CHECK(c.ok());
    CHECK(c.worst_inner_use > 0.8);
  }
}

TEST_CASE("GPFQ beats round to nearest on || X w - X~ s q ||") {
  const Problem p = make_problem(29, 4);
  const auto q = gpfq_quantize(p.w.data(), p.rows, p.cols, p.h, p.g, p.scales.data(), 4, nullptr, GpfqOptions{});
  std::vector<int8_t> rtn(p.w.size());
  for (size_t i = 0; i < rtn.size(); ++i) rtn[i] = static_cast<int8_t>(round_clamp(p.w[i] / p.scales[i / p.cols], 7));
  CHECK(output_error(p, q) < 0.8 * output_error(p, rtn));
}
