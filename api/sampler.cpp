// C API: samplers.
#include <cmath>

#include "api/internal.h"

using axe::fail;

extern "C" {

AXE_API axe_sampler_params axe_sampler_default_params(void) {
  axe_sampler_params p{};
  p.struct_size = sizeof(p);
  p.temperature = 0.8f;
  p.top_k = 40;
  p.top_p = 0.95f;
  p.seed = 0;
  return p;
}

AXE_API axe_status axe_sampler_create(const axe_sampler_params* params, axe_sampler** out_sampler) {
  return axe::create_handle(out_sampler, "axe_sampler_create: out_sampler is NULL", [&] {
    const axe_sampler_params p = axe::read_params(params, axe_sampler_default_params());
    if (!std::isfinite(p.temperature)) fail(AXE_ERR_INVALID_ARGUMENT, "temperature must be a finite number");
    if (!(p.top_p > 0.0f) || !std::isfinite(p.top_p)) fail(AXE_ERR_INVALID_ARGUMENT, "top_p must be in (0, 1]");
    axe::SamplerConfig c;
    c.temperature = p.temperature;
    c.top_k = p.top_k;
    c.top_p = p.top_p;
    c.seed = p.seed;
    return new axe_sampler{axe::Sampler(c), {}};
  });
}

AXE_API void axe_sampler_free(axe_sampler* sampler) { delete sampler; }
AXE_API const char* axe_sampler_last_error(const axe_sampler* sampler) {
  return sampler ? sampler->error.c_str() : "sampler is NULL";
}

AXE_API axe_status axe_sampler_sample(axe_sampler* sampler, const float* logits, int32_t n_vocab, axe_token* out) {
  if (!sampler) return AXE_ERR_INVALID_ARGUMENT;
  return axe::guarded(&sampler->error, [&] {
    if (!logits || !out) fail(AXE_ERR_INVALID_ARGUMENT, "axe_sampler_sample: logits or out is NULL");
    if (n_vocab <= 0) fail(AXE_ERR_INVALID_ARGUMENT, "axe_sampler_sample: n_vocab must be positive");
    *out = sampler->sampler.sample(logits, n_vocab);
  });
}

}  // extern "C"
