#include "runtime/linear_group.h"

#include <string>

#include "runtime/error.h"
#include "runtime/parallel.h"

namespace axe {

LinearGroup::LinearGroup(GroupWeights w, const GroupActFormat& act, size_t cols)
    : Linear(w.rows, cols ? cols : w.cols), w_(std::make_shared<const GroupWeights>(std::move(w))), act_(act) {
  act_.valid_cols = this->cols();
  if (this->cols() > w_->cols || w_->cols - this->cols() >= kGroupSize)
    fail(AXE_ERR_INTERNAL, "groupwise layer: " + std::to_string(this->cols()) + " inputs for " +
                               std::to_string(w_->cols) + " packed columns");
  for (Target t : {Target::kScalar, Target::kAVX2, Target::kAVX512, Target::kAVX512VNNI}) {
    decode_[static_cast<size_t>(t)] = &choose_group_kernel(t, *w_, 1);
    prefill_[static_cast<size_t>(t)] = &choose_group_kernel(t, *w_, 64);
  }
}

const GroupKernel& LinearGroup::kernel(Target t, size_t n_tokens) const {
  return *(n_tokens > 1 ? prefill_ : decode_)[static_cast<size_t>(t)];
}

void LinearGroup::forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy,
                          bool accumulate, bool parallel) const {
  // Scratch of the calling thread, bound to a reference so that the workers
  // below share it (as LinearInt8 does).
  thread_local GroupActivations scratch;
  GroupActivations& acts = scratch;
  size_group_activations(n_tokens, w_->cols, acts);
  parallel_rows(n_tokens, 4, parallel && n_tokens * cols() >= (size_t{1} << 14),
                [&](size_t m0, size_t m1) { quantize_group_activation_rows(x, ldx, m0, m1, acts, act_); });
  const GroupKernel& k = kernel(ops.target, n_tokens);
  GroupOutput out;
  out.y = y;
  out.ldy = ldy;
  out.accumulate = accumulate;
  const bool big = parallel && n_tokens * rows() * cols() >= (size_t{1} << 16);
  // Whole panels of 16 rows per thread: a kernel computes a panel at once.
  parallel_output_rows(n_tokens, rows(), 64, big,
                       [&](size_t r0, size_t r1) { k.run(acts, 0, n_tokens, *w_, r0, r1, out); });
}

}  // namespace axe
