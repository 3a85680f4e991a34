// The input is a llama2.c tokenizer.bin, given as tokenizer_path for the
// fixed stories260K.bin model (vocab 512); if the model loads, a short text
// is tokenized (with and without BOS), detokenized, and every id turned into
// its piece.
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string model_path = axe_fuzz::stories_model();
  axe_fuzz::TempFile file("tokenizer.bin", data, size);
  axe_model_params mp = axe_model_default_params();
  mp.tokenizer_path = file.c_str();
  mp.use_mmap = 1;
  axe_model* model = nullptr;
  const axe_status st = axe_model_load(model_path.c_str(), &mp, &model);
  axe_fuzz::check_status(st, "axe_model_load");
  if (st != AXE_OK) return 0;
  static const char* texts[] = {"Once upon a time, there was a little girl named Lily.",
                                " \xe2\x9c\x93 caf\xc3\xa9 <0x41> \xff\xfe\n\t  ", ""};
  for (const char* text : texts) {
    for (int bos = 0; bos < 2; ++bos) {
      axe_token ids[256];
      size_t n = 0;
      const axe_status t = axe_tokenize(model, text, std::strlen(text), bos, ids, 256, &n);
      axe_fuzz::check_status(t, "axe_tokenize");
      if (t != AXE_OK) continue;
      char out[4096];
      size_t nb = 0;
      axe_fuzz::check_status(axe_detokenize(model, ids, n, out, sizeof out, &nb), "axe_detokenize");
      for (size_t i = 0; i < n; ++i) {
        char piece[512];
        axe_fuzz::check_status(axe_token_to_piece(model, i ? ids[i - 1] : axe_token_bos(model), ids[i], piece,
                                                  sizeof piece, &nb),
                               "axe_token_to_piece");
      }
    }
  }
  // Every token's piece, after BOS and after token 0.
  for (axe_token t = 0; t < 512; ++t) {
    char piece[512];
    size_t nb = 0;
    axe_token_to_piece(model, axe_token_bos(model), t, piece, sizeof piece, &nb);
    axe_token_to_piece(model, 0, t, piece, sizeof piece, &nb);
  }
  axe_model_free(model);
  return 0;
}
