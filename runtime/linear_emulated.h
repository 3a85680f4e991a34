// A linear layer that runs an integer layer's weights on an emulated narrow
// datapath (runtime/kernels/int8_emulate.cpp) and counts its overflows: what
// a P_I/P_O-bit accumulator design would compute, bit for bit.
#pragma once
#include <atomic>
#include <string>

#include "runtime/kernels/int8_kernels.h"
#include "runtime/linear_int8.h"

namespace axe {

class LinearEmulated final : public Linear {
 public:
  // `layer` must outlive this; the plan's partition is the weights' own,
  // with the emulated widths and mode of `spec`; the exact kernels and the
  // stepping ops are chosen under `policy` (the context's target).
  LinearEmulated(const LinearInt8& layer, std::string name, const DatapathSpec& spec, const Int8KernelPolicy& policy);
  uint64_t weight_bytes() const override { return layer_.weight_bytes(); }
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override;

  const std::string& name() const { return name_; }
  uint64_t inner_overflows() const { return inner_; }
  uint64_t outer_overflows() const { return outer_; }
  uint64_t dot_products() const { return dots_; }
  void reset_counts() { inner_ = outer_ = dots_ = 0; }

 private:
  const LinearInt8& layer_;
  std::string name_;
  EmulatedLayer emulated_;
  mutable std::atomic<uint64_t> inner_{0}, outer_{0}, dots_{0};
};

}  // namespace axe
