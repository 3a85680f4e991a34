// RAII wrappers over the C API for the C++ tests.
#pragma once
#include <doctest/doctest.h>

#include <memory>
#include <string>
#include <vector>

#include "axe/axe.h"
#include "test_paths.h"

namespace th {

struct ModelFree {
  void operator()(axe_model* m) const { axe_model_free(m); }
};
struct ContextFree {
  void operator()(axe_context* c) const { axe_context_free(c); }
};
using Model = std::unique_ptr<axe_model, ModelFree>;
using Context = std::unique_ptr<axe_context, ContextFree>;

inline Model load(const std::string& path = test_paths::stories260k(), const char* tokenizer = nullptr) {
  axe_model_params p = axe_model_default_params();
  p.tokenizer_path = tokenizer;
  axe_model* m = nullptr;
  const axe_status st = axe_model_load(path.c_str(), &p, &m);
  INFO(axe_last_error());
  REQUIRE(st == AXE_OK);
  return Model(m);
}

inline Context context(axe_model* m, const char* target = nullptr, int threads = 1, uint32_t n_ctx = 0) {
  axe_context_params p = axe_context_default_params();
  p.target = target;
  p.n_threads = threads;
  p.n_ctx = n_ctx;
  axe_context* c = nullptr;
  const axe_status st = axe_context_create(m, &p, &c);
  INFO(axe_last_error());
  REQUIRE(st == AXE_OK);
  return Context(c);
}

// Names of the targets this machine can run ("scalar" first): those for
// which a context can be created.
inline std::vector<std::string> targets(axe_model* m) {
  std::vector<std::string> out;
  for (const char* t : {"scalar", "avx2", "avx512", "avx512-vnni"}) {
    axe_context_params p = axe_context_default_params();
    p.target = t;
    p.n_threads = 1;
    axe_context* c = nullptr;
    const axe_status st = axe_context_create(m, &p, &c);
    if (st == AXE_OK) out.push_back(t);
    else REQUIRE(st == AXE_ERR_UNSUPPORTED);
    axe_context_free(c);
  }
  return out;
}

inline int32_t n_vocab(axe_model* m) {
  axe_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(axe_model_get_info(m, &info) == AXE_OK);
  return info.n_vocab;
}

// Greedy continuation from `prompt` (with BOS), n tokens, decoded to text.
inline std::string greedy(axe_model* m, axe_context* c, const std::string& prompt, int n) {
  std::vector<axe_token> toks(prompt.size() + 2 + n);
  size_t nt = 0;
  REQUIRE(axe_tokenize(m, prompt.data(), prompt.size(), 1, toks.data(), toks.size(), &nt) == AXE_OK);
  toks.resize(nt);
  axe_context_reset(c);
  std::vector<int32_t> pos(nt);
  for (size_t i = 0; i < nt; ++i) pos[i] = static_cast<int32_t>(i);
  REQUIRE(axe_decode(c, toks.data(), pos.data(), nt, nullptr) == AXE_OK);
  const int32_t V = n_vocab(m);
  for (int i = 0; i < n; ++i) {
    const float* l = axe_get_logits(c, -1);
    REQUIRE(l != nullptr);
    axe_token best = 0;
    for (int32_t v = 1; v < V; ++v)
      if (l[v] > l[best]) best = v;
    if (best == axe_token_eos(m) || best == axe_token_bos(m)) break;
    toks.push_back(best);
    const int32_t p = static_cast<int32_t>(toks.size() - 1);
    REQUIRE(axe_decode(c, &best, &p, 1, nullptr) == AXE_OK);
  }
  std::string text(4096, '\0');
  size_t len = 0;
  REQUIRE(axe_detokenize(m, toks.data(), toks.size(), text.data(), text.size(), &len) == AXE_OK);
  text.resize(len);
  return text;
}

}  // namespace th
