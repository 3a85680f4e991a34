// Hyper-parameters of a Llama-style model.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace axe {

// How RoPE's frequencies are scaled for long contexts (Hugging Face's
// rope_scaling): none, "linear" (every frequency / factor) or "llama3"
// (low frequencies / factor, high ones kept, a smooth ramp between).
struct RopeScaling {
  enum class Kind : uint8_t { kNone, kLinear, kLlama3 };
  Kind kind = Kind::kNone;
  float factor = 1.0f;
  float low_freq_factor = 1.0f, high_freq_factor = 4.0f;  // llama3
  int32_t original_max_position = 8192;                    // llama3
  bool operator==(const RopeScaling&) const = default;
};

struct LlamaConfig {
  int32_t dim = 0, hidden_dim = 0, n_layers = 0, n_heads = 0, n_kv_heads = 0, vocab = 0, seq_len = 0;
  bool shared_classifier = true;
  float norm_eps = 1e-5f;
  float rope_base = 10000.0f;
  // A head's width when it is not dim / n_heads (Hugging Face head_dim); 0: dim / n_heads.
  int32_t head_size = 0;
  // Which elements of a head RoPE rotates together: adjacent pairs (2j, 2j+1)
  // as llama2.c and Meta's checkpoints store q and k, or the two halves
  // (j, j + head_dim/2) as Hugging Face's rotate_half does. Weights stay as
  // stored; the forward pass follows the layout.
  bool rope_halves = false;
  RopeScaling rope_scaling;
  // Per-pair divisors of RoPE's frequencies (GGUF's rope_freqs.weight, how
  // llama.cpp stores Llama 3.1's scaling); empty: none. head_dim()/2 values.
  std::vector<float> rope_freq_factors;

  int32_t head_dim() const { return head_size ? head_size : dim / n_heads; }
  int32_t q_dim() const { return head_dim() * n_heads; }  // the width of the attention's heads
  int32_t kv_dim() const { return head_dim() * n_kv_heads; }
  // The inverse frequency of RoPE pair j < head_dim()/2, scaling applied.
  std::vector<float> rope_inv_freq() const;
  // Throws AXE_ERR_FORMAT naming `source` when the numbers are inconsistent.
  void validate(const std::string& source) const;
};

}  // namespace axe
