#include "sampling_flags.h"

namespace cli {

void SamplingFlags::add_to(ArgParser& p) {
  p.add({"-n", "--n-predict"}, "N", "tokens to generate (-1: until the context is full; default -1)",
        [this](auto& f, auto& v) { n_predict = parse_int(f, v, -1, 1 << 30); });
  p.add({"--temp"}, "T", "temperature; 0 is greedy (default 0.8)",
        [this](auto& f, auto& v) { params.temperature = static_cast<float>(parse_float(f, v, 0, 100)); });
  p.add({"--top-k"}, "K", "keep the K most likely tokens; 0 off (default 40)",
        [this](auto& f, auto& v) { params.top_k = static_cast<int32_t>(parse_int(f, v, 0, 1 << 30)); });
  p.add({"--top-p"}, "P", "keep the smallest set of mass P; 1 off (default 0.95)",
        [this](auto& f, auto& v) { params.top_p = static_cast<float>(parse_float(f, v, 1e-6, 1)); });
  p.add({"-s", "--seed"}, "SEED", "random seed (default 0)",
        [this](auto& f, auto& v) { params.seed = static_cast<uint64_t>(parse_int(f, v, 0, INT64_MAX)); });
}

SamplerPtr SamplingFlags::make_sampler() const {
  axe_sampler* s = nullptr;
  if (axe_sampler_create(&params, &s) != AXE_OK) throw ApiError(axe_last_error());
  return SamplerPtr(s);
}

}  // namespace cli
