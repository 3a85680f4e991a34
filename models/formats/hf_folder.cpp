#include "models/formats/hf_folder.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "models/formats/safetensors.h"
#include "runtime/error.h"
#include "runtime/file_io.h"

namespace axe {
namespace fs = std::filesystem;

namespace {

constexpr size_t kMaxSettingsBytes = size_t{64} << 20;  // tokenizer.json of a 256K vocabulary is ~20 MB

// A JSON object from a file's text (read once by the caller).
nlohmann::json parse_json_text(const std::string& text, const std::string& path) {
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object()) fail(AXE_ERR_FORMAT, path + ": not a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    fail(AXE_ERR_FORMAT, path + ": not valid JSON: " + e.what());
  }
}

nlohmann::json parse_json_file(const std::string& path) {
  return parse_json_text(read_small_file(path, kMaxSettingsBytes), path);
}

// Typed reads of config.json's fields, each error naming the file and field.
class ConfigFields {
 public:
  ConfigFields(const nlohmann::json& j, std::string file) : j_(j), file_(std::move(file)) {}
  bool has(const char* key) const { return j_.contains(key) && !j_[key].is_null(); }
  const nlohmann::json& at(const char* key) const {
    if (!has(key)) fail(AXE_ERR_FORMAT, file_ + ": field '" + key + "' is missing");
    return j_[key];
  }
  int64_t integer(const char* key, int64_t lo, int64_t hi) const {
    const auto& v = at(key);
    if (!v.is_number_integer()) bad(key, "is not an integer");
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)) range(key, lo, hi);
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) range(key, lo, hi);
    return x;
  }
  int64_t integer_or(const char* key, int64_t lo, int64_t hi, int64_t dflt) const {
    return has(key) ? integer(key, lo, hi) : dflt;
  }
  double number(const char* key) const {
    const auto& v = at(key);
    if (!v.is_number() || !std::isfinite(v.get<double>())) bad(key, "is not a finite number");
    return v.get<double>();
  }
  double number_or(const char* key, double dflt) const { return has(key) ? number(key) : dflt; }
  bool boolean_or(const char* key, bool dflt) const {
    if (!has(key)) return dflt;
    if (!j_[key].is_boolean()) bad(key, "is not true or false");
    return j_[key].get<bool>();
  }
  std::string string_or(const char* key, const std::string& dflt) const {
    if (!has(key)) return dflt;
    if (!j_[key].is_string()) bad(key, "is not a string");
    return j_[key].get<std::string>();
  }
  [[noreturn]] void bad(const char* key, const std::string& what) const {
    fail(AXE_ERR_FORMAT, file_ + ": field '" + key + "' " + what + " (" + excerpt(j_[key].dump()) + ")");
  }

 private:
  [[noreturn]] void range(const char* key, int64_t lo, int64_t hi) const {
    bad(key, "is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  const nlohmann::json& j_;
  std::string file_;
};

LlamaConfig read_config(const nlohmann::json& j, const std::string& path, std::string* arch) {
  const ConfigFields f(j, path);
  const auto& archs = f.at("architectures");
  if (!archs.is_array() || archs.size() != 1 || !archs[0].is_string())
    f.bad("architectures", "is not a list of one architecture");
  *arch = archs[0].get<std::string>();
  if (*arch != "LlamaForCausalLM" && *arch != "MistralForCausalLM")
    f.bad("architectures", "names an architecture axe does not run (it runs LlamaForCausalLM and MistralForCausalLM)");
  const std::string type = f.string_or("model_type", *arch == "LlamaForCausalLM" ? "llama" : "mistral");
  if (type != "llama" && type != "mistral") f.bad("model_type", "is not llama or mistral");
  if (f.string_or("hidden_act", "silu") != "silu") f.bad("hidden_act", "is not silu (the SwiGLU MLP axe runs)");
  for (const char* key : {"attention_bias", "mlp_bias"})
    if (f.boolean_or(key, false)) f.bad(key, "is true: linear layers with biases are not supported");
  if (f.has("quantization_config")) f.bad("quantization_config", "is set: axe reads unquantized F32/F16/BF16 weights");

  constexpr int64_t kMax = INT32_MAX;
  LlamaConfig c;
  c.dim = static_cast<int32_t>(f.integer("hidden_size", 1, 1 << 16));
  c.hidden_dim = static_cast<int32_t>(f.integer("intermediate_size", 1, 1 << 18));
  c.n_layers = static_cast<int32_t>(f.integer("num_hidden_layers", 1, 1024));
  c.n_heads = static_cast<int32_t>(f.integer("num_attention_heads", 1, 1024));
  c.n_kv_heads = static_cast<int32_t>(f.integer_or("num_key_value_heads", 1, 1024, c.n_heads));
  c.vocab = static_cast<int32_t>(f.integer("vocab_size", 3, 1 << 22));
  c.seq_len = static_cast<int32_t>(f.integer_or("max_position_embeddings", 1, 1 << 22, 2048));
  if (f.has("sliding_window")) {
    // Within the window, sliding-window attention is full attention: the
    // context is limited to the window instead.
    const int64_t w = f.integer("sliding_window", 1, kMax);
    c.seq_len = static_cast<int32_t>(std::min<int64_t>(c.seq_len, w));
  }
  if (f.has("head_dim")) {
    const int64_t hd = f.integer("head_dim", 2, 1 << 14);
    if (hd * c.n_heads != c.dim || c.dim % c.n_heads != 0) c.head_size = static_cast<int32_t>(hd);
  }
  c.shared_classifier = f.boolean_or("tie_word_embeddings", false);
  c.norm_eps = static_cast<float>(f.number_or("rms_norm_eps", 1e-6));
  c.rope_base = static_cast<float>(f.number_or("rope_theta", 10000.0));
  c.rope_halves = true;
  if (f.has("rope_scaling")) {
    const auto& rs = f.at("rope_scaling");
    if (!rs.is_object()) f.bad("rope_scaling", "is not an object");
    const ConfigFields r(rs, path + ": rope_scaling");
    const std::string kind = r.has("rope_type") ? r.string_or("rope_type", "") : r.string_or("type", "default");
    if (kind == "linear") {
      c.rope_scaling.kind = RopeScaling::Kind::kLinear;
      c.rope_scaling.factor = static_cast<float>(r.number("factor"));
    } else if (kind == "llama3") {
      c.rope_scaling.kind = RopeScaling::Kind::kLlama3;
      c.rope_scaling.factor = static_cast<float>(r.number("factor"));
      c.rope_scaling.low_freq_factor = static_cast<float>(r.number("low_freq_factor"));
      c.rope_scaling.high_freq_factor = static_cast<float>(r.number("high_freq_factor"));
      c.rope_scaling.original_max_position =
          static_cast<int32_t>(r.integer("original_max_position_embeddings", 1, 1 << 22));
    } else if (kind != "default") {
      f.bad("rope_scaling", "has rope type '" + excerpt(kind) + "'; axe runs none, linear and llama3");
    }
  }
  c.validate(path);
  return c;
}

// One id or a list of ids (generation_config.json's eos_token_id).
void read_ids(const nlohmann::json& j, const char* key, const std::string& file, int32_t vocab,
              std::vector<int32_t>& out) {
  if (!j.contains(key) || j[key].is_null()) return;
  const auto& v = j[key];
  auto one = [&](const nlohmann::json& x) {
    if (!x.is_number_integer() || x.get<int64_t>() < 0 || x.get<int64_t>() >= vocab)
      fail(AXE_ERR_FORMAT, file + ": field '" + key + "' holds " + excerpt(x.dump()) + ", not a token id below " +
                               std::to_string(vocab));
    out.push_back(static_cast<int32_t>(x.get<int64_t>()));
  };
  if (v.is_array()) {
    for (const auto& x : v) one(x);
  } else {
    one(v);
  }
}

// The shards: model.safetensors alone, or the files the index names.
class Shards {
 public:
  Shards(const std::string& dir, MappedFile::Mode mode) {
    const std::string single = (fs::path(dir) / "model.safetensors").string();
    const std::string index = (fs::path(dir) / "model.safetensors.index.json").string();
    std::error_code ec;
    if (fs::exists(single, ec)) {
      files_.push_back(std::make_shared<const SafetensorsFile>(single, mode));
      for (const auto& [name, t] : files_[0]->tensors()) where_[name] = {files_[0].get(), &t};
      return;
    }
    if (!fs::exists(index, ec))
      fail(AXE_ERR_IO, dir + ": no model.safetensors or model.safetensors.index.json (axe reads safetensors weights; "
                             "convert PyTorch .bin files first)");
    index_ = index;
    const nlohmann::json j = parse_json_file(index);
    if (!j.contains("weight_map") || !j["weight_map"].is_object() || j["weight_map"].empty())
      fail(AXE_ERR_FORMAT, index + ": field 'weight_map' is missing or not an object of tensor names");
    std::map<std::string, std::string> map;
    std::map<std::string, const SafetensorsFile*> opened;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      if (!it.value().is_string())
        fail(AXE_ERR_FORMAT, index + ": weight_map entry '" + excerpt(it.key()) + "' is not a file name");
      const std::string shard = it.value().get<std::string>();
      // A shard is a file of this folder, never a path elsewhere.
      if (shard.empty() || shard == "." || shard == ".." || shard.find('/') != std::string::npos ||
          shard.find('\0') != std::string::npos)
        fail(AXE_ERR_FORMAT, index + ": weight_map entry '" + excerpt(it.key()) + "' names '" + excerpt(shard) +
                                 "', not a file of the folder");
      map[it.key()] = shard;
      if (!opened.count(shard)) {
        const std::string p = (fs::path(dir) / shard).string();
        if (!fs::exists(p, ec))
          fail(AXE_ERR_IO, index + ": shard '" + excerpt(shard) + "' (for tensor '" + excerpt(it.key()) +
                               "') is not in the folder");
        files_.push_back(std::make_shared<const SafetensorsFile>(p, mode));
        opened[shard] = files_.back().get();
      }
    }
    for (const auto& [shard, file] : opened)
      for (const auto& [name, t] : file->tensors()) {
        auto m = map.find(name);
        if (m == map.end())
          fail(AXE_ERR_FORMAT, file->path() + ": tensor '" + excerpt(name) + "' is not in " + index + "'s weight_map");
        if (m->second != shard)
          fail(AXE_ERR_FORMAT, file->path() + ": tensor '" + excerpt(name) + "' is also here, but " + index +
                                   " places it in '" + excerpt(m->second) + "'");
        where_[name] = {file, &t};
      }
    for (const auto& [name, shard] : map)
      if (!where_.count(name))
        fail(AXE_ERR_FORMAT, index + ": tensor '" + excerpt(name) + "' is not in its shard '" + excerpt(shard) + "'");
  }

  // The tensor, checked for shape and for a float dtype; marked as used.
  std::pair<const SafetensorsFile*, const TensorView*> get(const std::string& name, const std::vector<uint64_t>& shape) {
    auto it = where_.find(name);
    if (it == where_.end())
      fail(AXE_ERR_FORMAT, index_.empty() ? first_path() + ": tensor '" + name + "' is missing"
                                          : index_ + ": tensor '" + name + "' is missing from the weight_map");
    const auto [file, t] = it->second;
    if (t->dtype != "F32" && t->dtype != "F16" && t->dtype != "BF16")
      fail(AXE_ERR_FORMAT, file->path() + ": tensor '" + name + "' is " + t->dtype + "; axe reads F32, F16 and BF16");
    if (t->shape != shape) {
      std::string want, got;
      for (uint64_t d : shape) want += (want.empty() ? "" : ", ") + std::to_string(d);
      for (uint64_t d : t->shape) got += (got.empty() ? "" : ", ") + std::to_string(d);
      fail(AXE_ERR_FORMAT, file->path() + ": tensor '" + name + "' has shape [" + got + "], config.json implies [" +
                               want + "]");
    }
    used_.insert(name);
    return it->second;
  }
  bool has(const std::string& name) const { return where_.count(name) != 0; }
  // Every tensor was used (rotary_emb.inv_freq buffers, which old exports
  // carry, are recomputed and may be skipped).
  void check_all_used() const {
    for (const auto& [name, w] : where_)
      if (!used_.count(name) && !name.ends_with(".rotary_emb.inv_freq"))
        fail(AXE_ERR_FORMAT, w.first->path() + ": unexpected tensor '" + excerpt(name) +
                                 "' (not a weight of this architecture and config)");
  }
  const std::vector<std::shared_ptr<const SafetensorsFile>>& files() const { return files_; }

 private:
  std::string first_path() const { return files_.empty() ? std::string() : files_[0]->path(); }
  std::string index_;  // model.safetensors.index.json, when the weights are sharded
  std::vector<std::shared_ptr<const SafetensorsFile>> files_;
  std::map<std::string, std::pair<const SafetensorsFile*, const TensorView*>> where_;
  std::set<std::string> used_;
};

LinearHalf::HalfType half_type(const std::string& dtype) {
  return dtype == "BF16" ? LinearHalf::HalfType::kBF16 : LinearHalf::HalfType::kF16;
}

}  // namespace

bool is_model_folder(const std::string& path) {
  std::error_code ec;
  return fs::is_directory(path, ec);
}

std::string hf_tensor_name(std::string_view what) { return foreign_tensor_name(TensorNaming::kHuggingFace, what); }

std::string hf_tensor_name(size_t layer, std::string_view what) {
  return foreign_tensor_name(TensorNaming::kHuggingFace, layer, what);
}

std::unique_ptr<LlamaModel> load_hf_folder(const std::string& dir, bool use_mmap) {
  const fs::path d(dir);
  auto m = std::make_unique<LlamaModel>();
  m->path = dir;
  m->format = "hf-folder";
  std::string arch;
  std::error_code ec;
  if (!fs::exists(d / "config.json", ec))
    fail(AXE_ERR_IO, dir + ": a directory without config.json, not a Hugging Face model folder");
  const std::string config_path = (d / "config.json").string();
  const nlohmann::json config_json = parse_json_file(config_path);
  m->config = read_config(config_json, config_path, &arch);
  const LlamaConfig& c = m->config;

  // Tokenizer and the settings beside it.
  const std::string tok_json = (d / "tokenizer.json").string(), tok_cfg = (d / "tokenizer_config.json").string();
  const std::string cfg_bytes = fs::exists(tok_cfg, ec) ? read_small_file(tok_cfg, kMaxSettingsBytes) : std::string();
  if (!cfg_bytes.empty()) {
    const nlohmann::json tc = parse_json_text(cfg_bytes, tok_cfg);
    if (tc.contains("chat_template") && !tc["chat_template"].is_null()) {
      const auto& t = tc["chat_template"];
      if (t.is_string()) {
        m->chat_template = t.get<std::string>();
      } else if (t.is_array()) {  // named templates: the "default" one
        for (const auto& e : t)
          if (e.is_object() && e.value("name", "") == "default" && e.contains("template") && e["template"].is_string())
            m->chat_template = e["template"].get<std::string>();
      } else {
        fail(AXE_ERR_FORMAT, tok_cfg + ": field 'chat_template' is not a string or a list of named templates");
      }
    }
  }
  const std::string chat_file = (d / "chat_template.jinja").string();
  if (m->chat_template.empty() && fs::exists(chat_file, ec)) m->chat_template = read_small_file(chat_file, 1 << 20);
  if (fs::exists(tok_json, ec)) {
    m->tokenizer = make_tokenizer("tokenizer.json", read_small_file(tok_json, kMaxSettingsBytes), cfg_bytes, tok_json,
                                  c.vocab);
  } else if (const std::string spm = (d / "tokenizer.model").string(); fs::exists(spm, ec)) {
    // SentencePiece's protobuf, read as llama2.c's export of it.
    m->tokenizer = std::make_unique<Llama2cTokenizer>(
        llama2c_bytes_from_sentencepiece(read_small_file(spm, kMaxSettingsBytes), spm), spm, c.vocab);
  } else {
    fail(AXE_ERR_IO, dir + ": no tokenizer.json or tokenizer.model in the folder");
  }

  // Stop ids: generation_config.json's and config.json's eos_token_id (one
  // or a list), the tokenizer's EOS and end-of-turn tokens.
  std::vector<int32_t> stops;
  const std::string gen = (d / "generation_config.json").string();
  if (fs::exists(gen, ec)) read_ids(parse_json_file(gen), "eos_token_id", gen, c.vocab, stops);
  read_ids(config_json, "eos_token_id", config_path, c.vocab, stops);
  m->set_stop_ids(std::move(stops));

  // Weights.
  Shards shards(dir, use_mmap ? MappedFile::Mode::kMap : MappedFile::Mode::kHugePageCopy);
  for (const auto& f : shards.files()) m->storage.push_back(f);
  // fp32 copies of small tensors (norm gains), and of any tensor whose data
  // is not aligned for its type (the format does not promise alignment).
  auto owned_f32 = [&](const TensorView& t) {
    auto v = std::make_shared<std::vector<float>>(t.numel());
    if (t.dtype == "F32") {
      std::memcpy(v->data(), t.data, t.bytes);
    } else {
      const uint64_t n = t.numel();
      std::vector<uint16_t> raw(n);
      std::memcpy(raw.data(), t.data, t.bytes);
      LinearHalf(half_type(t.dtype), raw.data(), 1, n).widen_row(0, v->data());
    }
    m->storage.push_back(v);
    return static_cast<const float*>(v->data());
  };
  auto gains = [&](const std::string& name) { return owned_f32(*shards.get(name, {uint64_t(c.dim)}).second); };
  // A [rows][cols] matrix as stored: fp32, or 16-bit.
  struct Matrix {
    const float* f32 = nullptr;
    const uint16_t* half = nullptr;
    LinearHalf::HalfType type{};
  };
  auto matrix = [&](const std::string& name, uint64_t rows, uint64_t cols) {
    const TensorView& t = *shards.get(name, {rows, cols}).second;
    Matrix r;
    if (t.dtype == "F32") {
      r.f32 = reinterpret_cast<uintptr_t>(t.data) % alignof(float) == 0 ? reinterpret_cast<const float*>(t.data)
                                                                          : owned_f32(t);
      return r;
    }
    r.type = half_type(t.dtype);
    if (reinterpret_cast<uintptr_t>(t.data) % alignof(uint16_t) == 0) {
      r.half = reinterpret_cast<const uint16_t*>(t.data);
    } else {
      auto v = std::make_shared<std::vector<uint16_t>>(t.numel());
      std::memcpy(v->data(), t.data, t.bytes);
      m->storage.push_back(v);
      r.half = v->data();
    }
    return r;
  };
  auto linear = [&](const Matrix& w, uint64_t rows, uint64_t cols) -> std::unique_ptr<Linear> {
    if (w.f32) return std::make_unique<LinearF32>(w.f32, rows, cols);
    return std::make_unique<LinearHalf>(w.type, w.half, rows, cols);
  };

  const uint64_t V = c.vocab, D = c.dim;
  const Matrix emb = matrix(hf_tensor_name(kTensorEmbedding), V, D);
  if (emb.f32) {
    m->embedding = emb.f32;
  } else {
    m->embedding_half = std::make_shared<const LinearHalf>(emb.type, emb.half, V, D);
  }
  m->rms_final = gains(hf_tensor_name(kTensorFinalNorm));
  m->layers.resize(c.n_layers);
  for (size_t l = 0; l < m->layers.size(); ++l) {
    LlamaLayer& ly = m->layers[l];
    ly.rms_att = gains(hf_tensor_name(l, kTensorAttentionNorm));
    ly.rms_ffn = gains(hf_tensor_name(l, kTensorFfnNorm));
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const auto [rows, cols] = llama_linear_shape(c, i);
      ly.*(llama_linears()[i].member) = linear(matrix(hf_tensor_name(l, llama_linears()[i].name), rows, cols), rows, cols);
    }
  }
  if (c.shared_classifier) {
    // Some exports store the tied lm_head.weight too; as in transformers,
    // the embedding is the classifier and that copy is not read.
    if (shards.has(hf_tensor_name(kTensorClassifier))) shards.get(hf_tensor_name(kTensorClassifier), {V, D});
    m->classifier = linear(emb, V, D);
  } else {
    m->classifier = linear(matrix(hf_tensor_name(kTensorClassifier), V, D), V, D);
  }
  shards.check_all_used();
  return m;
}

}  // namespace axe
