// OPTQ: the lazy blocked update equals the column-at-a-time one; AXE-OPTQ
// codes satisfy the plan for any Hessian; dead columns become zero; OPTQ
// beats RTN on the layer's own objective.
#include <doctest/doctest.h>

#include "quant/optq.h"
#include "quant/scales.h"
#include "random_layer.h"

using namespace axe;

namespace {

struct Problem {
  size_t rows = 20, cols = 96;
  std::vector<float> w, scales;
  Eigen::MatrixXd h;
  Eigen::MatrixXd x;  // tokens x cols
};

Problem make_problem(uint32_t seed, int bits) {
  Problem p;
  RandomLayer l = random_layer(seed, p.rows, p.cols, 400, 7, 0.5);
  p.w = std::move(l.w);
  p.x = std::move(l.x);
  p.h = p.x.transpose() * p.x;
  p.scales.resize(p.rows);
  mse_row_scales(p.w.data(), p.rows, p.cols, p.cols, bits, p.scales.data());
  return p;
}

// || X (W - s q)^T ||^2: the layer-output error OPTQ minimizes.
double output_error(const Problem& p, const std::vector<int8_t>& q) {
  Eigen::MatrixXd d(static_cast<Eigen::Index>(p.cols), static_cast<Eigen::Index>(p.rows));
  for (size_t r = 0; r < p.rows; ++r)
    for (size_t k = 0; k < p.cols; ++k) d(k, r) = p.w[r * p.cols + k] - double(p.scales[r]) * q[r * p.cols + k];
  return (p.x * d).squaredNorm();
}

}  // namespace

TEST_CASE("OPTQ: blocked equals unblocked, and it beats round to nearest") {
  for (int bits : {4, 8}) {
    Problem p = make_problem(3 + bits, bits);
    OptqOptions one, blocked;
    one.block = 1;
    blocked.block = 32;
    const auto a = optq_quantize(p.w.data(), p.rows, p.cols, p.h, p.scales.data(), bits, nullptr, one, nullptr);
    const auto b = optq_quantize(p.w.data(), p.rows, p.cols, p.h, p.scales.data(), bits, nullptr, blocked, nullptr);
    size_t differ = 0;
    for (size_t i = 0; i < a.size(); ++i) differ += a[i] != b[i];
    CAPTURE(bits);
    CHECK(differ <= a.size() / 500);  // float summation order may flip a rare tie
    std::vector<int8_t> rtn(p.w.size());
    const int32_t qmax = (1 << (bits - 1)) - 1;
    for (size_t i = 0; i < rtn.size(); ++i) rtn[i] = static_cast<int8_t>(round_clamp(p.w[i] / p.scales[i / p.cols], qmax));
    CHECK(output_error(p, b) < 0.9 * output_error(p, rtn));
  }
}

TEST_CASE("AXE-OPTQ satisfies the plan for any Hessian, with both error feedbacks, with act order") {
  for (bool full_error : {false, true})
    for (bool act_order : {false, true})
      for (const AccumulationPlan& plan : {AccumulationPlan{TileKind::kLanes, 16, 12, 32},
                                           AccumulationPlan{TileKind::kContiguous, 32, 13, 15}}) {
        Problem p = make_problem(11, 4);
        const ActivationRange xr = ActivationRange::of(8, false);
        AxeConstraint axe(plan, xr, 4, p.rows, p.cols);
        axe.set_soft_thresholds(p.w.data(), p.cols, p.scales.data());
        OptqOptions o;
        o.full_error = full_error;
        o.act_order = act_order;
        o.block = 16;
        const auto q = optq_quantize(p.w.data(), p.rows, p.cols, p.h, p.scales.data(), 4, &axe, o, nullptr);
        const PlanCheck c = check_plan(q.data(), p.rows, p.cols, p.cols, plan, xr);
        CAPTURE(plan.describe());
        CHECK(c.ok());
        CHECK(c.worst_inner_use > 0.8);
      }
}

TEST_CASE("OPTQ: dead columns are zero, and a singular Hessian gets more damping") {
  Problem p = make_problem(21, 4);
  p.h.row(5).setZero();
  p.h.col(5).setZero();
  // Rank-deficient: duplicate column 7 into 8.
  p.h.row(8) = p.h.row(7);
  p.h.col(8) = p.h.col(7);
  OptqOptions o;
  o.damp = 0.0;
  double used = -1;
  const auto q = optq_quantize(p.w.data(), p.rows, p.cols, p.h, p.scales.data(), 4, nullptr, o, &used);
  for (size_t r = 0; r < p.rows; ++r) CHECK(q[r * p.cols + 5] == 0);
  CHECK(used > 0.0);
}
