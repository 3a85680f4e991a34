#include "models/llama/rotation.h"

#include <cstring>

#include <sys/mman.h>

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

// The width of a stage's input: the columns of the linears reading it.
size_t stage_width(const LlamaConfig& c, BlockStage s) {
  for (size_t i = 0; i < kLlamaLinears; ++i)
    if (llama_linears()[i].input == s) return static_cast<size_t>(llama_linear_shape(c, i)[1]);
  fail(AXE_ERR_INTERNAL, "no linear layer reads this block stage");
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
      const std::vector<float> scale = hadamard_scales(K);
      for (size_t k = 0; k < K; ++k) d[k] *= scale[k];
      factors_[l][static_cast<size_t>(stage)] = std::move(d);
    }
}

// One block's rotated weights: an anonymous mapping whose pages exist only
// while the block is prepared.
struct RotatedModel::Block {
  float* data = nullptr;
  size_t bytes = 0;
  std::array<size_t, kLlamaLinears> offset{};  // floats, per linear
  explicit Block(size_t n_floats) : bytes(n_floats * sizeof(float)) {
    void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) fail(AXE_ERR_OUT_OF_MEMORY, "cannot reserve " + std::to_string(bytes) + " bytes for rotated weights");
    data = static_cast<float*>(p);
  }
  ~Block() { ::munmap(data, bytes); }
  Block(const Block&) = delete;
  Block& operator=(const Block&) = delete;
};

RotatedModel::RotatedModel(const LlamaModel& m, uint64_t seed, const Ops& ops) : source_(m), ops_(ops) {
  if (m.quantized()) fail(AXE_ERR_INVALID_ARGUMENT, m.path + ": only a float model can be rotated");
  if (m.rotation) fail(AXE_ERR_INVALID_ARGUMENT, m.path + ": the model is already rotated");
  for (const LlamaLayer& ly : m.layers) {
    std::array<size_t, kLlamaLinears> offset{};
    size_t n = 0;
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      if (!ly.linear(i).as_f32()) fail(AXE_ERR_INVALID_ARGUMENT, m.path + ": a linear layer has no float weights to rotate");
      offset[i] = n;
      n += ly.linear(i).rows() * ly.linear(i).cols();
    }
    blocks_.push_back(std::make_shared<Block>(n));
    blocks_.back()->offset = offset;
  }
  model_ = with_replaced_linears(m, [&](size_t l, const std::string& name, const Linear& orig) -> std::unique_ptr<Linear> {
    for (size_t i = 0; i < kLlamaLinears; ++i)
      if (name == llama_tensor_name(l, llama_linears()[i].name))
        return std::make_unique<LinearF32>(blocks_[l]->data + blocks_[l]->offset[i], orig.rows(), orig.cols());
    fail(AXE_ERR_INTERNAL, name + ": not a linear layer of the architecture");
  });
  auto ones = std::make_shared<std::vector<float>>(static_cast<size_t>(m.config.dim), 1.0f);
  for (LlamaLayer& ly : model_->layers) ly.rms_att = ly.rms_ffn = ones->data();
  model_->storage.push_back(ones);
  for (const auto& b : blocks_) model_->storage.push_back(b);
  model_->rotation = std::make_shared<const HadamardRotation>(m.config, seed);
  model_->tokenizer = make_tokenizer(m.tokenizer->kind(), m.tokenizer->file_bytes(), m.tokenizer->settings_bytes(), m.path,
                                     m.config.vocab);
}

void RotatedModel::prepare(size_t l) {
  const LlamaLayer& src = source_.layers[l];
  for (size_t i = 0; i < kLlamaLinears; ++i) {
    const LlamaLinearInfo& ln = llama_linears()[i];
    const LinearF32& f = *src.linear(i).as_f32();
    const size_t rows = f.rows(), K = f.cols();
    const float* gain = ln.input == BlockStage::kAttentionIn ? src.rms_att
                        : ln.input == BlockStage::kFfnIn     ? src.rms_ffn
                                                             : nullptr;
    const float* d = model_->rotation->factors(l, ln.input);
    float* w = blocks_[l]->data + blocks_[l]->offset[i];
    // Row i of W H is (H^T w_i^T)^T: the same transform the input gets.
    parallel_rows(rows, 16, true, [&](size_t a, size_t b) {
      for (size_t r = a; r < b; ++r) {
        float* row = w + r * K;
        const float* in = f.data() + r * K;
        for (size_t k = 0; k < K; ++k) row[k] = gain ? in[k] * gain[k] : in[k];
        ops_.hadamard(row, d, K);
      }
    });
  }
}

void RotatedModel::release(size_t l) {
  // The pages go back to the system; the block reads as zeros if touched again.
  ::madvise(blocks_[l]->data, blocks_[l]->bytes, MADV_DONTNEED);
}

std::unique_ptr<LlamaModel> RotatedModel::take_all() {
  for (size_t l = 0; l < blocks_.size(); ++l) prepare(l);
  return std::move(model_);
}

std::unique_ptr<LlamaModel> rotate_model(const LlamaModel& m, uint64_t seed, const Ops& ops) {
  return RotatedModel(m, seed, ops).take_all();
}

}  // namespace axe
