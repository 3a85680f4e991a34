#include "runtime/half_float.h"
#include "runtime/linear.h"
#include "runtime/parallel.h"

namespace axe {

void LinearHalf::forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy,
                         bool accumulate, bool parallel) const {
  const auto matmul = type_ == HalfType::kBF16 ? ops.matmul_bf16 : ops.matmul_f16;
  // Small products are not worth waking threads for.
  const bool big = parallel && n_tokens * rows() * cols() >= (size_t{1} << 16);
  parallel_rows(rows(), 16, big, [&](size_t r0, size_t r1) {
    matmul(x, ldx, n_tokens, w_, cols(), cols(), y, ldy, r0, r1, accumulate);
  });
}

void LinearHalf::widen_row(size_t r, float* out) const {
  const uint16_t* row = w_ + r * cols();
  if (type_ == HalfType::kBF16)
    for (size_t k = 0; k < cols(); ++k) out[k] = bf16_to_fp32(row[k]);
  else
    for (size_t k = 0; k < cols(); ++k) out[k] = fp16_to_fp32(row[k]);
}

}  // namespace axe
