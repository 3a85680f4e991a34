// Sampling flags shared by generate and chat: --temp, --top-k, --top-p, -s, -n.
#pragma once
#include "args.h"
#include "axe/axe.h"
#include "api_handles.h"

namespace cli {

struct SamplingFlags {
  axe_sampler_params params = axe_sampler_default_params();
  int64_t n_predict = -1;  // -1: until the context is full
  void add_to(ArgParser& p);
  SamplerPtr make_sampler() const;
};

}  // namespace cli
