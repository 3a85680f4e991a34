// axe perplexity: llama.cpp llama-perplexity's protocol by default.
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
  pf.add_to(p);
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);
  if (file.empty()) throw UsageError("missing -f FILE (see 'axe perplexity --help')");

  const std::string text = read_file(file);
  ModelPtr model = load_model(mf);
  ContextPtr ctx = pf.make_scoring_context(model.get(), mf, &pp);
  const uint32_t n_ctx = pp.n_ctx;
  pp.on_chunk = on_chunk;
  axe_perplexity_result r{};
  r.struct_size = sizeof r;
  std::fprintf(stderr, "perplexity: %s, %zu bytes, n_ctx = %u, score = %s, %d threads (%s)\n", file.c_str(),
               text.size(), n_ctx, pp.score == AXE_SCORE_ALL ? "all" : "half", axe_context_n_threads(ctx.get()),
               axe_context_target(ctx.get()));
  const double t0 = now_seconds();
  check(axe_perplexity(ctx.get(), text.data(), text.size(), &pp, &r), ctx.get());
  const double dt = now_seconds() - t0;
  std::printf("chunks: %d, n_ctx: %u, tokens: %llu, scored: %llu\n", r.n_chunks, r.n_ctx,
              static_cast<unsigned long long>(r.n_tokens_text), static_cast<unsigned long long>(r.n_tokens_scored));
  std::printf("Final estimate: PPL = %.4f +/- %.5f\n", r.ppl, r.ppl_error);
  print_overflows(ctx.get(), stdout);
  std::fprintf(stderr, "perplexity: %.2f s, %.1f tokens/s\n", dt, r.n_chunks * double(r.n_ctx) / dt);
  return 0;
}

}  // namespace cli
