// The prefill-then-decode loop shared by generate and chat.
#pragma once
#include <vector>

#include "api_handles.h"
#include "utf8_stream.h"

namespace cli {

struct GenerationStats {
  size_t n_prompt = 0, n_generated = 0;
  double prefill_s = 0, decode_s = 0;
  bool context_full = false;
  std::vector<axe_token> tokens;  // the generated tokens (the stop token is not one)
  std::string text;               // and their bytes
};

// Decodes `prompt` at position pos0 (-1: the context's current end; an
// earlier position forgets what follows it), then samples and streams up to
// n_predict tokens (-1: until the context is full), stopping at BOS or at a
// token that ends a turn (axe_token_is_stop). `last` is the token before the
// prompt (-1 if none), for detokenization.
GenerationStats generate(axe_model* model, axe_context* ctx, axe_sampler* sampler, const std::vector<axe_token>& prompt,
                         axe_token last, int64_t n_predict, Utf8Stream& out, int32_t pos0 = -1);

void print_timings(const GenerationStats& s);

}  // namespace cli
