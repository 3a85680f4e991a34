// Perplexity over a text, llama.cpp llama-perplexity's protocol: the whole
// text is tokenized once with BOS and cut into non-overlapping chunks of n_ctx
// tokens; each chunk's first token is replaced by BOS; with score "half" the
// tokens of the second half of each chunk are scored (logits at j predict
// token j+1 for j in [n_ctx/2, n_ctx-1)), with "all" every token but the
// first. PPL = exp(mean NLL), and its error as llama-perplexity computes it.
#pragma once
#include <tbb/task_arena.h>

#include <functional>
#include <string_view>

#include "axe/axe.h"
#include "models/llama/model.h"
#include "runtime/ops/ops.h"

namespace axe {

struct PerplexityResult {
  double ppl = 0, ppl_error = 0;
  int32_t n_chunks = 0;
  uint32_t n_ctx = 0;
  uint64_t n_tokens_text = 0, n_tokens_scored = 0;
};

// Chunks run in waves of `n_threads`, one chunk per thread, each chunk in one
// batched forward pass; callbacks run between waves, in chunk order.
PerplexityResult perplexity(const LlamaModel& model, const Tokenizer& tokenizer, const Ops& ops,
                            tbb::task_arena& arena, int n_threads, std::string_view text,
                            const axe_perplexity_params& params);

}  // namespace axe
