// A Linear that records what flows into it: each forward call adds
// x~^T x~ to a Hessian, where x~ are the inputs after per-token activation
// quantization (as the integer kernels will see them), then runs the wrapped
// layer. Used to calibrate a layer on the partially quantized model.
#pragma once
#include <Eigen/Dense>

#include <memory>
#include <mutex>

#include "runtime/kernels/int8_types.h"
#include "runtime/linear.h"

namespace axe {

class CaptureLinear final : public Linear {
 public:
  CaptureLinear(std::unique_ptr<Linear> inner, int act_bits, bool act_signed, Eigen::MatrixXd* hessian)
      : Linear(inner->rows(), inner->cols()), inner_(std::move(inner)), act_bits_(act_bits), act_signed_(act_signed),
        h_(hessian) {}
  uint64_t weight_bytes() const override { return inner_->weight_bytes(); }
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override {
    Int8Activations a;
    quantize_activations(x, ldx, n_tokens, cols(), act_bits_, act_signed_, a);
    Eigen::MatrixXf xq(static_cast<Eigen::Index>(n_tokens), static_cast<Eigen::Index>(cols()));
    for (size_t m = 0; m < n_tokens; ++m)
      for (size_t k = 0; k < cols(); ++k)
        xq(m, k) = a.scales[m] * static_cast<float>(int32_t{a.codes.data()[m * a.kp + k]} - a.zeros[m]);
    const Eigen::MatrixXd g = (xq.transpose() * xq).cast<double>();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      *h_ += g;
    }
    inner_->forward(ops, x, ldx, n_tokens, y, ldy, accumulate, parallel);
  }
  std::unique_ptr<Linear> release() { return std::move(inner_); }

 private:
  std::unique_ptr<Linear> inner_;
  int act_bits_;
  bool act_signed_;
  Eigen::MatrixXd* h_;
  mutable std::mutex mutex_;
};

}  // namespace axe
