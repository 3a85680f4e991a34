// KL divergence against a base model with llama.cpp's log-probability file:
// axe reads a file llama.cpp wrote (tests/fixtures/kld, with its provenance),
// writes the same header and tokens for the same text, scores a model
// against its own base at zero, and refuses damaged or mismatched files.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include <limits>

#include "api/eval/logits_file.h"
#include "api_helpers.h"
#include "temp_dir.h"

namespace {

const std::string kFixture = std::string(AXE_FIXTURES_DIR) + "/kld/stories260K-c128-4chunks.kld";

std::string eval_text() {
  std::ifstream in(test_paths::shared("data/tinystories/eval.txt"), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

axe_status run(axe_model* m, const std::string& text, axe_kld_mode mode, const std::string& base, uint32_t n_ctx,
               int chunks, axe_perplexity_result* r, axe_score_mode score = AXE_SCORE_HALF) {
  auto c = th::context(m, nullptr, 2);
  axe_perplexity_params p = axe_perplexity_default_params();
  p.n_ctx = n_ctx;
  p.n_chunks = chunks;
  p.score = score;
  p.kld = mode;
  p.kld_base = base.c_str();
  *r = axe_perplexity_result{};
  r->struct_size = sizeof *r;
  const axe_status st = axe_perplexity(c.get(), text.data(), text.size(), &p, r);
  if (st != AXE_OK) MESSAGE(std::string(axe_context_last_error(c.get())));
  return st;
}

}  // namespace

TEST_CASE("a base file written by llama.cpp is read: its PPL(base) is llama.cpp's, and axe's F32 model agrees") {
  auto m = th::load();
  axe_perplexity_result r;
  REQUIRE(run(m.get(), "", AXE_KLD_SCORE, kFixture, 0, -1, &r) == AXE_OK);
  CHECK(r.n_ctx == 128);
  CHECK(r.n_chunks == 4);
  CHECK(r.n_tokens_scored == 4 * 63);
  // llama-perplexity --kl-divergence printed "Mean PPL(base) : 7.425659 ± 1.042260" for this file.
  CHECK(r.ppl_base == doctest::Approx(7.425659).epsilon(2e-7));
  CHECK(r.ppl_base_error == doctest::Approx(1.042260).epsilon(1e-6));
  // The same weights in axe (fp32 attention and cache; llama.cpp's defaults
  // used f16 K/V and flash attention): the distributions agree to 1e-4.
  CHECK(std::abs(r.kld_mean) < 1e-5);
  CHECK(r.kld_quantiles[0] < 2e-4);
  CHECK(r.same_top == 1.0);
  CHECK(r.ppl == doctest::Approx(7.4262).epsilon(1e-4));
}

TEST_CASE("the base file axe writes has llama.cpp's header and tokens, and scores its own model at zero") {
  TempDir dir;
  auto m = th::load();
  const std::string text = eval_text();
  const std::string base = dir.file("base.kld");
  axe_perplexity_result plain, written;
  REQUIRE(run(m.get(), text, AXE_KLD_OFF, "", 128, 4, &plain) == AXE_OK);
  REQUIRE(run(m.get(), text, AXE_KLD_WRITE_BASE, base, 128, 4, &written) == AXE_OK);
  CHECK(written.ppl == plain.ppl);  // writing changes nothing in the score
  const auto mine = read_bytes(base), theirs = read_bytes(kFixture);
  REQUIRE(mine.size() == theirs.size());
  const size_t header = 20 + 4 * 4 * 128;  // magic, n_ctx, n_vocab, n_chunk, tokens
  CHECK(std::memcmp(mine.data(), theirs.data(), header) == 0);

  axe_perplexity_result self;
  REQUIRE(run(m.get(), "", AXE_KLD_SCORE, base, 0, -1, &self) == AXE_OK);
  CHECK(std::abs(self.kld_mean) < 1e-5);
  CHECK(self.same_top == 1.0);
  CHECK(self.dp_rms < 1e-4);
  CHECK(self.ppl == doctest::Approx(plain.ppl).epsilon(1e-5));

  // A W4A8 model against the float base: a real divergence, and consistent statistics.
  axe_quantize_params q = axe_quantize_default_params();
  q.weight_bits = 4;
  q.n_threads = 1;
  const std::string w4 = dir.file("w4.axe");
  REQUIRE(axe_quantize(m.get(), w4.c_str(), &q) == AXE_OK);
  auto mq = th::load(w4);
  axe_perplexity_result k, qp;
  REQUIRE(run(mq.get(), "", AXE_KLD_SCORE, base, 0, -1, &k) == AXE_OK);
  REQUIRE(run(mq.get(), text, AXE_KLD_OFF, "", 128, 4, &qp) == AXE_OK);
  CHECK(k.kld_mean > 1e-3);
  CHECK(k.same_top < 1.0);
  CHECK(k.same_top > 0.5);
  CHECK(k.ppl == doctest::Approx(qp.ppl).epsilon(1e-5));
  CHECK(k.ppl_base == doctest::Approx(plain.ppl).epsilon(1e-4));
  CHECK(k.ln_ppl_ratio == doctest::Approx(std::log(k.ppl / k.ppl_base)).epsilon(1e-9));
  for (int i = 0; i + 1 < 11; ++i) CHECK(k.kld_quantiles[i] >= k.kld_quantiles[i + 1]);
  for (int i = 0; i + 1 < 13; ++i) CHECK(k.dp_quantiles[i] >= k.dp_quantiles[i + 1]);
}

TEST_CASE("KL divergence refuses what it cannot score") {
  TempDir dir;
  auto m = th::load();
  axe_perplexity_result r;
  const std::string text = eval_text();
  CHECK(run(m.get(), text, AXE_KLD_WRITE_BASE, dir.file("x.kld"), 128, 2, &r, AXE_SCORE_ALL) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(run(m.get(), "", AXE_KLD_SCORE, kFixture, 256, -1, &r) == AXE_ERR_INVALID_ARGUMENT);  // chunk length differs
  auto bytes = read_bytes(kFixture);
  bytes.resize(bytes.size() - 1);
  CHECK(run(m.get(), "", AXE_KLD_SCORE, dir.write("short.kld", bytes), 0, -1, &r) == AXE_ERR_FORMAT);
  bytes = read_bytes(kFixture);
  bytes[0] = 'X';
  CHECK(run(m.get(), "", AXE_KLD_SCORE, dir.write("magic.kld", bytes), 0, -1, &r) == AXE_ERR_FORMAT);
  bytes = read_bytes(kFixture);
  const int32_t vocab = 1000;
  std::memcpy(bytes.data() + 12, &vocab, 4);
  CHECK(run(m.get(), "", AXE_KLD_SCORE, dir.write("vocab.kld", bytes), 0, -1, &r) == AXE_ERR_FORMAT);
  bytes = read_bytes(kFixture);
  const int32_t bad_token = 600;
  std::memcpy(bytes.data() + 20 + 4 * 7, &bad_token, 4);
  CHECK(run(m.get(), "", AXE_KLD_SCORE, dir.write("token.kld", bytes), 0, -1, &r) == AXE_ERR_FORMAT);
}

TEST_CASE("row compression: llama.cpp's layout for an odd vocabulary, and log-probabilities within a step") {
  const std::vector<float> logits = {2.0f, -1.0f, 0.5f, -30.0f, 1.0f};  // n_vocab 5: one padding word
  std::vector<uint16_t> row(axe::logits_row_words(5), 0xFFFF);
  CHECK(row.size() == 10);
  const double nll = axe::compress_log_probs(logits.data(), 5, 2, row.data());
  float scale, min_log_prob;
  std::memcpy(&scale, row.data(), 4);
  std::memcpy(&min_log_prob, row.data() + 2, 4);
  double z = 0;
  for (float l : logits) z += std::exp(double(l) - 2.0);
  const double lse = 2.0 + std::log(z);
  CHECK(nll == doctest::Approx(lse - 0.5).epsilon(1e-6));
  CHECK(scale == doctest::Approx(16.0 / 65535).epsilon(1e-6));  // the range is clamped to 16 below the max
  for (int i : {0, 1, 2, 4}) CHECK(scale * row[4 + i] + min_log_prob == doctest::Approx(logits[i] - lse).epsilon(1e-3));
  CHECK(row[4 + 3] == 0);  // more than 16 below the maximum: the minimum
  CHECK(row[9] == 0);      // the padding word
}

TEST_CASE("hostile base files: broken row headers, and chunks longer than the model's context") {
  TempDir dir;
  auto m = th::load();
  axe_perplexity_result r;
  auto bytes = read_bytes(kFixture);
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(bytes.data() + 20 + 4 * 4 * 128 + 1032 * 5, &nan, 4);  // chunk 0, row 5: scale
  CHECK(run(m.get(), "", AXE_KLD_SCORE, dir.write("nan.kld", bytes), 0, -1, &r) == AXE_ERR_FORMAT);
  // A valid file of one chunk of 1024 tokens for a model trained on 512.
  const uint32_t n_ctx = 1024;
  std::vector<int32_t> tokens(n_ctx, 5);
  const std::string long_base = dir.file("long.kld");
  {
    axe::LogitsFileWriter w(long_base, n_ctx, 512, tokens, 1);
    std::vector<float> logits(512, 0.0f);
    std::vector<uint16_t> rows(axe::logits_row_words(512) * (n_ctx - 1 - n_ctx / 2));
    for (size_t i = 0; i < n_ctx - 1 - n_ctx / 2; ++i)
      axe::compress_log_probs(logits.data(), 512, 5, rows.data() + i * axe::logits_row_words(512));
    w.add_chunk(rows);
    w.finish();
  }
  CHECK(run(m.get(), "", AXE_KLD_SCORE, long_base, 0, -1, &r) == AXE_ERR_INVALID_ARGUMENT);
}
