// A linear layer with integer weights: activations are quantized per token
// on the fly, then the layer's integer kernel runs (chosen once, when the
// layer is made: runtime/kernels/int8_select.h) with the dequantization fused
// in its epilogue. Views share the weights and choose their own kernels, so
// each context runs the kernels of its own SIMD target.
#pragma once
#include <memory>

#include "runtime/kernels/int8_kernels.h"
#include "runtime/linear.h"

namespace axe {

class LinearInt8 final : public Linear {
 public:
  LinearInt8(Int8Weights w, int act_bits, bool act_signed, const Int8KernelPolicy& policy);
  // The weights of `other`, with kernels chosen under `policy`.
  LinearInt8(const LinearInt8& other, const Int8KernelPolicy& policy);
  uint64_t weight_bytes() const override { return uint64_t{w_->row_bytes()} * w_->rows + 8 * w_->rows; }
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override;
  const LinearInt8* as_int8() const override { return this; }
  const Int8Weights& weights() const { return *w_; }
  const Int8KernelChoice& kernels() const { return kernels_; }
  int act_bits() const { return act_bits_; }
  bool act_signed() const { return act_signed_; }

 private:
  std::shared_ptr<const Int8Weights> w_;
  int act_bits_;
  bool act_signed_;
  Int8KernelChoice kernels_;
};

}  // namespace axe
