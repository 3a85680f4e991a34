#include "models/llama/forward.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "runtime/error.h"
#include "runtime/parallel.h"

namespace axe {

LlamaState::LlamaState(const LlamaModel& model, size_t n_ctx, size_t n_batch)
    : n_ctx_(n_ctx),
      n_batch_(n_batch),
      vocab_(model.config.vocab),
      kv_(model.config.n_layers, model.config.kv_dim(), n_ctx) {
  const LlamaConfig& c = model.config;
  const size_t half = c.head_dim() / 2;
  const std::vector<float> inv_freq = c.rope_inv_freq();
  rope_cos_.resize(n_ctx * half);
  rope_sin_.resize(n_ctx * half);
  for (size_t p = 0; p < n_ctx; ++p)
    for (size_t j = 0; j < half; ++j) {
      const float angle = static_cast<float>(p) * inv_freq[j];
      rope_cos_[p * half + j] = std::cos(angle);
      rope_sin_[p * half + j] = std::sin(angle);
    }
  x_.resize(n_batch * c.dim);
  xb_.resize(n_batch * std::max(c.dim, c.q_dim()));
  q_.resize(n_batch * c.q_dim());
  k_.resize(n_batch * c.kv_dim());
  v_.resize(n_batch * c.kv_dim());
  hb_.resize(n_batch * c.hidden_dim);
  hb2_.resize(n_batch * c.hidden_dim);
  logits_.resize(n_batch * vocab_);
}

uint64_t LlamaState::kv_bytes(const LlamaConfig& c, size_t n_ctx) {
  return KvCache::bytes(static_cast<size_t>(c.n_layers), static_cast<size_t>(c.kv_dim()), n_ctx);
}

uint64_t LlamaState::scratch_bytes(const LlamaConfig& c, size_t n_ctx, size_t n_batch) {
  const uint64_t rope = uint64_t{n_ctx} * static_cast<uint64_t>(c.head_dim());  // cos and sin, half each
  const uint64_t per_token = uint64_t(c.dim) + uint64_t(std::max(c.dim, c.q_dim())) + uint64_t(c.q_dim()) + 2 * uint64_t(c.kv_dim()) + 2 * uint64_t(c.hidden_dim) + uint64_t(c.vocab);
  return 4 * (rope + per_token * n_batch);
}

namespace {

// Rotates pair j of each head by the angles of pos: the adjacent elements
// (2j, 2j+1), or with `halves` the elements (j, j + head_dim/2).
void rope(float* v, size_t n, size_t head_dim, const float* cos_row, const float* sin_row, bool halves) {
  const size_t half = head_dim / 2;
  const size_t step = halves ? 1 : 2, other = halves ? half : 1;
  for (size_t h = 0; h < n; h += head_dim)
    for (size_t j = 0; j < half; ++j) {
      float* a = v + h + j * step;
      float* b = a + other;
      const float x = *a, y = *b;
      *a = x * cos_row[j] - y * sin_row[j];
      *b = x * sin_row[j] + y * cos_row[j];
    }
}

// Fails with AXE_ERR_NUMERIC at the first of n rows (stride ld, `cols`
// floats) that holds a NaN or an infinity: where a damaged weight first makes
// a non-finite activation, before it reaches a kernel or the logits. With
// `parallel` the rows are scanned on the arena's threads (in prefill this was
// a serial pass over every activation, ~2% of a W4A8 pp512 at two threads);
// each chunk stops at its own first bad row and the smallest index wins, so
// the error names the same row as the serial scan.
void check_finite(const LlamaModel& m, const float* x, size_t n, size_t cols, size_t ld, size_t pos0, size_t layer,
                  const char* where, bool parallel) {
  auto finite_row = [&](size_t i) {
    const float* row = x + i * ld;
    uint32_t all_ones = 0;  // an exponent of all ones is an infinity or a NaN
    for (size_t k = 0; k < cols; ++k) {
      uint32_t bits;
      std::memcpy(&bits, row + k, 4);
      all_ones |= (bits & 0x7f800000u) == 0x7f800000u;
    }
    return all_ones == 0;
  };
  std::atomic<size_t> first{SIZE_MAX};
  parallel_rows(n, 4, parallel && n * cols >= (size_t{1} << 14), [&](size_t a, size_t b) {
    for (size_t i = a; i < b; ++i)
      if (!finite_row(i)) {
        size_t seen = first.load(std::memory_order_relaxed);
        while (i < seen && !first.compare_exchange_weak(seen, i, std::memory_order_relaxed)) {
        }
        return;
      }
  });
  const size_t i = first.load(std::memory_order_relaxed);
  if (i != SIZE_MAX)
    fail(AXE_ERR_NUMERIC, m.path + ": " + (layer == SIZE_MAX ? std::string() : "layer " + std::to_string(layer) + ": ") +
                              where + " is not finite " +
                              (pos0 == SIZE_MAX ? "in output row " + std::to_string(i) : "at position " + std::to_string(pos0 + i)) +
                              " (a damaged weight, or activations beyond the float range)");
}

}  // namespace

void llama_embed(const LlamaModel& model, LlamaState& s, const int32_t* tokens, size_t n) {
  const size_t D = model.config.dim;
  if (model.embedding_codes) {  // 8-bit rows, dequantized as they are looked up
    for (size_t i = 0; i < n; ++i) {
      const size_t t = static_cast<size_t>(tokens[i]);
      const int8_t* q = model.embedding_codes + t * D;
      const float scale = model.embedding_scales[t];
      for (size_t k = 0; k < D; ++k) s.x_[i * D + k] = scale * static_cast<float>(q[k]);
    }
    return;
  }
  if (model.embedding_half) {
    for (size_t i = 0; i < n; ++i) model.embedding_half->widen_row(static_cast<size_t>(tokens[i]), &s.x_[i * D]);
    return;
  }
  for (size_t i = 0; i < n; ++i) std::memcpy(&s.x_[i * D], model.embedding + size_t(tokens[i]) * D, D * sizeof(float));
}

void llama_block(const LlamaModel& model, const Ops& ops, LlamaState& s, size_t l, size_t n, size_t pos0,
                 bool parallel) {
  llama_block_until(model, ops, s, l, n, pos0, parallel, BlockStage::kEnd);
}

// The block's body, with access to the state's buffers.
struct LlamaBlockRun {
  static StageInput run(const LlamaModel& model, const Ops& ops, LlamaState& s, size_t l, size_t n, size_t pos0,
                        bool parallel, BlockStage from, BlockStage stop, bool last_of_forward,
                        const int8_t* want_logits);
};

StageInput llama_block_until(const LlamaModel& model, const Ops& ops, LlamaState& s, size_t l, size_t n,
                             size_t pos0, bool parallel, BlockStage stop, bool last_of_forward,
                             const int8_t* want_logits) {
  return LlamaBlockRun::run(model, ops, s, l, n, pos0, parallel, BlockStage::kAttentionIn, stop, last_of_forward,
                            want_logits);
}

StageInput llama_block_resume(const LlamaModel& model, const Ops& ops, LlamaState& s, size_t l, size_t n,
                              size_t pos0, bool parallel, BlockStage from, BlockStage stop) {
  if (from > stop || from == BlockStage::kFfnOut || from == BlockStage::kEnd)
    fail(AXE_ERR_INTERNAL, "llama_block_resume: a block resumes at attention.wo or feed_forward.w1/w3, before its stop");
  return LlamaBlockRun::run(model, ops, s, l, n, pos0, parallel, from, stop, false, nullptr);
}

StageInput LlamaBlockRun::run(const LlamaModel& model, const Ops& ops, LlamaState& s, size_t l, size_t n,
                              size_t pos0, bool parallel, BlockStage from, BlockStage stop, bool last_of_forward,
                              const int8_t* want_logits) {
  const LlamaConfig& c = model.config;
  const size_t D = c.dim, H = c.hidden_dim, Q = c.q_dim(), KV = c.kv_dim(), HD = c.head_dim(), half = HD / 2;
  const size_t n_heads = c.n_heads, kv_mul = c.n_heads / c.n_kv_heads;
  float* x = s.x_.data();
  float* xb = s.xb_.data();
  float* q = s.q_.data();
  auto norm_rows = [&](const float* w) {
    parallel_rows(n, 8, parallel && n >= 16, [&](size_t a, size_t b) {
      for (size_t i = a; i < b; ++i) ops.rmsnorm(x + i * D, w, xb + i * D, D, c.norm_eps);
    });
  };
  // A rotated model's linear layers read H^T x (models/llama/rotation.h).
  auto rotate_rows = [&](float* a, size_t cols, BlockStage stage) {
    if (!model.rotation) return;
    const float* d = model.rotation->factors(l, stage);
    parallel_rows(n, 4, parallel && n >= 8, [&](size_t i0, size_t i1) {
      for (size_t i = i0; i < i1; ++i) ops.hadamard(a + i * cols, d, cols);
    });
  };
  const LlamaLayer& ly = model.layers[l];
  float* kc = s.kv_.keys(l);
  float* vc = s.kv_.values(l);
  const size_t ld = s.kv_.ld();

  if (from == BlockStage::kAttentionIn) {
    norm_rows(ly.rms_att);
    rotate_rows(xb, D, BlockStage::kAttentionIn);
    check_finite(model, xb, n, D, D, pos0, l, "the input of attention.wq/wk/wv", parallel);
    if (stop == BlockStage::kAttentionIn) return {xb, D};
    ly.wq->forward(ops, xb, D, n, q, Q, false, parallel);
    ly.wk->forward(ops, xb, D, n, s.k_.data(), KV, false, parallel);
    ly.wv->forward(ops, xb, D, n, s.v_.data(), KV, false, parallel);
    parallel_rows(n, 4, parallel && n >= 16, [&](size_t a, size_t b) {
      for (size_t i = a; i < b; ++i) {
        const size_t p = pos0 + i;
        rope(q + i * Q, Q, HD, &s.rope_cos_[p * half], &s.rope_sin_[p * half], c.rope_halves);
        rope(&s.k_[i * KV], KV, HD, &s.rope_cos_[p * half], &s.rope_sin_[p * half], c.rope_halves);
      }
    });
    s.kv_.store(l, pos0, n, s.k_.data(), s.v_.data(), parallel);
    // Attention: jobs of (block of kAttnBlock consecutive tokens, head), each
    // independent, in a fixed order: the blocks alternate from both ends (0,
    // last, 1, last - 1, ...) so that the contiguous job ranges of the threads
    // get similar numbers of causal positions. An output's bits do not depend
    // on its block (Ops::attention), so neither on the split nor on n.
    constexpr size_t kAttnBlock = 16;
    const size_t n_blocks = (n + kAttnBlock - 1) / kAttnBlock;
    parallel_rows(n_blocks * n_heads, 1, parallel && n * n_heads * (pos0 + n) >= 4096, [&](size_t a, size_t b) {
      std::vector<float> scratch(attention_scratch_size(std::min(n, kAttnBlock), pos0 + n));
      for (size_t job = a; job < b; ++job) {
        const size_t r = job / n_heads, h = job % n_heads, kvh = h / kv_mul;
        const size_t blk = r % 2 ? n_blocks - 1 - r / 2 : r / 2;
        const size_t i0 = blk * kAttnBlock, n_q = std::min(kAttnBlock, n - i0);
        ops.attention(q + i0 * Q + h * HD, Q, n_q, kc + kvh * HD * ld, vc + kvh * HD * ld, ld, pos0 + i0 + 1, HD,
                      scratch.data(), xb + i0 * Q + h * HD, Q);
      }
    });
    rotate_rows(xb, Q, BlockStage::kAttentionOut);
    check_finite(model, xb, n, Q, Q, pos0, l, "the attention output (the input of attention.wo)", parallel);
  }
  if (from <= BlockStage::kAttentionOut) {
    if (stop == BlockStage::kAttentionOut) return {xb, Q};
    ly.wo->forward(ops, xb, Q, n, x, D, true, parallel);
  }

  // In the last block only the rows that give logits need the rest (llama.cpp
  // does the same): they move, in order, to the first rows. Positions then no
  // longer follow from the row, so errors name the row.
  if (last_of_forward) {
    size_t kept = 0;
    for (size_t i = 0; i < n; ++i)
      if (llama_wants_logits(want_logits, i, n)) {
        if (kept != i) std::memmove(x + kept * D, x + i * D, D * sizeof(float));
        ++kept;
      }
    n = kept;
    pos0 = SIZE_MAX;
  }
  norm_rows(ly.rms_ffn);
  rotate_rows(xb, D, BlockStage::kFfnIn);
  check_finite(model, xb, n, D, D, pos0, l, "the input of feed_forward.w1/w3", parallel);
  if (stop == BlockStage::kFfnIn) return {xb, D};
  ly.w1->forward(ops, xb, D, n, s.hb_.data(), H, false, parallel);
  ly.w3->forward(ops, xb, D, n, s.hb2_.data(), H, false, parallel);
  parallel_rows(n, 4, parallel && n >= 16, [&](size_t a, size_t b) {
    for (size_t i = a; i < b; ++i) ops.silu_mul(s.hb_.data() + i * H, s.hb2_.data() + i * H, H);
  });
  rotate_rows(s.hb_.data(), H, BlockStage::kFfnOut);
  check_finite(model, s.hb_.data(), n, H, H, pos0, l, "the input of feed_forward.w2", parallel);
  if (stop == BlockStage::kFfnOut) return {s.hb_.data(), H};
  ly.w2->forward(ops, s.hb_.data(), H, n, x, D, true, parallel);
  return {x, D};
}

void llama_head(const LlamaModel& model, const Ops& ops, LlamaState& s, size_t n, const int8_t* want_logits,
                bool parallel, bool rows_packed) {
  const LlamaConfig& c = model.config;
  const size_t D = c.dim;
  // Final norm and classifier for the requested rows only, packed in order.
  size_t n_out = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool want = rows_packed || llama_wants_logits(want_logits, i, n);
    if (!want) continue;
    ops.rmsnorm(&s.x_[i * D], model.rms_final, &s.xb_[n_out * D], D, c.norm_eps);
    ++n_out;
  }
  if (n_out) {
    check_finite(model, s.xb_.data(), n_out, D, D, SIZE_MAX, SIZE_MAX, "the input of the classifier", parallel);
    model.classifier->forward(ops, s.xb_.data(), D, n_out, s.logits_.data(), s.vocab_, false, parallel);
    check_finite(model, s.logits_.data(), n_out, s.vocab_, s.vocab_, SIZE_MAX, SIZE_MAX, "the logits", parallel);
  }
}

void llama_forward(const LlamaModel& model, const Ops& ops, LlamaState& s, const int32_t* tokens, size_t n,
                   size_t pos0, const int8_t* want_logits, bool parallel) {
  llama_embed(model, s, tokens, n);
  const size_t L = model.layers.size();
  size_t n_out = 0;
  for (size_t i = 0; i < n; ++i) n_out += llama_wants_logits(want_logits, i, n);
  if (L == 0 || n_out == n) {
    for (size_t l = 0; l < L; ++l) llama_block(model, ops, s, l, n, pos0, parallel);
    llama_head(model, ops, s, n, want_logits, parallel);
    return;
  }
  for (size_t l = 0; l + 1 < L; ++l) llama_block(model, ops, s, l, n, pos0, parallel);
  llama_block_until(model, ops, s, L - 1, n, pos0, parallel, BlockStage::kEnd, true, want_logits);
  llama_head(model, ops, s, n_out, nullptr, parallel, true);
}

}  // namespace axe
