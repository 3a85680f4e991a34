#include "api/eval/perplexity.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <cmath>
#include <memory>

#include "models/llama/forward.h"
#include "runtime/error.h"

namespace axe {
namespace {

struct ChunkScore {
  double nll = 0, nll2 = 0;
  uint64_t count = 0;
};

// -log softmax(logits)[target], in double.
double token_nll(const float* logits, size_t n_vocab, int32_t target) {
  float mx = logits[0];
  for (size_t i = 1; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (size_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  return std::log(sum) - (static_cast<double>(logits[target]) - mx);
}

}  // namespace

PerplexityResult perplexity(const LlamaModel& model, const Tokenizer& tokenizer, const Ops& ops,
                            tbb::task_arena& arena, int n_threads, std::string_view text,
                            const axe_perplexity_params& params) {
  const LlamaConfig& c = model.config;
  size_t n_ctx = params.n_ctx ? params.n_ctx : std::min<size_t>(512, c.seq_len);
  if (n_ctx < 4) fail(AXE_ERR_INVALID_ARGUMENT, "perplexity context of " + std::to_string(n_ctx) + " tokens is too small");
  const std::vector<int32_t> tokens = tokenizer.encode(text, true);
  const size_t available = tokens.size() / n_ctx;
  size_t n_chunks = available;
  if (params.n_chunks > 0) n_chunks = std::min<size_t>(n_chunks, params.n_chunks);
  if (n_chunks == 0)
    fail(AXE_ERR_INVALID_ARGUMENT, "the text has " + std::to_string(tokens.size()) +
                                       " tokens, fewer than one chunk of " + std::to_string(n_ctx) +
                                       " (use a smaller context)");
  const size_t first = params.score == AXE_SCORE_ALL ? 0 : n_ctx / 2;
  const size_t V = c.vocab;

  tbb::enumerable_thread_specific<std::unique_ptr<LlamaState>> states;
  std::vector<int8_t> want(n_ctx, 0);
  for (size_t j = first; j + 1 < n_ctx; ++j) want[j] = 1;

  PerplexityResult r;
  r.n_ctx = static_cast<uint32_t>(n_ctx);
  r.n_tokens_text = tokens.size();
  double nll = 0, nll2 = 0;
  uint64_t count = 0;
  const size_t wave = static_cast<size_t>(std::max(1, n_threads));
  std::vector<ChunkScore> scores(wave);
  for (size_t c0 = 0; c0 < n_chunks; c0 += wave) {
    const size_t c1 = std::min(n_chunks, c0 + wave);
    arena.execute([&] {
      tbb::parallel_for(size_t{c0}, c1, [&](size_t chunk) {
        auto& st = states.local();
        if (!st) st = std::make_unique<LlamaState>(model, n_ctx, n_ctx);
        std::vector<int32_t> toks(tokens.begin() + chunk * n_ctx, tokens.begin() + (chunk + 1) * n_ctx);
        // llama.cpp's protocol puts BOS in place of each chunk's first token;
        // GPTQ's scores each window from its own prefix as the text has it
        // (BOS only where the text starts).
        if (params.score == AXE_SCORE_HALF) toks[0] = Tokenizer::kBos;
        llama_forward(model, ops, *st, toks.data(), n_ctx, 0, want.data(), false);
        ChunkScore s;
        for (size_t j = first, row = 0; j + 1 < n_ctx; ++j, ++row) {
          const double v = token_nll(st->logits_row(row), V, toks[j + 1]);
          s.nll += v;
          s.nll2 += v * v;
          ++s.count;
        }
        scores[chunk - c0] = s;
      });
    });
    for (size_t chunk = c0; chunk < c1; ++chunk) {
      nll += scores[chunk - c0].nll;
      nll2 += scores[chunk - c0].nll2;
      count += scores[chunk - c0].count;
      if (params.on_chunk)
        params.on_chunk(static_cast<int32_t>(chunk), static_cast<int32_t>(n_chunks), std::exp(nll / count),
                        params.on_chunk_user_data);
    }
    if (params.progress && !params.progress(static_cast<float>(c1) / n_chunks, params.progress_user_data))
      fail(AXE_ERR_ABORTED, "perplexity aborted by the progress callback");
  }
  const double mean = nll / count;
  double var = nll2 / count - mean * mean;
  r.ppl = std::exp(mean);
  r.ppl_error = var > 0 && count > 1 ? std::sqrt(var / (count - 1)) * r.ppl : 0.0;
  r.n_chunks = static_cast<int32_t>(n_chunks);
  r.n_tokens_scored = count;
  return r;
}

}  // namespace axe
