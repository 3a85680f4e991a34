// stories260K end to end: the golden greedy text, logits against the
// independent reference, and prefill == decode, on every target.
#include <doctest/doctest.h>

#include <cmath>

#include "api_helpers.h"
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

TEST_CASE("batched prefill gives bitwise the same logits as token-by-token decode") {
  auto m = th::load();
  for (const std::string& t : th::targets(m.get())) {
    CAPTURE(t);
    auto a = th::context(m.get(), t.c_str(), 2);
    auto b = th::context(m.get(), t.c_str(), 1);
    const std::vector<axe_token> toks{1, 403, 407, 261, 378, 290, 41, 5, 88, 199, 300, 301};
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
