// Hyper-parameters of a Llama-style model.
#pragma once
#include <cstdint>
#include <string>

namespace axe {

struct LlamaConfig {
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab = 0, seq_len = 0;
  bool shared_classifier = true;
  float norm_eps = 1e-5f;
  float rope_base = 10000.0f;

  int32_t head_dim() const { return dim / n_heads; }
  int32_t kv_dim() const { return head_dim() * n_kv_heads; }
  // Throws AXE_ERR_FORMAT naming `source` when the numbers are inconsistent.
  void validate(const std::string& source) const;
};

}  // namespace axe
