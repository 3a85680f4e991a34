// Perplexity over a text: the whole text is tokenized once, with BOS at its
// start, and cut into non-overlapping chunks of n_ctx tokens.
//  - score "half", llama.cpp llama-perplexity's protocol: each chunk's first
//    token is replaced by BOS and the second half is scored (logits at j
//    predict token j+1 for j in [n_ctx/2, n_ctx-1));
//  - score "all", GPTQ's protocol: each chunk keeps its own tokens and every
//    token but the first is scored from the chunk's own prefix.
// PPL = exp(mean NLL), and its error as llama-perplexity computes it.
// With KL divergence (api/eval/logits_file.h): "half" only; either the base
// file is written as well, or the base file's chunks are scored against its
// log-probabilities, with llama-perplexity --kl-divergence's statistics.
#pragma once
#include <tbb/task_arena.h>

#include <string_view>

#include "axe/axe.h"
#include "models/llama/model.h"
#include "runtime/ops/ops.h"

namespace axe {

// Chunks run in waves of `n_threads`, one chunk per thread, each chunk in one
// batched forward pass; callbacks run between waves, in chunk order. Fills
// every field of `out` but struct_size.
void perplexity(const LlamaModel& model, const Tokenizer& tokenizer, const Ops& ops, tbb::task_arena& arena,
                int n_threads, std::string_view text, const axe_perplexity_params& params, axe_perplexity_result& out);

}  // namespace axe
