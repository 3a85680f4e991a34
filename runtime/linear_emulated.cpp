#include "runtime/linear_emulated.h"

#include <algorithm>
#include <vector>

#include "runtime/error.h"
#include "runtime/parallel.h"

namespace axe {

LinearEmulated::LinearEmulated(const LinearInt8& layer, std::string name, const DatapathSpec& spec,
                               const Int8KernelPolicy& policy)
    : Linear(layer.rows(), layer.cols()),
      layer_(&layer),
      spec_(spec),
      name_(std::move(name)),
      emulated_(prepare_emulation(layer.weights(), spec, ActivationRange::of(layer.act_bits(), layer.act_signed()),
                                  policy)) {}

LinearEmulated::LinearEmulated(const LinearGroup& layer, std::string name, const DatapathSpec& spec)
    : Linear(layer.rows(), layer.cols()), group_(&layer), spec_(spec), name_(std::move(name)) {
  if (spec.plan.kind != TileKind::kContiguous || spec.plan.tile % kGroupSize != 0)
    fail(AXE_ERR_INVALID_ARGUMENT, "acc_sim: " + name_ + ": a groupwise layer's tiles are contiguous groups of 32k columns, not " +
                                       spec.plan.describe());
}

uint64_t LinearEmulated::weight_bytes() const { return layer_ ? layer_->weight_bytes() : group_->weight_bytes(); }

void LinearEmulated::forward_group(const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy, bool accumulate,
                                   bool parallel) const {
  const GroupWeights& w = group_->weights();
  thread_local GroupActivations scratch;
  GroupActivations& acts = scratch;
  size_group_activations(n_tokens, w.cols, acts);
  quantize_group_activation_rows(x, ldx, 0, n_tokens, acts, group_->act_format());
  const size_t K = cols(), T = spec_.plan.tile, blocks_per_tile = T / kGroupSize;
  parallel_rows(rows(), 16, parallel, [&](size_t r0, size_t r1) {
    OverflowCounts c;
    std::vector<int64_t> block_sums(blocks_per_tile);
    for (size_t m = 0; m < n_tokens; ++m) {
      const int8_t* a = acts.codes.data() + m * acts.cols;
      for (size_t n = r0; n < r1; ++n) {
        float acc = 0.0f;
        for (size_t t0 = 0; t0 < K; t0 += T) {
          const size_t t1 = std::min(K, t0 + T);
          int64_t narrow = 0;
          std::fill(block_sums.begin(), block_sums.end(), 0);
          for (size_t k = t0; k < t1; ++k) {
            const int64_t p = int64_t{w.code(n, k)} * a[k];
            c.inner += add_narrow(narrow, p, spec_.plan.inner_bits, spec_.saturate);
            block_sums[(k - t0) / kGroupSize] += p;
          }
          int64_t exact = 0;
          for (int64_t b : block_sums) exact += b;
          const size_t g0 = t0 / kGroupSize, g1 = (t1 + kGroupSize - 1) / kGroupSize;
          if (narrow == exact) {
            for (size_t g = g0; g < g1; ++g)
              acc = group_accumulate(acc, block_sums[g - g0], w.scales[n * w.groups + g], acts.scales[m * acts.groups + g]);
          } else {  // one scale per tile: the weight group and the activation groups cover it
            acc = group_accumulate(acc, narrow, w.scales[n * w.groups + g0], acts.scales[m * acts.groups + g0]);
          }
        }
        GroupOutput out;
        out.y = y;
        out.ldy = ldy;
        out.accumulate = accumulate;
        group_store(out, m, n, acc);
        ++c.dot_products;
      }
    }
    inner_ += c.inner;
    dots_ += c.dot_products;
  });
}

void LinearEmulated::forward(const Ops&, const float* x, size_t ldx, size_t n_tokens, float* y, size_t ldy,
                             bool accumulate, bool parallel) const {
  if (group_) return forward_group(x, ldx, n_tokens, y, ldy, accumulate, parallel);
  const LinearInt8& layer = *layer_;
  thread_local Int8Activations scratch;
  Int8Activations& acts = scratch;  // the caller's, also in the workers below
  quantize_activations(x, ldx, n_tokens, cols(), layer.act_bits(), layer.act_signed(), acts);
  const Int8Output out{nullptr, 0, y, ldy, nullptr, accumulate};
  parallel_rows(rows(), 16, parallel, [&](size_t r0, size_t r1) {
    OverflowCounts c;
    int8_gemm_emulated(acts, 0, n_tokens, layer.weights(), r0, r1, out, emulated_, c);
    inner_ += c.inner;
    outer_ += c.outer;
    dots_ += c.dot_products;
  });
}

}  // namespace axe
