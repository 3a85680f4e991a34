/* The smallest complete program on the C API: load a model, greedily
 * continue a prompt, print the text. Compiled as C by the build and run by
 * the tests.  usage: axe_example_simple MODEL [PROMPT] [N] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axe/axe.h"

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL [PROMPT] [N]\n", argv[0]);
    return 2;
  }
  const char *prompt = argc > 2 ? argv[2] : "Once upon a time";
  const int n_predict = argc > 3 ? atoi(argv[3]) : 32;

  axe_model *model = NULL;
  axe_model_params mp = axe_model_default_params();
  if (axe_model_load(argv[1], &mp, &model) != AXE_OK) {
    fprintf(stderr, "load failed: %s\n", axe_last_error());
    return 1;
  }
  axe_context_params cp = axe_context_default_params();
  axe_context *ctx = NULL;
  if (axe_context_create(model, &cp, &ctx) != AXE_OK) {
    fprintf(stderr, "context failed: %s\n", axe_last_error());
    axe_model_free(model);
    return 1;
  }
  axe_sampler_params sp = axe_sampler_default_params();
  sp.temperature = 0.0f; /* greedy */
  axe_sampler *sampler = NULL;
  axe_sampler_create(&sp, &sampler);

  /* Ask for the size first, then tokenize into a buffer of that size. */
  size_t n_tokens = 0;
  axe_tokenize(model, prompt, strlen(prompt), 1, NULL, 0, &n_tokens);
  axe_token *tokens = malloc((n_tokens + (size_t)n_predict) * sizeof(axe_token));
  axe_tokenize(model, prompt, strlen(prompt), 1, tokens, n_tokens, &n_tokens);

  int32_t *pos = malloc((n_tokens + (size_t)n_predict) * sizeof(int32_t));
  for (size_t i = 0; i < n_tokens + (size_t)n_predict; ++i) pos[i] = (int32_t)i;
  int rc = 0;
  size_t n = n_tokens;
  axe_model_info info;
  info.struct_size = sizeof info;
  axe_model_get_info(model, &info);
  if (axe_decode(ctx, tokens, pos, n, NULL) != AXE_OK) {
    fprintf(stderr, "decode failed: %s\n", axe_context_last_error(ctx));
    rc = 1;
  }
  for (int i = 0; rc == 0 && i < n_predict && n < axe_context_n_ctx(ctx); ++i) {
    axe_token next;
    axe_sampler_sample(sampler, axe_get_logits(ctx, -1), info.n_vocab, &next);
    if (next == axe_token_eos(model) || next == axe_token_bos(model)) break;
    tokens[n] = next;
    if (axe_decode(ctx, &tokens[n], &pos[n], 1, NULL) != AXE_OK) rc = 1;
    ++n;
  }
  char text[8192];
  size_t len = 0;
  if (axe_detokenize(model, tokens, n, text, sizeof text, &len) == AXE_OK) printf("%s\n", text);
  free(pos);
  free(tokens);
  axe_sampler_free(sampler);
  axe_context_free(ctx);
  axe_model_free(model);
  return rc;
}
