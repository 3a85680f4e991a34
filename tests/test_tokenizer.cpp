// The tokenizer against llama.cpp's SentencePiece test vectors (Llama 2
// vocabulary, no BOS), and decoding.
#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "runtime/error.h"
#include "runtime/tokenizer.h"
#include "test_paths.h"
#include "text_helpers.h"

namespace {

using th::slurp;

std::string decode(const axe::Tokenizer& t, const std::vector<int32_t>& ids) {
  std::string out;
  char byte;
  for (size_t i = 0; i < ids.size(); ++i) out += t.piece(i ? ids[i - 1] : -1, ids[i], &byte);
  return out;
}

}  // namespace

TEST_CASE("tokenizer reproduces llama.cpp's SentencePiece test vectors with the Llama 2 vocabulary") {
  const axe::Llama2cTokenizer tok(test_paths::llama2_tokenizer(), 32000);
  for (const th::VocabVector& v : th::vocab_vectors("ggml-vocab-llama-spm.gguf")) {
    CAPTURE(v.text);
    CHECK(tok.encode(v.text, false) == v.ids);
  }
}

TEST_CASE("tokenizer: BOS, empty text, byte fallback and decoding") {
  const axe::Llama2cTokenizer tok(test_paths::llama2_tokenizer(), 32000);
  CHECK(tok.encode("", true) == std::vector<int32_t>{1});
  CHECK(tok.encode("", false).empty());
  const auto ids = tok.encode("Hello world", true);
  CHECK(ids == std::vector<int32_t>{1, 15043, 3186});
  CHECK(decode(tok, ids) == "Hello world");  // the space after BOS is stripped
  // A character missing from the vocabulary falls back to its UTF-8 bytes.
  const std::string odd = "\xF0\x9F\xA6\x99";  // 🦙
  const auto odd_ids = tok.encode(odd, false);
  CHECK(decode(tok, odd_ids) == " " + odd);
}

TEST_CASE("tokenizer round-trips the TinyStories evaluation text with the 512-token vocabulary") {
  const axe::Llama2cTokenizer tok(test_paths::tok512(), 512);
  const std::string text = slurp(test_paths::shared("data/tinystories/eval.txt"));
  auto ids = tok.encode(text, true);
  CHECK(ids.size() > 100000);
  CHECK(ids.size() < text.size());
  CHECK(decode(tok, ids) == text);
}

TEST_CASE("tokenizer rejects a vocabulary of the wrong size") {
  CHECK_THROWS_AS(axe::Llama2cTokenizer(test_paths::tok512(), 32000), axe::Error);
  CHECK_THROWS_AS(axe::Llama2cTokenizer(test_paths::llama2_tokenizer(), 512), axe::Error);
  try {
    axe::Llama2cTokenizer(test_paths::tok512(), 600);
  } catch (const axe::Error& e) {
    CHECK(e.status() == AXE_ERR_FORMAT);
    CHECK(std::string(e.what()).find("tok512.bin") != std::string::npos);
  }
}

TEST_CASE("a SentencePiece tokenizer.model reads as llama2.c's export of it") {
  const std::string proto = slurp(test_paths::shared("models/llama2-tokenizer/tokenizer.model"));
  const std::string bin = slurp(test_paths::llama2_tokenizer());
  // llama2.c's tokenizer.bin is tokenizer.py's export of this very model:
  // the same pieces, scores and maximum length, byte for byte.
  CHECK(axe::llama2c_bytes_from_sentencepiece(proto, "tokenizer.model") == bin);
  // Hostile protobufs: truncated inside a piece, a bad wire type, a length past the end.
  for (size_t cut : {size_t{1}, size_t{7}, proto.size() / 2}) {
    try {
      axe::llama2c_bytes_from_sentencepiece(std::string_view(proto).substr(0, cut), "cut.model");
      FAIL("a truncated model was accepted at " << cut);
    } catch (const axe::Error& e) {
      CHECK(e.status() == AXE_ERR_FORMAT);
      CHECK(std::string(e.what()).find("cut.model") != std::string::npos);
    }
  }
  CHECK_THROWS_AS(axe::llama2c_bytes_from_sentencepiece(std::string("\x0f\x01", 2), "x"), axe::Error);
  CHECK_THROWS_AS(axe::llama2c_bytes_from_sentencepiece(std::string("\x0a\xff\xff\xff\x0f", 5), "x"), axe::Error);
}
