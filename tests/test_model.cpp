// stories260K end to end: the golden greedy text, logits against the
// independent reference, and prefill == decode, on every target.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>

#include "api_helpers.h"
#include "models/formats/hf_folder.h"
#include "models/formats/llama2c.h"
#include "models/llama/forward.h"
#include "models/llama/rotation.h"
#include "reference_llama.h"

static const char* kGolden = "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.";

TEST_CASE("greedy text of stories260K from BOS on every target and thread count") {
  auto m = th::load();
  for (const std::string& t : th::targets(m.get())) {
    for (int threads : {1, 2}) {
      CAPTURE(t);
      CAPTURE(threads);
      auto c = th::context(m.get(), t.c_str(), threads);
      const std::string text = th::greedy(m.get(), c.get(), "", 40);
      CHECK(text.rfind(kGolden, 0) == 0);
    }
  }
}

TEST_CASE("logits of the first positions match the independent reference") {
  reference::Llama ref(test_paths::stories260k());
  auto m = th::load();
  const std::vector<axe_token> toks{1, 403, 407, 261, 378, 1, 67, 300, 500, 2, 13, 290, 41, 5, 88, 199};
  std::vector<std::vector<double>> expected;
  for (size_t p = 0; p < toks.size(); ++p) expected.push_back(ref.step(toks[p], static_cast<int>(p)));
  for (const std::string& t : th::targets(m.get())) {
    CAPTURE(t);
    auto c = th::context(m.get(), t.c_str(), 2);
    std::vector<int32_t> pos(toks.size());
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
    std::vector<int8_t> want(toks.size(), 1);
    REQUIRE(axe_decode(c.get(), toks.data(), pos.data(), toks.size(), want.data()) == AXE_OK);
    double worst = 0;
    for (size_t p = 0; p < toks.size(); ++p) {
      const float* l = axe_get_logits(c.get(), static_cast<int32_t>(p));
      REQUIRE(l);
      for (int v = 0; v < ref.vocab; ++v) worst = std::max(worst, std::abs(l[v] - expected[p][v]));
    }
    CAPTURE(worst);
    CHECK(worst < 2e-3);
  }
}

TEST_CASE("the last block computes only the rows that want logits and they are the full block's bits") {
  // The last block's feed-forward half runs only for the rows whose logits
  // are wanted (moved to the front); their logits and the cache every later
  // token reads must be those of a batch that wants every row.
  auto m = th::load();
  for (const std::string& t : th::targets(m.get())) {
    CAPTURE(t);
    auto all = th::context(m.get(), t.c_str(), 2);
    auto some = th::context(m.get(), t.c_str(), 2);
    auto last = th::context(m.get(), t.c_str(), 2);
    const std::vector<axe_token> toks{1, 403, 407, 261, 378, 290, 41, 5, 88};
    std::vector<int32_t> pos(toks.size());
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
    std::vector<int8_t> want_all(toks.size(), 1), want_some{0, 1, 0, 0, 1, 1, 0, 0, 0};
    REQUIRE(axe_decode(all.get(), toks.data(), pos.data(), toks.size(), want_all.data()) == AXE_OK);
    REQUIRE(axe_decode(some.get(), toks.data(), pos.data(), toks.size(), want_some.data()) == AXE_OK);
    REQUIRE(axe_decode(last.get(), toks.data(), pos.data(), toks.size(), nullptr) == AXE_OK);
    const int32_t V = th::n_vocab(m.get());
    for (int i : {1, 4, 5}) {
      const float* a = axe_get_logits(all.get(), i);
      REQUIRE(a);
      CHECK(std::equal(a, a + V, axe_get_logits(some.get(), i)));
    }
    CHECK(axe_get_logits(some.get(), 8) == nullptr);
    const float* a8 = axe_get_logits(all.get(), 8);
    CHECK(std::equal(a8, a8 + V, axe_get_logits(last.get(), -1)));
    // The next token sees the same cache.
    const axe_token next = 77;
    const int32_t p = static_cast<int32_t>(toks.size());
    for (auto* c : {&all, &some, &last}) REQUIRE(axe_decode(c->get(), &next, &p, 1, nullptr) == AXE_OK);
    const float* n0 = axe_get_logits(all.get(), -1);
    CHECK(std::equal(n0, n0 + V, axe_get_logits(some.get(), -1)));
    CHECK(std::equal(n0, n0 + V, axe_get_logits(last.get(), -1)));
  }
}

TEST_CASE("batched prefill gives bitwise the same logits as token-by-token decode") {
  auto m = th::load();
  for (const std::string& t : th::targets(m.get())) {
    CAPTURE(t);
    auto a = th::context(m.get(), t.c_str(), 2);
    auto b = th::context(m.get(), t.c_str(), 1);
    // 40 tokens: enough for the prefill's threaded paths (KV cache rows,
    // several attention blocks), which start at 32 tokens.
    std::vector<axe_token> toks{1, 403, 407, 261, 378, 290, 41, 5, 88, 199, 300, 301};
    while (toks.size() < 40) toks.push_back(static_cast<axe_token>((toks.size() * 37 + 11) % 500));
    std::vector<int32_t> pos(toks.size());
    for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
    std::vector<int8_t> want(toks.size(), 1);
    REQUIRE(axe_decode(a.get(), toks.data(), pos.data(), toks.size(), want.data()) == AXE_OK);
    const int32_t V = th::n_vocab(m.get());
    for (size_t i = 0; i < toks.size(); ++i) {
      REQUIRE(axe_decode(b.get(), &toks[i], &pos[i], 1, nullptr) == AXE_OK);
      const float* la = axe_get_logits(a.get(), static_cast<int32_t>(i));
      const float* lb = axe_get_logits(b.get(), -1);
      REQUIRE(std::equal(la, la + V, lb));
    }
  }
}

// Calibration runs a block up to a stage once and resumes there for every
// later capture (quant/calibration.cpp): a resumed block must give the bits
// of a whole one, rotated models (a transform at the wo input) included.
TEST_CASE("a block resumed at attention.wo or at feed_forward.w1/w3 gives the whole block's bits") {
  using namespace axe;
  const auto plain = load_llama2c(test_paths::stories260k(), test_paths::tok512(), true);
  const auto rotated = rotate_model(*plain, 3, best_ops());
  const std::vector<int32_t> toks{1, 403, 407, 261, 378, 290, 41, 5, 88, 199, 300, 301, 12, 99, 250, 7, 33, 17};
  for (const LlamaModel* m : {plain.get(), rotated.get()}) {
    CAPTURE(bool(m->rotation));
    const Ops& ops = best_ops();
    const size_t n = toks.size(), D = m->config.dim, Q = m->config.q_dim();
    LlamaState st(*m, 64, n);
    llama_embed(*m, st, toks.data(), n);
    llama_block(*m, ops, st, 0, n, 0, true);  // block 1 sees a real residual stream
    const std::vector<float> input(st.hidden(), st.hidden() + n * D);
    for (BlockStage stop : {BlockStage::kAttentionOut, BlockStage::kFfnIn, BlockStage::kFfnOut, BlockStage::kEnd}) {
      CAPTURE(static_cast<int>(stop));
      // The whole block, and what it leaves at the two resume points.
      std::copy(input.begin(), input.end(), st.hidden());
      const StageInput att_in = llama_block_until(*m, ops, st, 1, n, 0, true, BlockStage::kAttentionOut);
      std::vector<float> att;
      for (size_t i = 0; i < n; ++i) att.insert(att.end(), att_in.x + i * att_in.ld, att_in.x + i * att_in.ld + Q);
      std::copy(input.begin(), input.end(), st.hidden());
      llama_block_until(*m, ops, st, 1, n, 0, true, BlockStage::kFfnIn);
      const std::vector<float> mid(st.hidden(), st.hidden() + n * D);
      std::copy(input.begin(), input.end(), st.hidden());
      const StageInput whole = llama_block_until(*m, ops, st, 1, n, 0, true, stop);
      const size_t cols = stop == BlockStage::kFfnOut ? size_t(m->config.hidden_dim) : stop == BlockStage::kAttentionOut ? Q : D;
      std::vector<float> expect;
      for (size_t i = 0; i < n; ++i) expect.insert(expect.end(), whole.x + i * whole.ld, whole.x + i * whole.ld + cols);
      auto rows = [&](const StageInput& in) {
        std::vector<float> r;
        for (size_t i = 0; i < n; ++i) r.insert(r.end(), in.x + i * in.ld, in.x + i * in.ld + cols);
        return r;
      };
      // Resumed after attention: the cache is garbage from here on and unused.
      std::copy(input.begin(), input.end(), st.hidden());
      std::copy(att.begin(), att.end(), st.attention_output());
      CHECK(std::memcmp(rows(llama_block_resume(*m, ops, st, 1, n, 0, true, BlockStage::kAttentionOut, stop)).data(),
                        expect.data(), expect.size() * 4) == 0);
      if (stop >= BlockStage::kFfnIn) {
        std::copy(mid.begin(), mid.end(), st.hidden());
        CHECK(std::memcmp(rows(llama_block_resume(*m, ops, st, 1, n, 0, true, BlockStage::kFfnIn, stop)).data(),
                          expect.data(), expect.size() * 4) == 0);
      }
    }
  }
}

// The fp32 GEMM loses about a third of its speed on rows that straddle cache
// lines (docs/PERFORMANCE.md): the loaders' copies and the state's buffers
// start every row of these models on one.
TEST_CASE("fp32 weight rows and activation rows start on cache lines") {
  using namespace axe;
  auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 64 == 0; };
  const auto bin = load_llama2c(test_paths::stories260k(), test_paths::tok512(), false);
  const auto hf = load_hf_folder(test_paths::stories260k_hf(""), false);
  for (const LlamaModel* m : {bin.get(), hf.get()}) {
    CAPTURE(m->path);
    for (const LlamaLayer& ly : m->layers)
      for (size_t i = 0; i < kLlamaLinears; ++i) {
        const LinearF32* f = ly.linear(i).as_f32();
        REQUIRE(f);
        CHECK(aligned(f->data()));  // and so every row when cols is a multiple of 16 (not w2 here: 172)
      }
    CHECK(aligned(m->embedding));
  }
  LlamaState st(*bin, 32, 8);
  CHECK(aligned(st.hidden()));
  CHECK(aligned(st.attention_output()));
}
