#include "models/formats/gguf_model.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <map>
#include <set>

#include "models/formats/gguf.h"
#include "models/formats/gguf_writer.h"
#include "runtime/error.h"
#include "runtime/linear_group.h"
#include "runtime/parallel.h"
#include "runtime/tokenizer_json.h"

namespace axe {
namespace {

// Llama 3's pre-tokenizer split (llama.cpp's "llama-bpe").
constexpr const char* kLlama3Split =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|"
    "\\s+(?!\\S)|\\s+";


int64_t optional_id(const GgufFile& f, const std::string& key, int64_t dflt, size_t n_tokens) {
  const std::optional<int64_t> v = f.find_int(key);
  if (!v) return dflt;
  if (*v < 0 || static_cast<uint64_t>(*v) >= n_tokens)
    fail(AXE_ERR_FORMAT, f.path() + ": metadata '" + key + "' = " + std::to_string(*v) + " is not a token id below " +
                             std::to_string(n_tokens));
  return *v;
}

// A tokenizer.json (and the tokenizer_config.json settings) describing a
// GGUF byte-level BPE vocabulary, for JsonTokenizer.
std::pair<std::string, std::string> tokenizer_json(const GgufFile& f, const std::vector<std::string>& tokens) {
  const std::string pre = f.find_string("tokenizer.ggml.pre").value_or("default");
  const bool llama3 = pre == "llama-bpe" || pre == "llama3" || pre == "llama-v3";
  if (!llama3 && pre != "default" && pre != "gpt-2")
    fail(AXE_ERR_UNSUPPORTED, f.path() + ": metadata 'tokenizer.ggml.pre' is '" + excerpt(pre) +
                                  "'; axe reads llama-bpe (Llama 3), default and gpt-2");
  std::vector<int64_t> types(tokens.size(), GgufTokenType::kNormal);
  if (f.has("tokenizer.ggml.token_type")) {
    types = f.get_int_array("tokenizer.ggml.token_type");
    if (types.size() != tokens.size())
      fail(AXE_ERR_FORMAT, f.path() + ": metadata 'tokenizer.ggml.token_type' has " + std::to_string(types.size()) +
                               " entries for " + std::to_string(tokens.size()) + " tokens");
  }
  try {
    nlohmann::json vocab = nlohmann::json::object(), added = nlohmann::json::array();
    for (size_t i = 0; i < tokens.size(); ++i) {
      if (types[i] == GgufTokenType::kControl || types[i] == GgufTokenType::kUserDefined) {
        added.push_back({{"id", i},
                         {"content", tokens[i]},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", types[i] == GgufTokenType::kControl}});
      } else if (!vocab.contains(tokens[i])) {
        vocab[tokens[i]] = i;
      }
    }
    const std::vector<std::string>& merges = f.get_string_array("tokenizer.ggml.merges");
    nlohmann::json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                                 {"use_regex", !llama3}};
    nlohmann::json pre_tokenizer = byte_level;
    if (llama3)
      pre_tokenizer = {{"type", "Sequence"},
                       {"pretokenizers",
                        {{{"type", "Split"},
                          {"pattern", {{"Regex", kLlama3Split}}},
                          {"behavior", "Isolated"},
                          {"invert", false}},
                         byte_level}}};
    const nlohmann::json j = {
        {"version", "1.0"},
        {"added_tokens", added},
        {"normalizer", nullptr},
        {"pre_tokenizer", pre_tokenizer},
        {"post_processor", nullptr},
        {"decoder", {{"type", "ByteLevel"}, {"add_prefix_space", true}, {"trim_offsets", true}, {"use_regex", true}}},
        {"model",
         {{"type", "BPE"},
          {"dropout", nullptr},
          {"unk_token", nullptr},
          {"continuing_subword_prefix", nullptr},
          {"end_of_word_suffix", nullptr},
          {"fuse_unk", false},
          {"byte_fallback", false},
          {"ignore_merges", llama3},
          {"vocab", vocab},
          {"merges", merges}}}};
    nlohmann::json settings = nlohmann::json::object();
    const int64_t bos = optional_id(f, "tokenizer.ggml.bos_token_id", -1, tokens.size());
    const int64_t eos = optional_id(f, "tokenizer.ggml.eos_token_id", -1, tokens.size());
    if (bos >= 0) settings["bos_token"] = tokens[static_cast<size_t>(bos)];
    if (eos >= 0) settings["eos_token"] = tokens[static_cast<size_t>(eos)];
    settings["add_bos_token"] = f.find_bool("tokenizer.ggml.add_bos_token").value_or(bos >= 0);
    settings["add_eos_token"] = false;
    return {j.dump(), settings.dump()};
  } catch (const nlohmann::json::exception& e) {  // a token that is not UTF-8
    fail(AXE_ERR_FORMAT, f.path() + ": the vocabulary cannot be read as byte-level BPE: " + e.what());
  }
}

}  // namespace

std::string gguf_tensor_name(std::string_view what) { return foreign_tensor_name(TensorNaming::kGguf, what); }

std::string gguf_tensor_name(size_t layer, std::string_view what) {
  return foreign_tensor_name(TensorNaming::kGguf, layer, what);
}

std::unique_ptr<Tokenizer> gguf_tokenizer(const GgufFile& f, int32_t n_vocab) {
  const std::string model = f.get_string("tokenizer.ggml.model");
  const std::vector<std::string>& tokens = f.get_string_array("tokenizer.ggml.tokens");
  if (tokens.empty() || tokens.size() > static_cast<size_t>(n_vocab))
    fail(AXE_ERR_FORMAT, f.path() + ": metadata 'tokenizer.ggml.tokens' has " + std::to_string(tokens.size()) +
                             " tokens for a vocabulary of " + std::to_string(n_vocab));
  if (model == "llama") {
    const int64_t unk = optional_id(f, "tokenizer.ggml.unknown_token_id", 0, tokens.size());
    const int64_t bos = optional_id(f, "tokenizer.ggml.bos_token_id", 1, tokens.size());
    const int64_t eos = optional_id(f, "tokenizer.ggml.eos_token_id", 2, tokens.size());
    if (unk != Llama2cTokenizer::kUnk || bos != Llama2cTokenizer::kBos || eos != Llama2cTokenizer::kEos)
      fail(AXE_ERR_UNSUPPORTED, f.path() + ": a SentencePiece vocabulary with unknown, BOS and EOS ids " +
                                    std::to_string(unk) + ", " + std::to_string(bos) + ", " + std::to_string(eos) +
                                    "; axe reads 0, 1, 2");
    if (tokens.size() != static_cast<size_t>(n_vocab))
      fail(AXE_ERR_FORMAT, f.path() + ": " + std::to_string(tokens.size()) + " tokens for a vocabulary of " +
                               std::to_string(n_vocab));
    return std::make_unique<Llama2cTokenizer>(
        llama2c_bytes(tokens, f.get_float_array("tokenizer.ggml.scores"), f.path() + ": tokenizer.ggml.*"), f.path(),
        n_vocab);
  }
  if (model == "gpt2") {
    const auto [json, settings] = tokenizer_json(f, tokens);
    return std::make_unique<JsonTokenizer>(json, settings, f.path() + " (tokenizer.ggml.*)", n_vocab);
  }
  fail(AXE_ERR_UNSUPPORTED, f.path() + ": metadata 'tokenizer.ggml.model' is '" + excerpt(model) +
                                "'; axe reads llama (SentencePiece) and gpt2 (byte-level BPE)");
}

std::unique_ptr<LlamaModel> load_gguf(const std::string& path, bool use_mmap) {
  // A file whose integer blocks are repacked, converted or dequantized stays
  // mapped, never copied: a copy would hold those tensors twice. Others are
  // copied into huge pages unless use_mmap, which needs a second read only then.
  auto file = std::make_shared<const GgufFile>(path, MappedFile::Mode::kMap);
  const bool repacked = std::any_of(file->tensors().begin(), file->tensors().end(), [](const GgufFile::Tensor& t) {
    return t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16;
  });
  if (!use_mmap && !repacked) file = std::make_shared<const GgufFile>(path, MappedFile::Mode::kHugePageCopy);
  const GgufFile& f = *file;
  auto m = std::make_unique<LlamaModel>();
  m->path = path;
  m->format = "gguf";
  m->storage.push_back(file);
  const std::string arch = f.get_string("general.architecture");
  if (arch != "llama")
    fail(AXE_ERR_UNSUPPORTED, path + ": metadata 'general.architecture' is '" + excerpt(arch) + "'; axe runs llama");
  auto key = [&](const char* k) { return arch + "." + k; };
  auto count = [&](const char* k, uint64_t hi) {
    const uint64_t v = f.get_uint(key(k));
    if (v < 1 || v > hi)
      fail(AXE_ERR_FORMAT, path + ": metadata '" + key(k) + "' = " + std::to_string(v) + " is outside [1, " +
                               std::to_string(hi) + "]");
    return static_cast<int32_t>(v);
  };
  LlamaConfig& c = m->config;
  c.dim = count("embedding_length", 1 << 16);
  c.hidden_dim = count("feed_forward_length", 1 << 18);
  c.n_layers = count("block_count", 1024);
  c.n_heads = count("attention.head_count", 1024);
  c.n_kv_heads = f.has(key("attention.head_count_kv")) ? count("attention.head_count_kv", 1024) : c.n_heads;
  c.seq_len = count("context_length", 1 << 22);
  const double eps = f.get_float(key("attention.layer_norm_rms_epsilon"));
  const double base = f.find_float(key("rope.freq_base")).value_or(10000.0);
  if (!(eps > 0 && eps < 1) || !(base > 1 && base < 1e30))
    fail(AXE_ERR_FORMAT, path + ": metadata '" + key("attention.layer_norm_rms_epsilon") + "' or '" +
                             key("rope.freq_base") + "' is out of range");
  c.norm_eps = static_cast<float>(eps);
  c.rope_base = static_cast<float>(base);
  if (f.has(key("attention.key_length"))) {
    const int32_t hd = count("attention.key_length", 1 << 14);
    if (f.has(key("attention.value_length")) && count("attention.value_length", 1 << 14) != hd)
      fail(AXE_ERR_UNSUPPORTED, path + ": keys and values of different widths");
    if (int64_t{hd} * c.n_heads != c.dim) c.head_size = hd;
  }
  if (f.has(key("rope.dimension_count")) && count("rope.dimension_count", 1 << 14) != c.head_dim())
    fail(AXE_ERR_UNSUPPORTED, path + ": metadata '" + key("rope.dimension_count") +
                                  "' rotates part of a head; axe rotates whole heads");
  const std::string scaling = f.find_string(key("rope.scaling.type")).value_or("none");
  if (scaling == "linear") {
    c.rope_scaling.kind = RopeScaling::Kind::kLinear;
    c.rope_scaling.factor = static_cast<float>(f.get_float(key("rope.scaling.factor")));
    if (!(c.rope_scaling.factor >= 1 && c.rope_scaling.factor < 1e6))
      fail(AXE_ERR_FORMAT, path + ": metadata '" + key("rope.scaling.factor") + "' is out of range");
  } else if (scaling != "none") {
    fail(AXE_ERR_UNSUPPORTED, path + ": metadata '" + key("rope.scaling.type") + "' is '" + excerpt(scaling) +
                                  "'; axe runs none and linear (and Llama 3's rope_freqs)");
  }
  const GgufFile::Tensor* emb = f.tensor(gguf_tensor_name(kTensorEmbedding));
  if (!emb || emb->ne.size() != 2)
    fail(AXE_ERR_FORMAT, path + ": tensor '" + gguf_tensor_name(kTensorEmbedding) + "' is missing or not a matrix");
  if (emb->ne[1] < 3 || emb->ne[1] > (1u << 22))
    fail(AXE_ERR_FORMAT, path + ": the vocabulary size " + std::to_string(emb->ne[1]) + " is out of range");
  c.vocab = static_cast<int32_t>(emb->ne[1]);
  c.shared_classifier = f.tensor(gguf_tensor_name(kTensorClassifier)) == nullptr;
  if (const GgufFile::Tensor* rf = f.tensor("rope_freqs.weight")) {
    if (rf->ne.size() != 1 || rf->ne[0] != static_cast<uint64_t>(c.head_dim() / 2) || rf->type != GgmlType::F32)
      fail(AXE_ERR_FORMAT, path + ": tensor 'rope_freqs.weight' is not F32 [" + std::to_string(c.head_dim() / 2) + "]");
    c.rope_freq_factors.resize(rf->ne[0]);
    std::memcpy(c.rope_freq_factors.data(), rf->data, rf->bytes);
  }
  c.validate(path);

  std::set<std::string> used = {"rope_freqs.weight"};
  std::map<GgmlType, size_t> dequantized;
  auto get = [&](const std::string& name, uint64_t rows, uint64_t cols) -> const GgufFile::Tensor& {
    const GgufFile::Tensor* t = f.tensor(name);
    if (!t) fail(AXE_ERR_FORMAT, path + ": tensor '" + name + "' is missing");
    const std::vector<uint64_t> want = rows == 1 ? std::vector<uint64_t>{cols} : std::vector<uint64_t>{cols, rows};
    if (t->ne != want)
      fail(AXE_ERR_FORMAT, path + ": tensor '" + name + "' has shape " + t->shape_string() + ", the metadata implies [" +
                               std::to_string(cols) + (rows == 1 ? "" : ", " + std::to_string(rows)) + "]");
    used.insert(name);
    return *t;
  };
  // fp32 values of a tensor: in place, or dequantized into a copy.
  auto floats = [&](const GgufFile::Tensor& t) -> const float* {
    if (t.type == GgmlType::F32 && reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0)
      return reinterpret_cast<const float*>(t.data);
    if (!ggml_can_dequantize(t.type))
      fail(AXE_ERR_UNSUPPORTED, path + ": tensor '" + t.name + "' is " + ggml_type_name(t.type) +
                                    ", a type axe cannot read");
    auto v = std::make_shared<std::vector<float>>(t.n_elements());
    ggml_dequantize(t.type, t.data, t.n_elements(), v->data());
    m->storage.push_back(v);
    if (t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16) ++dequantized[t.type];
    return v->data();
  };
  // Other quantized types: converted to Q8_0 (ggml_to_q8_0), a row at a time
  // (rows in parallel, each with its own one-row buffer: no fp32 copy of the
  // tensor), with the error against the file's values measured on the way.
  std::map<GgmlType, std::pair<size_t, bool>> converted;  // count, exact
  auto to_q8_0 = [&](const GgufFile::Tensor& t) -> std::unique_ptr<Linear> {
    const uint64_t rows = t.ne[1], cols = t.ne[0], groups = cols / kGroupSize;
    const uint64_t row_bytes = cols / ggml_block_size(t.type) * ggml_block_bytes(t.type);
    std::vector<int8_t> codes(rows * cols);
    std::vector<float> scales(rows * groups);
    // Per row: sum of squared errors, sum of squared finite file values, max |error|.
    std::vector<double> err2(rows), norm2(rows), worst(rows);
    bool exact = false;  // whether t's type converts exactly (row 0 says)
    parallel_rows(rows, 16, rows * cols >= (1u << 16), [&](size_t r0, size_t r1) {
      std::vector<float> file(cols);
      for (size_t r = r0; r < r1; ++r) {
        const bool ex = ggml_to_q8_0(t.type, t.data + r * row_bytes, cols, file.data(), codes.data() + r * cols,
                                     scales.data() + r * groups);
        if (r == 0) exact = ex;
        double e2 = 0, n2 = 0, mx = 0;
        for (size_t k = 0; k < cols; ++k) {
          const float w = file[k];
          const float q = static_cast<float>(codes[r * cols + k]) * scales[r * groups + k / kGroupSize];
          // The same value (a NaN for a NaN) is no error; a non-finite
          // difference makes the figures NaN or infinite, and NaN sticks.
          const double e = q == w || (std::isnan(q) && std::isnan(w)) ? 0.0 : double{q} - double{w};
          e2 += e * e;
          if (std::isfinite(w)) n2 += double{w} * w;
          mx = std::isnan(mx) || std::isnan(e) ? std::nan("") : std::max(mx, std::abs(e));
        }
        err2[r] = e2;
        norm2[r] = n2;
        worst[r] = mx;
      }
    });
    LlamaModel::Conversion c{t.name, ggml_type_name(t.type), "Q8_0", 0.0, 0.0};
    double e2 = 0, n2 = 0;
    for (size_t r = 0; r < rows; ++r) {  // in row order: the same figures for any thread count
      e2 += err2[r];
      n2 += norm2[r];
      c.max_abs = std::isnan(c.max_abs) || std::isnan(worst[r]) ? std::nan("") : std::max(c.max_abs, worst[r]);
    }
    c.rel_rms = e2 == 0 ? 0.0 : n2 == 0 ? std::numeric_limits<double>::infinity() : std::sqrt(e2) / std::sqrt(n2);
    m->conversions.push_back(std::move(c));
    auto& [n, ex] = converted[t.type];
    ++n;
    ex = exact;
    return std::make_unique<LinearGroup>(pack_group_weights(codes.data(), rows, cols, scales.data(), 8));
  };
  auto linear = [&](const GgufFile::Tensor& t) -> std::unique_ptr<Linear> {
    const uint64_t rows = t.ne[1], cols = t.ne[0];
    // Q8_0 and Q4_0 run natively on the groupwise kernels (repacked).
    if (t.type == GgmlType::Q8_0) return std::make_unique<LinearGroup>(pack_q8_0(t.data, rows, cols));
    if (t.type == GgmlType::Q4_0) return std::make_unique<LinearGroup>(pack_q4_0(t.data, rows, cols));
    if ((t.type == GgmlType::F16 || t.type == GgmlType::BF16) && reinterpret_cast<uintptr_t>(t.data) % 2 == 0)
      return std::make_unique<LinearHalf>(t.type == GgmlType::BF16 ? LinearHalf::HalfType::kBF16 : LinearHalf::HalfType::kF16,
                                          reinterpret_cast<const uint16_t*>(t.data), rows, cols);
    if (t.type != GgmlType::F32 && t.type != GgmlType::F16 && t.type != GgmlType::BF16 && ggml_can_dequantize(t.type) &&
        cols % kGroupSize == 0 && rows > 0)
      return to_q8_0(t);
    return std::make_unique<LinearF32>(floats(t), rows, cols);
  };

  const uint64_t V = c.vocab, D = c.dim;
  const GgufFile::Tensor& et = get(gguf_tensor_name(kTensorEmbedding), V, D);
  if ((et.type == GgmlType::F16 || et.type == GgmlType::BF16) && reinterpret_cast<uintptr_t>(et.data) % 2 == 0) {
    m->embedding_half = std::make_shared<const LinearHalf>(
        et.type == GgmlType::BF16 ? LinearHalf::HalfType::kBF16 : LinearHalf::HalfType::kF16,
        reinterpret_cast<const uint16_t*>(et.data), V, D);
  } else {
    m->embedding = floats(et);  // looked up row by row: integer rows are dequantized
  }
  m->rms_final = floats(get(gguf_tensor_name(kTensorFinalNorm), 1, D));
  m->layers.resize(c.n_layers);
  for (size_t l = 0; l < m->layers.size(); ++l) {
    LlamaLayer& ly = m->layers[l];
    ly.rms_att = floats(get(gguf_tensor_name(l, kTensorAttentionNorm), 1, D));
    ly.rms_ffn = floats(get(gguf_tensor_name(l, kTensorFfnNorm), 1, D));
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const auto [rows, cols] = llama_linear_shape(c, i);
      ly.*(llama_linears()[i].member) = linear(get(gguf_tensor_name(l, llama_linears()[i].name), rows, cols));
    }
  }
  m->classifier = linear(c.shared_classifier ? et : get(gguf_tensor_name(kTensorClassifier), V, D));
  for (const GgufFile::Tensor& t : f.tensors())
    if (!used.count(t.name))
      fail(AXE_ERR_FORMAT, path + ": unexpected tensor '" + excerpt(t.name) + "' (not a weight of this llama model)");
  if (!dequantized.empty()) {
    std::string types;
    for (const auto& [t, n] : dequantized) types += (types.empty() ? "" : ", ") + std::to_string(n) + " " + ggml_type_name(t);
    log(AXE_LOG_INFO, path + ": dequantized to F32 at load: " + types + " tensors");
  }
  if (!m->conversions.empty()) {
    std::string types;
    for (const auto& [t, ne] : converted)
      types += (types.empty() ? "" : ", ") + std::to_string(ne.first) + " " + ggml_type_name(t) + (ne.second ? " (exact)" : "");
    // The worst tensor by relative RMS error, a NaN worst of all.
    const LlamaModel::Conversion* w = &m->conversions[0];
    for (const LlamaModel::Conversion& c : m->conversions)
      if (!std::isnan(w->rel_rms) && (std::isnan(c.rel_rms) || c.rel_rms > w->rel_rms)) w = &c;
    auto figure = [](double v) {
      if (std::isnan(v)) return std::string("nan");
      char s[32];
      std::snprintf(s, sizeof s, "%.3g", v);
      return std::string(s);
    };
    std::string line = path + ": converted to Q8_0 at load: " + types + " tensors; relative RMS error <= " + figure(w->rel_rms);
    if (w->rel_rms != 0)
      line += " (" + w->tensor + ", " + w->from + "; max |error| " + figure(w->max_abs) + ")";
    log(AXE_LOG_INFO, line);
  }

  m->tokenizer = gguf_tokenizer(f, c.vocab);
  m->chat_template = f.find_string("tokenizer.chat_template").value_or("");
  std::vector<int32_t> stops;
  for (const char* k : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"})
    if (const auto id = f.find_int(k)) {
      if (*id < 0 || *id >= c.vocab)
        fail(AXE_ERR_FORMAT, path + ": metadata '" + k + "' = " + std::to_string(*id) + " is not a token id");
      stops.push_back(static_cast<int32_t>(*id));
    }
  m->set_stop_ids(std::move(stops));
  return m;
}

}  // namespace axe
