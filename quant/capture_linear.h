// Linears that record what flows into them during a calibration pass.
// CaptureLinear adds x~^T x~ to H, where x~ are the inputs after per-token
// activation quantization (as the integer kernels will see them), and, when
// asked, x~^T r to G, where r is a reference input for the same tokens: the
// layer's own unquantized input, or the float model's input recorded by a
// RecordLinear (GPFQ). Both then run the wrapped layer.
#pragma once
#include <Eigen/Dense>

#include <memory>
#include <mutex>
#include <vector>

#include "quant/row_matrix.h"
#include "runtime/kernels/int8_types.h"
#include "runtime/linear.h"

namespace axe {


class WrappingLinear : public Linear {
 public:
  explicit WrappingLinear(std::unique_ptr<Linear> inner) : Linear(inner->rows(), inner->cols()), inner_(std::move(inner)) {}
  uint64_t weight_bytes() const override { return inner_->weight_bytes(); }
  std::unique_ptr<Linear> release() { return std::move(inner_); }

 protected:
  std::unique_ptr<Linear> inner_;
};

// Keeps the inputs of the last call (n_tokens x cols, row-major).
class RecordLinear final : public WrappingLinear {
 public:
  RecordLinear(std::unique_ptr<Linear> inner, RowMatrixF* out) : WrappingLinear(std::move(inner)), out_(out) {}
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override {
    out_->resize(static_cast<Eigen::Index>(n_tokens), static_cast<Eigen::Index>(cols()));
    for (size_t m = 0; m < n_tokens; ++m)
      out_->row(static_cast<Eigen::Index>(m)) = Eigen::Map<const Eigen::RowVectorXf>(x + m * ldx, static_cast<Eigen::Index>(cols()));
    inner_->forward(ops, x, ldx, n_tokens, y, ldy, accumulate, parallel);
  }

 private:
  RowMatrixF* out_;
};

class CaptureLinear final : public WrappingLinear {
 public:
  // g (may be null): cross products with `reference` when given (it must
  // hold this call's tokens), else with the layer's own float input.
  CaptureLinear(std::unique_ptr<Linear> inner, int act_bits, bool act_signed, Eigen::MatrixXd* h,
                Eigen::MatrixXd* g = nullptr, const RowMatrixF* reference = nullptr)
      : WrappingLinear(std::move(inner)), act_bits_(act_bits), act_signed_(act_signed), h_(h), g_(g), ref_(reference) {}
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override {
    const Eigen::Index n = static_cast<Eigen::Index>(n_tokens), k = static_cast<Eigen::Index>(cols());
    Int8Activations a;
    quantize_activations(x, ldx, n_tokens, cols(), act_bits_, act_signed_, a);
    RowMatrixF xq(n, k);
    for (size_t m = 0; m < n_tokens; ++m)
      for (size_t c = 0; c < cols(); ++c)
        xq(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(c)) =
            a.scales[m] * static_cast<float>(int32_t{a.codes.data()[m * a.kp + c]} - a.zeros[m]);
    const Eigen::MatrixXd hh = (xq.transpose() * xq).cast<double>();
    Eigen::MatrixXd gg;
    if (g_) {
      if (ref_) {
        gg = (xq.transpose() * *ref_).cast<double>();
      } else {
        const Eigen::Map<const RowMatrixF, 0, Eigen::OuterStride<>> xf(x, n, k, Eigen::OuterStride<>(static_cast<Eigen::Index>(ldx)));
        gg = (xq.transpose() * xf).cast<double>();
      }
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      *h_ += hh;
      if (g_) *g_ += gg;
    }
    inner_->forward(ops, x, ldx, n_tokens, y, ldy, accumulate, parallel);
  }

 private:
  int act_bits_;
  bool act_signed_;
  Eigen::MatrixXd *h_, *g_;
  const RowMatrixF* ref_;
  mutable std::mutex mutex_;
};

}  // namespace axe
