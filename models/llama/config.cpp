#include "models/llama/config.h"

#include "runtime/error.h"

namespace axe {

void LlamaConfig::validate(const std::string& source) const {
  auto bad = [&](const std::string& what) { fail(AXE_ERR_FORMAT, source + ": inconsistent header: " + what); };
  auto in_range = [](int32_t v, int32_t lo, int32_t hi) { return v >= lo && v <= hi; };
  if (!in_range(dim, 1, 1 << 16)) bad("dim = " + std::to_string(dim));
  if (!in_range(hidden_dim, 1, 1 << 18)) bad("hidden_dim = " + std::to_string(hidden_dim));
  if (!in_range(n_layers, 1, 1024)) bad("n_layers = " + std::to_string(n_layers));
  if (!in_range(n_heads, 1, 1024)) bad("n_heads = " + std::to_string(n_heads));
  if (!in_range(n_kv_heads, 1, 1024)) bad("n_kv_heads = " + std::to_string(n_kv_heads));
  if (!in_range(vocab, 3, 1 << 22)) bad("vocab_size = " + std::to_string(vocab));
  if (!in_range(seq_len, 1, 1 << 22)) bad("seq_len = " + std::to_string(seq_len));
  if (dim % n_heads != 0)
    bad("n_heads = " + std::to_string(n_heads) + " does not divide dim = " + std::to_string(dim));
  if (n_heads % n_kv_heads != 0)
    bad("n_kv_heads = " + std::to_string(n_kv_heads) + " does not divide n_heads = " + std::to_string(n_heads));
  if (head_dim() % 2 != 0) bad("head size " + std::to_string(head_dim()) + " is odd (RoPE rotates pairs)");
}

}  // namespace axe
