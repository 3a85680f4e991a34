// The AXE step of docs/AXE.md section 3, shared by every algorithm
// that quantizes a layer column by column (RTN here; OPTQ and GPFQ next):
// before a value is rounded it is soft-thresholded by lambda[row, tile],
// clipped to what the tile's (and, with a narrow P_O, the row's) remaining
// integer budget allows, rounded half to even with the row's fixed scale and
// clamped to the M-bit range; the integer code is then added to the running
// sums. Running sums are integers: nothing is re-derived from floats.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "quant/scales.h"
#include "runtime/kernels/accumulation_plan.h"

namespace axe {

// Threshold theta of the Euclidean projection of a non-negative vector onto
// the l1 ball of radius z (Duchi et al. 2008): 0 when sum(v) <= z.
double l1_projection_threshold(std::vector<double> v, double z);

// Round half to even, then clamp to [-qmax, qmax].
int32_t round_clamp(double v, int32_t qmax);
// Round toward zero, then clamp to [-qmax, qmax].
int32_t trunc_clamp(double v, int32_t qmax);

class AxeConstraint {
 public:
  // rows x cols layer with M-bit weights under `plan` for activations `x`.
  AxeConstraint(const AccumulationPlan& plan, ActivationRange x, int weight_bits, size_t rows, size_t cols);

  // lambda[row, tile] = s_r * theta from the float weights (row stride ldw).
  // (Each tile must have one scale: per row, or groups that hold whole tiles.)
  void set_soft_thresholds(const float* w, size_t ldw, ScaleGrid scales);
  // Steps 1-4 for value v of (row, col) with the row's scale; returns the
  // code, and the thresholded, clipped value in *clipped when not null.
  int32_t quantize(size_t row, size_t col, double v, float scale, double* clipped = nullptr);

 private:
  AccumulationPlan plan_;
  ActivationRange x_;
  int32_t qmax_;
  size_t cols_;
  uint32_t n_tiles_;
  bool outer_binds_;  // P_O narrower than P_I + ceil(log2(n_tiles))
  std::vector<double> lambda_;       // [rows][tiles], in weight units
  std::vector<int64_t> pos_, neg_;   // [rows][tiles] running code sums
  std::vector<int64_t> pos_row_, neg_row_;
};

}  // namespace axe
