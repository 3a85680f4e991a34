/* The C API used from C: misuse gives error statuses, never a crash. */
#include <stdio.h>
#include <string.h>

#include "axe/axe.h"

static int failures = 0, checks = 0;
#define CHECK(cond)                                              \
  do {                                                           \
    ++checks;                                                    \
    if (!(cond)) {                                               \
      ++failures;                                                \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                            \
  } while (0)

int main(void) {
  axe_model *model = NULL;
  axe_context *ctx = NULL;
  axe_sampler *sampler = NULL;
  axe_token tok = 0;
  size_t n = 0;
  float logits[4] = {0.f, 3.f, 1.f, 2.f};

  CHECK(strcmp(axe_version(), AXE_VERSION_STRING) == 0);
  CHECK(strcmp(axe_status_string(AXE_ERR_FORMAT), "AXE_ERR_FORMAT") == 0);

  /* NULL arguments. */
  CHECK(axe_model_load(NULL, NULL, &model) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(axe_model_load("x", NULL, NULL) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(axe_model_load("/nonexistent/model.bin", NULL, &model) == AXE_ERR_IO);
  CHECK(model == NULL);
  CHECK(strstr(axe_last_error(), "/nonexistent/model.bin") != NULL);
  CHECK(axe_context_create(NULL, NULL, &ctx) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(axe_decode(NULL, &tok, NULL, 1, NULL) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(axe_get_logits(NULL, 0) == NULL);
  CHECK(axe_tokenize(NULL, "a", 1, 1, NULL, 0, &n) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(axe_sampler_sample(NULL, logits, 4, &tok) == AXE_ERR_INVALID_ARGUMENT);
  axe_model_free(NULL);
  axe_context_free(NULL);
  axe_sampler_free(NULL);

  /* A real model, then misuse of it. */
  axe_model_params mp = axe_model_default_params();
  CHECK(axe_model_load(AXE_SHARED_DIR "/models/stories260K/stories260K.bin", &mp, &model) == AXE_OK);
  if (!model) return 1;
  CHECK(axe_tokenize(model, NULL, 5, 1, NULL, 0, &n) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(axe_tokenize(model, "abc", 3, 1, NULL, 0, NULL) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(strlen(axe_model_last_error(model)) > 0);

  axe_context_params cp = axe_context_default_params();
  cp.n_batch = 0;
  CHECK(axe_context_create(model, &cp, &ctx) == AXE_ERR_INVALID_ARGUMENT);
  cp = axe_context_default_params();
  cp.n_threads = 1;
  CHECK(axe_context_create(model, &cp, &ctx) == AXE_OK);
  if (!ctx) return 1;
  {
    axe_token t[2] = {1, 403};
    int32_t p[2] = {0, 1};
    CHECK(axe_decode(ctx, t, p, 0, NULL) == AXE_ERR_INVALID_ARGUMENT);
    CHECK(axe_decode(ctx, t, NULL, 2, NULL) == AXE_ERR_INVALID_ARGUMENT);
    CHECK(axe_get_logits(ctx, -1) == NULL); /* nothing decoded yet */
    CHECK(axe_decode(ctx, t, p, 2, NULL) == AXE_OK);
    CHECK(axe_get_logits(ctx, -1) != NULL);
  }

  /* Samplers. */
  axe_sampler_params sp = axe_sampler_default_params();
  sp.temperature = 0.0f;
  CHECK(axe_sampler_create(&sp, &sampler) == AXE_OK);
  CHECK(axe_sampler_sample(sampler, logits, 4, &tok) == AXE_OK);
  CHECK(tok == 1);
  CHECK(axe_sampler_sample(sampler, NULL, 4, &tok) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(axe_sampler_sample(sampler, logits, 0, &tok) == AXE_ERR_INVALID_ARGUMENT);
  axe_sampler_free(sampler);
  sampler = NULL;
  sp.top_p = 0.0f;
  CHECK(axe_sampler_create(&sp, &sampler) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(sampler == NULL);

  /* Perplexity needs at least one chunk. */
  {
    axe_perplexity_params pp = axe_perplexity_default_params();
    axe_perplexity_result r;
    r.struct_size = sizeof r;
    CHECK(axe_perplexity(ctx, "tiny", 4, &pp, &r) == AXE_ERR_INVALID_ARGUMENT);
    CHECK(strstr(axe_context_last_error(ctx), "chunk") != NULL);
    pp.score = (axe_score_mode)7;
    CHECK(axe_perplexity(ctx, "tiny", 4, &pp, &r) == AXE_ERR_INVALID_ARGUMENT);
  }

  axe_context_free(ctx);
  axe_model_free(model);
  printf("%d passed, %d failed\n", checks - failures, failures);
  return failures ? 1 : 0;
}
