// The input is text: axe_tokenize (with and without BOS) with the stories260K
// model (loaded once), then axe_detokenize and axe_token_to_piece on the ids.
// The tokenizer is lossless (byte fallback): detokenizing gives back the text
// (with BOS) or the dummy-prefix space and the text (without); the pieces
// concatenate to the same bytes; counting and writing agree.
#include "fuzz_common.h"

static axe_model* stories() {
  static axe_model* model = [] {
    axe_fuzz::work_dir();  // quiet log
    const std::string path = axe_fuzz::stories_model();
    axe_model_params mp = axe_model_default_params();
    mp.use_mmap = 1;
    axe_model* m = nullptr;
    if (axe_model_load(path.c_str(), &mp, &m) != AXE_OK) {
      std::fprintf(stderr, "fuzz_tokenize: cannot load %s: %s\n", path.c_str(), axe_last_error());
      std::abort();
    }
    return m;
  }();
  return model;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  axe_model* model = stories();
  const char* text = reinterpret_cast<const char*>(data);
  for (int bos = 0; bos < 2; ++bos) {
    size_t n = 0;
    axe_status st = axe_tokenize(model, text, size, bos, nullptr, 0, &n);
    axe_fuzz::check_status(st, "axe_tokenize");
    if (st != AXE_OK && st != AXE_ERR_BUFFER_TOO_SMALL) continue;
    std::vector<axe_token> ids(n + 1);
    size_t n2 = 0;
    st = axe_tokenize(model, text, size, bos, ids.data(), ids.size(), &n2);
    axe_fuzz::check_status(st, "axe_tokenize");
    if (st != AXE_OK) continue;
    if (n2 != n) {
      std::fprintf(stderr, "axe_tokenize: %zu tokens counted, %zu written\n", n, n2);
      std::abort();
    }
    size_t nb = 0;
    st = axe_detokenize(model, ids.data(), n, nullptr, 0, &nb);
    if (st != AXE_OK && st != AXE_ERR_BUFFER_TOO_SMALL) continue;
    std::vector<char> out(nb + 1);
    size_t nb2 = 0;
    st = axe_detokenize(model, ids.data(), n, out.data(), out.size(), &nb2);
    axe_fuzz::check_status(st, "axe_detokenize");
    if (st != AXE_OK) continue;
    std::string pieces;
    for (size_t i = 0; i < n; ++i) {
      char buf[256];
      size_t pb = 0;
      if (axe_token_to_piece(model, i ? ids[i - 1] : -1, ids[i], buf, sizeof buf, &pb) == AXE_OK)
        pieces.append(buf, pb);
    }
    const std::string decoded(out.data(), nb2);
    if (pieces != decoded) {
      std::fprintf(stderr, "axe_token_to_piece pieces differ from axe_detokenize\n");
      std::abort();
    }
    // Appended, not concatenated: GCC 12's -Wrestrict misfires on the latter.
    std::string expected;
    if (size != 0) {
      if (!bos) expected += ' ';
      expected.append(text, size);
    }
    if (decoded != expected) {
      std::fprintf(stderr, "detokenize(tokenize(text, bos=%d)) differs from the text\n", bos);
      std::abort();
    }
  }
  return 0;
}
