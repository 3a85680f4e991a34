// Perplexity flags shared by perplexity and sweep: -c, --chunks, --score.
#pragma once
#include "args.h"
#include "axe/axe.h"

namespace cli {

struct PerplexityFlags {
  axe_perplexity_params params = axe_perplexity_default_params();
  void add_to(ArgParser& p);
};

}  // namespace cli
