// A linear layer that runs an integer layer's weights on an emulated narrow
// datapath (runtime/kernels/int8_emulate.cpp) and counts its overflows: what
// a P_I/P_O-bit accumulator design would compute, bit for bit.
//
// A groupwise layer (runtime/linear_group.h) is emulated per tile of the
// plan (contiguous, T = its weight group): each tile's integer sum is
// stepped column by column in a P_I-bit register (wrapping or saturating),
// then scaled and added in fp32. A tile that did not change value takes the
// kernels' own per-block fp32 order (so a datapath that never overflows
// gives LinearGroup's bits); a tile that did is added once with its narrow
// value. P_O has no role there (the tile sums are added in fp32).
#pragma once
#include <atomic>
#include <string>

#include "runtime/kernels/int8_kernels.h"
#include "runtime/linear_group.h"
#include "runtime/linear_int8.h"

namespace axe {

class LinearEmulated final : public Linear {
 public:
  // `layer` must outlive this; the plan's partition is the weights' own,
  // with the emulated widths and mode of `spec`; the exact kernels and the
  // stepping ops are chosen under `policy` (the context's target).
  LinearEmulated(const LinearInt8& layer, std::string name, const DatapathSpec& spec, const Int8KernelPolicy& policy);
  // A groupwise layer; spec.plan must be contiguous (its tiles), `layer` must outlive this.
  LinearEmulated(const LinearGroup& layer, std::string name, const DatapathSpec& spec);
  uint64_t weight_bytes() const override;
  void forward(const Ops& ops, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
               bool parallel) const override;

  const std::string& name() const { return name_; }
  uint64_t inner_overflows() const { return inner_; }
  uint64_t outer_overflows() const { return outer_; }
  uint64_t dot_products() const { return dots_; }
  void reset_counts() { inner_ = outer_ = dots_ = 0; }

 private:
  void forward_group(const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
                     bool parallel) const;
  const LinearInt8* layer_ = nullptr;
  const LinearGroup* group_ = nullptr;
  DatapathSpec spec_;
  std::string name_;
  EmulatedLayer emulated_;
  mutable std::atomic<uint64_t> inner_{0}, outer_{0}, dots_{0};
};

}  // namespace axe
