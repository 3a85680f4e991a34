// An independent, deliberately plain reference of transformers'
// LlamaForCausalLM forward pass for tests (the style of reference_llama.h):
// weights in Hugging Face's layout given as floats, one token at a time in
// double precision, sharing no code with the library or with the folder
// writer. What it follows, from modeling_llama.py and modeling_rope_utils.py:
//   - q_proj [heads * head_dim][hidden], k_proj/v_proj [kv_heads * head_dim]
//     [hidden], o_proj [hidden][heads * head_dim]: head_dim is its own number;
//     query head h reads key/value head h / (heads / kv_heads) (GQA)
//   - inv_freq[j] = 1 / theta^(2j / head_dim), scaled by rope_scaling (none,
//     linear: / factor, llama3: _compute_llama3_parameters); cos and sin of
//     cat(freqs, freqs); q * cos + rotate_half(q) * sin, rotate_half(x) =
//     cat(-x2, x1)
//   - softmax(q k / sqrt(head_dim)) v; RMSNorm x / sqrt(mean(x^2) + eps) * w;
//     SiLU(gate) * up -> down; lm_head or the tied embedding
// 16-bit weights are widened by the test from their raw bits with the
// functions here (bf16_bits_to_float, f16_bits_to_float).
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

namespace reference {

// The exact value of a bfloat16 (the top half of a binary32).
inline float bf16_bits_to_float(uint16_t h) {
  const uint32_t u = uint32_t{h} << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// The exact value of an IEEE binary16, computed arithmetically.
inline float f16_bits_to_float(uint16_t h) {
  const int sign = (h & 0x8000) ? -1 : 1;
  const int e = (h >> 10) & 0x1f;
  const int m = h & 0x3ff;
  if (e == 31) return m ? std::nanf("") : sign * INFINITY;
  if (e == 0) return static_cast<float>(sign * std::ldexp(double(m), -24));
  return static_cast<float>(sign * std::ldexp(double(1024 + m), e - 25));
}

struct HfRopeScaling {
  enum Kind { kNone, kLinear, kLlama3 } kind = kNone;
  double factor = 1, low_freq_factor = 1, high_freq_factor = 4;
  double original_max_position_embeddings = 8192;
};

struct HfLayer {
  std::vector<float> input_layernorm, post_attention_layernorm;  // [hidden]
  std::vector<float> q_proj, k_proj, v_proj, o_proj;             // HF layout, [out][in]
  std::vector<float> gate_proj, up_proj, down_proj;
};

struct HfWeights {
  int hidden = 0, intermediate = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  double rope_theta = 10000, rms_norm_eps = 1e-6;
  HfRopeScaling rope_scaling;
  bool tie_word_embeddings = true;
  std::vector<float> embed_tokens;  // [vocab][hidden]
  std::vector<HfLayer> layers;
  std::vector<float> norm;     // [hidden]
  std::vector<float> lm_head;  // [vocab][hidden]; unused when tied
};

// inv_freq as modeling_rope_utils.py computes it (in double here).
inline std::vector<double> hf_inv_freq(int head_dim, double theta, const HfRopeScaling& rs) {
  std::vector<double> inv(head_dim / 2);
  for (int j = 0; j < head_dim / 2; ++j) inv[j] = 1.0 / std::pow(theta, double(2 * j) / head_dim);
  if (rs.kind == HfRopeScaling::kLinear) {
    for (double& f : inv) f /= rs.factor;
  } else if (rs.kind == HfRopeScaling::kLlama3) {
    // _compute_llama3_parameters.
    const double old_len = rs.original_max_position_embeddings;
    const double low_freq_wavelen = old_len / rs.low_freq_factor;
    const double high_freq_wavelen = old_len / rs.high_freq_factor;
    for (double& f : inv) {
      const double wavelen = 2 * std::numbers::pi / f;
      // inv_freq_llama = where(wavelen > low_freq_wavelen, inv_freq / factor, inv_freq)
      const double llama = wavelen > low_freq_wavelen ? f / rs.factor : f;
      const double smooth = (old_len / wavelen - rs.low_freq_factor) / (rs.high_freq_factor - rs.low_freq_factor);
      const double smoothed = (1 - smooth) * llama / rs.factor + smooth * llama;
      const bool medium = !(wavelen < high_freq_wavelen) && !(wavelen > low_freq_wavelen);
      f = medium ? smoothed : llama;
    }
  }
  return inv;
}

class HfLlama {
 public:
  HfLlama(HfWeights w, int max_pos) : w_(std::move(w)), max_pos_(max_pos) {
    const size_t H = w_.hidden, Q = size_t(w_.heads) * w_.head_dim, KV = size_t(w_.kv_heads) * w_.head_dim,
                 I = w_.intermediate, V = w_.vocab;
    auto need = [](const std::vector<float>& v, size_t n, const char* what) {
      if (v.size() != n) throw std::runtime_error(std::string("reference::HfLlama: ") + what + " has the wrong size");
    };
    if (w_.heads % w_.kv_heads || w_.head_dim % 2) throw std::runtime_error("reference::HfLlama: bad heads");
    need(w_.embed_tokens, V * H, "embed_tokens");
    need(w_.norm, H, "norm");
    if (!w_.tie_word_embeddings) need(w_.lm_head, V * H, "lm_head");
    for (const HfLayer& l : w_.layers) {
      need(l.input_layernorm, H, "input_layernorm");
      need(l.post_attention_layernorm, H, "post_attention_layernorm");
      need(l.q_proj, Q * H, "q_proj");
      need(l.k_proj, KV * H, "k_proj");
      need(l.v_proj, KV * H, "v_proj");
      need(l.o_proj, H * Q, "o_proj");
      need(l.gate_proj, I * H, "gate_proj");
      need(l.up_proj, I * H, "up_proj");
      need(l.down_proj, H * I, "down_proj");
    }
    inv_freq_ = hf_inv_freq(w_.head_dim, w_.rope_theta, w_.rope_scaling);
    kc_.assign(w_.layers.size() * max_pos * KV, 0.0);
    vc_.assign(w_.layers.size() * max_pos * KV, 0.0);
  }

  // Logits after feeding `token` at position `pos` (positions in order from 0).
  std::vector<double> step(int token, int pos) {
    if (pos < 0 || pos >= max_pos_ || token < 0 || token >= w_.vocab) throw std::runtime_error("reference: bad step");
    const int H = w_.hidden, HD = w_.head_dim, NQ = w_.heads, NKV = w_.kv_heads;
    const size_t Q = size_t(NQ) * HD, KV = size_t(NKV) * HD;
    std::vector<double> x(H), xn(H), q(Q), attn(Q), out(H), gate(w_.intermediate), up(w_.intermediate);
    for (int i = 0; i < H; ++i) x[i] = w_.embed_tokens[size_t(token) * H + i];

    // cos, sin = cat(freqs, freqs) at this position.
    std::vector<double> cos(HD), sin(HD);
    for (int j = 0; j < HD; ++j) {
      const double angle = pos * inv_freq_[j % (HD / 2)];
      cos[j] = std::cos(angle);
      sin[j] = std::sin(angle);
    }
    auto apply_rope = [&](double* v) {  // one head: v * cos + rotate_half(v) * sin
      std::vector<double> rot(HD);
      for (int j = 0; j < HD / 2; ++j) {
        rot[j] = -v[j + HD / 2];
        rot[j + HD / 2] = v[j];
      }
      for (int j = 0; j < HD; ++j) v[j] = v[j] * cos[j] + rot[j] * sin[j];
    };

    for (size_t l = 0; l < w_.layers.size(); ++l) {
      const HfLayer& L = w_.layers[l];
      rmsnorm(x, L.input_layernorm, xn);
      double* k = &kc_[(l * max_pos_ + pos) * KV];
      double* v = &vc_[(l * max_pos_ + pos) * KV];
      linear(L.q_proj, xn, Q, q.data());
      linear(L.k_proj, xn, KV, k);
      linear(L.v_proj, xn, KV, v);
      for (int h = 0; h < NQ; ++h) apply_rope(&q[size_t(h) * HD]);
      for (int h = 0; h < NKV; ++h) apply_rope(&k[size_t(h) * HD]);
      std::vector<double> score(pos + 1);
      for (int h = 0; h < NQ; ++h) {
        const int kvh = h / (NQ / NKV);
        double mx = -INFINITY;
        for (int t = 0; t <= pos; ++t) {
          const double* kt = &kc_[(l * max_pos_ + t) * KV + size_t(kvh) * HD];
          double s = 0;
          for (int i = 0; i < HD; ++i) s += q[size_t(h) * HD + i] * kt[i];
          score[t] = s / std::sqrt(double(HD));
          mx = std::max(mx, score[t]);
        }
        double sum = 0;
        for (int t = 0; t <= pos; ++t) sum += score[t] = std::exp(score[t] - mx);
        for (int i = 0; i < HD; ++i) {
          double o = 0;
          for (int t = 0; t <= pos; ++t) o += score[t] / sum * vc_[(l * max_pos_ + t) * KV + size_t(kvh) * HD + i];
          attn[size_t(h) * HD + i] = o;
        }
      }
      linear(L.o_proj, attn, H, out.data());
      for (int i = 0; i < H; ++i) x[i] += out[i];
      rmsnorm(x, L.post_attention_layernorm, xn);
      linear(L.gate_proj, xn, w_.intermediate, gate.data());
      linear(L.up_proj, xn, w_.intermediate, up.data());
      for (int i = 0; i < w_.intermediate; ++i) gate[i] = gate[i] / (1 + std::exp(-gate[i])) * up[i];
      linear(L.down_proj, gate, H, out.data());
      for (int i = 0; i < H; ++i) x[i] += out[i];
    }
    rmsnorm(x, w_.norm, xn);
    std::vector<double> logits(w_.vocab);
    linear(w_.tie_word_embeddings ? w_.embed_tokens : w_.lm_head, xn, w_.vocab, logits.data());
    return logits;
  }

  const std::vector<double>& inv_freq() const { return inv_freq_; }

 private:
  // out[r] = sum_c w[r][c] x[c], w [rows][x.size()].
  static void linear(const std::vector<float>& w, const std::vector<double>& x, size_t rows, double* out) {
    const size_t n = x.size();
    for (size_t r = 0; r < rows; ++r) {
      double s = 0;
      for (size_t c = 0; c < n; ++c) s += double(w[r * n + c]) * x[c];
      out[r] = s;
    }
  }
  void rmsnorm(const std::vector<double>& x, const std::vector<float>& w, std::vector<double>& out) const {
    double ss = 0;
    for (double v : x) ss += v * v;
    const double inv = 1 / std::sqrt(ss / double(x.size()) + w_.rms_norm_eps);
    for (size_t i = 0; i < x.size(); ++i) out[i] = w[i] * (x[i] * inv);
  }

  HfWeights w_;
  int max_pos_;
  std::vector<double> inv_freq_;
  std::vector<double> kc_, vc_;
};

}  // namespace reference
