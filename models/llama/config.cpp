#include "models/llama/config.h"

#include <cmath>
#include <numbers>

#include "runtime/error.h"

namespace axe {

std::vector<float> LlamaConfig::rope_inv_freq() const {
  const int32_t hd = head_dim();
  std::vector<float> f(static_cast<size_t>(hd / 2));
  for (size_t j = 0; j < f.size(); ++j) {
    const float inv = 1.0f / std::pow(rope_base, static_cast<float>(2 * j) / static_cast<float>(hd));
    switch (rope_scaling.kind) {
      case RopeScaling::Kind::kNone:
        f[j] = inv;
        break;
      case RopeScaling::Kind::kLinear:
        f[j] = inv / rope_scaling.factor;
        break;
      case RopeScaling::Kind::kLlama3: {
        // Hugging Face's _compute_llama3_parameters: wavelengths longer than
        // original / low_freq_factor are scaled by 1/factor, shorter than
        // original / high_freq_factor kept, and those between interpolated.
        const RopeScaling& r = rope_scaling;
        const double old_len = r.original_max_position;
        const double wavelen = 2.0 * std::numbers::pi / inv;
        const double low_wavelen = old_len / r.low_freq_factor, high_wavelen = old_len / r.high_freq_factor;
        if (wavelen > low_wavelen) {
          f[j] = inv / r.factor;
        } else if (wavelen < high_wavelen) {
          f[j] = inv;
        } else {
          const double smooth = (old_len / wavelen - r.low_freq_factor) / (r.high_freq_factor - r.low_freq_factor);
          f[j] = static_cast<float>((1.0 - smooth) * inv / r.factor + smooth * inv);
        }
        break;
      }
    }
    if (!rope_freq_factors.empty()) f[j] /= rope_freq_factors[j];
  }
  return f;
}

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
  if (head_size < 0 || head_size > (1 << 14)) bad("head_dim = " + std::to_string(head_size));
  if (head_size == 0 && dim % n_heads != 0)
    bad("n_heads = " + std::to_string(n_heads) + " does not divide dim = " + std::to_string(dim));
  if (int64_t{head_dim()} * n_heads > (1 << 18))
    bad("head_dim * n_heads = " + std::to_string(int64_t{head_dim()} * n_heads) + " is too large");
  if (n_heads % n_kv_heads != 0)
    bad("n_kv_heads = " + std::to_string(n_kv_heads) + " does not divide n_heads = " + std::to_string(n_heads));
  if (head_dim() % 2 != 0) bad("head size " + std::to_string(head_dim()) + " is odd (RoPE rotates pairs)");
  if (!(rope_base > 1.0f) || !std::isfinite(rope_base)) bad("rope_theta is not a finite number > 1");
  if (!(norm_eps > 0.0f) || !std::isfinite(norm_eps)) bad("rms_norm_eps is not a finite number > 0");
  if (!rope_freq_factors.empty()) {
    if (rope_freq_factors.size() != static_cast<size_t>(head_dim() / 2))
      bad(std::to_string(rope_freq_factors.size()) + " rope frequency factors for a head of " + std::to_string(head_dim()));
    for (float x : rope_freq_factors)
      if (!(x > 0) || !std::isfinite(x)) bad("a rope frequency factor is not a finite number > 0");
  }
  const RopeScaling& r = rope_scaling;
  if (r.kind != RopeScaling::Kind::kNone && (!(r.factor >= 1.0f) || !std::isfinite(r.factor)))
    bad("rope_scaling factor is not a finite number >= 1");
  if (r.kind == RopeScaling::Kind::kLlama3 &&
      (!(r.low_freq_factor > 0) || !std::isfinite(r.low_freq_factor) || !(r.high_freq_factor > r.low_freq_factor) ||
       !std::isfinite(r.high_freq_factor) || r.original_max_position < 1))
    bad("rope_scaling needs 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings >= 1");
}

}  // namespace axe
