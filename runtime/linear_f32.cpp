#include "runtime/linear.h"
#include "runtime/parallel.h"

namespace axe {

void LinearF32::forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy,
                        bool accumulate, bool parallel) const {
  // Small products are not worth waking threads for.
  const bool big = parallel && n_tokens * rows() * cols() >= (size_t{1} << 16);
  parallel_rows(rows(), 16, big, [&](size_t r0, size_t r1) {
    ops.matmul_f32(x, ldx, n_tokens, w_, cols(), cols(), y, ldy, r0, r1, accumulate);
  });
}

}  // namespace axe
