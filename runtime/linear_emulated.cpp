#include "runtime/linear_emulated.h"

#include "runtime/parallel.h"

namespace axe {

LinearEmulated::LinearEmulated(const LinearInt8& layer, std::string name, const DatapathSpec& spec,
                               const Int8KernelPolicy& policy)
    : Linear(layer.rows(), layer.cols()),
      layer_(layer),
      name_(std::move(name)),
      emulated_(prepare_emulation(layer.weights(), spec, ActivationRange::of(layer.act_bits(), layer.act_signed()),
                                  policy)) {}

void LinearEmulated::forward(const Ops&, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy,
                             bool accumulate, bool parallel) const {
  thread_local Int8Activations scratch;
  Int8Activations& acts = scratch;  // the caller's, also in the workers below
  quantize_activations(x, ldx, n_tokens, cols(), layer_.act_bits(), layer_.act_signed(), acts);
  const Int8Output out{nullptr, 0, y, ldy, nullptr, accumulate};
  parallel_rows(rows(), 16, parallel, [&](size_t r0, size_t r1) {
    OverflowCounts c;
    int8_gemm_emulated(acts, 0, n_tokens, layer_.weights(), r0, r1, out, emulated_, c);
    inner_ += c.inner;
    outer_ += c.outer;
    dots_ += c.dot_products;
  });
}

}  // namespace axe
