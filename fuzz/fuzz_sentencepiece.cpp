// The input is a SentencePiece model (tokenizer.model, protobuf), converted
// by axe::llama2c_bytes_from_sentencepiece to llama2.c's tokenizer.bin; when
// that succeeds, the bytes are read back as axe::Llama2cTokenizer with n_vocab
// = the number of pieces (which must succeed: the converter's output is a
// valid tokenizer.bin of exactly that many pieces), and a few texts (and the
// input's first bytes as text) are encoded, the ids turned into pieces.
// Findings besides crashes and sanitizer reports: an exception other than
// axe::Error (or std::bad_alloc), a converted file the reader refuses, an id
// outside [0, n).
#include "fuzz_common.h"
#include "runtime/error.h"
#include "runtime/tokenizer.h"

namespace {

// The number of entries of a tokenizer.bin (max length, then per entry a
// score, a length and the bytes); -1 when it is not well-formed.
int64_t count_entries(const std::string& b) {
  if (b.size() < 4) return -1;
  size_t off = 4;
  int64_t n = 0;
  while (off < b.size()) {
    if (b.size() - off < 8) return -1;
    int32_t len;
    std::memcpy(&len, b.data() + off + 4, 4);
    if (len < 0 || static_cast<size_t>(len) > b.size() - off - 8) return -1;
    off += 8 + static_cast<size_t>(len);
    ++n;
  }
  return n;
}

void run(std::string_view proto) {
  const std::string bin = axe::llama2c_bytes_from_sentencepiece(proto, "fuzz/tokenizer.model");
  const int64_t n = count_entries(bin);
  if (n < 3 || n > INT32_MAX) {
    std::fprintf(stderr, "fuzz_sentencepiece: the converted file has %lld entries\n", static_cast<long long>(n));
    std::abort();
  }
  std::unique_ptr<axe::Llama2cTokenizer> tok;
  try {
    tok = std::make_unique<axe::Llama2cTokenizer>(bin, "fuzz/tokenizer.bin", static_cast<int32_t>(n));
  } catch (const axe::Error& e) {
    std::fprintf(stderr, "fuzz_sentencepiece: the converted file does not read back: %s\n", e.what());
    std::abort();
  }
  const std::string_view texts[] = {"Once upon a time, there was a little girl named Lily.",
                                    " caf\xc3\xa9 \xe2\x9c\x93 <s>x</s> <0x41> \xff\xfe\n\t  ", "",
                                    proto.substr(0, 64)};
  for (std::string_view text : texts) {
    for (int k = 0; k < 4; ++k) {
      const std::vector<int32_t> ids = tok->encode(text, k & 1, k & 2);
      int32_t prev = -1;
      size_t bytes = 0;
      for (int32_t id : ids) {
        if (id < 0 || id >= n) {
          std::fprintf(stderr, "fuzz_sentencepiece: id %d outside [0, %lld)\n", id, static_cast<long long>(n));
          std::abort();
        }
        char buf[8];
        bytes += tok->piece(prev, id, buf).size() + tok->token_text(id).size();
        prev = id;
      }
      if (bytes == SIZE_MAX) std::abort();  // keeps the calls
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  axe_fuzz::work_dir();  // quiet log
  try {
    run(std::string_view(reinterpret_cast<const char*>(data), size));
  } catch (const axe::Error& e) {
    if (std::getenv("AXE_FUZZ_VERBOSE")) std::fprintf(stderr, "%s\n", e.what());  // why an input is refused
  } catch (const std::bad_alloc&) {
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fuzz_sentencepiece: an exception that is not axe::Error: %s\n", e.what());
    std::abort();
  }
  return 0;
}
