// The input is a llama.cpp log-probability file (llama-perplexity
// --kl-divergence-base), scored with the fixed stories260K model through
// axe_perplexity's KL-divergence mode on one thread, at most two chunks.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static axe_model* model = [] {
    axe_model_params mp = axe_model_default_params();
    const std::string tok = axe_fuzz::stories_tokenizer();
    mp.tokenizer_path = tok.c_str();
    axe_model* m = nullptr;
    if (axe_model_load(axe_fuzz::stories_model().c_str(), &mp, &m) != AXE_OK) std::abort();
    return m;
  }();
  static axe_context* ctx = [] {
    axe_context_params cp = axe_context_default_params();
    cp.n_threads = 1;
    cp.n_ctx = 16;
    axe_context* c = nullptr;
    if (axe_context_create(model, &cp, &c) != AXE_OK) std::abort();
    return c;
  }();
  axe_fuzz::TempFile file("base.kld", data, size);
  axe_perplexity_params p = axe_perplexity_default_params();
  p.kld = AXE_KLD_SCORE;
  p.kld_base = file.c_str();
  p.n_chunks = 2;
  axe_perplexity_result r{};
  r.struct_size = sizeof r;
  const axe_status st = axe_perplexity(ctx, nullptr, 0, &p, &r);
  axe_fuzz::check_status(st, "axe_perplexity");
  if (st == AXE_OK && !(r.kld_mean == r.kld_mean)) {
    std::fprintf(stderr, "a NaN mean KL divergence from an accepted base file\n");
    std::abort();
  }
  return 0;
}
