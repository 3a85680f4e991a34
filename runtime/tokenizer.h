// SentencePiece-style BPE over a llama2.c tokenizer.bin vocabulary: a dummy
// prefix space, UTF-8 codepoints as initial symbols, repeated merges of the
// adjacent pair whose merged piece has the best score (leftmost on ties), and
// byte fallback (<0xNN>) for symbols not in the vocabulary. O(n log n).
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace axe {

class Tokenizer {
 public:
  static constexpr int32_t kUnk = 0, kBos = 1, kEos = 2;

  // Reads a llama2.c tokenizer.bin holding exactly `n_vocab` entries.
  Tokenizer(const std::string& path, int32_t n_vocab);
  // The same from the file's bytes; `name` is used in error messages.
  Tokenizer(std::string_view bytes, const std::string& name, int32_t n_vocab);
  // The tokenizer.bin bytes this was read from (to embed in other files).
  const std::string& file_bytes() const { return bytes_; }

  int32_t n_vocab() const { return static_cast<int32_t>(pieces_.size()); }
  std::vector<int32_t> encode(std::string_view text, bool add_bos) const;
  // The bytes token `token` contributes after `prev` (see axe_token_to_piece).
  std::string_view piece(int32_t prev, int32_t token, char* byte_buf) const;

 private:
  void parse(const std::string& name, int32_t n_vocab);
  std::string bytes_;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string_view, int32_t> lookup_;  // mergeable pieces only
  int32_t byte_token_[256];
  std::vector<int16_t> byte_of_token_;  // -1 unless the token is <0xNN>
};

}  // namespace axe
