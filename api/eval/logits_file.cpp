#include "api/eval/logits_file.h"


#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "runtime/error.h"
#include "runtime/file_io.h"

namespace axe {

namespace {

// llama.cpp's rounding: the float's mantissa after adding 1.5 * 2^23.
int nearest_int(float v) {
  float f = v + 12582912.f;
  int i;
  std::memcpy(&i, &f, sizeof i);
  return (i & 0x007fffff) - 0x00400000;
}

}  // namespace

double compress_log_probs(const float* logits, size_t n_vocab, int32_t token, uint16_t* row) {
  float max_logit = logits[0], min_logit = logits[0];
  for (size_t i = 1; i < n_vocab; ++i) {
    max_logit = std::max(max_logit, logits[i]);
    min_logit = std::min(min_logit, logits[i]);
  }
  min_logit = std::max(min_logit, max_logit - 16);
  double sum_exp = 0.0;
  for (size_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);  // float exp, as expf
  const float log_sum_exp = static_cast<float>(std::log(sum_exp));
  const float min_log_prob = min_logit - max_logit - log_sum_exp;
  const float scale = (max_logit - min_logit) / 65535.f;
  std::memcpy(row, &scale, 4);
  std::memcpy(row + 2, &min_log_prob, 4);
  uint16_t* q = row + 4;
  if (scale != 0) {
    const float inv_scale = 1 / scale;
    for (size_t i = 0; i < n_vocab; ++i)
      q[i] = logits[i] > min_logit ? static_cast<uint16_t>(nearest_int(inv_scale * (logits[i] - min_logit))) : 0;
  } else {
    std::memset(q, 0, n_vocab * sizeof(uint16_t));
  }
  if (n_vocab % 2) q[n_vocab] = 0;  // the padding word
  return max_logit + log_sum_exp - logits[token];
}

void KldSums::add(const KldSums& o) {
  nll += o.nll, nll2 += o.nll2, nll_base += o.nll_base, nll_base2 += o.nll_base2, nll_nll_base += o.nll_nll_base;
  kld += o.kld, kld2 += o.kld2, p_diff += o.p_diff, p_diff2 += o.p_diff2, p_diff4 += o.p_diff4;
  max_p_diff = std::max(max_p_diff, o.max_p_diff);
  same_top += o.same_top, count += o.count;
}

void kld_token(const float* logits, size_t n_vocab, const uint16_t* base_row, int32_t token, KldSums& s, float* kld,
               float* p_diff_out) {
  float max_logit = logits[0];
  size_t imax = 0;
  for (size_t i = 1; i < n_vocab; ++i)
    if (logits[i] > max_logit) max_logit = logits[i], imax = i;
  double sum_exp = 0.0;
  for (size_t i = 0; i < n_vocab; ++i) sum_exp += std::exp(logits[i] - max_logit);
  const float log_sum_exp = static_cast<float>(std::log(sum_exp));
  float scale, min_log_prob;
  std::memcpy(&scale, base_row, 4);
  std::memcpy(&min_log_prob, base_row + 2, 4);
  const uint16_t* q = base_row + 4;
  const float nll = max_logit + log_sum_exp - logits[token];
  s.nll += nll;
  s.nll2 += nll * nll;
  const float nll_base = -(scale * q[token] + min_log_prob);
  s.nll_base += nll_base;
  s.nll_base2 += nll_base * nll_base;
  s.nll_nll_base += nll * nll_base;
  const float log_norm = max_logit + log_sum_exp;
  double sum = 0;
  size_t imax_base = 0;
  float p_log_base_max = 0;
  for (size_t i = 0; i < n_vocab; ++i) {
    const float p_log_base = scale * q[i] + min_log_prob;
    if (i == 0 || p_log_base > p_log_base_max) p_log_base_max = p_log_base, imax_base = i;
    if (p_log_base > -16.f) sum += std::exp(p_log_base) * (p_log_base - logits[i] + log_norm);
  }
  s.kld += sum;
  s.kld2 += sum * sum;
  ++s.count;
  if (imax == imax_base) ++s.same_top;
  const float p_diff = std::exp(-nll) - std::exp(-nll_base);
  s.p_diff += p_diff;
  const double p_diff2 = p_diff * p_diff;  // a float product, as llama.cpp's
  s.p_diff2 += p_diff2;
  s.p_diff4 += p_diff2 * p_diff2;
  s.max_p_diff = std::max(s.max_p_diff, std::fabs(p_diff));
  *kld = static_cast<float>(sum);
  *p_diff_out = p_diff;
}

LogitsFile::LogitsFile(const std::string& path) : file_(std::make_unique<MappedFile>(path, MappedFile::Mode::kMap)) {
  const MappedFile& f = *file_;
  if (f.size() < 20 || std::memcmp(f.at(0, 8, "the magic"), "_logits_", 8) != 0)
    fail(AXE_ERR_FORMAT, path + ": not a llama.cpp log-probability file (no '_logits_' at offset 0)");
  const int32_t n_ctx = f.read<int32_t>(8, "n_ctx"), n_vocab = f.read<int32_t>(12, "n_vocab"),
                n_chunk = f.read<int32_t>(16, "n_chunk");
  if (n_ctx < 4 || n_ctx > (1 << 20)) fail(AXE_ERR_FORMAT, path + ": n_ctx " + std::to_string(n_ctx) + " at offset 8 is out of range");
  if (n_vocab < 2 || n_vocab > (1 << 22))
    fail(AXE_ERR_FORMAT, path + ": n_vocab " + std::to_string(n_vocab) + " at offset 12 is out of range");
  if (n_chunk < 1 || n_chunk > (1 << 24))
    fail(AXE_ERR_FORMAT, path + ": n_chunk " + std::to_string(n_chunk) + " at offset 16 is out of range");
  n_ctx_ = static_cast<uint32_t>(n_ctx), n_vocab_ = static_cast<uint32_t>(n_vocab), n_chunk_ = static_cast<uint32_t>(n_chunk);
  const uint64_t n_tokens = uint64_t{n_chunk_} * n_ctx_;  // < 2^44
  const uint64_t row_words = logits_row_words(n_vocab_);
  // Bounded by division first, so the products below cannot wrap.
  const uint64_t chunk_bytes = rows_per_chunk() * row_words * 2;  // < 2^43
  if (f.size() < 20 + 4 * n_tokens || chunk_bytes > (f.size() - 20 - 4 * n_tokens) / n_chunk_)
    fail(AXE_ERR_FORMAT, path + ": " + std::to_string(f.size()) + " bytes cannot hold " + std::to_string(n_chunk_) +
                             " chunks of " + std::to_string(n_ctx_) + " tokens over a vocabulary of " +
                             std::to_string(n_vocab_));
  const uint64_t rows_bytes = uint64_t{n_chunk_} * chunk_bytes;
  const uint64_t expected = 20 + 4 * n_tokens + rows_bytes;
  if (f.size() != expected)
    fail(AXE_ERR_FORMAT, path + ": " + std::to_string(f.size()) + " bytes, but n_ctx " + std::to_string(n_ctx_) +
                             ", n_vocab " + std::to_string(n_vocab_) + " and n_chunk " + std::to_string(n_chunk_) +
                             " make " + std::to_string(expected));
  tokens_.resize(n_tokens);
  std::memcpy(tokens_.data(), f.at(20, 4 * n_tokens, "the tokens"), 4 * n_tokens);
  for (size_t i = 0; i < tokens_.size(); ++i)
    if (tokens_[i] < 0 || tokens_[i] >= n_vocab)
      fail(AXE_ERR_FORMAT, path + ": token " + std::to_string(tokens_[i]) + " at index " + std::to_string(i) +
                               " is outside the vocabulary of " + std::to_string(n_vocab));
  // Even offsets in a page-aligned mapping: the rows are 2-byte aligned.
  rows_ = reinterpret_cast<const uint16_t*>(f.at(20 + 4 * n_tokens, rows_bytes, "the log-probabilities"));
  // Every row's header as llama.cpp writes it: a finite scale >= 0 and a
  // finite minimum log-probability <= 0, whose largest code stays finite.
  for (size_t c = 0; c < n_chunk_; ++c)
    for (size_t r = 0; r < rows_per_chunk(); ++r) {
      float scale, min_log_prob;
      std::memcpy(&scale, row(c, r), 4);
      std::memcpy(&min_log_prob, row(c, r) + 2, 4);
      if (!(scale >= 0) || !std::isfinite(scale) || !(min_log_prob <= 0) || !std::isfinite(min_log_prob) ||
          !std::isfinite(scale * 65535.f + min_log_prob))
        fail(AXE_ERR_FORMAT, path + ": chunk " + std::to_string(c) + ", row " + std::to_string(r) +
                                 ": the row's scale or minimum log-probability is not a valid number");
    }
}

const uint16_t* LogitsFile::row(size_t chunk, size_t r) const {
  return rows_ + (chunk * rows_per_chunk() + r) * logits_row_words(n_vocab_);
}

LogitsFileWriter::LogitsFileWriter(const std::string& path, uint32_t n_ctx, uint32_t n_vocab,
                                   const std::vector<int32_t>& tokens, uint32_t n_chunk)
    : path_(path) {
  f_ = create_temporary_beside(path, &tmp_);
  const int32_t header[3] = {static_cast<int32_t>(n_ctx), static_cast<int32_t>(n_vocab), static_cast<int32_t>(n_chunk)};
  bool ok = std::fwrite("_logits_", 1, 8, f_) == 8 && std::fwrite(header, 4, 3, f_) == 3;
  const size_t n = size_t{n_chunk} * n_ctx;
  ok = ok && tokens.size() >= n && std::fwrite(tokens.data(), 4, n, f_) == n;
  if (!ok) {
    std::fclose(f_);
    f_ = nullptr;
    std::remove(tmp_.c_str());
    fail(AXE_ERR_IO, path + ": cannot write");
  }
}

LogitsFileWriter::~LogitsFileWriter() {
  if (f_) {
    std::fclose(f_);
    std::remove(tmp_.c_str());
  }
}

void LogitsFileWriter::add_chunk(const std::vector<uint16_t>& rows) {
  if (std::fwrite(rows.data(), 2, rows.size(), f_) != rows.size()) fail(AXE_ERR_IO, path_ + ": cannot write");
}

void LogitsFileWriter::finish() {
  std::FILE* f = f_;
  f_ = nullptr;
  commit_temporary(f, tmp_, path_, true);
}

}  // namespace axe
