// The input is a llama2.c checkpoint (legacy or v1), loaded through the C API
// with the fixed stories260K tokenizer (tok512.bin, 512 tokens, so only
// headers with vocab 512 get past the tokenizer check); a model that loads is
// decoded for a few tokens with n_ctx = 16. Odd-sized inputs are mapped
// (use_mmap = 1), even-sized ones copied (use_mmap = 0).
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string tokenizer = axe_fuzz::stories_tokenizer();
  axe_fuzz::TempFile file("model.bin", data, size);
  axe_model_params mp = axe_model_default_params();
  mp.tokenizer_path = tokenizer.c_str();
  mp.use_mmap = static_cast<int32_t>(size & 1);
  axe_model* model = nullptr;
  const axe_status st = axe_model_load(file.c_str(), &mp, &model);
  axe_fuzz::check_status(st, "axe_model_load");
  if (st == AXE_OK) {
    axe_fuzz::decode_smoke(model);
    axe_model_free(model);
  }
  return 0;
}
