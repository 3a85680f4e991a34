// Hadamard rotation of every linear layer's input (docs/FORMAT.md,
// "rotation"; the AXE paper's layerwise rotation). For the input of each
// block stage, H = D_s B: D_s a diagonal of random signs, B the orthonormal
// block-diagonal Walsh-Hadamard matrix with one block per set bit of K
// (K = 172: blocks 128, 32, 8, 4; a power of two is one block). A rotated
// model stores W' = W diag(g) H for each linear layer, with g the RMSNorm
// gain before it folded in (the norm's stored gain becomes 1), and its
// forward pass turns each input x into H^T x = B D_s x (Ops::hadamard) before
// the layer sees it, so W' (H^T x) = W diag(g) x: the same function, with
// outliers spread over each block before activations and weights are
// quantized.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <vector>

#include "models/llama/arch.h"
#include "models/llama/config.h"
#include "runtime/ops/ops.h"

namespace axe {

struct LlamaModel;

class HadamardRotation {
 public:
  // The signs of every (layer, stage) input of config c, drawn from `seed`.
  HadamardRotation(const LlamaConfig& c, uint64_t seed);
  uint64_t seed() const { return seed_; }
  // d = s / sqrt(block) for each of the stage's K inputs: Ops::hadamard(x,
  // d, K) computes H^T x.
  const float* factors(size_t layer, BlockStage stage) const {
    return factors_[layer][static_cast<size_t>(stage)].data();
  }

 private:
  uint64_t seed_;
  std::vector<std::array<std::vector<float>, 4>> factors_;
};

// The sign of element k (+1 or -1) of the input of `stage` in block `layer`:
// bit k % 64 of the (k / 64)-th output of splitmix64 seeded with
// seed ^ (0x9E3779B97F4A7C15 * (4 * layer + stage + 1)); a set bit is -1.
std::vector<float> hadamard_signs(uint64_t seed, size_t layer, BlockStage stage, size_t K);

// The float model `m` rotated with `seed`: every linear layer's weights
// W diag(g) H (computed with `ops`, in the current task arena), the block
// norms' gains 1, the rotation attached. The embedding, final norm and
// classifier are borrowed from `m`, which must outlive the result; the
// tokenizer is copied.
std::unique_ptr<LlamaModel> rotate_model(const LlamaModel& m, uint64_t seed, const Ops& ops);

}  // namespace axe
