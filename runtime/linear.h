// A linear layer y = W x: the interface every weight format implements (fp32
// here; integer weights with their accumulation plans come with the integer
// kernels). The forward pass only sees this interface.
#pragma once
#include <cstddef>
#include <cstdint>

#include "runtime/ops/ops.h"
#include "runtime/parallel.h"

namespace axe {

// From this many tokens the integer layers hand out their rows in chunks that
// free threads take (parallel_rows_balanced), rather than one static share
// per thread. Measured on stories110M and TinyLlama (Intel Xeon SPR-class):
// W4A8 pp512 at two threads +2-8%, W8A8 neutral, decode -4% (so not there),
// F32 prefill -3..-9% (its GEMM packs per call: not there either).
constexpr size_t kBalancedTokens = 32;

// An integer layer's output rows [0, rows) over the arena's threads, in
// blocks of `align`: 8 balanced chunks per thread from kBalancedTokens
// tokens on, one static share per thread below.
template <typename Fn>
void parallel_output_rows(size_t n_tokens, size_t rows, size_t align, bool parallel, Fn&& fn) {
  if (n_tokens >= kBalancedTokens) parallel_rows_balanced(rows, align, 8, parallel, fn);
  else parallel_rows(rows, align, parallel, fn);
}

class LinearF32;
class LinearHalf;
class LinearInt8;
class LinearGroup;

class Linear {
 public:
  virtual ~Linear() = default;
  size_t rows() const { return rows_; }  // outputs
  size_t cols() const { return cols_; }  // inputs
  virtual uint64_t weight_bytes() const = 0;
  // y[t][0..rows) (+)= W x[t] for t < n_tokens; `parallel` splits rows over
  // the threads of the current task arena.
  virtual void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy,
                       bool accumulate, bool parallel) const = 0;
  // The concrete weight format, for code that needs the weights themselves
  // (views, emulation, quantization); null when the layer is another kind.
  virtual const LinearF32* as_f32() const { return nullptr; }
  virtual const LinearHalf* as_half() const { return nullptr; }
  virtual const LinearInt8* as_int8() const { return nullptr; }
  virtual const LinearGroup* as_group() const { return nullptr; }

 protected:
  Linear(size_t rows, size_t cols) : rows_(rows), cols_(cols) {}

 private:
  size_t rows_, cols_;
};

// fp32 weights, row-major [rows][cols], not owned (usually a mapped file).
class LinearF32 final : public Linear {
 public:
  LinearF32(const float* w, size_t rows, size_t cols) : Linear(rows, cols), w_(w) {}
  uint64_t weight_bytes() const override { return uint64_t{4} * rows() * cols(); }
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override;
  const LinearF32* as_f32() const override { return this; }
  const float* data() const { return w_; }

 private:
  const float* w_;
};

// 16-bit weights (bf16 or IEEE f16), row-major [rows][cols] of raw values, not
// owned (usually a mapped file): kept 16-bit in memory and widened exactly to
// fp32 inside the kernel (Ops::matmul_bf16, Ops::matmul_f16); activations
// stay fp32.
class LinearHalf final : public Linear {
 public:
  enum class HalfType { kBF16, kF16 };
  LinearHalf(HalfType t, const uint16_t* w, size_t rows, size_t cols) : Linear(rows, cols), type_(t), w_(w) {}
  uint64_t weight_bytes() const override { return uint64_t{2} * rows() * cols(); }
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override;
  const LinearHalf* as_half() const override { return this; }
  HalfType type() const { return type_; }
  const uint16_t* data() const { return w_; }
  // out[0..cols) = row r widened exactly to fp32 (NaNs stay NaN).
  void widen_row(size_t r, float* out) const;

 private:
  HalfType type_;
  const uint16_t* w_;
};

}  // namespace axe
