#include "models/llama/arch.h"

#include "models/llama/model.h"

namespace axe {

const std::array<LlamaLinearInfo, kLlamaLinears>& llama_linears() {
  static const std::array<LlamaLinearInfo, kLlamaLinears> table = {{
      {"attention.wq", &LlamaLayer::wq, BlockStage::kAttentionIn},
      {"attention.wk", &LlamaLayer::wk, BlockStage::kAttentionIn},
      {"attention.wv", &LlamaLayer::wv, BlockStage::kAttentionIn},
      {"attention.wo", &LlamaLayer::wo, BlockStage::kAttentionOut},
      {"feed_forward.w1", &LlamaLayer::w1, BlockStage::kFfnIn},
      {"feed_forward.w2", &LlamaLayer::w2, BlockStage::kFfnOut},
      {"feed_forward.w3", &LlamaLayer::w3, BlockStage::kFfnIn},
  }};
  return table;
}

std::array<uint64_t, 2> llama_linear_shape(const LlamaConfig& c, size_t i) {
  const uint64_t D = c.dim, H = c.hidden_dim, Q = c.q_dim(), KV = c.kv_dim();
  const std::array<uint64_t, 2> shapes[kLlamaLinears] = {{Q, D}, {KV, D}, {KV, D}, {D, Q}, {H, D}, {D, H}, {H, D}};
  return shapes[i];
}

std::string llama_tensor_name(size_t layer, std::string_view what) {
  return "layers." + std::to_string(layer) + "." + std::string(what);
}

}  // namespace axe
