#include "runtime/linear_int8.h"

#include "runtime/kernels/int8_select.h"
#include "runtime/parallel.h"

namespace axe {

LinearInt8::LinearInt8(Int8Weights w, int act_bits, bool act_signed, const Int8KernelPolicy& policy)
    : Linear(w.rows, w.cols),
      w_(std::make_shared<const Int8Weights>(std::move(w))),
      act_bits_(act_bits),
      act_signed_(act_signed),
      kernels_(choose_int8_kernels(*w_, ActivationRange::of(act_bits, act_signed), policy)) {}

LinearInt8::LinearInt8(const LinearInt8& other, const Int8KernelPolicy& policy)
    : Linear(other.rows(), other.cols()),
      w_(other.w_),
      act_bits_(other.act_bits_),
      act_signed_(other.act_signed_),
      kernels_(choose_int8_kernels(*w_, ActivationRange::of(act_bits_, act_signed_), policy)) {}

void LinearInt8::forward(const Ops&, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy,
                         bool accumulate, bool parallel) const {
  // Scratch of the calling thread. The workers below must use this object, so
  // it is bound to a reference (naming a thread_local inside the lambda would
  // give each worker its own, empty, instance).
  thread_local Int8Activations scratch;
  Int8Activations& acts = scratch;
  size_activations(n_tokens, cols(), act_bits_, act_signed_, acts);
  // Tokens in parallel too: in prefill this is a pass over the whole input.
  parallel_rows(n_tokens, 4, parallel && n_tokens * cols() >= (size_t{1} << 14),
                [&](size_t m0, size_t m1) { quantize_activation_rows(x, ldx, m0, m1, acts); });
  const Int8Kernel& k = kernels_.for_tokens(n_tokens);
  const Int8Output out{nullptr, 0, y, ldy, nullptr, accumulate};
  const bool big = parallel && n_tokens * rows() * cols() >= (size_t{1} << 16);
  parallel_output_rows(n_tokens, rows(), 16, big,
                       [&](size_t r0, size_t r1) { k.run(acts, 0, n_tokens, *w_, r0, r1, out); });
}

}  // namespace axe
