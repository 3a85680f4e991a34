// The Llama architecture's tensors in one table: every tensor name, the
// shape of each linear layer and which input of the block it reads. Readers,
// writers, the forward pass's calibration stages and the quantizer all use
// this table, so a name is spelled once.
#pragma once
#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "models/llama/config.h"
#include "runtime/linear.h"

namespace axe {

struct LlamaLayer;

// Where in a decoder block a linear layer's input comes from. Linears with
// the same stage read the same input (the calibration groups), and a block
// can be run up to a stage's input and stopped there (llama_block_until).
enum class BlockStage : uint8_t {
  kAttentionIn = 0,   // RMSNorm(x) before attention: wq, wk, wv
  kAttentionOut = 1,  // the heads' outputs: wo
  kFfnIn = 2,         // RMSNorm(x) before the MLP: w1, w3
  kFfnOut = 3,        // silu(w1 x) * (w3 x): w2
  kEnd = 4,           // the whole block
};
constexpr std::array<BlockStage, 4> kBlockStages = {BlockStage::kAttentionIn, BlockStage::kAttentionOut,
                                                    BlockStage::kFfnIn, BlockStage::kFfnOut};

struct LlamaLinearInfo {
  const char* name;  // tensor name within a block: "attention.wq", ...
  std::unique_ptr<Linear> LlamaLayer::*member;
  BlockStage input;
};

// The seven linear layers of a block, in the order files store them.
constexpr size_t kLlamaLinears = 7;
const std::array<LlamaLinearInfo, kLlamaLinears>& llama_linears();
// [rows, cols] of the i-th linear layer of llama_linears() for config c.
std::array<uint64_t, 2> llama_linear_shape(const LlamaConfig& c, size_t i);

// Tensor names (llama2.c's, which .axe files use).
inline constexpr const char* kTensorEmbedding = "tok_embeddings.weight";
inline constexpr const char* kTensorFinalNorm = "norm.weight";
inline constexpr const char* kTensorClassifier = "output.weight";
inline constexpr const char* kTensorAttentionNorm = "attention_norm.weight";  // per block
inline constexpr const char* kTensorFfnNorm = "ffn_norm.weight";              // per block
// The classifier and the embedding as quantized files name them: the
// classifier is the linear layer "output" (codes, scales, its bits and its
// certificate entry under that name); the embedding table's 8-bit rows are
// "tok_embeddings" (docs/FORMAT.md).
inline constexpr const char* kClassifierLinear = "output";
inline constexpr const char* kEmbeddingRows = "tok_embeddings";
// "layers.3.attention.wq"
std::string llama_tensor_name(size_t layer, std::string_view what);

// The same tensors as other files name them: Hugging Face folders
// ("model.layers.3.self_attn.q_proj.weight") and llama.cpp's GGUF
// ("blk.3.attn_q.weight"). `what` is a name above: kTensorEmbedding,
// kTensorFinalNorm, kTensorClassifier, or a block's kTensorAttentionNorm,
// kTensorFfnNorm or linear ("attention.wq").
enum class TensorNaming : uint8_t { kHuggingFace, kGguf };
std::string foreign_tensor_name(TensorNaming naming, std::string_view what);
std::string foreign_tensor_name(TensorNaming naming, size_t layer, std::string_view what);

}  // namespace axe
