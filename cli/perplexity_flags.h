// Perplexity flags shared by perplexity and sweep: -c, --chunks, --score.
#pragma once
#include "args.h"
#include "axe/axe.h"
#include "api_handles.h"

namespace cli {

struct PerplexityFlags {
  axe_perplexity_params params = axe_perplexity_default_params();
  void add_to(ArgParser& p);
  // A context for scoring `model` with chunks of -c tokens (default:
  // min(512, the model's training context)); *resolved gets the params with
  // that chunk length filled in.
  ContextPtr make_scoring_context(axe_model* model, const ModelFlags& mf, axe_perplexity_params* resolved) const;
};

}  // namespace cli
