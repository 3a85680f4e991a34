#include "models/llama/rotation.h"

#include <cmath>
#include <cstring>

#include "models/llama/model.h"
#include "runtime/error.h"
#include "runtime/parallel.h"

namespace axe {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

size_t stage_width(const LlamaConfig& c, BlockStage s) {
  return s == BlockStage::kFfnOut ? static_cast<size_t>(c.hidden_dim) : static_cast<size_t>(c.dim);
}

}  // namespace

std::vector<float> hadamard_signs(uint64_t seed, size_t layer, BlockStage stage, size_t K) {
  uint64_t state = seed ^ (0x9E3779B97F4A7C15ull * (4 * uint64_t{layer} + static_cast<uint64_t>(stage) + 1));
  std::vector<float> s(K);
  uint64_t word = 0;
  for (size_t k = 0; k < K; ++k) {
    if (k % 64 == 0) word = splitmix64(state);
    s[k] = (word >> (k % 64)) & 1 ? -1.0f : 1.0f;
  }
  return s;
}

HadamardRotation::HadamardRotation(const LlamaConfig& c, uint64_t seed) : seed_(seed), factors_(c.n_layers) {
  for (size_t l = 0; l < factors_.size(); ++l)
    for (BlockStage stage : kBlockStages) {
      const size_t K = stage_width(c, stage);
      std::vector<float> d = hadamard_signs(seed, l, stage, K);
      // Block sizes: the set bits of K, largest first.
      size_t o = 0;
      for (int bit = 62; bit >= 0; --bit) {
        const size_t b = size_t{1} << bit;
        if (!(K & b)) continue;
        const float inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(b)));
        for (size_t k = o; k < o + b; ++k) d[k] *= inv;
        o += b;
      }
      factors_[l][static_cast<size_t>(stage)] = std::move(d);
    }
}

std::unique_ptr<LlamaModel> rotate_model(const LlamaModel& m, uint64_t seed, const Ops& ops) {
  if (m.quantized()) fail(AXE_ERR_INVALID_ARGUMENT, m.path + ": only a float model can be rotated");
  if (m.rotation) fail(AXE_ERR_INVALID_ARGUMENT, m.path + ": the model is already rotated");
  auto rotation = std::make_shared<const HadamardRotation>(m.config, seed);
  std::vector<std::shared_ptr<const void>> storage;
  auto r = with_replaced_linears(m, [&](size_t l, const std::string& name, const Linear& orig) -> std::unique_ptr<Linear> {
    const LinearF32* f = orig.as_f32();
    if (!f) fail(AXE_ERR_INVALID_ARGUMENT, name + " has no float weights to rotate");
    const size_t rows = f->rows(), K = f->cols();
    BlockStage stage = BlockStage::kEnd;
    const float* gain = nullptr;
    for (const LlamaLinearInfo& ln : llama_linears())
      if (name == llama_tensor_name(l, ln.name)) stage = ln.input;
    if (stage == BlockStage::kAttentionIn) gain = m.layers[l].rms_att;
    if (stage == BlockStage::kFfnIn) gain = m.layers[l].rms_ffn;
    if (stage == BlockStage::kEnd) fail(AXE_ERR_INTERNAL, name + ": not a linear layer of the architecture");
    const float* d = rotation->factors(l, stage);
    auto w = std::make_shared<std::vector<float>>(f->data(), f->data() + rows * K);
    // Row i of W H is (H^T w_i^T)^T: the same transform the input gets.
    parallel_rows(rows, 16, true, [&](size_t a, size_t b) {
      for (size_t i = a; i < b; ++i) {
        float* row = w->data() + i * K;
        if (gain)
          for (size_t k = 0; k < K; ++k) row[k] *= gain[k];
        ops.hadamard(row, d, K);
      }
    });
    storage.push_back(w);
    return std::make_unique<LinearF32>(w->data(), rows, K);
  });
  auto ones = std::make_shared<std::vector<float>>(static_cast<size_t>(m.config.dim), 1.0f);
  for (LlamaLayer& ly : r->layers) ly.rms_att = ly.rms_ffn = ones->data();
  storage.push_back(ones);
  r->storage = std::move(storage);
  r->rotation = std::move(rotation);
  r->tokenizer = std::make_unique<Tokenizer>(m.tokenizer->file_bytes(), m.path, m.config.vocab);
  return r;
}

}  // namespace axe
