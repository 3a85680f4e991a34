// axe perplexity: llama.cpp llama-perplexity's protocol by default.
#include <algorithm>
#include <cmath>

#include "commands.h"
#include "api_handles.h"
#include "clock.h"
#include "perplexity_flags.h"

namespace cli {
namespace {

void on_chunk(int32_t index, int32_t n_chunks, double ppl, void*) {
  std::fprintf(stdout, "[%d]%.4f,", index + 1, ppl);
  if (index + 1 == n_chunks || (index + 1) % 16 == 0) std::fputc('\n', stdout);
  std::fflush(stdout);
}

// llama-perplexity --kl-divergence's report, line for line.
void print_kld_report(const axe_perplexity_result& r) {
  std::printf("====== Perplexity statistics ======\n");
  std::printf("Mean PPL(Q)                   : %10.6lf ± %10.6lf\n", r.ppl, r.ppl_error);
  std::printf("Mean PPL(base)                : %10.6lf ± %10.6lf\n", r.ppl_base, r.ppl_base_error);
  std::printf("Cor(ln(PPL(Q)), ln(PPL(base))): %6.2lf%%\n", 100.0 * r.cor_ln_ppl);
  std::printf("Mean ln(PPL(Q)/PPL(base))     : %10.6lf ± %10.6lf\n", r.ln_ppl_ratio, r.ln_ppl_ratio_error);
  const double ratio = std::exp(r.ln_ppl_ratio);
  std::printf("Mean PPL(Q)/PPL(base)         : %10.6lf ± %10.6lf\n", ratio, ratio * r.ln_ppl_ratio_error);
  const double cov = r.ppl * r.ppl_base * r.ln_ppl_cov;
  std::printf("Mean PPL(Q)-PPL(base)         : %10.6lf ± %10.6lf\n", r.ppl - r.ppl_base,
              std::sqrt(r.ppl_error * r.ppl_error + r.ppl_base_error * r.ppl_base_error - 2.0 * cov));
  std::printf("\n====== KL divergence statistics ======\n");
  std::printf("Mean    KLD: %10.6lf ± %10.6lf\n", r.kld_mean, r.kld_mean_error);
  const char* kname[] = {"Maximum KLD", "99.9%   KLD", "99.0%   KLD", "95.0%   KLD", "90.0%   KLD", "Median  KLD",
                         "10.0%   KLD", " 5.0%   KLD", " 1.0%   KLD", " 0.1%   KLD", "Minimum KLD"};
  for (int i = 0; i < 11; ++i) std::printf("%s: %10.6f\n", kname[i], r.kld_quantiles[i]);
  std::printf("\n====== Token probability statistics ======\n");
  std::printf("Mean    Δp: %6.3lf ± %5.3lf %%\n", 100.0 * r.dp_mean, 100.0 * r.dp_mean_error);
  const char* dname[] = {"Maximum Δp", "99.9%   Δp", "99.0%   Δp", "95.0%   Δp", "90.0%   Δp", "75.0%   Δp", "Median  Δp",
                         "25.0%   Δp", "10.0%   Δp", " 5.0%   Δp", " 1.0%   Δp", " 0.1%   Δp", "Minimum Δp"};
  for (int i = 0; i < 13; ++i) std::printf("%s: %6.3lf%%\n", dname[i], 100.0 * r.dp_quantiles[i]);
  std::printf("RMS Δp    : %6.3lf ± %5.3lf %%\n", 100.0 * r.dp_rms, 100.0 * r.dp_rms_error);
  std::printf("Same top p: %6.3lf ± %5.3lf %%\n", 100.0 * r.same_top, 100.0 * r.same_top_error);
}

}  // namespace

int cmd_perplexity(int argc, char** argv) {
  ModelFlags mf;
  std::string file;
  PerplexityFlags pf;
  axe_perplexity_params& pp = pf.params;
  ArgParser p("perplexity", "-m MODEL -f FILE [-c CTX] [--chunks N] [--score half|all] [options]",
              "Perplexity of a text. The file is tokenized once, with BOS at its start, and cut into chunks of\n"
              "CTX tokens. --score half (default) is llama.cpp's llama-perplexity protocol: each chunk's first\n"
              "token is replaced by BOS and the second half of the chunk is scored. --score all is GPTQ's (and\n"
              "the AXE paper's): each chunk keeps its own tokens and every token but the first is scored from\n"
              "the chunk's prefix.");
  mf.add_to(p, false);
  p.add({"-f", "--file"}, "FILE", "text file to score", [&](auto&, auto& v) { file = v; });
  pf.add_to(p, true);
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);
  pf.resolve_kld();
  const bool score_kld = pp.kld == AXE_KLD_SCORE;
  if (file.empty() && !score_kld) throw UsageError("missing -f FILE (see 'axe perplexity --help')");
  if (!file.empty() && score_kld)
    throw UsageError("-f and --kl-divergence: the text scored is the base file's (drop -f)");

  const std::string text = score_kld ? std::string() : read_file(file);
  ModelPtr model = load_model(mf);
  const uint32_t asked_ctx = pp.n_ctx;
  ContextPtr ctx = pf.make_scoring_context(model.get(), mf, &pp);
  if (score_kld) pp.n_ctx = asked_ctx;  // 0: the base file's chunk length
  const uint32_t n_ctx = pp.n_ctx;
  pp.on_chunk = on_chunk;
  axe_perplexity_result r{};
  r.struct_size = sizeof r;
  if (score_kld)
    std::fprintf(stderr, "perplexity: KL divergence against %s (its chunks), %d threads (%s)\n", pp.kld_base,
                 axe_context_n_threads(ctx.get()), axe_context_target(ctx.get()));
  else
    std::fprintf(stderr, "perplexity: %s, %zu bytes, n_ctx = %u, score = %s, %d threads (%s)\n", file.c_str(),
                 text.size(), n_ctx, pp.score == AXE_SCORE_ALL ? "all" : "half", axe_context_n_threads(ctx.get()),
                 axe_context_target(ctx.get()));
  const double t0 = now_seconds();
  check(axe_perplexity(ctx.get(), text.data(), text.size(), &pp, &r), ctx.get());
  const double dt = now_seconds() - t0;
  std::printf("chunks: %d, n_ctx: %u, tokens: %llu, scored: %llu\n", r.n_chunks, r.n_ctx,
              static_cast<unsigned long long>(r.n_tokens_text), static_cast<unsigned long long>(r.n_tokens_scored));
  if (score_kld) {
    print_kld_report(r);
  } else {
    std::printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
    if (pp.kld == AXE_KLD_WRITE_BASE) std::printf("wrote the base log-probabilities to %s\n", pp.kld_base);
  }
  print_overflows(ctx.get(), stdout);
  std::fprintf(stderr, "perplexity: %.2f s, %.1f tokens/s\n", dt, r.n_chunks * double(r.n_ctx) / dt);
  return 0;
}

}  // namespace cli
