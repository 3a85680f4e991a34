// Tokenizers: the interface the runtime sees, and the llama2.c one.
//
// Llama2cTokenizer is SentencePiece-style BPE over a llama2.c tokenizer.bin
// vocabulary: a dummy prefix space, UTF-8 codepoints as initial symbols,
// repeated merges of the adjacent pair whose merged piece has the best score
// (leftmost on ties), and byte fallback (<0xNN>) for symbols not in the
// vocabulary. O(n log n). Hugging Face tokenizer.json files are read by
// runtime/tokenizer_json.h.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace axe {

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  // What rebuilds this tokenizer (make_tokenizer): its kind ("llama2c",
  // "tokenizer.json"), the file's bytes, and the settings that came from
  // beside it (tokenizer_config.json for "tokenizer.json"; empty otherwise).
  virtual std::string_view kind() const = 0;
  virtual const std::string& file_bytes() const = 0;
  virtual const std::string& settings_bytes() const { return empty_; }

  virtual int32_t n_vocab() const = 0;
  // -1 when the vocabulary has none.
  virtual int32_t bos() const = 0;
  virtual int32_t eos() const = 0;
  // Whether the model's text starts with BOS (tokenizer_config.json's
  // add_bos_token; always for llama2.c).
  virtual bool adds_bos() const { return true; }
  // Ids of text; BOS first when add_bos and the vocabulary has one. With
  // parse_special, special tokens written in the text (e.g. "<|eot_id|>")
  // become their ids; otherwise they are plain text.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const = 0;
  // The bytes token `token` contributes after `prev` (see axe_token_to_piece);
  // byte_buf holds at least one byte. Special tokens give their text only
  // when `special` (BOS/EOS of a llama2.c vocabulary give nothing).
  virtual std::string_view piece(int32_t prev, int32_t token, char* byte_buf, bool special = true) const = 0;
  // The token's text as the vocabulary spells it ("<s>", "<|eot_id|>").
  virtual std::string_view token_text(int32_t token) const = 0;
  // Ids that end a turn besides eos() (e.g. "<|eot_id|>"), ascending.
  virtual std::vector<int32_t> end_of_turn_ids() const { return {}; }

 private:
  static inline const std::string empty_;
};

// Rebuilds a tokenizer from what kind()/file_bytes()/settings_bytes() gave;
// `name` is used in errors; n_vocab is the model's vocabulary size.
std::unique_ptr<Tokenizer> make_tokenizer(std::string_view kind, std::string_view bytes, std::string_view settings,
                                          const std::string& name, int32_t n_vocab);

// The llama2.c tokenizer.bin bytes of a SentencePiece model (its protobuf
// tokenizer.model), as llama2.c's tokenizer.py exports it: every piece with
// its score, '\xe2\x96\x81' as a space, BOS and EOS as "\n<s>\n" and
// "\n</s>\n". The model must use ids 0, 1, 2 for unknown, BOS and EOS, as
// Llama2cTokenizer does. Errors name `name` and the byte offset.
std::string llama2c_bytes_from_sentencepiece(std::string_view proto, const std::string& name);
// The same export from a SentencePiece vocabulary already read (pieces with
// U+2581, their scores; ids 1 and 2 are BOS and EOS): the one writer of
// llama2.c's bytes for tokenizer.model and GGUF's tokenizer.ggml.* alike.
// Errors (a piece over 65536 bytes, a score that is not finite) name `name`.
std::string llama2c_bytes(const std::vector<std::string>& pieces, const std::vector<float>& scores,
                          const std::string& name);

class Llama2cTokenizer final : public Tokenizer {
 public:
  static constexpr int32_t kUnk = 0, kBos = 1, kEos = 2;

  // Reads a llama2.c tokenizer.bin holding exactly `n_vocab` entries.
  Llama2cTokenizer(const std::string& path, int32_t n_vocab);
  // The same from the file's bytes; `name` is used in error messages.
  Llama2cTokenizer(std::string_view bytes, const std::string& name, int32_t n_vocab);

  std::string_view kind() const override { return "llama2c"; }
  const std::string& file_bytes() const override { return bytes_; }
  int32_t n_vocab() const override { return static_cast<int32_t>(pieces_.size()); }
  int32_t bos() const override { return kBos; }
  int32_t eos() const override { return kEos; }
  // parse_special recognises "<s>" and "</s>".
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const override;
  std::string_view piece(int32_t prev, int32_t token, char* byte_buf, bool special = true) const override;
  std::string_view token_text(int32_t token) const override;
  // The token's merge score and whether it is a byte token <0xNN> (for
  // writers of other formats).
  float score(int32_t token) const { return scores_.at(static_cast<size_t>(token)); }
  bool is_byte(int32_t token) const { return byte_of_token_.at(static_cast<size_t>(token)) >= 0; }

 private:
  void encode_plain(std::string_view text, std::vector<int32_t>& out) const;
  void parse(const std::string& name, int32_t n_vocab);
  std::string bytes_;
  std::vector<std::string> pieces_;
  std::vector<float> scores_;
  std::unordered_map<std::string_view, int32_t> lookup_;  // mergeable pieces only
  int32_t byte_token_[256];
  std::vector<int16_t> byte_of_token_;  // -1 unless the token is <0xNN>
};

}  // namespace axe
