// C API: perplexity.
#include "api/internal.h"
#include "api/eval/perplexity.h"

using axe::fail;

extern "C" {

AXE_API axe_perplexity_params axe_perplexity_default_params(void) {
  axe_perplexity_params p{};
  p.struct_size = sizeof(p);
  p.n_ctx = 0;
  p.n_chunks = -1;
  p.score = AXE_SCORE_HALF;
  p.kld = AXE_KLD_OFF;
  p.kld_base = nullptr;
  return p;
}

AXE_API axe_status axe_perplexity(axe_context* ctx, const char* text, size_t text_len,
                                  const axe_perplexity_params* params, axe_perplexity_result* result) {
  if (!ctx) return AXE_ERR_INVALID_ARGUMENT;
  return axe::guarded(&ctx->error, [&] {
    if (!result || (!text && text_len)) fail(AXE_ERR_INVALID_ARGUMENT, "axe_perplexity: NULL text or result");
    if (result->struct_size < sizeof(size_t)) fail(AXE_ERR_INVALID_ARGUMENT, "axe_perplexity: result.struct_size is not set");
    const axe_perplexity_params p = axe::read_params(params, axe_perplexity_default_params());
    if (p.score != AXE_SCORE_HALF && p.score != AXE_SCORE_ALL) fail(AXE_ERR_INVALID_ARGUMENT, "axe_perplexity: bad score mode");
    if (p.kld != AXE_KLD_OFF && p.kld != AXE_KLD_WRITE_BASE && p.kld != AXE_KLD_SCORE)
      fail(AXE_ERR_INVALID_ARGUMENT, "axe_perplexity: bad kld mode");
    axe_perplexity_result out{};
    axe::perplexity(ctx->forward_model(), *ctx->model->model->tokenizer, *ctx->ops, *ctx->arena, ctx->n_threads,
                    std::string_view(text ? text : "", text_len), p, out);
    out.struct_size = sizeof(out);
    axe::write_versioned(result, out);
  });
}

}  // extern "C"
