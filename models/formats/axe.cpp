#include "models/formats/axe.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <set>

#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/linear_int8.h"

namespace axe {

std::string axe_codes_name(const std::string& linear) { return linear + ".codes"; }
std::string axe_scales_name(const std::string& linear) { return linear + ".scales"; }

nlohmann::json config_to_json(const LlamaConfig& c) {
  nlohmann::json j = {{"dim", c.dim},           {"hidden_dim", c.hidden_dim}, {"n_layers", c.n_layers},
                      {"n_heads", c.n_heads},   {"n_kv_heads", c.n_kv_heads}, {"vocab_size", c.vocab},
                      {"seq_len", c.seq_len},   {"shared_classifier", c.shared_classifier},
                      {"norm_eps", c.norm_eps}, {"rope_base", c.rope_base}};
  // Optional fields, written only when they differ from llama2.c's (so its
  // files keep their bytes): docs/FORMAT.md.
  if (c.head_size) j["head_dim"] = c.head_size;
  if (c.rope_halves) j["rope_pairs"] = "halves";
  if (!c.rope_freq_factors.empty()) j["rope_freq_factors"] = c.rope_freq_factors;
  const RopeScaling& r = c.rope_scaling;
  if (r.kind == RopeScaling::Kind::kLinear) j["rope_scaling"] = {{"type", "linear"}, {"factor", r.factor}};
  if (r.kind == RopeScaling::Kind::kLlama3)
    j["rope_scaling"] = {{"type", "llama3"},
                         {"factor", r.factor},
                         {"low_freq_factor", r.low_freq_factor},
                         {"high_freq_factor", r.high_freq_factor},
                         {"original_max_position_embeddings", r.original_max_position}};
  return j;
}

namespace {

nlohmann::json parse_json(const std::string& text, const std::string& source, const char* what) {
  try {
    auto j = nlohmann::json::parse(text);
    if (!j.is_object()) fail(AXE_ERR_FORMAT, source + ": metadata '" + what + "' is not a JSON object");
    return j;
  } catch (const nlohmann::json::exception& e) {
    fail(AXE_ERR_FORMAT, source + ": metadata '" + what + "' is not valid JSON: " + e.what());
  }
}

// The strict, typed reading of one JSON object of the metadata: every field
// is read once with its exact type and range (an integer must be a JSON
// integer, not 4.5, 1e30 or true; a boolean a JSON boolean), and a field the
// schema does not know is an error, so nothing is silently ignored.
class Fields {
 public:
  Fields(const nlohmann::json& j, std::string where) : j_(j), where_(std::move(where)) {}
  int64_t integer(const char* key, int64_t lo, int64_t hi) {
    const auto& v = at(key);
    if (!v.is_number_integer()) bad(key, "is not an integer");
    // Unsigned values above INT64_MAX are out of every range here.
    if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(hi)) out_of_range(key, lo, hi);
    const int64_t x = v.get<int64_t>();
    if (x < lo || x > hi) out_of_range(key, lo, hi);
    return x;
  }
  bool boolean(const char* key) {
    const auto& v = at(key);
    if (!v.is_boolean()) bad(key, "is not true or false");
    return v.get<bool>();
  }
  double non_negative(const char* key) {
    const auto& v = at(key);
    if (!v.is_number() || !(v.get<double>() >= 0) || !std::isfinite(v.get<double>())) bad(key, "is not a number >= 0");
    return v.get<double>();
  }
  float positive_float(const char* key) {
    const auto& v = at(key);
    if (!v.is_number()) bad(key, "is not a number");
    const double x = v.get<double>();
    if (!(x > 0) || !std::isfinite(static_cast<float>(x))) bad(key, "is not a positive finite number");
    return static_cast<float>(x);
  }
  std::string one_of(const char* key, std::initializer_list<const char*> allowed) {
    const auto& v = at(key);
    if (v.is_string())
      for (const char* a : allowed)
        if (v.get<std::string>() == a) return a;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : " or ") + std::string(a);
    bad(key, "is not " + list);
  }
  const nlohmann::json* optional(const char* key) {
    if (!j_.contains(key)) return nullptr;
    return &at(key);
  }
  // After every read: a field nobody read is unknown to the schema.
  void no_others() const {
    for (auto it = j_.begin(); it != j_.end(); ++it)
      if (!read_.count(it.key())) fail(AXE_ERR_FORMAT, where_ + ": unknown field '" + excerpt(it.key()) + "'");
  }

 private:
  const nlohmann::json& at(const char* key) {
    if (!j_.contains(key)) fail(AXE_ERR_FORMAT, where_ + ": field '" + key + "' is missing");
    read_.insert(key);
    return j_[key];
  }
  [[noreturn]] void bad(const char* key, const std::string& what) const {
    fail(AXE_ERR_FORMAT, where_ + ": field '" + key + "' " + what + " (" + excerpt(j_[key].dump()) + ")");
  }
  [[noreturn]] void out_of_range(const char* key, int64_t lo, int64_t hi) const {
    bad(key, "is outside [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
  }
  const nlohmann::json& j_;
  std::string where_;
  std::set<std::string> read_;
};

}  // namespace

LlamaConfig config_from_json(const std::string& text, const std::string& source) {
  const auto j = parse_json(text, source, kAxeMetaConfig);
  Fields f(j, source + ": metadata 'config'");
  constexpr int64_t kMax = INT32_MAX;
  LlamaConfig c;
  c.dim = static_cast<int32_t>(f.integer("dim", 1, kMax));
  c.hidden_dim = static_cast<int32_t>(f.integer("hidden_dim", 1, kMax));
  c.n_layers = static_cast<int32_t>(f.integer("n_layers", 1, kMax));
  c.n_heads = static_cast<int32_t>(f.integer("n_heads", 1, kMax));
  c.n_kv_heads = static_cast<int32_t>(f.integer("n_kv_heads", 1, kMax));
  c.vocab = static_cast<int32_t>(f.integer("vocab_size", 1, kMax));
  c.seq_len = static_cast<int32_t>(f.integer("seq_len", 1, kMax));
  c.shared_classifier = f.boolean("shared_classifier");
  c.norm_eps = f.positive_float("norm_eps");
  c.rope_base = f.positive_float("rope_base");
  if (f.optional("head_dim")) c.head_size = static_cast<int32_t>(f.integer("head_dim", 2, 1 << 14));
  if (f.optional("rope_pairs")) c.rope_halves = f.one_of("rope_pairs", {"adjacent", "halves"}) == std::string("halves");
  if (const nlohmann::json* ff = f.optional("rope_freq_factors")) {
    if (!ff->is_array() || ff->size() > (1u << 13))
      fail(AXE_ERR_FORMAT, source + ": metadata 'config': field 'rope_freq_factors' is not a list of numbers");
    for (const auto& x : *ff) {
      if (!x.is_number() || !(x.get<double>() > 0) || !(x.get<double>() < 1e30))
        fail(AXE_ERR_FORMAT, source + ": metadata 'config': field 'rope_freq_factors' holds " + excerpt(x.dump()) +
                                 ", not a number in (0, 1e30)");
      c.rope_freq_factors.push_back(static_cast<float>(x.get<double>()));
    }
  }
  if (const nlohmann::json* rs = f.optional("rope_scaling")) {
    if (!rs->is_object()) fail(AXE_ERR_FORMAT, source + ": metadata 'config': field 'rope_scaling' is not an object");
    Fields r(*rs, source + ": metadata 'config': rope_scaling");
    RopeScaling& s = c.rope_scaling;
    if (r.one_of("type", {"linear", "llama3"}) == std::string("linear")) {
      s.kind = RopeScaling::Kind::kLinear;
      s.factor = r.positive_float("factor");
    } else {
      s.kind = RopeScaling::Kind::kLlama3;
      s.factor = r.positive_float("factor");
      s.low_freq_factor = r.positive_float("low_freq_factor");
      s.high_freq_factor = r.positive_float("high_freq_factor");
      s.original_max_position = static_cast<int32_t>(r.integer("original_max_position_embeddings", 1, 1 << 22));
    }
    r.no_others();
  }
  f.no_others();
  c.validate(source);
  return c;
}

nlohmann::json plan_to_json(const QuantFormat& q) {
  nlohmann::json j = {{"tiles", q.plan.kind == TileKind::kLanes ? "lanes" : "contiguous"},
          {"tile", q.plan.tile},
          {"inner_bits", q.plan.inner_bits},
          {"outer_bits", q.plan.outer_bits},
          {"weight_bits", q.weight_bits},
          {"act_bits", q.act_bits},
          {"act", q.act_signed ? "sym" : "asym"},
          {"act_min", q.x_range().mu},
          {"act_max", q.x_range().nu}};
  if (q.group) j.update({{"group", q.group}, {"act_group", q.act_group}});
  if (!q.layer_bits.empty()) {
    nlohmann::json layers = nlohmann::json::object();
    for (const auto& [name, b] : q.layer_bits) layers[name] = {{"weight_bits", b.weight_bits}, {"act_bits", b.act_bits}};
    j["layer_bits"] = layers;
  }
  return j;
}

QuantFormat plan_from_json(const std::string& text, const std::string& source) {
  const auto j = parse_json(text, source, kAxeMetaPlan);
  Fields f(j, source + ": metadata 'plan'");
  QuantFormat q;
  q.plan.kind = f.one_of("tiles", {"lanes", "contiguous"}) == std::string("lanes") ? TileKind::kLanes : TileKind::kContiguous;
  q.plan.tile = static_cast<uint32_t>(f.integer("tile", 1, int64_t{1} << 20));
  q.plan.inner_bits = static_cast<uint32_t>(f.integer("inner_bits", 2, 32));
  q.plan.outer_bits = static_cast<uint32_t>(f.integer("outer_bits", 2, 32));
  q.weight_bits = static_cast<int>(f.integer("weight_bits", 2, 8));
  q.act_bits = static_cast<int>(f.integer("act_bits", 2, 8));
  q.act_signed = f.one_of("act", {"sym", "asym"}) == std::string("sym");
  // Redundant with act and act_bits, so they must agree with them.
  const int64_t mu = f.integer("act_min", -255, 255), nu = f.integer("act_max", -255, 255);
  if (mu != q.x_range().mu || nu != q.x_range().nu)
    fail(AXE_ERR_FORMAT, source + ": metadata 'plan': act_min/act_max [" + std::to_string(mu) + ", " + std::to_string(nu) +
                             "] disagree with " + std::to_string(q.act_bits) + "-bit " + (q.act_signed ? "sym" : "asym") +
                             " activations [" + std::to_string(q.x_range().mu) + ", " + std::to_string(q.x_range().nu) + "]");
  const std::string bad = q.plan.invalid_reason();
  if (!bad.empty()) fail(AXE_ERR_FORMAT, source + ": accumulation plan: " + bad);
  if (f.optional("group")) {
    q.group = static_cast<uint32_t>(f.integer("group", 32, 4096));
    q.act_group = static_cast<uint32_t>(f.integer("act_group", 0, 1 << 20));
    const std::string bad_group = q.group_invalid_reason();
    if (!bad_group.empty()) fail(AXE_ERR_FORMAT, source + ": metadata 'plan': " + bad_group);
  }
  if (const nlohmann::json* layers = f.optional("layer_bits")) {
    if (!layers->is_object()) fail(AXE_ERR_FORMAT, source + ": plan field 'layer_bits' is not an object");
    for (auto it = layers->begin(); it != layers->end(); ++it) {
      if (!it.value().is_object())
        fail(AXE_ERR_FORMAT, source + ": plan field 'layer_bits' entry '" + excerpt(it.key()) + "' is not an object");
      Fields lf(it.value(), source + ": metadata 'plan': layer_bits '" + excerpt(it.key()) + "'");
      LayerBits b;
      b.weight_bits = static_cast<int>(lf.integer("weight_bits", 2, 8));
      b.act_bits = static_cast<int>(lf.integer("act_bits", 2, 8));
      lf.no_others();
      q.layer_bits[it.key()] = b;
    }
  }
  f.no_others();
  return q;
}

std::string axe_codes_dtype(int bits) { return bits <= 4 ? "U8" : "I8"; }

std::vector<uint64_t> axe_scales_shape(uint64_t rows, uint64_t cols, const QuantFormat& q) {
  if (!q.group) return {rows};
  return {rows, (cols + q.group - 1) / q.group};
}

std::vector<uint64_t> axe_codes_shape(uint64_t rows, uint64_t cols, int bits) {
  return {rows, bits <= 4 ? (cols + 1) / 2 : cols};
}

StoredCodes encode_axe_codes(const std::vector<int8_t>& q, size_t rows, size_t cols, int bits) {
  StoredCodes s{axe_codes_dtype(bits), axe_codes_shape(rows, cols, bits), {}};
  if (bits > 4) {
    s.bytes.assign(q.begin(), q.end());
    return s;
  }
  const size_t per_row = (cols + 1) / 2;
  s.bytes.assign(rows * per_row, 0x88);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) {
      uint8_t& b = s.bytes[r * per_row + c / 2];
      const uint8_t nib = static_cast<uint8_t>(q[r * cols + c] + 8);
      b = c % 2 ? static_cast<uint8_t>((b & 0x0F) | (nib << 4)) : static_cast<uint8_t>((b & 0xF0) | nib);
    }
  return s;
}

namespace {

// The inverse of encode_axe_codes, with every code checked against the
// M-bit narrow range.
std::vector<int8_t> decode_codes(const TensorView& t, uint64_t rows, uint64_t cols, int bits, const std::string& what) {
  std::vector<int8_t> q(rows * cols);
  const int limit = (1 << (bits - 1)) - 1;
  if (bits <= 4) {  // byte j of a row: column 2j in the low, 2j + 1 in the high nibble
    const size_t per_row = (cols + 1) / 2, pairs = cols / 2;
    for (size_t r = 0; r < rows; ++r) {
      const uint8_t* src = t.data + r * per_row;
      int8_t* dst = q.data() + r * cols;
      for (size_t j = 0; j < pairs; ++j) {
        dst[2 * j] = static_cast<int8_t>((src[j] & 0x0F) - 8);
        dst[2 * j + 1] = static_cast<int8_t>((src[j] >> 4) - 8);
      }
      if (cols % 2) dst[cols - 1] = static_cast<int8_t>((src[pairs] & 0x0F) - 8);
    }
  } else {
    std::memcpy(q.data(), t.data, q.size());
  }
  // One pass without early exit (it vectorizes), then the first offender named.
  bool bad = false;
  for (size_t i = 0; i < q.size(); ++i) bad |= (q[i] < -limit) | (q[i] > limit);
  for (size_t i = 0; bad && i < q.size(); ++i)
    if (q[i] < -limit || q[i] > limit)
      fail(AXE_ERR_FORMAT, what + ": code " + std::to_string(q[i]) + " at row " + std::to_string(i / cols) +
                               ", column " + std::to_string(i % cols) + " is outside the " + std::to_string(bits) +
                               "-bit range");
  return q;
}

}  // namespace

AxeFile::AxeFile(const std::string& path, MappedFile::Mode mode)
    : file_(std::make_shared<const SafetensorsFile>(path, mode)) {
  const SafetensorsFile& f = *file_;
  if (f.meta(kAxeMetaFormat) != kAxeFormat)
    fail(AXE_ERR_FORMAT, path + ": not an axe-llama file (format '" + excerpt(f.meta(kAxeMetaFormat)) + "')");
  if (f.meta(kAxeMetaVersion) != std::to_string(kAxeFormatVersion))
    fail(AXE_ERR_FORMAT, path + ": unsupported .axe version " + excerpt(f.meta(kAxeMetaVersion)));
  for (const auto& [key, value] : f.metadata())
    if (key != kAxeMetaFormat && key != kAxeMetaVersion && key != kAxeMetaConfig && key != kAxeMetaPlan &&
        key != kAxeMetaQuantization && key != kAxeMetaCertificate && key != kAxeMetaRotation &&
        key != kAxeMetaTokenizer && key != kAxeMetaChat)
      fail(AXE_ERR_FORMAT, path + ": unknown metadata '" + excerpt(key) + "'");
  // The writer pads the header so that every tensor is 64-byte aligned; a
  // file whose data section moved (a changed header length) is damaged.
  if (f.data_offset() % 64 != 0)
    fail(AXE_ERR_FORMAT, path + ": the data section starts at offset " + std::to_string(f.data_offset()) +
                             ", not 64-byte aligned as .axe files are written (damaged header length?)");
  config_ = config_from_json(f.meta(kAxeMetaConfig), path);
  format_ = plan_from_json(f.meta(kAxeMetaPlan), path);
  if (f.metadata().count(kAxeMetaRotation)) {
    const auto j = parse_json(f.meta(kAxeMetaRotation), path, kAxeMetaRotation);
    Fields r(j, path + ": metadata 'rotation'");
    r.one_of("kind", {"hadamard"});
    rotation_seed_ = static_cast<uint64_t>(r.integer("seed", 0, INT64_MAX));
    r.no_others();
  }
  if (f.metadata().count(kAxeMetaTokenizer)) {
    const auto j = parse_json(f.meta(kAxeMetaTokenizer), path, kAxeMetaTokenizer);
    Fields t(j, path + ": metadata 'tokenizer'");
    tokenizer_kind_ = t.one_of("kind", {"tokenizer.json"});
    if (const nlohmann::json* s = t.optional("settings")) {
      if (!s->is_string()) fail(AXE_ERR_FORMAT, path + ": metadata 'tokenizer': field 'settings' is not a string");
      tokenizer_settings_ = s->get<std::string>();
    }
    t.no_others();
  }
  if (f.metadata().count(kAxeMetaChat)) {
    const auto j = parse_json(f.meta(kAxeMetaChat), path, kAxeMetaChat);
    Fields t(j, path + ": metadata 'chat'");
    if (const nlohmann::json* s = t.optional("template")) {
      if (!s->is_string()) fail(AXE_ERR_FORMAT, path + ": metadata 'chat': field 'template' is not a string");
      chat_template_ = s->get<std::string>();
    }
    const nlohmann::json* ids = t.optional("stop_ids");
    if (!ids || !ids->is_array() || ids->size() > 1024)
      fail(AXE_ERR_FORMAT, path + ": metadata 'chat': field 'stop_ids' is not a list of token ids");
    for (const auto& id : *ids) {
      if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= config_.vocab)
        fail(AXE_ERR_FORMAT, path + ": metadata 'chat': stop id " + excerpt(id.dump()) + " is not a token id below " +
                                 std::to_string(config_.vocab));
      stop_ids_.push_back(static_cast<int32_t>(id.get<int64_t>()));
    }
    t.no_others();
  }
  // The tensors are exactly the ones the schema names for this config, each
  // with its dtype and shape (checked here, once, for load and verify alike;
  // code values are checked when read); per-layer bits name existing layers.
  const auto& tensors = f.tensors();
  quantized_classifier_ = tensors.count(axe_codes_name(kClassifierLinear)) != 0;
  compact_embedding_ = tensors.count(axe_codes_name(kEmbeddingRows)) != 0;
  for (const auto& [name, bits] : format_.layer_bits) {
    bool known = quantized_classifier_ && name == kClassifierLinear;
    for (int32_t l = 0; l < config_.n_layers && !known; ++l)
      for (const LlamaLinearInfo& ln : llama_linears()) known = known || name == llama_tensor_name(l, ln.name);
    if (!known)
      fail(AXE_ERR_FORMAT, path + ": metadata 'plan': layer_bits names '" + excerpt(name) + "', not a linear layer of this model");
  }
  const uint64_t D = config_.dim, V = config_.vocab;
  std::map<std::string, std::pair<std::string, std::vector<uint64_t>>> expected = {{kTensorFinalNorm, {"F32", {D}}}};
  std::set<std::string> linears;
  if (compact_embedding_) {
    expected[axe_codes_name(kEmbeddingRows)] = {"I8", {V, D}};
    expected[axe_scales_name(kEmbeddingRows)] = {"F32", {V}};
  } else {
    expected[kTensorEmbedding] = {"F32", {V, D}};
  }
  if (quantized_classifier_) {
    const int bits = format_.for_layer(kClassifierLinear).weight_bits;
    expected[axe_codes_name(kClassifierLinear)] = {axe_codes_dtype(bits), axe_codes_shape(V, D, bits)};
    expected[axe_scales_name(kClassifierLinear)] = {"F32", axe_scales_shape(V, D, format_)};
    linears.insert(kClassifierLinear);
  } else if (!config_.shared_classifier) {
    expected[kTensorClassifier] = {"F32", {V, D}};
  } else if (compact_embedding_) {
    fail(AXE_ERR_FORMAT, path + ": the classifier is the embedding (shared_classifier), which is stored as 8-bit rows; "
                                "the file needs the classifier's own codes ('" + axe_codes_name(kClassifierLinear) + "')");
  }
  for (int32_t l = 0; l < config_.n_layers; ++l) {
    expected[llama_tensor_name(l, kTensorAttentionNorm)] = {"F32", {D}};
    expected[llama_tensor_name(l, kTensorFfnNorm)] = {"F32", {D}};
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const std::string name = llama_tensor_name(l, llama_linears()[i].name);
      const auto [rows, cols] = llama_linear_shape(config_, i);
      const int bits = format_.for_layer(name).weight_bits;
      linears.insert(name);
      expected[axe_codes_name(name)] = {axe_codes_dtype(bits), axe_codes_shape(rows, cols, bits)};
      expected[axe_scales_name(name)] = {"F32", axe_scales_shape(rows, cols, format_)};
    }
  }
  for (const auto& [name, t] : f.tensors())
    if (!expected.count(name) && name != kAxeTensorTokenizer)
      fail(AXE_ERR_FORMAT, path + ": unexpected tensor '" + excerpt(name) + "' (the config has " +
                               std::to_string(config_.n_layers) + " layers" +
                               (config_.shared_classifier ? ", a shared classifier" : "") + ")");
  for (const auto& [name, type] : expected) {
    const TensorView& t = f.get(name, type.first, type.second);
    if (type.first == "F32" && reinterpret_cast<uintptr_t>(t.data) % alignof(float) != 0)
      fail(AXE_ERR_FORMAT, path + ": tensor '" + name + "' is not 4-byte aligned");
  }
  if (compact_embedding_) {
    const int8_t* q = embedding_codes();
    for (uint64_t i = 0; i < V * D; ++i)
      if (q[i] == -128)
        fail(AXE_ERR_FORMAT, path + ": " + axe_codes_name(kEmbeddingRows) + ": code -128 at row " + std::to_string(i / D) +
                                 ", column " + std::to_string(i % D) + " is outside [-127, 127]");
    const float* sc = embedding_scales();
    for (uint64_t t = 0; t < V; ++t)
      if (!(sc[t] >= 0) || !std::isfinite(sc[t]))
        fail(AXE_ERR_FORMAT, path + ": " + axe_scales_name(kEmbeddingRows) + ": the scale of row " + std::to_string(t) +
                                 " is not a finite number >= 0");
  }
  tokenizer_bytes();  // present, U8, one dimension
  try {
    if (!nlohmann::json::parse(f.meta(kAxeMetaQuantization)).is_object()) throw std::runtime_error("not an object");
  } catch (const std::exception&) {
    fail(AXE_ERR_FORMAT, path + ": metadata 'quantization' is not a JSON object");
  }
  read_certificate(linears);
}

void AxeFile::read_certificate(const std::set<std::string>& linears) {
  const std::string where = path() + ": metadata 'certificate'";
  const auto j = parse_json(file_->meta(kAxeMetaCertificate), path(), kAxeMetaCertificate);
  Fields f(j, where);
  const nlohmann::json* layers = f.optional("layers");
  if (!layers || !layers->is_array() || layers->size() != linears.size())
    fail(AXE_ERR_FORMAT, where + ": 'layers' is not an array of one entry per linear layer (" +
                             std::to_string(linears.size()) + ")");
  for (const auto& e : *layers) {
    if (!e.is_object()) fail(AXE_ERR_FORMAT, where + ": a layer entry is not an object");
    Fields lf(e, where);
    const nlohmann::json* name = lf.optional("name");
    if (!name || !name->is_string() || !linears.count(name->get<std::string>()))
      fail(AXE_ERR_FORMAT, where + ": a layer entry does not name a linear layer of this model");
    lf.integer("rows", 0, INT64_MAX);
    lf.integer("tiles", 0, INT64_MAX);
    lf.integer("inner_violations", 0, INT64_MAX);
    lf.integer("outer_violations", 0, INT64_MAX);
    lf.non_negative("worst_inner_use");
    lf.non_negative("worst_outer_use");
    lf.no_others();
  }
  certificate_.worst_inner_use = f.non_negative("worst_inner_use");
  certificate_.worst_outer_use = f.non_negative("worst_outer_use");
  certificate_.plan_holds = f.boolean("plan_holds");
  f.no_others();
}

const float* AxeFile::f32(const std::string& name, const std::vector<uint64_t>& shape) const {
  const TensorView& t = file_->get(name, "F32", shape);
  if (reinterpret_cast<uintptr_t>(t.data) % alignof(float) != 0)
    fail(AXE_ERR_FORMAT, path() + ": tensor '" + name + "' is not 4-byte aligned");
  return reinterpret_cast<const float*>(t.data);
}

std::vector<int8_t> AxeFile::codes(size_t layer, size_t i) const {
  const std::string name = llama_tensor_name(layer, llama_linears()[i].name);
  const auto [rows, cols] = llama_linear_shape(config_, i);
  const int bits = format_.for_layer(name).weight_bits;
  const TensorView& t = file_->get(axe_codes_name(name), axe_codes_dtype(bits), axe_codes_shape(rows, cols, bits));
  return decode_codes(t, rows, cols, bits, path() + ": " + name);
}

const float* AxeFile::scales(size_t layer, size_t i) const {
  const auto [rows, cols] = llama_linear_shape(config_, i);
  return f32(axe_scales_name(llama_tensor_name(layer, llama_linears()[i].name)), axe_scales_shape(rows, cols, format_));
}

std::vector<int8_t> AxeFile::classifier_codes() const {
  if (!quantized_classifier_) fail(AXE_ERR_INTERNAL, path() + ": the classifier is not quantized");
  const uint64_t V = config_.vocab, D = config_.dim;
  const int bits = format_.for_layer(kClassifierLinear).weight_bits;
  const TensorView& t = file_->get(axe_codes_name(kClassifierLinear), axe_codes_dtype(bits), axe_codes_shape(V, D, bits));
  return decode_codes(t, V, D, bits, path() + ": " + kClassifierLinear);
}

const float* AxeFile::classifier_scales() const {
  return f32(axe_scales_name(kClassifierLinear), axe_scales_shape(config_.vocab, config_.dim, format_));
}

const int8_t* AxeFile::embedding_codes() const {
  const TensorView& t = file_->get(axe_codes_name(kEmbeddingRows), "I8", {uint64_t(config_.vocab), uint64_t(config_.dim)});
  return reinterpret_cast<const int8_t*>(t.data);
}

const float* AxeFile::embedding_scales() const {
  return f32(axe_scales_name(kEmbeddingRows), {uint64_t(config_.vocab)});
}

void encode_embedding_rows(const float* table, size_t rows, size_t cols, std::vector<int8_t>& codes,
                           std::vector<float>& scales) {
  codes.assign(rows * cols, 0);
  scales.assign(rows, 0.0f);
  for (size_t r = 0; r < rows; ++r) {
    const float* x = table + r * cols;
    float amax = 0;
    for (size_t k = 0; k < cols; ++k) amax = std::max(amax, std::abs(x[k]));
    if (!(amax > 0) || !std::isfinite(amax)) continue;  // zeros (the quantizer refuses non-finite weights)
    const float scale = amax / 127.0f;
    scales[r] = scale;
    for (size_t k = 0; k < cols; ++k)
      codes[r * cols + k] = static_cast<int8_t>(std::clamp(std::nearbyint(x[k] / scale), -127.0f, 127.0f));
  }
}

std::string_view AxeFile::tokenizer_bytes() const {
  auto it = file_->tensors().find(kAxeTensorTokenizer);
  if (it == file_->tensors().end() || it->second.dtype != "U8" || it->second.shape.size() != 1)
    fail(AXE_ERR_FORMAT, path() + ": tensor 'tokenizer' (U8, one dimension) is missing");
  return std::string_view(reinterpret_cast<const char*>(it->second.data), it->second.bytes);
}

std::unique_ptr<LlamaModel> load_axe(const std::string& path, bool use_mmap) {
  const AxeFile f(path, use_mmap ? MappedFile::Mode::kMap : MappedFile::Mode::kHugePageCopy);
  auto m = std::make_unique<LlamaModel>();
  m->path = path;
  m->format = "axe";
  m->storage.push_back(f.shared_container());
  m->config = f.config();
  const QuantFormat& qf = f.format();
  const LlamaConfig& c = m->config;
  const uint64_t D = c.dim, V = c.vocab;
  if (f.compact_embedding()) {
    m->embedding_codes = f.embedding_codes();
    m->embedding_scales = f.embedding_scales();
  } else {
    m->embedding = f.f32(kTensorEmbedding, {V, D});
  }
  m->rms_final = f.f32(kTensorFinalNorm, {D});
  m->layers.resize(c.n_layers);
  // Kernels for the best target here; each context chooses its own again.
  const Int8KernelPolicy policy = Int8KernelPolicy::from_environment(supported_targets().back());
  for (size_t l = 0; l < m->layers.size(); ++l) {
    LlamaLayer& ly = m->layers[l];
    ly.rms_att = f.f32(llama_tensor_name(l, kTensorAttentionNorm), {D});
    ly.rms_ffn = f.f32(llama_tensor_name(l, kTensorFfnNorm), {D});
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const std::string name = llama_tensor_name(l, llama_linears()[i].name);
      const auto [rows, cols] = llama_linear_shape(c, i);
      const float* scales = f.scales(l, i);
      const QuantFormat lf = qf.for_layer(name);
      const auto q = f.codes(l, i);
      if (lf.groupwise())
        ly.*(llama_linears()[i].member) = make_group_layer(q.data(), rows, cols, scales, lf);
      else
        ly.*(llama_linears()[i].member) = std::make_unique<LinearInt8>(
            pack_int8_weights(q.data(), rows, cols, scales, lf.weight_bits, lf.plan, lf.x_range()), lf.act_bits,
            lf.act_signed, policy);
    }
  }
  if (f.quantized_classifier()) {
    const QuantFormat lf = qf.for_layer(kClassifierLinear);
    const auto q = f.classifier_codes();
    if (lf.groupwise())
      m->classifier = make_group_layer(q.data(), V, D, f.classifier_scales(), lf);
    else
      m->classifier = std::make_unique<LinearInt8>(
          pack_int8_weights(q.data(), V, D, f.classifier_scales(), lf.weight_bits, lf.plan, lf.x_range()), lf.act_bits,
          lf.act_signed, policy);
  } else {
    m->classifier = std::make_unique<LinearF32>(c.shared_classifier ? m->embedding : f.f32(kTensorClassifier, {V, D}), V, D);
  }
  m->tokenizer = make_tokenizer(f.tokenizer_kind(), f.tokenizer_bytes(), f.tokenizer_settings(),
                                path + " (embedded tokenizer)", c.vocab);
  m->chat_template = f.chat_template();
  m->stop_ids = f.stop_ids();
  if (m->stop_ids.empty() && m->tokenizer->eos() >= 0) m->stop_ids = {m->tokenizer->eos()};
  m->quant = qf;
  if (f.rotation_seed()) m->rotation = std::make_shared<const HadamardRotation>(c, *f.rotation_seed());
  return m;
}

AxeWriter::AxeWriter(const LlamaModel& source, const std::string& path, bool compact_embedding)
    : source_(source), path_(path), compact_embedding_(compact_embedding) {
  if (source.quantized()) fail(AXE_ERR_INVALID_ARGUMENT, source.path + ": the model is already quantized");
  spill_fd_ = create_scratch_beside(path);
}

AxeWriter::~AxeWriter() { ::close(spill_fd_); }

uint64_t AxeWriter::spill(const void* data, uint64_t bytes) {
  const uint64_t at = spill_end_;
  const auto* p = static_cast<const uint8_t*>(data);
  for (uint64_t done = 0; done < bytes;) {
    const ssize_t put = ::pwrite(spill_fd_, p + done, static_cast<size_t>(std::min<uint64_t>(bytes - done, 1u << 30)),
                                 static_cast<off_t>(at + done));
    if (put <= 0)
      fail(AXE_ERR_IO, path_ + ": cannot write the scratch file beside it: " +
                           std::strerror(put < 0 ? errno : ENOSPC));
    done += static_cast<uint64_t>(put);
  }
  spill_end_ += bytes;
  return at;
}

const PlanCheck& AxeWriter::add_linear(const std::string& name, const std::vector<int8_t>& codes,
                                       size_t rows, std::vector<float> scales, const QuantFormat& lf) {
  const size_t cols = rows ? codes.size() / rows : 0;
  std::vector<uint64_t> shape = axe_scales_shape(rows, cols, lf);
  if (rows * cols != codes.size() || (shape.size() == 1 ? shape[0] : shape[0] * shape[1]) != scales.size())
    fail(AXE_ERR_INTERNAL, name + ": codes and scales disagree with " + std::to_string(rows) + " rows");
  StoredCodes stored = encode_axe_codes(codes, rows, cols, lf.weight_bits);
  Layer layer{stored.dtype, std::move(stored.shape), std::move(shape), rows,
              check_plan(codes.data(), rows, cols, cols, lf.plan, lf.x_range())};
  layer.codes_bytes = stored.bytes.size();
  layer.codes_at = spill(stored.bytes.data(), layer.codes_bytes);
  layer.scales_bytes = 4 * scales.size();
  layer.scales_at = spill(scales.data(), layer.scales_bytes);
  return (layers_[name] = std::move(layer)).check;
}

AxeCertificate AxeWriter::write(const QuantFormat& qf, const nlohmann::json& settings) {
  const LlamaModel& model = source_;
  const LlamaConfig& c = model.config;
  SafetensorsWriter out;
  AxeCertificate sum;
  nlohmann::json certificate = nlohmann::json::array();
  // One quantized linear layer's tensors and certificate entry.
  auto add_layer = [&](const std::string& name) {
    Layer& layer = layers_.at(name);
    const PlanCheck& check = layer.check;
    const uint64_t rows = layer.rows;
    sum.inner_violations += check.inner_violations;
    sum.outer_violations += check.outer_violations;
    sum.worst_inner_use = std::max(sum.worst_inner_use, check.worst_inner_use);
    sum.worst_outer_use = std::max(sum.worst_outer_use, check.worst_outer_use);
    certificate.push_back({{"name", name},
                           {"rows", rows},
                           {"tiles", check.tiles},
                           {"worst_inner_use", check.worst_inner_use},
                           {"worst_outer_use", check.worst_outer_use},
                           {"inner_violations", check.inner_violations},
                           {"outer_violations", check.outer_violations}});
    out.add_from_file(axe_codes_name(name), layer.codes_dtype, layer.codes_shape, spill_fd_, layer.codes_at,
                      layer.codes_bytes);
    out.add_from_file(axe_scales_name(name), "F32", layer.scales_shape, spill_fd_, layer.scales_at,
                      layer.scales_bytes);
    ++sum.layers;
  };
  const uint64_t D = c.dim, V = c.vocab;
  if (!model.embedding) fail(AXE_ERR_INTERNAL, model.path + ": the embedding has no fp32 rows");
  if (compact_embedding_) {
    std::vector<int8_t> codes;
    std::vector<float> scales;
    encode_embedding_rows(model.embedding, V, D, codes, scales);
    out.add(axe_codes_name(kEmbeddingRows), "I8", {V, D}, std::vector<uint8_t>(codes.begin(), codes.end()));
    out.add(axe_scales_name(kEmbeddingRows), "F32", {V}, scales.data(), 4 * V);
  } else {
    out.add_borrowed(kTensorEmbedding, "F32", {V, D}, model.embedding, 4 * V * D);
  }
  out.add_borrowed(kTensorFinalNorm, "F32", {D}, model.rms_final, 4 * D);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LlamaLayer& ly = model.layers[l];
    out.add_borrowed(llama_tensor_name(l, kTensorAttentionNorm), "F32", {D}, ly.rms_att, 4 * D);
    out.add_borrowed(llama_tensor_name(l, kTensorFfnNorm), "F32", {D}, ly.rms_ffn, 4 * D);
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const std::string name = llama_tensor_name(l, llama_linears()[i].name);
      if (!layers_.count(name)) fail(AXE_ERR_INTERNAL, path_ + ": layer " + name + " was not quantized");
      add_layer(name);
    }
  }
  if (layers_.count(kClassifierLinear)) {
    add_layer(kClassifierLinear);
  } else if (!c.shared_classifier) {
    const LinearF32* cls = model.classifier->as_f32();
    if (!cls) fail(AXE_ERR_INTERNAL, model.path + ": the classifier has no fp32 weights");
    out.add_borrowed(kTensorClassifier, "F32", {V, D}, cls->data(), 4 * V * D);
  } else if (compact_embedding_) {
    fail(AXE_ERR_INTERNAL, model.path + ": a shared classifier with 8-bit embedding rows needs its own codes");
  }
  const std::string& tok = model.tokenizer->file_bytes();
  out.add_borrowed(kAxeTensorTokenizer, "U8", {tok.size()}, tok.data(), tok.size());
  out.set_metadata(kAxeMetaFormat, kAxeFormat);
  out.set_metadata(kAxeMetaVersion, std::to_string(kAxeFormatVersion));
  out.set_metadata(kAxeMetaConfig, config_to_json(c).dump());
  out.set_metadata(kAxeMetaPlan, plan_to_json(qf).dump());
  out.set_metadata(kAxeMetaQuantization, settings.dump());
  if (model.tokenizer->kind() != "llama2c")
    out.set_metadata(kAxeMetaTokenizer, nlohmann::json{{"kind", model.tokenizer->kind()},
                                                       {"settings", model.tokenizer->settings_bytes()}}
                                            .dump());
  const std::vector<int32_t> eos_only = {model.tokenizer->eos()};
  if (!model.chat_template.empty() || (!model.stop_ids.empty() && model.stop_ids != eos_only)) {
    nlohmann::json chat = {{"stop_ids", model.stop_ids}};
    if (!model.chat_template.empty()) chat["template"] = model.chat_template;
    out.set_metadata(kAxeMetaChat, chat.dump());
  }
  if (model.rotation)
    out.set_metadata(kAxeMetaRotation, nlohmann::json{{"kind", "hadamard"}, {"seed", model.rotation->seed()}}.dump());
  out.set_metadata(kAxeMetaCertificate,
                   nlohmann::json{{"layers", certificate},
                                  {"worst_inner_use", sum.worst_inner_use},
                                  {"worst_outer_use", sum.worst_outer_use},
                                  {"plan_holds", sum.inner_violations + sum.outer_violations == 0}}
                       .dump());
  out.write(path_);
  return sum;
}

}  // namespace axe
