// A groupwise integer linear layer: blocks of 32 weights with a scale each
// (llama.cpp's Q8_0 and Q4_0; runtime/kernels/group_types.h), activations
// quantized per block of 32 as llama.cpp's Q8_0 activations are, an exact
// integer dot product per block, scaled and added in fp32 in one defined
// order. The kernels for each SIMD target are chosen once, at construction;
// a forward call indexes them by its ops' target.
#pragma once
#include <array>
#include <memory>

#include "runtime/kernels/group_kernels.h"
#include "runtime/kernels/group_types.h"
#include "runtime/linear.h"

namespace axe {

class LinearGroup final : public Linear {
 public:
  explicit LinearGroup(GroupWeights w);
  uint64_t weight_bytes() const override { return w_->stream_bytes(); }
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override;
  const GroupWeights& weights() const { return *w_; }
  // The kernel a forward of n_tokens runs for target t.
  const GroupKernel& kernel(Target t, size_t n_tokens) const;

 private:
  std::shared_ptr<const GroupWeights> w_;
  std::array<const GroupKernel*, 4> decode_{}, prefill_{};  // by Target
};

}  // namespace axe
