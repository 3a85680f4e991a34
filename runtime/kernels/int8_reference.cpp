// The int64 reference kernel (scalar, portable).
#include "runtime/kernels/int8_kernels.h"

namespace axe {

void int8_gemm_reference(const Int8Activations& x, size_t m0, size_t m1, const Int8Weights& w, size_t n0, size_t n1,
                         const Int8Output& out) {
  for (size_t m = m0; m < m1; ++m) {
    const uint8_t* u = x.codes.data() + m * x.kp;
    for (size_t n = n0; n < n1; ++n) {
      int64_t raw = 0;
      for (size_t k = 0; k < w.cols; ++k) raw += int64_t{w.code(n, k)} * u[k];
      int8_epilogue(x, m, w, n, raw, 0, out);
    }
  }
}

}  // namespace axe
