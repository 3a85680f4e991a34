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
  // GGUF's Q8_0/Q4_0 (activations by llama.cpp's rule: 8 bits per 32).
  explicit LinearGroup(GroupWeights w) : LinearGroup(std::move(w), GroupActFormat{}, 0) {}
  // AXE's groupwise layers: activations by `act` (its valid_cols ignored),
  // and `cols` inputs (0: w.cols), the weights holding zero codes beyond them.
  LinearGroup(GroupWeights w, const GroupActFormat& act, size_t cols);
  uint64_t weight_bytes() const override { return w_->stream_bytes(); }
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override;
  const LinearGroup* as_group() const override { return this; }
  const GroupWeights& weights() const { return *w_; }
  // How activations are quantized (valid_cols = cols()).
  const GroupActFormat& act_format() const { return act_; }
  // The kernel a forward of n_tokens runs for target t.
  const GroupKernel& kernel(Target t, size_t n_tokens) const;

 private:
  std::shared_ptr<const GroupWeights> w_;
  GroupActFormat act_;
  std::array<const GroupKernel*, 4> decode_{}, prefill_{};  // by Target
};

}  // namespace axe
