// A linear layer with integer weights: activations are quantized per token
// on the fly, then the fastest exact integer kernel for this layer runs (see
// runtime/kernels/int8_select.h) with the dequantization fused in its
// epilogue.
#pragma once
#include "runtime/kernels/int8_types.h"
#include "runtime/linear.h"

namespace axe {

class LinearInt8 final : public Linear {
 public:
  LinearInt8(Int8Weights w, int act_bits, bool act_signed);
  uint64_t weight_bytes() const override { return uint64_t{w_.row_bytes()} * w_.rows + 8 * w_.rows; }
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override;
  const Int8Weights& weights() const { return w_; }
  int act_bits() const { return act_bits_; }
  bool act_signed() const { return act_signed_; }

 private:
  Int8Weights w_;
  int act_bits_;
  bool act_signed_;
};

}  // namespace axe
