#include "perplexity_flags.h"

#include <algorithm>
#include <cstdint>

namespace cli {

void PerplexityFlags::add_to(ArgParser& p, bool with_kld) {
  axe_perplexity_params& pp = params;
  if (with_kld) {
    p.add({"--kl-divergence-base"}, "FILE",
          "llama.cpp's file of log-probabilities: written (the base model) or, with --kl-divergence, read",
          [&](auto&, auto& v) { kld_base = v; });
    p.add_switch({"--kl-divergence"}, "score against --kl-divergence-base (its tokens; no -f needed)",
                 [&] { kld_score = true; });
  }
  p.add({"-c", "--ctx-size"}, "N", "chunk length in tokens (default: min(512, the model's context))",
        [&](auto& f, auto& v) { pp.n_ctx = static_cast<uint32_t>(parse_int(f, v, 4, 1 << 20)); });
  p.add({"--chunks"}, "N", "score at most N chunks (default: all)",
        [&](auto& f, auto& v) { pp.n_chunks = static_cast<int32_t>(parse_int(f, v, 1, INT32_MAX)); });
  p.add({"--score"}, "half|all", "which tokens of a chunk are scored (default half)", [&](auto& f, auto& v) {
    if (v == "half") pp.score = AXE_SCORE_HALF;
    else if (v == "all") pp.score = AXE_SCORE_ALL;
    else throw UsageError("invalid value '" + v + "' for " + f + ": expected half or all");
  });
}

void PerplexityFlags::resolve_kld() {
  if (kld_score && kld_base.empty()) throw UsageError("--kl-divergence needs --kl-divergence-base FILE");
  if (!kld_base.empty() && params.score != AXE_SCORE_HALF)
    throw UsageError("--kl-divergence-base uses llama.cpp's protocol: --score half, not all");
  params.kld = kld_base.empty() ? AXE_KLD_OFF : kld_score ? AXE_KLD_SCORE : AXE_KLD_WRITE_BASE;
  params.kld_base = kld_base.empty() ? nullptr : kld_base.c_str();
}

ContextPtr PerplexityFlags::make_scoring_context(axe_model* model, const ModelFlags& mf,
                                                 axe_perplexity_params* resolved) const {
  axe_model_info info{};
  info.struct_size = sizeof info;
  check(axe_model_get_info(model, &info), model);
  *resolved = params;
  if (!resolved->n_ctx) resolved->n_ctx = std::min<uint32_t>(512, static_cast<uint32_t>(info.n_ctx_train));
  ModelFlags cf = mf;
  cf.n_ctx = resolved->n_ctx;
  return make_context(model, cf, mf.threads, resolved->n_ctx);
}

}  // namespace cli
