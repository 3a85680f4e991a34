// llama.cpp's file of base-model log-probabilities (llama-perplexity
// --kl-divergence-base), read and written byte for byte as llama.cpp does, so
// one base file scores axe's and llama.cpp's quantizations alike:
//
//   char[8]   "_logits_"
//   int32     n_ctx
//   int32     n_vocab
//   int32     n_chunk
//   int32     tokens[n_chunk * n_ctx]       the text's tokens (BOS first)
//   per chunk, per scored token (positions n_ctx/2 .. n_ctx-2):
//     float   scale, float min_log_prob     (as 4 uint16)
//     uint16  q[n_vocab], padded to an even count
//
// A row's log-probability of token j is scale * q[j] + min_log_prob; logits
// more than 16 below the row's maximum are stored as q = 0 (the minimum).
// Little-endian, as llama.cpp writes it on x86.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/mapped_file.h"

namespace axe {

// uint16 words per scored token: 2 * ceil(n_vocab / 2) + 4.
inline size_t logits_row_words(size_t n_vocab) { return 2 * ((n_vocab + 1) / 2) + 4; }

// Compresses one row of logits as llama.cpp does (row: logits_row_words
// words); returns the token's negative log-likelihood.
double compress_log_probs(const float* logits, size_t n_vocab, int32_t token, uint16_t* row);

// The per-token statistics llama.cpp sums in its KL-divergence mode.
struct KldSums {
  double nll = 0, nll2 = 0, nll_base = 0, nll_base2 = 0, nll_nll_base = 0;
  double kld = 0, kld2 = 0, p_diff = 0, p_diff2 = 0, p_diff4 = 0;
  float max_p_diff = 0;
  uint64_t same_top = 0, count = 0;
  void add(const KldSums& o);
};
// One scored token: the model's logits against a base row; adds to `sums`
// and returns the token's KL divergence and its probability change.
void kld_token(const float* logits, size_t n_vocab, const uint16_t* base_row, int32_t token, KldSums& sums,
               float* kld, float* p_diff);

class LogitsFile {
 public:
  // Checks the header and that the file holds exactly the rows it declares.
  explicit LogitsFile(const std::string& path);
  const std::string& path() const { return file_->path(); }
  uint32_t n_ctx() const { return n_ctx_; }
  uint32_t n_vocab() const { return n_vocab_; }
  uint32_t n_chunk() const { return n_chunk_; }
  const std::vector<int32_t>& tokens() const { return tokens_; }
  size_t rows_per_chunk() const { return n_ctx_ - 1 - n_ctx_ / 2; }
  // Row r of chunk c (r < rows_per_chunk()), in the mapping.
  const uint16_t* row(size_t chunk, size_t r) const;

 private:
  std::unique_ptr<MappedFile> file_;
  uint32_t n_ctx_ = 0, n_vocab_ = 0, n_chunk_ = 0;
  std::vector<int32_t> tokens_;
  const uint16_t* rows_ = nullptr;
};

// Writes a base file atomically: header and tokens first, then each chunk's
// rows in chunk order.
class LogitsFileWriter {
 public:
  LogitsFileWriter(const std::string& path, uint32_t n_ctx, uint32_t n_vocab, const std::vector<int32_t>& tokens,
                   uint32_t n_chunk);
  ~LogitsFileWriter();
  void add_chunk(const std::vector<uint16_t>& rows);  // rows_per_chunk rows
  void finish();

 private:
  std::string path_, tmp_;
  std::FILE* f_ = nullptr;
};

}  // namespace axe
