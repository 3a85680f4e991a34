#include "quant/scales.h"

#include <cmath>

#include "quant/axe_constraint.h"
#include "runtime/half_float.h"

namespace axe {

void mse_row_scales(const float* w, size_t rows, size_t cols, size_t ldw, int bits, float* scales) {
  const int32_t qmax = (1 << (bits - 1)) - 1;
  for (size_t r = 0; r < rows; ++r) {
    const float* row = w + r * ldw;
    float absmax = 0;
    for (size_t k = 0; k < cols; ++k) absmax = std::max(absmax, std::abs(row[k]));
    if (absmax == 0) {
      scales[r] = 1.0f;
      continue;
    }
    double best_err = INFINITY;
    float best = absmax / qmax;
    for (int i = 20; i >= 2; --i) {
      const float s = absmax * static_cast<float>(i) / 20.0f / static_cast<float>(qmax);
      double err = 0;
      for (size_t k = 0; k < cols; ++k) {
        const double d = row[k] - static_cast<double>(s) * round_clamp(row[k] / s, qmax);
        err += d * d;
      }
      if (err < best_err) best_err = err, best = s;
    }
    scales[r] = best;
  }
}

float fp16_representable_scale(float s) {
  if (!(s > 0)) return 1.0f;
  const float h = fp16_to_fp32(fp32_to_fp16(s));
  if (h == 0) return fp16_to_fp32(1);          // 2^-24
  if (!std::isfinite(h)) return fp16_to_fp32(0x7BFF);  // 65504
  return h;
}

}  // namespace axe
