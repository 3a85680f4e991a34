#include "perplexity_flags.h"

#include <cstdint>

namespace cli {

void PerplexityFlags::add_to(ArgParser& p) {
  axe_perplexity_params& pp = params;
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

}  // namespace cli
