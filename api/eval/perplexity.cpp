#include "api/eval/perplexity.h"

#include <tbb/enumerable_thread_specific.h>
#include <tbb/parallel_for.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "api/eval/logits_file.h"
#include "models/llama/forward.h"
#include "runtime/error.h"
#include "runtime/threads.h"

namespace axe {
namespace {

// What one chunk contributes, kept until its wave is summed in chunk order.
struct ChunkScore {
  double nll = 0, nll2 = 0;
  uint64_t count = 0;
  std::vector<uint16_t> base_rows;   // writing a base file
  KldSums kld;                       // scoring against one
  std::vector<float> kld_values, p_diff_values;
};

// -log softmax(logits)[target], in double.
double token_nll(const float* logits, size_t n_vocab, int32_t target) {
  float mx = logits[0];
  for (size_t i = 1; i < n_vocab; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (size_t i = 0; i < n_vocab; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  return std::log(sum) - (static_cast<double>(logits[target]) - mx);
}

// llama-perplexity's helpers, with its conventions (uncertainty 0 under 11
// values; covariance 0 under 10; interpolated percentiles in float).
std::pair<double, double> mean_and_uncertainty(double sum, double sum2, uint64_t count) {
  if (count < 1) return {0., 0.};
  const double f = sum / count;
  double df = sum2 / count - f * f;
  df = df > 0 && count > 10 ? std::sqrt(df / (count - 1)) : 0.;
  return {f, df};
}
double covariance(double suma, double sumb, double sumab, uint64_t count) {
  if (count < 10) return 0.0;
  return (sumab / count - (suma / count) * (sumb / count)) / (count - 1);
}
double percentile(const std::vector<float>& v, float fraction) {
  if (fraction <= 0) return v.front();
  if (fraction >= 1) return v.back();
  float p = fraction * (v.size() - 1);
  const size_t ip = static_cast<size_t>(p);
  p -= ip;
  return (1 - p) * v[ip] + p * v[std::min(ip + 1, v.size() - 1)];
}
double median(const std::vector<float>& v) {
  return v.size() % 2 == 0 ? 0.5f * (v[v.size() / 2] + v[v.size() / 2 - 1]) : v[v.size() / 2];
}

void kld_report(KldSums s, std::vector<float> kld, std::vector<float> dp, axe_perplexity_result& r) {
  const auto log_ppl = mean_and_uncertainty(s.nll, s.nll2, s.count);
  r.ppl = std::exp(log_ppl.first);
  r.ppl_error = r.ppl * log_ppl.second;
  const auto log_ppl_base = mean_and_uncertainty(s.nll_base, s.nll_base2, s.count);
  r.ppl_base = std::exp(log_ppl_base.first);
  r.ppl_base_error = r.ppl_base * log_ppl_base.second;
  const double cov = covariance(s.nll, s.nll_base, s.nll_nll_base, s.count);
  r.cor_ln_ppl = cov / (log_ppl.second * log_ppl_base.second);
  r.ln_ppl_cov = cov;
  r.ln_ppl_ratio = log_ppl.first - log_ppl_base.first;
  r.ln_ppl_ratio_error = std::sqrt(log_ppl.second * log_ppl.second + log_ppl_base.second * log_ppl_base.second - 2.0 * cov);
  const auto k = mean_and_uncertainty(s.kld, s.kld2, s.count);
  r.kld_mean = k.first, r.kld_mean_error = k.second;
  const auto d = mean_and_uncertainty(s.p_diff, s.p_diff2, s.count);
  r.dp_mean = d.first, r.dp_mean_error = d.second;
  const auto mse = mean_and_uncertainty(s.p_diff2, s.p_diff4, s.count);
  r.dp_rms = std::sqrt(mse.first);
  r.dp_rms_error = 0.5 / r.dp_rms * mse.second;
  r.same_top = static_cast<double>(s.same_top) / s.count;
  r.same_top_error = s.count > 1 ? std::sqrt(r.same_top * (1 - r.same_top) / (s.count - 1)) : 0.0;
  std::sort(kld.begin(), kld.end());
  std::sort(dp.begin(), dp.end());
  const float kq[] = {0.999f, 0.990f, 0.950f, 0.900f, -1, 0.100f, 0.050f, 0.010f, 0.001f};
  r.kld_quantiles[0] = kld.back();
  for (int i = 0; i < 9; ++i) r.kld_quantiles[1 + i] = kq[i] < 0 ? median(kld) : percentile(kld, kq[i]);
  r.kld_quantiles[10] = kld.front();
  const float dq[] = {0.999f, 0.990f, 0.950f, 0.900f, 0.750f, -1, 0.250f, 0.100f, 0.050f, 0.010f, 0.001f};
  r.dp_quantiles[0] = dp.back();
  for (int i = 0; i < 11; ++i) r.dp_quantiles[1 + i] = dq[i] < 0 ? median(dp) : percentile(dp, dq[i]);
  r.dp_quantiles[12] = dp.front();
}

}  // namespace

void perplexity(const LlamaModel& model, const Tokenizer& tokenizer, const Ops& ops, tbb::task_arena& arena,
                int n_threads, std::string_view text, const axe_perplexity_params& params, axe_perplexity_result& r) {
  const LlamaConfig& c = model.config;
  const size_t V = c.vocab;
  const bool write_base = params.kld == AXE_KLD_WRITE_BASE, score_kld = params.kld == AXE_KLD_SCORE;
  if (params.kld != AXE_KLD_OFF) {
    if (params.score != AXE_SCORE_HALF)
      fail(AXE_ERR_INVALID_ARGUMENT, "KL divergence uses llama.cpp's protocol: score half, not all");
    if (!params.kld_base || !*params.kld_base) fail(AXE_ERR_INVALID_ARGUMENT, "KL divergence needs the base file (kld_base)");
  }
  std::optional<LogitsFile> base;
  std::vector<int32_t> text_tokens;  // the base file's are read in place
  size_t n_ctx, n_chunks;
  if (score_kld) {
    base.emplace(params.kld_base);
    if (base->n_vocab() != V)
      fail(AXE_ERR_INVALID_ARGUMENT, base->path() + ": the base model's vocabulary has " + std::to_string(base->n_vocab()) +
                                         " tokens, this model's " + std::to_string(V));
    n_ctx = base->n_ctx();
    if (params.n_ctx && params.n_ctx != n_ctx)
      fail(AXE_ERR_INVALID_ARGUMENT, base->path() + ": computed with chunks of " + std::to_string(n_ctx) +
                                         " tokens, not " + std::to_string(params.n_ctx));
    // The file alone does not choose a context beyond the model's: asking
    // for it (n_ctx, -c) does.
    if (!params.n_ctx && n_ctx > static_cast<size_t>(c.seq_len))
      fail(AXE_ERR_INVALID_ARGUMENT, base->path() + ": chunks of " + std::to_string(n_ctx) +
                                         " tokens are longer than the model's context of " + std::to_string(c.seq_len) +
                                         "; ask for them with n_ctx (-c) if that is meant");
    n_chunks = base->n_chunk();
  } else {
    n_ctx = params.n_ctx ? params.n_ctx : std::min<size_t>(512, c.seq_len);
    text_tokens = tokenizer.encode(text, true);
    n_chunks = text_tokens.size() / n_ctx;
  }
  const std::vector<int32_t>& tokens = score_kld ? base->tokens() : text_tokens;
  if (n_ctx < 4) fail(AXE_ERR_INVALID_ARGUMENT, "perplexity context of " + std::to_string(n_ctx) + " tokens is too small");
  if (params.n_chunks > 0) n_chunks = std::min<size_t>(n_chunks, params.n_chunks);
  if (n_chunks == 0)
    fail(AXE_ERR_INVALID_ARGUMENT, "the text has " + std::to_string(tokens.size()) +
                                       " tokens, fewer than one chunk of " + std::to_string(n_ctx) +
                                       " (use a smaller context)");
  const size_t first = params.score == AXE_SCORE_ALL ? 0 : n_ctx / 2;
  const size_t words = logits_row_words(V);
  const size_t wave = std::min(n_chunks, static_cast<size_t>(std::max(1, n_threads)));
  // One state (KV cache, scratch with n_ctx rows of logits) per thread: checked
  // against the machine before anything is allocated.
  const uint64_t per_state = LlamaState::kv_bytes(c, n_ctx) + LlamaState::scratch_bytes(c, n_ctx, n_ctx);
  if (per_state * wave > physical_memory_bytes())
    fail(AXE_ERR_OUT_OF_MEMORY, "perplexity: chunks of " + std::to_string(n_ctx) + " tokens" +
                                    (score_kld ? " (the n_ctx of " + base->path() + ")" : "") + " need " +
                                    std::to_string(per_state * wave >> 20) + " MiB on " + std::to_string(wave) +
                                    " threads, more than this machine has");
  std::unique_ptr<LogitsFileWriter> writer;
  if (write_base)
    writer = std::make_unique<LogitsFileWriter>(params.kld_base, static_cast<uint32_t>(n_ctx), static_cast<uint32_t>(V),
                                                tokens, static_cast<uint32_t>(n_chunks));

  tbb::enumerable_thread_specific<std::unique_ptr<LlamaState>> states;
  std::vector<int8_t> want(n_ctx, 0);
  for (size_t j = first; j + 1 < n_ctx; ++j) want[j] = 1;

  r.n_ctx = static_cast<uint32_t>(n_ctx);
  r.n_tokens_text = tokens.size();
  double nll = 0, nll2 = 0;
  uint64_t count = 0;
  KldSums kld;
  std::vector<float> kld_values, p_diff_values;
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
        if (params.score == AXE_SCORE_HALF && tokenizer.bos() >= 0) toks[0] = tokenizer.bos();
        llama_forward(model, ops, *st, toks.data(), n_ctx, 0, want.data(), false);
        ChunkScore s;
        const size_t rows = n_ctx - 1 - first;
        if (write_base) s.base_rows.resize(rows * words);
        if (score_kld) s.kld_values.resize(rows), s.p_diff_values.resize(rows);
        for (size_t j = first, row = 0; j + 1 < n_ctx; ++j, ++row) {
          // The scored token is the text's (the base file's) own.
          const int32_t target = tokens[chunk * n_ctx + j + 1];
          if (score_kld) {
            kld_token(st->logits_row(row), V, base->row(chunk, row), target, s.kld, &s.kld_values[row],
                      &s.p_diff_values[row]);
            continue;
          }
          const double v = token_nll(st->logits_row(row), V, target);
          s.nll += v;
          s.nll2 += v * v;
          ++s.count;
          if (write_base) compress_log_probs(st->logits_row(row), V, target, s.base_rows.data() + row * words);
        }
        scores[chunk - c0] = std::move(s);
      });
    });
    for (size_t chunk = c0; chunk < c1; ++chunk) {
      ChunkScore& s = scores[chunk - c0];
      if (score_kld) {
        kld.add(s.kld);
        kld_values.insert(kld_values.end(), s.kld_values.begin(), s.kld_values.end());
        p_diff_values.insert(p_diff_values.end(), s.p_diff_values.begin(), s.p_diff_values.end());
      } else {
        nll += s.nll;
        nll2 += s.nll2;
        count += s.count;
      }
      if (writer) writer->add_chunk(s.base_rows);
      if (params.on_chunk)
        params.on_chunk(static_cast<int32_t>(chunk), static_cast<int32_t>(n_chunks),
                        score_kld ? std::exp(kld.nll / kld.count) : std::exp(nll / count), params.on_chunk_user_data);
    }
    if (params.progress && !params.progress(static_cast<float>(c1) / n_chunks, params.progress_user_data))
      fail(AXE_ERR_ABORTED, "perplexity aborted by the progress callback");
  }
  if (writer) writer->finish();
  r.n_chunks = static_cast<int32_t>(n_chunks);
  if (score_kld) {
    r.n_tokens_scored = kld.count;
    kld_report(kld, std::move(kld_values), std::move(p_diff_values), r);
    return;
  }
  const double mean = nll / count;
  double var = nll2 / count - mean * mean;
  r.ppl = std::exp(mean);
  r.ppl_error = var > 0 && count > 1 ? std::sqrt(var / (count - 1)) * r.ppl : 0.0;
  r.n_tokens_scored = count;
}

}  // namespace axe
