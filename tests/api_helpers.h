// RAII wrappers over the C API for the C++ tests.
#pragma once
#include <doctest/doctest.h>

#include <fstream>
#include <memory>
#include <sstream>
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

// The first 40 KB of the TinyStories evaluation text.
inline std::string eval_slice() {
  std::ifstream in(test_paths::shared("data/tinystories/eval.txt"), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str().substr(0, 40000);
}

// Perplexity of `text` in chunks of 128 tokens on 2 threads.
inline double ppl(axe_model* m, const std::string& text) {
  auto c = context(m, nullptr, 2);
  axe_perplexity_params p = axe_perplexity_default_params();
  p.n_ctx = 128;
  axe_perplexity_result r{};
  r.struct_size = sizeof r;
  REQUIRE(axe_perplexity(c.get(), text.data(), text.size(), &p, &r) == AXE_OK);
  return r.ppl;
}

// Quantizes m into `out` with p, which must succeed; returns out.
inline std::string quantize(axe_model* m, const std::string& out, const axe_quantize_params& p) {
  INFO(axe_model_last_error(m));
  REQUIRE(axe_quantize(m, out.c_str(), &p) == AXE_OK);
  return out;
}

// The logits of every position (n_vocab each, in order) after decoding
// `toks` from position 0 in a fresh context of `threads`, optionally on an
// emulated acc_sim_bits-wide datapath (then *overflows, if given, receives
// the overflow steps of every layer).
inline std::vector<float> decode_logits(axe_model* m, const std::vector<axe_token>& toks, int threads = 2,
                                        int32_t acc_sim_bits = 0, size_t* overflows = nullptr) {
  axe_context_params p = axe_context_default_params();
  p.n_threads = threads;
  p.acc_sim_inner_bits = acc_sim_bits;
  axe_context* c = nullptr;
  INFO(axe_last_error());
  REQUIRE(axe_context_create(m, &p, &c) == AXE_OK);
  Context ctx(c);
  std::vector<int32_t> pos(toks.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
  std::vector<int8_t> want(toks.size(), 1);
  REQUIRE(axe_decode(c, toks.data(), pos.data(), toks.size(), want.data()) == AXE_OK);
  const int32_t V = n_vocab(m);
  std::vector<float> out;
  for (size_t i = 0; i < toks.size(); ++i) {
    const float* l = axe_get_logits(c, static_cast<int32_t>(i));
    out.insert(out.end(), l, l + V);
  }
  if (overflows) {
    size_t n = 0;
    REQUIRE(axe_context_overflows(c, nullptr, 0, &n) == AXE_ERR_BUFFER_TOO_SMALL);
    std::vector<axe_overflow_report> r(n);
    REQUIRE(axe_context_overflows(c, r.data(), r.size(), &n) == AXE_OK);
    *overflows = 0;
    for (const auto& e : r) *overflows += e.inner_overflows + e.outer_overflows;
  }
  return out;
}

}  // namespace th
