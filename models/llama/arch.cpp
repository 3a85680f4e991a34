#include "models/llama/arch.h"

#include "models/llama/model.h"
#include "runtime/error.h"

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

namespace {

// Every tensor name in one table: axe's (llama2.c's), Hugging Face's, GGUF's.
struct TensorNames {
  const char* axe;
  const char* hf;
  const char* gguf;
};
constexpr TensorNames kGlobalNames[] = {
    {kTensorEmbedding, "model.embed_tokens.weight", "token_embd.weight"},
    {kTensorFinalNorm, "model.norm.weight", "output_norm.weight"},
    {kTensorClassifier, "lm_head.weight", "output.weight"},
};
constexpr TensorNames kBlockNames[] = {
    {kTensorAttentionNorm, "input_layernorm.weight", "attn_norm.weight"},
    {kTensorFfnNorm, "post_attention_layernorm.weight", "ffn_norm.weight"},
    {"attention.wq", "self_attn.q_proj.weight", "attn_q.weight"},
    {"attention.wk", "self_attn.k_proj.weight", "attn_k.weight"},
    {"attention.wv", "self_attn.v_proj.weight", "attn_v.weight"},
    {"attention.wo", "self_attn.o_proj.weight", "attn_output.weight"},
    {"feed_forward.w1", "mlp.gate_proj.weight", "ffn_gate.weight"},
    {"feed_forward.w2", "mlp.down_proj.weight", "ffn_down.weight"},
    {"feed_forward.w3", "mlp.up_proj.weight", "ffn_up.weight"},
};

const char* pick(const TensorNames& n, TensorNaming naming) { return naming == TensorNaming::kGguf ? n.gguf : n.hf; }

}  // namespace

std::string foreign_tensor_name(TensorNaming naming, std::string_view what) {
  for (const TensorNames& n : kGlobalNames)
    if (what == n.axe) return pick(n, naming);
  fail(AXE_ERR_INTERNAL, "no foreign name for tensor '" + std::string(what) + "'");
}

std::string foreign_tensor_name(TensorNaming naming, size_t layer, std::string_view what) {
  const std::string prefix = (naming == TensorNaming::kGguf ? "blk." : "model.layers.") + std::to_string(layer) + ".";
  for (const TensorNames& n : kBlockNames)
    if (what == n.axe) return prefix + pick(n, naming);
  fail(AXE_ERR_INTERNAL, "no foreign name for block tensor '" + std::string(what) + "'");
}

}  // namespace axe
