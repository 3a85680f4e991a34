// The Llama forward pass (llama2.c semantics: RMSNorm, RoPE on adjacent
// pairs, GQA attention over a KV cache, SwiGLU MLP, tied or separate
// classifier), batched: n tokens at consecutive positions at once. With one
// token it is the decode path (matrix-vector products), with many the prefill
// path (matrix-matrix products).
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "models/llama/model.h"
#include "runtime/aligned_buffer.h"
#include "runtime/kv_cache.h"
#include "runtime/ops/ops.h"

namespace axe {

// The input of a block stage's linears: n rows of the stage's columns, row
// stride ld, inside the state's scratch.
struct StageInput {
  const float* x = nullptr;
  size_t ld = 0;
};

// One sequence's KV cache and scratch buffers.
class LlamaState {
 public:
  LlamaState(const LlamaModel& model, size_t n_ctx, size_t n_batch);
  // What a state of this size takes: the KV cache, and the RoPE tables and
  // scratch (allocated at once), in bytes.
  static uint64_t kv_bytes(const LlamaConfig& c, size_t n_ctx);
  static uint64_t scratch_bytes(const LlamaConfig& c, size_t n_ctx, size_t n_batch);
  size_t n_ctx() const { return n_ctx_; }
  size_t n_batch() const { return n_batch_; }
  // Logits of the tokens that asked for them in the last forward, in order.
  const float* logits_row(size_t j) const { return logits_.data() + j * vocab_; }
  // The hidden state of the current batch, [n_batch][dim].
  float* hidden() { return x_.data(); }
  // The attention output of the current batch, [n_batch][q_dim]: what a
  // block stopped at BlockStage::kAttentionOut returns, and what one resumed
  // there reads (llama_block_resume).
  float* attention_output() { return xb_.data(); }

 private:
  friend void llama_embed(const LlamaModel&, LlamaState&, const int32_t*, size_t);
  friend struct LlamaBlockRun;
  friend void llama_head(const LlamaModel&, const Ops&, LlamaState&, size_t, const int8_t*, bool, bool);
  size_t n_ctx_, n_batch_, vocab_;
  KvCache kv_;
  std::vector<float> rope_cos_, rope_sin_;      // [pos][head_dim / 2]
  // Cache-line aligned, and every row too when dim, q_dim, kv_dim and
  // hidden_dim are multiples of 16 (all real shapes).
  AlignedBuffer<float> x_, xb_, q_, k_, v_, hb_, hb2_, logits_;
};

// Whether row i of an n-token batch wants logits: want_logits[i] != 0, or,
// when want_logits is null, only the last row.
inline bool llama_wants_logits(const int8_t* want_logits, size_t i, size_t n) {
  return want_logits ? want_logits[i] != 0 : i + 1 == n;
}

// Runs tokens[0..n) at positions pos0..pos0+n (n <= state.n_batch(),
// pos0 + n <= state.n_ctx()). Logits are computed for the tokens with
// want_logits[i] != 0 (all rows in order), or only for the last token when
// want_logits is null. `parallel` uses the threads of the current arena.
void llama_forward(const LlamaModel& model, const Ops& ops, LlamaState& state, const int32_t* tokens, size_t n,
                   size_t pos0, const int8_t* want_logits, bool parallel);

// The three stages of llama_forward, for callers that run blocks one at a
// time (calibration): token embeddings into the hidden state; one decoder
// block over the hidden state of n tokens at positions pos0..; final norm and
// classifier.
void llama_embed(const LlamaModel& model, LlamaState& state, const int32_t* tokens, size_t n);
void llama_block(const LlamaModel& model, const Ops& ops, LlamaState& state, size_t layer, size_t n, size_t pos0,
                 bool parallel);
// Runs block `layer` only up to the input of the linears of `stop` and
// returns that input (calibration captures it); BlockStage::kEnd runs the
// whole block, as llama_block does. With `last_of_forward`, the block is the
// last one of a forward pass: its attention half runs for every row (each
// row's keys and values enter the cache), its feed-forward half only for the
// rows whose logits are wanted (want_logits as for llama_forward), which are
// first moved, in order, to the first rows of the hidden state; the returned
// input then has one row per wanted row.
StageInput llama_block_until(const LlamaModel& model, const Ops& ops, LlamaState& state, size_t layer, size_t n,
                             size_t pos0, bool parallel, BlockStage stop, bool last_of_forward = false,
                             const int8_t* want_logits = nullptr);
// Runs block `layer` from `from` up to the input of `stop` (from <= stop),
// giving the bits a whole run would give: calibration computes a stage's
// input once and resumes from it (quant/calibration.h).
//  - from == kAttentionOut: hidden() holds the block's input and
//    attention_output() the rows an earlier llama_block_until(..., stop =
//    kAttentionOut) of this block returned; the cache is not touched.
//  - from == kFfnIn: hidden() holds the block's residual stream after
//    attention, as an earlier llama_block_until(..., stop = kFfnIn) of this
//    block left it.
//  - from == kAttentionIn: llama_block_until.
StageInput llama_block_resume(const LlamaModel& model, const Ops& ops, LlamaState& state, size_t layer, size_t n,
                              size_t pos0, bool parallel, BlockStage from, BlockStage stop);
// Final norm and classifier for the rows that want logits, or, with
// `rows_packed`, for all n rows (the ones a last block kept, in order).
void llama_head(const LlamaModel& model, const Ops& ops, LlamaState& state, size_t n, const int8_t* want_logits,
                bool parallel, bool rows_packed = false);

}  // namespace axe
