// A Hugging Face tokenizer.json tokenizer (BPE model), as the `tokenizers`
// library runs it: added tokens split out first (leftmost-longest, with their
// lstrip/rstrip/single_word flags), then the normalizer, the pre-tokenizer
// and the BPE model on each remaining piece.
//
// What is read (anything else is an error naming the file and the field):
//   model         BPE: vocab, merges ("a b" strings or ["a", "b"] pairs; rank
//                 = index), unk_token, fuse_unk, byte_fallback, ignore_merges
//   normalizer    null, Prepend, Replace (String pattern), Sequence
//   pre_tokenizer null, Split (Regex or String pattern, any behavior, invert),
//                 ByteLevel (GPT-2 regex when use_regex), Metaspace, Sequence
//   decoder       null, ByteLevel, Metaspace, Replace, ByteFallback, Fuse,
//                 Strip (start only), Sequence
//   post_processor TemplateProcessing (its `single` template gives BOS),
//                 Sequence, anything else ignored
// Regular expressions run through PCRE2 (UTF, Unicode properties, JIT).
//
// Two kinds of vocabulary result:
//   byte-level (Llama 3): a ByteLevel pre-tokenizer maps bytes to the GPT-2
//     alphabet; here the vocabulary is held as the raw bytes its pieces stand
//     for, so the text is never mapped and decoding is a table lookup.
//   SentencePiece-style (Llama 2, TinyLlama, Mistral): "▁" for spaces (Prepend
//     + Replace normalizers, or the Metaspace pre-tokenizer), byte fallback to
//     <0xNN>; the ids equal Llama2cTokenizer's on the same vocabulary.
//
// Text that is not valid UTF-8 (which Hugging Face cannot be given) keeps its
// bytes: an invalid byte is never part of a regular-expression match nor of a
// multi-byte character, so it becomes its own byte token (byte-level, or
// <0xNN> with byte fallback; the unknown token otherwise) and decoding gives
// the same bytes back.
//
// BOS/EOS come from tokenizer_config.json (bos_token, eos_token,
// add_bos_token) when given, else from the post-processor's template (BOS),
// else from well-known special tokens ("<s>", "<|begin_of_text|>", "<bos>";
// "</s>", "<|end_of_text|>", "<|endoftext|>", "<eos>"); -1 when none.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "runtime/tokenizer.h"

namespace axe {

class JsonTokenizer final : public Tokenizer {
 public:
  // `tokenizer_config_json` may be empty. `name` (the tokenizer.json path)
  // is used in errors. `n_vocab` is the model's vocabulary size: every id of
  // the file must be below it (the model may have more rows, never fewer).
  // Errors: AXE_ERR_FORMAT for a malformed or inconsistent file,
  // AXE_ERR_UNSUPPORTED for a valid file using a feature not implemented here.
  JsonTokenizer(std::string_view tokenizer_json, std::string_view tokenizer_config_json, const std::string& name,
                int32_t n_vocab);
  ~JsonTokenizer() override;
  JsonTokenizer(const JsonTokenizer&) = delete;
  JsonTokenizer& operator=(const JsonTokenizer&) = delete;

  std::string_view kind() const override { return "tokenizer.json"; }
  const std::string& file_bytes() const override { return bytes_; }
  const std::string& settings_bytes() const override { return settings_; }

  // The model's vocabulary size (ids the file leaves unused have empty text).
  int32_t n_vocab() const override;
  int32_t bos() const override;
  int32_t eos() const override;
  bool adds_bos() const override;
  // Thread-safe (no shared cache); with parse_special, added tokens marked
  // special split the text; non-special added tokens always do.
  std::vector<int32_t> encode(std::string_view text, bool add_bos, bool parse_special = false) const override;
  // Special added tokens give their content only when `special`; the first
  // piece after BOS loses the leading space the decoder strips.
  std::string_view piece(int32_t prev, int32_t token, char* byte_buf, bool special = true) const override;
  std::string_view token_text(int32_t token) const override;
  // Special added tokens among <|eot_id|>, <|eom_id|>, <|im_end|>, <|end|>,
  // <end_of_turn>, <|endoftext|>, </s>, except eos(); ascending.
  std::vector<int32_t> end_of_turn_ids() const override;

 private:
  struct Impl;
  std::string bytes_, settings_;
  std::unique_ptr<const Impl> impl_;
};

}  // namespace axe
