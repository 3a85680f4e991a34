// The input is a GGUF file (llama.cpp's model format): axe_verify_gguf
// (16-bit accumulator, 8-bit signed activations) on every input, then
// axe_model_load (tokenizer from tokenizer.ggml.*); when it loads, a short
// decode, and tokenize/detokenize of a short text. Odd-sized inputs are
// mapped, even-sized ones copied. Memory follows the input's size: every
// tensor's extent is checked against the file before anything is allocated.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  axe_fuzz::TempFile file("model.gguf", data, size);
  axe_gguf_check_result cr{};
  cr.struct_size = sizeof cr;
  axe_gguf_tensor_check tensors[8];
  size_t n_tensors = 0;
  axe_fuzz::check_status(axe_verify_gguf(file.c_str(), 16, 8, 1, &cr, tensors, 8, &n_tensors), "axe_verify_gguf");

  axe_model_params mp = axe_model_default_params();
  mp.use_mmap = static_cast<int32_t>(size & 1);
  axe_model* model = nullptr;
  const axe_status st = axe_model_load(file.c_str(), &mp, &model);
  axe_fuzz::check_status(st, "axe_model_load");
  if (st != AXE_OK) return 0;

  static const char kText[] = "Once upon a time, <s> a cat\n said \xe2\x96\x81hi 42!";
  axe_token toks[64];
  size_t n = 0;
  axe_status ts = axe_tokenize(model, kText, sizeof kText - 1, 1, toks, 64, &n);
  axe_fuzz::check_status(ts, "axe_tokenize");
  if (ts == AXE_OK) {
    char buf[512];
    size_t nb = 0;
    axe_fuzz::check_status(axe_detokenize(model, toks, n, buf, sizeof buf, &nb), "axe_detokenize");
    for (size_t i = 0; i < n; ++i)
      axe_fuzz::check_status(axe_token_to_piece(model, i ? toks[i - 1] : axe_token_bos(model), toks[i], buf,
                                                sizeof buf, &nb),
                             "axe_token_to_piece");
  }
  ts = axe_tokenize_special(model, kText, sizeof kText - 1, 0, 1, toks, 64, &n);
  axe_fuzz::check_status(ts, "axe_tokenize_special");
  axe_fuzz::decode_smoke(model);
  axe_model_free(model);
  return 0;
}
