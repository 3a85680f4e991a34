// Linears that record what flows into them during a calibration pass.
// CaptureLinear adds x~^T x~ to H, where x~ are the inputs after per-token
// activation quantization (as the integer kernels will see them), and, when
// asked, x~^T r to G, where r is a reference input for the same tokens: the
// layer's own unquantized input, or the float model's input recorded by a
// RecordLinear (GPFQ). Products run on the runtime's fp32 matmul (threads,
// SIMD) and accumulate in fp32 over the calibration tokens, as GPTQ does.
// Once they have what they need, both throw CaptureDone so that the rest of
// the block is not computed for nothing; the caller catches it.
#pragma once
#include <Eigen/Dense>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "quant/row_matrix.h"
#include "runtime/kernels/int8_types.h"
#include "runtime/linear.h"

namespace axe {

struct CaptureDone {};

// y (k x k, row-major) += a^T b for a, b: n x k row-major, on ops' matmul.
// With symmetric, a == b and only the lower triangle (j <= i) is computed.
inline void add_cross_products(const Ops& ops, const RowMatrixF& a, const RowMatrixF& b, RowMatrixF& y,
                               bool symmetric = false) {
  const RowMatrixF at = a.transpose();  // k x n: a row per input position
  const RowMatrixF bt_own = symmetric ? RowMatrixF() : RowMatrixF(b.transpose());
  const RowMatrixF& bt = symmetric ? at : bt_own;
  const size_t k = static_cast<size_t>(at.rows()), n = static_cast<size_t>(at.cols());
  constexpr size_t kRows = 64;  // strips of rows of y; uneven work when symmetric, so dynamic
  tbb::parallel_for(size_t{0}, (k + kRows - 1) / kRows, [&](size_t s) {
    const size_t i0 = s * kRows, i1 = std::min(k, i0 + kRows);
    ops.matmul_f32(at.data() + i0 * n, n, i1 - i0, bt.data(), n, n, y.data() + i0 * k, k, 0, symmetric ? i1 : k, true);
  });
}

class WrappingLinear : public Linear {
 public:
  explicit WrappingLinear(std::unique_ptr<Linear> inner) : Linear(inner->rows(), inner->cols()), inner_(std::move(inner)) {}
  uint64_t weight_bytes() const override { return inner_->weight_bytes(); }
  std::unique_ptr<Linear> release() { return std::move(inner_); }

 protected:
  std::unique_ptr<Linear> inner_;
};

// Keeps the inputs of the call (n_tokens x cols, row-major) and ends the pass.
class RecordLinear final : public WrappingLinear {
 public:
  RecordLinear(std::unique_ptr<Linear> inner, RowMatrixF* out) : WrappingLinear(std::move(inner)), out_(out) {}
  void forward(const Ops&, const float* x, size_t ldx, size_t n_tokens, float*, size_t, bool, bool) const override {
    out_->resize(static_cast<Eigen::Index>(n_tokens), static_cast<Eigen::Index>(cols()));
    for (size_t m = 0; m < n_tokens; ++m)
      out_->row(static_cast<Eigen::Index>(m)) = Eigen::Map<const Eigen::RowVectorXf>(x + m * ldx, static_cast<Eigen::Index>(cols()));
    throw CaptureDone{};
  }

 private:
  RowMatrixF* out_;
};

class CaptureLinear final : public WrappingLinear {
 public:
  // h, g: k x k fp32 sums. g (may be null): cross products with `reference`
  // when given (it must hold this call's tokens), else with the layer's own
  // float input.
  CaptureLinear(std::unique_ptr<Linear> inner, int act_bits, bool act_signed, RowMatrixF* h, RowMatrixF* g = nullptr,
                const RowMatrixF* reference = nullptr)
      : WrappingLinear(std::move(inner)), act_bits_(act_bits), act_signed_(act_signed), h_(h), g_(g), ref_(reference) {}
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float*, size_t, bool, bool) const override {
    const Eigen::Index n = static_cast<Eigen::Index>(n_tokens), k = static_cast<Eigen::Index>(cols());
    Int8Activations a;
    quantize_activations(x, ldx, n_tokens, cols(), act_bits_, act_signed_, a);
    RowMatrixF xq(n, k);
    for (size_t m = 0; m < n_tokens; ++m)
      for (size_t c = 0; c < cols(); ++c)
        xq(static_cast<Eigen::Index>(m), static_cast<Eigen::Index>(c)) =
            a.scales[m] * static_cast<float>(int32_t{a.codes.data()[m * a.kp + c]} - a.zeros[m]);
    add_cross_products(ops, xq, xq, *h_, true);
    if (g_) {
      if (ref_) {
        add_cross_products(ops, xq, *ref_, *g_);
      } else {
        const Eigen::Map<const RowMatrixF, 0, Eigen::OuterStride<>> xf(x, n, k, Eigen::OuterStride<>(static_cast<Eigen::Index>(ldx)));
        add_cross_products(ops, xq, RowMatrixF(xf), *g_);
      }
    }
    throw CaptureDone{};
  }

 private:
  int act_bits_;
  bool act_signed_;
  RowMatrixF *h_, *g_;
  const RowMatrixF* ref_;
};

}  // namespace axe
