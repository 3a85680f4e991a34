// Perplexity flags shared by perplexity and sweep: -c, --chunks, --score.
#pragma once
#include <string>

#include "args.h"
#include "axe/axe.h"
#include "api_handles.h"

namespace cli {

struct PerplexityFlags {
  axe_perplexity_params params = axe_perplexity_default_params();
  std::string kld_base;  // --kl-divergence-base
  bool kld_score = false;  // --kl-divergence
  // with_kld: --kl-divergence-base and --kl-divergence (perplexity only).
  void add_to(ArgParser& p, bool with_kld = false);
  // After parsing: the KL-divergence mode and file into params.
  void resolve_kld();
  // A context for scoring `model` with chunks of -c tokens (default:
  // min(512, the model's training context)); *resolved gets the params with
  // that chunk length filled in.
  ContextPtr make_scoring_context(axe_model* model, const ModelFlags& mf, axe_perplexity_params* resolved) const;
};

}  // namespace cli
