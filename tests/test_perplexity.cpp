// Perplexity: llama-perplexity's protocol, checked against scores computed
// from axe_decode directly, and independent of the thread count.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "api_helpers.h"

namespace {

std::string eval_text() {
  std::ifstream in(test_paths::shared("data/tinystories/eval.txt"), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str().substr(0, 60000);
}

axe_perplexity_result run(axe_context* c, const std::string& text, uint32_t n_ctx, int chunks, axe_score_mode mode) {
  axe_perplexity_params p = axe_perplexity_default_params();
  p.n_ctx = n_ctx;
  p.n_chunks = chunks;
  p.score = mode;
  axe_perplexity_result r{};
  r.struct_size = sizeof r;
  INFO(axe_context_last_error(c));
  REQUIRE(axe_perplexity(c, text.data(), text.size(), &p, &r) == AXE_OK);
  return r;
}

}  // namespace

TEST_CASE("perplexity follows llama-perplexity's protocol") {
  auto m = th::load();
  auto c = th::context(m.get(), nullptr, 2);
  const std::string text = eval_text();
  const uint32_t n_ctx = 128;

  // The same score by hand for the first two chunks.
  std::vector<axe_token> toks(text.size() + 2);
  size_t nt = 0;
  REQUIRE(axe_tokenize(m.get(), text.data(), text.size(), 1, toks.data(), toks.size(), &nt) == AXE_OK);
  const int32_t V = th::n_vocab(m.get());
  for (axe_score_mode mode : {AXE_SCORE_HALF, AXE_SCORE_ALL}) {
    double nll = 0;
    size_t count = 0;
    for (size_t chunk = 0; chunk < 2; ++chunk) {
      std::vector<axe_token> ch(toks.begin() + chunk * n_ctx, toks.begin() + (chunk + 1) * n_ctx);
      // llama.cpp's protocol replaces each chunk's first token by BOS;
      // GPTQ's keeps the text's own tokens (BOS only at the text's start).
      if (mode == AXE_SCORE_HALF) ch[0] = axe_token_bos(m.get());
      std::vector<int32_t> pos(n_ctx);
      for (uint32_t i = 0; i < n_ctx; ++i) pos[i] = static_cast<int32_t>(i);
      std::vector<int8_t> want(n_ctx, 1);
      REQUIRE(axe_decode(c.get(), ch.data(), pos.data(), n_ctx, want.data()) == AXE_OK);
      const size_t first = mode == AXE_SCORE_HALF ? n_ctx / 2 : 0;
      for (size_t j = first; j + 1 < n_ctx; ++j) {
        const float* l = axe_get_logits(c.get(), static_cast<int32_t>(j));
        double mx = l[0], z = 0;
        for (int v = 0; v < V; ++v) mx = std::max(mx, double(l[v]));
        for (int v = 0; v < V; ++v) z += std::exp(l[v] - mx);
        nll += std::log(z) - (l[ch[j + 1]] - mx);
        ++count;
      }
    }
    const auto r = run(c.get(), text, n_ctx, 2, mode);
    CHECK(r.n_chunks == 2);
    CHECK(r.n_tokens_scored == count);
    CHECK(r.n_tokens_scored == (mode == AXE_SCORE_HALF ? 2 * (n_ctx - 1 - n_ctx / 2) : 2 * (n_ctx - 1)));
    CHECK(r.ppl == doctest::Approx(std::exp(nll / count)).epsilon(1e-9));
    CHECK(r.ppl_error > 0);
  }
}

TEST_CASE("perplexity is the same for every thread count and reports chunks in order") {
  auto m = th::load();
  const std::string text = eval_text();
  auto c1 = th::context(m.get(), nullptr, 1);
  auto c2 = th::context(m.get(), nullptr, 2);
  const auto a = run(c1.get(), text, 128, -1, AXE_SCORE_HALF);
  const auto b = run(c2.get(), text, 128, -1, AXE_SCORE_HALF);
  CHECK(a.n_chunks > 50);
  CHECK(std::memcmp(&a.ppl, &b.ppl, sizeof(double)) == 0);
  CHECK(std::memcmp(&a.ppl_error, &b.ppl_error, sizeof(double)) == 0);
  CHECK(a.ppl > 1.0);
  CHECK(a.ppl < 20.0);  // stories260K knows TinyStories

  std::vector<int32_t> order;
  axe_perplexity_params p = axe_perplexity_default_params();
  p.n_ctx = 128;
  p.n_chunks = 5;
  p.on_chunk = [](int32_t i, int32_t, double, void* u) { static_cast<std::vector<int32_t>*>(u)->push_back(i); };
  p.on_chunk_user_data = &order;
  axe_perplexity_result r{};
  r.struct_size = sizeof r;
  REQUIRE(axe_perplexity(c2.get(), text.data(), text.size(), &p, &r) == AXE_OK);
  CHECK(order == std::vector<int32_t>{0, 1, 2, 3, 4});

  p.on_chunk = nullptr;
  p.progress = [](float, void*) { return 0; };
  CHECK(axe_perplexity(c2.get(), text.data(), text.size(), &p, &r) == AXE_ERR_ABORTED);
}
