// Hugging Face model folders (models/formats/hf_folder.cpp) through the C API,
// against folders written by an independent writer (hf_folder_writer.h) and
// an independent forward pass with transformers' semantics (reference_hf.h):
// stories260K-hf is the llama2.c model (perplexity, greedy ids); llama2.c ->
// F16/BF16 folders; a Llama-3-shaped BF16 folder (GQA, head_dim != hidden /
// heads, llama3 RoPE scaling, two shards) against the reference; bad folders;
// quantizing a folder to a self-contained .axe.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <random>
#include <tuple>

#include "api_helpers.h"
#include "hf_folder_writer.h"
#include "reference_hf.h"
#include "temp_dir.h"

namespace {

namespace fs = std::filesystem;

std::string hf_dir() { return test_paths::shared("models/stories260K-hf"); }
std::string hf_file(const std::string& name) { return hf_dir() + "/" + name; }

std::vector<axe_token> tokenize(axe_model* m, const std::string& text, bool bos = true) {
  std::vector<axe_token> t(text.size() + 4);
  size_t n = 0;
  REQUIRE(axe_tokenize(m, text.data(), text.size(), bos ? 1 : 0, t.data(), t.size(), &n) == AXE_OK);
  t.resize(n);
  return t;
}

// Greedy continuation of `prompt` by n tokens (argmax, the lowest id on a
// tie; not stopped at EOS): the new ids.
std::vector<axe_token> greedy_ids(axe_model* m, const std::vector<axe_token>& prompt, int n) {
  auto c = th::context(m, nullptr, 1);
  std::vector<int32_t> pos(prompt.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
  REQUIRE(axe_decode(c.get(), prompt.data(), pos.data(), prompt.size(), nullptr) == AXE_OK);
  const int32_t V = th::n_vocab(m);
  std::vector<axe_token> out;
  for (int i = 0; i < n; ++i) {
    const float* l = axe_get_logits(c.get(), -1);
    REQUIRE(l != nullptr);
    axe_token best = 0;
    for (int32_t v = 1; v < V; ++v)
      if (l[v] > l[best]) best = v;
    out.push_back(best);
    const int32_t p = static_cast<int32_t>(prompt.size() + out.size() - 1);
    REQUIRE(axe_decode(c.get(), &best, &p, 1, nullptr) == AXE_OK);
  }
  return out;
}

// Logits of every position, decoding one token at a time.
std::vector<float> stepwise_logits(axe_model* m, const std::vector<axe_token>& toks) {
  auto c = th::context(m, nullptr, 1);
  const int32_t V = th::n_vocab(m);
  std::vector<float> out;
  for (size_t i = 0; i < toks.size(); ++i) {
    const int32_t p = static_cast<int32_t>(i);
    REQUIRE(axe_decode(c.get(), &toks[i], &p, 1, nullptr) == AXE_OK);
    const float* l = axe_get_logits(c.get(), -1);
    out.insert(out.end(), l, l + V);
  }
  return out;
}

// max |a - b| / max |b|: a difference relative to the logits' scale.
template <class A, class B>
double rel_diff(const std::vector<A>& a, const std::vector<B>& b) {
  REQUIRE(a.size() == b.size());
  double d = 0, scale = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d = std::max(d, std::fabs(double(a[i]) - double(b[i])));
    scale = std::max(scale, std::fabs(double(b[i])));
  }
  return d / scale;
}

double perplexity(axe_model* m, const std::string& text, axe_perplexity_result* out = nullptr) {
  auto c = th::context(m, nullptr, 2);
  axe_perplexity_params p = axe_perplexity_default_params();
  p.n_ctx = 512;
  axe_perplexity_result r{};
  r.struct_size = sizeof r;
  INFO(axe_context_last_error(c.get()));
  REQUIRE(axe_perplexity(c.get(), text.data(), text.size(), &p, &r) == AXE_OK);
  if (out) *out = r;
  return r.ppl;
}

// Loads a model that must fail: its status and one-line message.
std::pair<axe_status, std::string> try_load(const std::string& path) {
  axe_model_params p = axe_model_default_params();
  axe_model* m = nullptr;
  const axe_status st = axe_model_load(path.c_str(), &p, &m);
  const std::string msg = axe_last_error();
  axe_model_free(m);
  if (st != AXE_OK) CHECK(m == nullptr);
  return {st, msg};
}

// The tensors of a safetensors file: name -> (dtype, shape, bytes).
std::map<std::string, std::tuple<std::string, std::vector<uint64_t>, std::string>> read_safetensors(
    const std::string& path) {
  const std::string all = hfw::read_text(path);
  REQUIRE(all.size() >= 8);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<uint8_t>(all[i]);
  REQUIRE(8 + n <= all.size());
  const auto h = nlohmann::json::parse(all.substr(8, n));
  std::map<std::string, std::tuple<std::string, std::vector<uint64_t>, std::string>> out;
  for (auto it = h.begin(); it != h.end(); ++it) {
    if (it.key() == "__metadata__") continue;
    const uint64_t b = it.value()["data_offsets"][0], e = it.value()["data_offsets"][1];
    out[it.key()] = {it.value()["dtype"], it.value()["shape"].get<std::vector<uint64_t>>(), all.substr(8 + n + b, e - b)};
  }
  return out;
}

// ---- A random Llama-3-shaped model --------------------------------------

constexpr int kHidden = 64, kLayers = 4, kHeads = 8, kKvHeads = 2, kHeadDim = 12, kInter = 96, kVocab = 512,
              kMaxPos = 512;

struct RandomModel {
  hfw::Config config;
  std::vector<hfw::Tensor> tensors;
  reference::HfWeights ref;
};

// Weights drawn in float, stored as 16-bit values (dtype t); the reference
// gets those values widened from their bits by its own conversion.
// qk_scale > 1 sharpens attention, so that RoPE's angles matter more (and
// quantization errors grow).
RandomModel random_llama3(uint64_t seed, float qk_scale, hfw::DType t = hfw::DType::kBF16, bool tied = true) {
  RandomModel r;
  hfw::Config& c = r.config;
  c.hidden_size = kHidden;
  c.intermediate_size = kInter;
  c.num_hidden_layers = kLayers;
  c.num_attention_heads = kHeads;
  c.num_key_value_heads = kKvHeads;
  c.head_dim = kHeadDim;  // heads * head_dim = 96 != hidden
  c.vocab_size = kVocab;
  c.max_position_embeddings = kMaxPos;
  c.rope_theta = 500000.0;
  // original 64: wavelengths of 16..64 positions are interpolated, longer
  // ones scaled by 1/8, within the 40 positions tested.
  c.rope_scaling = hfw::llama3_rope_scaling(8.0, 1.0, 4.0, 64);
  c.rms_norm_eps = 1e-5;
  c.tie_word_embeddings = tied;
  c.torch_dtype = hfw::torch_dtype(t);

  reference::HfWeights& w = r.ref;
  w.hidden = kHidden, w.intermediate = kInter, w.heads = kHeads, w.kv_heads = kKvHeads, w.head_dim = kHeadDim,
  w.vocab = kVocab;
  w.rope_theta = 500000.0;
  w.rms_norm_eps = 1e-5;
  w.rope_scaling.kind = reference::HfRopeScaling::kLlama3;
  w.rope_scaling.factor = 8, w.rope_scaling.low_freq_factor = 1, w.rope_scaling.high_freq_factor = 4;
  w.rope_scaling.original_max_position_embeddings = 64;
  w.tie_word_embeddings = tied;

  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  auto make = [&](const std::string& name, std::vector<uint64_t> shape, float mean, float sd) {
    const uint64_t n = hfw::numel(shape);
    std::vector<uint16_t> bits(n);
    std::vector<float> widened(n);
    for (uint64_t i = 0; i < n; ++i) {
      const float v = mean + sd * normal(rng);
      bits[i] = t == hfw::DType::kBF16 ? hfw::f32_to_bf16(v) : hfw::f32_to_f16(v);
      widened[i] = t == hfw::DType::kBF16 ? reference::bf16_bits_to_float(bits[i]) : reference::f16_bits_to_float(bits[i]);
    }
    r.tensors.push_back(hfw::half_tensor(name, t, std::move(shape), bits));
    return widened;
  };
  const uint64_t H = kHidden, Q = kHeads * kHeadDim, KV = kKvHeads * kHeadDim, I = kInter, V = kVocab;
  const float sh = 1.0f / std::sqrt(float(H));
  w.embed_tokens = make("model.embed_tokens.weight", {V, H}, 0, 1);
  for (int l = 0; l < kLayers; ++l) {
    const std::string p = "model.layers." + std::to_string(l) + ".";
    reference::HfLayer L;
    L.input_layernorm = make(p + "input_layernorm.weight", {H}, 1, 0.1f);
    L.q_proj = make(p + "self_attn.q_proj.weight", {Q, H}, 0, qk_scale * sh);
    L.k_proj = make(p + "self_attn.k_proj.weight", {KV, H}, 0, qk_scale * sh);
    L.v_proj = make(p + "self_attn.v_proj.weight", {KV, H}, 0, sh);
    L.o_proj = make(p + "self_attn.o_proj.weight", {H, Q}, 0, 1.0f / std::sqrt(float(Q)));
    L.post_attention_layernorm = make(p + "post_attention_layernorm.weight", {H}, 1, 0.1f);
    L.gate_proj = make(p + "mlp.gate_proj.weight", {I, H}, 0, sh);
    L.up_proj = make(p + "mlp.up_proj.weight", {I, H}, 0, sh);
    L.down_proj = make(p + "mlp.down_proj.weight", {H, I}, 0, 1.0f / std::sqrt(float(I)));
    w.layers.push_back(std::move(L));
  }
  w.norm = make("model.norm.weight", {H}, 1, 0.1f);
  if (!tied) w.lm_head = make("lm_head.weight", {V, H}, 0, sh);
  return r;
}

hfw::Folder folder_of(const RandomModel& r, int shards) {
  hfw::Folder f;
  f.config_json = hfw::config_json(r.config);
  f.tokenizer_json = hfw::read_text(hf_file("tokenizer.json"));
  f.tokenizer_config_json = hfw::read_text(hf_file("tokenizer_config.json"));
  f.generation_config_json = "{\"bos_token_id\": 1, \"eos_token_id\": 2}";
  f.tensors = r.tensors;
  f.shards = shards;
  return f;
}

std::vector<axe_token> random_tokens(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<axe_token> t(n);
  for (auto& x : t) x = static_cast<axe_token>(rng() % kVocab);
  t[0] = 1;  // BOS
  return t;
}

std::vector<double> reference_logits(const reference::HfWeights& w, const std::vector<axe_token>& toks) {
  reference::HfLlama ref(w, kMaxPos);
  std::vector<double> out;
  for (size_t i = 0; i < toks.size(); ++i) {
    const auto l = ref.step(toks[i], static_cast<int>(i));
    out.insert(out.end(), l.begin(), l.end());
  }
  return out;
}

}  // namespace

TEST_CASE("hf folder writer converts floats to bf16 and f16 with round to nearest even") {
  // Every 16-bit value widens and narrows back to itself (NaNs stay NaN), the
  // midpoint between neighbours rounds to the even one and one float ulp
  // either side of it to the nearer one.
  auto check_all = [](auto narrow, auto widen, uint32_t inf_bits) {
    size_t bad = 0;
    for (uint32_t h = 0; h < 0x10000; ++h) {
      const float v = widen(static_cast<uint16_t>(h));
      if (std::isnan(v)) {
        bad += !std::isnan(widen(narrow(v)));
        continue;
      }
      bad += narrow(v) != h;
      if ((h & 0x7fff) >= inf_bits) continue;  // the largest finite value's successor is infinity
      const uint16_t next = static_cast<uint16_t>(h + 1);
      const float w = widen(next);
      if (std::signbit(v) || std::isinf(w)) continue;
      const float mid = static_cast<float>((double(v) + double(w)) / 2);  // exact in float
      bad += narrow(mid) != ((h & 1) ? next : h);
      bad += narrow(std::nextafter(mid, 0.0f)) != h;
      bad += narrow(std::nextafter(mid, INFINITY)) != next;
    }
    return bad;
  };
  CHECK(check_all(hfw::f32_to_bf16, reference::bf16_bits_to_float, 0x7f80) == 0);
  CHECK(check_all(hfw::f32_to_f16, reference::f16_bits_to_float, 0x7c00) == 0);
  CHECK(check_all(hfw::f32_to_f16, hfw::f16_to_f32, 0x7c00) == 0);
  CHECK(hfw::f32_to_f16(65504.0f) == 0x7bff);
  CHECK(hfw::f32_to_f16(65519.996f) == 0x7bff);
  CHECK(hfw::f32_to_f16(65520.0f) == 0x7c00);  // the tie rounds to even: infinity
  CHECK(hfw::f32_to_f16(std::ldexp(1.0f, -25)) == 0);  // the tie with 0 rounds to 0
  CHECK(hfw::f32_to_f16(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == 1);
  CHECK(hfw::f32_to_f16(-std::ldexp(3.0f, -25)) == 0x8002);  // 1.5 units: the tie goes to 2
  CHECK(hfw::f32_to_bf16(INFINITY) == 0x7f80);
  CHECK(hfw::f32_to_bf16(hfw::bits_float(0x7f7f8000u)) == 0x7f80);  // the largest bf16 plus half an ulp: the tie goes to infinity
  CHECK(hfw::f32_to_bf16(hfw::bits_float(0x7f7f7fffu)) == 0x7f7f);
  for (float v : {1.0f, -2.5f, 3.140625f}) CHECK(hfw::bf16_to_f32(hfw::f32_to_bf16(v)) == v);
}

TEST_CASE("hf folder writer replaces a folder whole and refuses to replace a file") {
  TempDir dir;
  hfw::Folder f;
  f.config_json = "{}";
  f.tensors.push_back(hfw::tensor("a", {2}, {1.0f, 2.0f}, hfw::DType::kF32));
  const std::string out = dir.file("out");
  hfw::write_folder(out, f);
  hfw::write_text(out + "/stale.txt", "x");
  f.tensors.push_back(hfw::tensor("b", {1}, {3.0f}, hfw::DType::kF16));
  hfw::write_folder(out + "/", f);
  CHECK(!fs::exists(out + "/stale.txt"));  // the old folder is gone, not merged
  const auto t = read_safetensors(out + "/model.safetensors");
  CHECK(t.size() == 2);
  CHECK(std::get<2>(t.at("b")) == std::string("\x00\x42", 2));  // 3.0 as f16: 0x4200
  size_t entries = 0;
  for (const auto& e : fs::directory_iterator(dir.path)) entries += e.path().filename() != "file";
  CHECK(entries == 1);  // no temporary folders left beside it
  hfw::write_text(dir.file("file"), "not a folder");
  CHECK_THROWS_AS(hfw::write_folder(dir.file("file"), f), std::runtime_error);
  CHECK(hfw::read_text(dir.file("file")) == "not a folder");
  // The header is padded to 8 bytes and its length is little-endian.
  const std::string bytes = hfw::read_text(out + "/model.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | static_cast<uint8_t>(bytes[i]);
  CHECK(n % 8 == 0);
  CHECK(bytes.size() == 8 + n + 8 + 2);
}

TEST_CASE("stories260K-hf is the llama2.c model: same ids and perplexity and greedy tokens") {
  auto mc = th::load();  // stories260K.bin with tok512.bin beside it
  auto mh = th::load(hf_dir());
  CHECK(th::n_vocab(mh.get()) == 512);
  CHECK(axe_token_bos(mh.get()) == axe_token_bos(mc.get()));
  CHECK(axe_token_eos(mh.get()) == axe_token_eos(mc.get()));

  const std::string text = hfw::read_text(test_paths::shared("data/tinystories/eval.txt"));
  // Two tokenizer classes (tok512.bin and tokenizer.json): the same ids.
  const auto tc = tokenize(mc.get(), text), th_ = tokenize(mh.get(), text);
  CHECK(tc.size() > 300000);
  CHECK(tc == th_);

  axe_perplexity_result rc{}, rh{};
  const double pc = perplexity(mc.get(), text, &rc), ph = perplexity(mh.get(), text, &rh);
  MESSAGE("perplexity over eval.txt (n_ctx 512): llama2.c " << pc << ", folder " << ph << ", relative difference "
                                                             << std::fabs(ph / pc - 1));
  CHECK(rc.n_tokens_scored == rh.n_tokens_scored);
  CHECK(pc == doctest::Approx(5.3567).epsilon(2e-5));  // llama-perplexity's 5.3567
  CHECK(std::fabs(ph / pc - 1) < 1e-4);

  const auto prompt = tokenize(mc.get(), "Once upon a time, there was a little");
  REQUIRE(prompt == tokenize(mh.get(), "Once upon a time, there was a little"));
  const auto gc = greedy_ids(mc.get(), prompt, 64), gh = greedy_ids(mh.get(), prompt, 64);
  CHECK(gc == gh);
}

TEST_CASE("llama2.c checkpoints convert to f32 and f16 and bf16 folders of the same model") {
  TempDir dir;
  const std::string tok = hfw::read_text(hf_file("tokenizer.json")),
                    tok_cfg = hfw::read_text(hf_file("tokenizer_config.json"));
  const std::string f32 = dir.file("f32"), f16 = dir.file("f16"), bf16 = dir.file("bf16");
  hfw::write_folder(f32, hfw::llama2c_folder(test_paths::stories260k(), hfw::DType::kF32, 1, tok, tok_cfg));
  hfw::write_folder(f16, hfw::llama2c_folder(test_paths::stories260k(), hfw::DType::kF16, 1, tok, tok_cfg));
  hfw::write_folder(bf16, hfw::llama2c_folder(test_paths::stories260k(), hfw::DType::kBF16, 3, tok, tok_cfg));
  CHECK(fs::exists(bf16 + "/model-00003-of-00003.safetensors"));
  CHECK(fs::exists(bf16 + "/model.safetensors.index.json"));
  CHECK(!fs::exists(bf16 + "/model.safetensors"));

  // The f32 conversion holds stories260K-hf's tensors byte for byte (its q/k
  // rows were permuted by transformers' converter, ours by the writer).
  const auto ours = read_safetensors(f32 + "/model.safetensors"), theirs = read_safetensors(hf_file("model.safetensors"));
  CHECK(ours.size() == theirs.size());
  CHECK(ours == theirs);

  auto m32 = th::load(f32), m16 = th::load(f16), mb16 = th::load(bf16), mh = th::load(hf_dir());
  const auto prompt = tokenize(m32.get(), "Once upon a time, there was a little");
  const auto g32 = greedy_ids(m32.get(), prompt, 64);
  CHECK(greedy_ids(mh.get(), prompt, 64) == g32);
  CHECK(greedy_ids(m16.get(), prompt, 64) == g32);
  const auto gb = greedy_ids(mb16.get(), prompt, 64);
  size_t same = 0;
  while (same < gb.size() && gb[same] == g32[same]) ++same;
  MESSAGE("bf16 greedy: the first " << same << " of 64 tokens equal f32's");
  CHECK(same == 64);

  // Logits over the prompt and the f32 continuation.
  std::vector<axe_token> seq = prompt;
  seq.insert(seq.end(), g32.begin(), g32.end());
  const auto l32 = th::decode_logits(m32.get(), seq), lh = th::decode_logits(mh.get(), seq);
  CHECK(std::memcmp(l32.data(), lh.data(), l32.size() * sizeof(float)) == 0);
  const double d16 = rel_diff(th::decode_logits(m16.get(), seq), l32),
               db16 = rel_diff(th::decode_logits(mb16.get(), seq), l32);
  MESSAGE("max |logit - f32 logit| / max |f32 logit|: f16 " << d16 << ", bf16 " << db16);
  CHECK(d16 < 2e-3);
  CHECK(db16 < 2e-2);
  CHECK(d16 > 0);  // the weights were rounded
}

TEST_CASE("a Llama-3-shaped bf16 folder in two shards matches the reference forward pass") {
  TempDir dir;
  const RandomModel r = random_llama3(7, 2.0f);
  const std::string path = dir.file("llama3");
  hfw::write_folder(path, folder_of(r, 2));
  REQUIRE(fs::exists(path + "/model-00002-of-00002.safetensors"));
  auto m = th::load(path);
  axe_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(axe_model_get_info(m.get(), &info) == AXE_OK);
  CHECK(info.dim == kHidden);
  CHECK(info.n_heads == kHeads);
  CHECK(info.n_kv_heads == kKvHeads);
  CHECK(info.shared_classifier == 1);

  // The llama3 scaling changes the frequencies this test runs: pair 0 kept,
  // pair 1 interpolated, pairs 2.. divided by 8.
  reference::HfRopeScaling none;
  const auto f0 = reference::hf_inv_freq(kHeadDim, 500000.0, none),
             f1 = reference::hf_inv_freq(kHeadDim, 500000.0, r.ref.rope_scaling);
  CHECK(f1[0] == f0[0]);
  CHECK(f1[1] < f0[1] * 0.5);
  CHECK(f1[1] > f0[1] / 8 * 1.01);
  CHECK(f1[2] == doctest::Approx(f0[2] / 8));

  const auto toks = random_tokens(40, 11);
  const auto ref = reference_logits(r.ref, toks);
  const auto step = stepwise_logits(m.get(), toks), batch = th::decode_logits(m.get(), toks);
  const double ds = rel_diff(step, ref), db = rel_diff(batch, ref), dsb = rel_diff(step, batch);
  // float32 arithmetic against double on the same bf16 values: about 1e-6
  // (measured 0.6e-6 to 1.4e-6 on the scalar, avx2 and avx512 targets).
  constexpr double kTol = 1e-5;
  MESSAGE("max |axe - reference| / max |reference logit|: one token at a time " << ds << ", one batch " << db
                                                                               << ", step vs batch " << dsb);
  CHECK(ds < kTol);
  CHECK(db < kTol);
  CHECK(dsb < kTol);

  // Negative controls: the same weights without rope_scaling are far from
  // the llama3 reference, and match the unscaled reference.
  RandomModel plain = r;
  plain.config.rope_scaling = "null";
  plain.ref.rope_scaling = none;
  const std::string path2 = dir.file("no-scaling");
  hfw::write_folder(path2, folder_of(plain, 1));
  auto m2 = th::load(path2);
  const auto l2 = th::decode_logits(m2.get(), toks);
  const double wrong = rel_diff(l2, ref), right = rel_diff(l2, reference_logits(plain.ref, toks));
  MESSAGE("without rope_scaling: " << wrong << " from the llama3 reference, " << right << " from the unscaled one");
  CHECK(wrong > 100 * kTol);
  CHECK(right < kTol);

  // Untied (lm_head.weight) and F16, in one file.
  const RandomModel u = random_llama3(8, 2.0f, hfw::DType::kF16, false);
  const std::string path3 = dir.file("untied-f16");
  hfw::write_folder(path3, folder_of(u, 1));
  auto m3 = th::load(path3);
  REQUIRE(axe_model_get_info(m3.get(), &info) == AXE_OK);
  CHECK(info.shared_classifier == 0);
  const double du = rel_diff(th::decode_logits(m3.get(), toks), reference_logits(u.ref, toks));
  MESSAGE("untied f16: " << du << " from the reference");
  CHECK(du < kTol);
}

TEST_CASE("bad hf folders are one-line errors naming the file") {
  TempDir dir;
  const RandomModel r = random_llama3(3, 1.0f);
  const std::string index = "model.safetensors.index.json", shard1 = hfw::shard_name(1, 2),
                    shard2 = hfw::shard_name(2, 2);
  std::string path = dir.file("bad");
  std::vector<std::string> want;  // substrings of the message
  axe_status want_status = AXE_ERR_FORMAT;
  auto with_config = [&](auto edit) {
    RandomModel b = r;
    edit(b.config);
    hfw::write_folder(path, folder_of(b, 1));
  };
  auto with_tensors = [&](auto edit, int shards = 1) {
    hfw::Folder f = folder_of(r, shards);
    edit(f.tensors);
    hfw::write_folder(path, f);
  };
  auto find = [&](std::vector<hfw::Tensor>& ts, const std::string& name) {
    auto it = std::find_if(ts.begin(), ts.end(), [&](const hfw::Tensor& t) { return t.name == name; });
    REQUIRE(it != ts.end());
    return it;
  };

  SUBCASE("the good folder loads") {
    hfw::write_folder(path, folder_of(r, 2));
    want.clear();
    want_status = AXE_OK;
  }
  SUBCASE("missing config.json") {
    hfw::write_folder(path, folder_of(r, 1));
    fs::remove(path + "/config.json");
    want = {"config.json"};
    want_status = AXE_ERR_IO;
  }
  SUBCASE("unknown architecture") {
    with_config([](hfw::Config& c) { c.architecture = "GPT2LMHeadModel"; });
    want = {"config.json", "architectures"};
  }
  SUBCASE("rope scaling yarn") {
    with_config([](hfw::Config& c) {
      c.rope_scaling = R"({"rope_type": "yarn", "factor": 4.0, "original_max_position_embeddings": 64})";
    });
    want = {"config.json", "yarn"};
  }
  SUBCASE("attention bias") {
    with_config([](hfw::Config& c) { c.attention_bias = true; });
    want = {"config.json", "attention_bias"};
  }
  SUBCASE("a shard of the index is absent") {
    hfw::write_folder(path, folder_of(r, 2));
    fs::remove(path + "/" + shard2);
    want = {index, shard2};
    want_status = AXE_ERR_IO;
  }
  SUBCASE("an index entry with a path") {
    hfw::write_folder(path, folder_of(r, 2));
    std::string text = hfw::read_text(path + "/" + index);
    const size_t at = text.find(shard2);
    REQUIRE(at != std::string::npos);
    text.replace(at, shard2.size(), "../x.safetensors");
    hfw::write_text(path + "/" + index, text);
    want = {index, "../x.safetensors"};
  }
  SUBCASE("a tensor is missing") {
    with_tensors([&](std::vector<hfw::Tensor>& ts) { ts.erase(find(ts, "model.layers.1.mlp.up_proj.weight")); });
    want = {"model.safetensors", "model.layers.1.mlp.up_proj.weight", "missing"};
  }
  SUBCASE("a tensor is missing from a sharded folder") {
    with_tensors([&](std::vector<hfw::Tensor>& ts) { ts.erase(find(ts, "model.layers.3.mlp.up_proj.weight")); }, 2);
    want = {"model.layers.3.mlp.up_proj.weight", "missing"};
  }
  SUBCASE("a tensor has the wrong shape") {
    with_tensors([&](std::vector<hfw::Tensor>& ts) {
      auto it = find(ts, "model.layers.0.self_attn.q_proj.weight");
      // hidden x hidden, as if head_dim were hidden / heads
      *it = hfw::half_tensor(it->name, hfw::DType::kBF16, {kHidden, kHidden}, std::vector<uint16_t>(kHidden * kHidden));
    });
    want = {"model.safetensors", "q_proj", "[64, 64]", "[96, 64]"};
  }
  SUBCASE("a tensor is in two shards") {
    hfw::Folder f = folder_of(r, 2);
    hfw::write_folder(path, f);
    const auto groups = hfw::split_shards(f.tensors, 2);
    auto second = groups[1];
    second.push_back(groups[0].front());  // model.embed_tokens.weight again
    hfw::write_safetensors(path + "/" + shard2, second);
    want = {shard2, "model.embed_tokens.weight"};
  }
  SUBCASE("an unexpected extra tensor") {
    with_tensors([&](std::vector<hfw::Tensor>& ts) {
      ts.push_back(hfw::half_tensor("model.layers.0.self_attn.q_proj.bias", hfw::DType::kBF16, {kHeads * kHeadDim},
                                    std::vector<uint16_t>(kHeads * kHeadDim)));
    });
    want = {"model.safetensors", "unexpected", "q_proj.bias"};
  }
  SUBCASE("an I64 tensor") {
    with_tensors([&](std::vector<hfw::Tensor>& ts) {
      auto it = find(ts, "model.norm.weight");
      *it = hfw::raw_tensor(it->name, "I64", {kHidden}, std::vector<uint8_t>(8 * kHidden));
    });
    want = {"model.safetensors", "I64"};
  }
  SUBCASE("an F64 tensor") {
    with_tensors([&](std::vector<hfw::Tensor>& ts) {
      auto it = find(ts, "model.layers.2.mlp.down_proj.weight");
      *it = hfw::raw_tensor(it->name, "F64", {kHidden, kInter}, std::vector<uint8_t>(8 * kHidden * kInter));
    });
    want = {"model.safetensors", "F64"};
  }
  SUBCASE("an I32 tensor") {
    with_tensors([&](std::vector<hfw::Tensor>& ts) {
      auto it = find(ts, "model.norm.weight");
      *it = hfw::raw_tensor(it->name, "I32", {kHidden}, std::vector<uint8_t>(4 * kHidden));
    });
    want = {"model.safetensors", "model.norm.weight", "I32"};
  }
  SUBCASE("a truncated shard") {
    hfw::write_folder(path, folder_of(r, 2));
    fs::resize_file(path + "/" + shard1, fs::file_size(path + "/" + shard1) - 100);
    want = {shard1};
  }
  SUBCASE("missing tokenizer.json") {
    hfw::write_folder(path, folder_of(r, 1));
    fs::remove(path + "/tokenizer.json");
    want = {"tokenizer.json"};
    want_status = AXE_ERR_IO;
  }

  const auto [st, msg] = try_load(path);
  INFO(msg);
  CHECK(st == want_status);
  if (want_status == AXE_OK) return;
  CHECK(msg.find('\n') == std::string::npos);
  for (const std::string& w : want) CHECK_MESSAGE(msg.find(w) != std::string::npos, "the message lacks '" << w << "'");
}

TEST_CASE("quantizing a bf16 hf folder gives a self-contained axe file") {
  TempDir dir;
  const RandomModel r = random_llama3(5, 1.0f);
  hfw::Folder f = folder_of(r, 2);
  const std::string tmpl =
      "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + "
      "'\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
  auto cfg = nlohmann::json::parse(f.tokenizer_config_json);
  cfg["chat_template"] = tmpl;
  f.tokenizer_config_json = cfg.dump(2);
  f.generation_config_json = "{\"bos_token_id\": 1, \"eos_token_id\": [2, 5]}";
  const std::string path = dir.file("llama3");
  hfw::write_folder(path, f);
  auto m = th::load(path);
  CHECK(std::string(axe_model_chat_template(m.get())) == tmpl);

  axe_quantize_params p = axe_quantize_default_params();
  p.algo = "rtn";
  p.weight_bits = 8;
  p.act_bits = 8;
  p.n_threads = 2;
  const std::string out = th::quantize(m.get(), dir.file("q.axe"), p);
  // The .axe needs nothing from the folder.
  fs::remove_all(path);
  auto q = th::load(out);

  const std::string text = "Once upon a time, there was a little dog named Max. He liked to play! 123 \xc3\xa9t\xc3\xa9";
  const auto tm = tokenize(m.get(), text), tq = tokenize(q.get(), text);
  CHECK(tm == tq);
  CHECK(tm.size() > 10);
  CHECK(axe_token_bos(q.get()) == axe_token_bos(m.get()));
  CHECK(axe_token_eos(q.get()) == axe_token_eos(m.get()));
  CHECK(axe_model_adds_bos(q.get()) == axe_model_adds_bos(m.get()));
  std::string dm(256, '\0'), dq(256, '\0');
  size_t nm = 0, nq = 0;
  REQUIRE(axe_detokenize(m.get(), tm.data(), tm.size(), dm.data(), dm.size(), &nm) == AXE_OK);
  REQUIRE(axe_detokenize(q.get(), tq.data(), tq.size(), dq.data(), dq.size(), &nq) == AXE_OK);
  CHECK(dm.substr(0, nm) == dq.substr(0, nq));

  auto stops = [](axe_model* x) {
    std::vector<axe_token> ids(16);
    size_t n = 0;
    REQUIRE(axe_model_stop_ids(x, ids.data(), ids.size(), &n) == AXE_OK);
    ids.resize(n);
    return ids;
  };
  CHECK(stops(m.get()) == std::vector<axe_token>{2, 5});
  CHECK(stops(q.get()) == stops(m.get()));
  CHECK(std::string(axe_model_chat_template(q.get())) == tmpl);

  const auto toks = random_tokens(40, 13);
  const auto lq = th::decode_logits(q.get(), toks), lf = th::decode_logits(m.get(), toks);
  const double d = rel_diff(lq, lf);
  size_t same_top = 0;
  for (size_t i = 0; i < toks.size(); ++i) {
    const auto a = lq.begin() + i * kVocab, b = lf.begin() + i * kVocab;
    same_top += std::max_element(a, a + kVocab) - a == std::max_element(b, b + kVocab) - b;
  }
  // The .axe keeps the folder's RoPE (halves, llama3 scaling, head_dim):
  // without the scaling the logits are much farther away.
  RandomModel plain = r;
  plain.ref.rope_scaling = reference::HfRopeScaling{};
  const double unscaled = rel_diff(lq, reference_logits(plain.ref, toks));
  MESSAGE("W8A8 RTN: max |logit - float logit| / max |float logit| = " << d << " (" << unscaled
                                                                       << " from the unscaled reference), same top token at "
                                                                       << same_top << " of 40 positions");
  CHECK(d < 0.04);
  CHECK(unscaled > 0.1);
  CHECK(same_top >= 38);
}
