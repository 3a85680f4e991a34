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

// The float model `m` rotated with `seed`, block by block: the model's
// linear layers of block l hold W diag(g) H (computed with `ops`, in the
// current task arena) between prepare(l) and release(l), so a quantizer that
// works one block at a time holds one block of rotated weights, not a copy
// of the model (their pages are reserved up front and only touched by
// prepare). The block norms' gains are 1 and the rotation is attached. The
// embedding, final norm and classifier are borrowed from `m`, which must
// outlive this; the tokenizer is copied.
class RotatedModel {
 public:
  RotatedModel(const LlamaModel& m, uint64_t seed, const Ops& ops);
  const LlamaModel& model() const { return *model_; }
  void prepare(size_t layer);
  void release(size_t layer);
  // The model with every block prepared (ownership moves to the caller).
  std::unique_ptr<LlamaModel> take_all();

 private:
  struct Block;
  const LlamaModel& source_;
  const Ops& ops_;
  std::unique_ptr<LlamaModel> model_;
  std::vector<std::shared_ptr<Block>> blocks_;
};

// Every block at once: RotatedModel(m, seed, ops).take_all().
std::unique_ptr<LlamaModel> rotate_model(const LlamaModel& m, uint64_t seed, const Ops& ops);

}  // namespace axe
