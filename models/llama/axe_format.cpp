#include "models/llama/axe_format.h"

#include <cstring>
#include <fstream>

#include "runtime/error.h"
#include "runtime/linear_int8.h"

namespace axe {

const std::array<AxeLinearName, 7>& axe_linear_names() {
  static const std::array<AxeLinearName, 7> names = {{{"attention.wq", &LlamaLayer::wq},
                                                      {"attention.wk", &LlamaLayer::wk},
                                                      {"attention.wv", &LlamaLayer::wv},
                                                      {"attention.wo", &LlamaLayer::wo},
                                                      {"feed_forward.w1", &LlamaLayer::w1},
                                                      {"feed_forward.w2", &LlamaLayer::w2},
                                                      {"feed_forward.w3", &LlamaLayer::w3}}};
  return names;
}

std::string axe_tensor_name(size_t layer, const std::string& what) {
  return "layers." + std::to_string(layer) + "." + what;
}

std::array<uint64_t, 2> axe_linear_shape(const LlamaConfig& c, size_t i) {
  const uint64_t D = c.dim, H = c.hidden_dim, KV = c.kv_dim();
  const std::array<uint64_t, 2> shapes[7] = {{D, D}, {KV, D}, {KV, D}, {D, D}, {H, D}, {D, H}, {H, D}};
  return shapes[i];
}

std::unique_ptr<LlamaModel> with_replaced_linears(const LlamaModel& m, const LinearFactory& make) {
  auto v = std::make_unique<LlamaModel>();
  v->config = m.config;
  v->path = m.path;
  v->format = m.format;
  v->quantization = m.quantization;
  v->embedding = m.embedding;
  v->rms_final = m.rms_final;
  v->layers.resize(m.layers.size());
  for (size_t l = 0; l < m.layers.size(); ++l) {
    v->layers[l].rms_att = m.layers[l].rms_att;
    v->layers[l].rms_ffn = m.layers[l].rms_ffn;
    for (const AxeLinearName& ln : axe_linear_names())
      v->layers[l].*(ln.member) = make(l, axe_tensor_name(l, ln.name), *(m.layers[l].*(ln.member)));
  }
  if (const auto* cls = dynamic_cast<const LinearF32*>(m.classifier.get()))
    v->classifier = std::make_unique<LinearF32>(cls->data(), cls->rows(), cls->cols());
  return v;
}

nlohmann::json config_to_json(const LlamaConfig& c) {
  return {{"dim", c.dim},           {"hidden_dim", c.hidden_dim}, {"n_layers", c.n_layers},
          {"n_heads", c.n_heads},   {"n_kv_heads", c.n_kv_heads}, {"vocab_size", c.vocab},
          {"seq_len", c.seq_len},   {"shared_classifier", c.shared_classifier},
          {"norm_eps", c.norm_eps}, {"rope_base", c.rope_base}};
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

template <typename T>
T field(const nlohmann::json& j, const char* key, const std::string& source) {
  try {
    return j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    fail(AXE_ERR_FORMAT, source + ": metadata field '" + key + "' is missing or has the wrong type");
  }
}

}  // namespace

LlamaConfig config_from_json(const std::string& text, const std::string& source) {
  const auto j = parse_json(text, source, "config");
  LlamaConfig c;
  c.dim = field<int32_t>(j, "dim", source);
  c.hidden_dim = field<int32_t>(j, "hidden_dim", source);
  c.n_layers = field<int32_t>(j, "n_layers", source);
  c.n_heads = field<int32_t>(j, "n_heads", source);
  c.n_kv_heads = field<int32_t>(j, "n_kv_heads", source);
  c.vocab = field<int32_t>(j, "vocab_size", source);
  c.seq_len = field<int32_t>(j, "seq_len", source);
  c.shared_classifier = field<bool>(j, "shared_classifier", source);
  c.norm_eps = field<float>(j, "norm_eps", source);
  c.rope_base = field<float>(j, "rope_base", source);
  c.validate(source);
  return c;
}

AxeQuantFormat AxeQuantFormat::for_layer(const std::string& name) const {
  AxeQuantFormat q = *this;
  q.layer_bits.clear();
  if (auto it = layer_bits.find(name); it != layer_bits.end()) {
    q.weight_bits = it->second.weight_bits;
    q.act_bits = it->second.act_bits;
  }
  return q;
}

std::string AxeQuantFormat::describe_bits() const {
  int w_lo = weight_bits, w_hi = weight_bits, a_lo = act_bits, a_hi = act_bits;
  for (const auto& [name, b] : layer_bits) {
    w_lo = std::min(w_lo, b.weight_bits), w_hi = std::max(w_hi, b.weight_bits);
    a_lo = std::min(a_lo, b.act_bits), a_hi = std::max(a_hi, b.act_bits);
  }
  auto range = [](int lo, int hi) { return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi); };
  return "W" + range(w_lo, w_hi) + "A" + range(a_lo, a_hi) + (w_lo != w_hi || a_lo != a_hi ? " per layer" : "");
}

nlohmann::json plan_to_json(const AxeQuantFormat& q) {
  nlohmann::json j = {{"tiles", q.plan.kind == TileKind::kLanes ? "lanes" : "contiguous"},
          {"tile", q.plan.tile},
          {"inner_bits", q.plan.inner_bits},
          {"outer_bits", q.plan.outer_bits},
          {"weight_bits", q.weight_bits},
          {"act_bits", q.act_bits},
          {"act", q.act_signed ? "sym" : "asym"},
          {"act_min", q.x_range().mu},
          {"act_max", q.x_range().nu}};
  if (!q.layer_bits.empty()) {
    nlohmann::json layers = nlohmann::json::object();
    for (const auto& [name, b] : q.layer_bits) layers[name] = {{"weight_bits", b.weight_bits}, {"act_bits", b.act_bits}};
    j["layer_bits"] = layers;
  }
  return j;
}

AxeQuantFormat plan_from_json(const std::string& text, const std::string& source) {
  const auto j = parse_json(text, source, "plan");
  AxeQuantFormat q;
  const auto tiles = field<std::string>(j, "tiles", source);
  if (tiles != "lanes" && tiles != "contiguous") fail(AXE_ERR_FORMAT, source + ": unknown tile partition '" + tiles + "'");
  q.plan.kind = tiles == "lanes" ? TileKind::kLanes : TileKind::kContiguous;
  q.plan.tile = field<uint32_t>(j, "tile", source);
  q.plan.inner_bits = field<uint32_t>(j, "inner_bits", source);
  q.plan.outer_bits = field<uint32_t>(j, "outer_bits", source);
  q.weight_bits = field<int>(j, "weight_bits", source);
  q.act_bits = field<int>(j, "act_bits", source);
  const auto act = field<std::string>(j, "act", source);
  if (act != "sym" && act != "asym") fail(AXE_ERR_FORMAT, source + ": unknown activation format '" + act + "'");
  q.act_signed = act == "sym";
  const std::string bad = q.plan.invalid_reason();
  if (!bad.empty()) fail(AXE_ERR_FORMAT, source + ": accumulation plan: " + bad);
  auto check_bits = [&](int w, int a, const std::string& where) {
    if (w < 2 || w > 8 || a < 2 || a > 8) fail(AXE_ERR_FORMAT, source + ": " + where + "weight and activation bits must be in [2, 8]");
  };
  check_bits(q.weight_bits, q.act_bits, "");
  if (j.contains("layer_bits")) {
    const auto& layers = j["layer_bits"];
    if (!layers.is_object()) fail(AXE_ERR_FORMAT, source + ": plan field 'layer_bits' is not an object");
    for (auto it = layers.begin(); it != layers.end(); ++it) {
      LayerBits b{field<int>(it.value(), "weight_bits", source), field<int>(it.value(), "act_bits", source)};
      check_bits(b.weight_bits, b.act_bits, "layer " + it.key() + ": ");
      q.layer_bits[it.key()] = b;
    }
  }
  return q;
}

bool looks_like_axe(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char head[9] = {};
  if (!in.read(head, 9)) return false;
  uint64_t len;
  std::memcpy(&len, head, 8);
  return len >= 2 && len < (uint64_t{100} << 20) && head[8] == '{';
}

std::vector<int8_t> read_axe_codes(const SafetensorsFile& f, const std::string& name, uint64_t rows, uint64_t cols,
                                   int bits) {
  const TensorView& t = bits <= 4 ? f.get(name + ".codes", "U8", {rows, (cols + 1) / 2})
                                  : f.get(name + ".codes", "I8", {rows, cols});
  const std::string what = f.path() + ": " + name;
  std::vector<int8_t> q(rows * cols);
  const int limit = (1 << (bits - 1)) - 1;
  if (bits <= 4) {
    const size_t per_row = (cols + 1) / 2;
    for (size_t r = 0; r < rows; ++r)
      for (size_t c = 0; c < cols; ++c) {
        const uint8_t b = t.data[r * per_row + c / 2];
        q[r * cols + c] = static_cast<int8_t>((c % 2 ? b >> 4 : b & 0x0F) - 8);
      }
  } else {
    std::memcpy(q.data(), t.data, q.size());
  }
  for (size_t i = 0; i < q.size(); ++i)
    if (q[i] < -limit || q[i] > limit)
      fail(AXE_ERR_FORMAT, what + ": code " + std::to_string(q[i]) + " at row " + std::to_string(i / cols) +
                               ", column " + std::to_string(i % cols) + " is outside the " + std::to_string(bits) +
                               "-bit range");
  return q;
}

std::unique_ptr<LlamaModel> load_axe(const std::string& path, bool use_mmap) {
  auto m = std::make_unique<LlamaModel>();
  m->path = path;
  m->format = "axe";
  m->tensors = std::make_unique<SafetensorsFile>(path, use_mmap ? MappedFile::Mode::kMap : MappedFile::Mode::kHugePageCopy);
  const SafetensorsFile& f = *m->tensors;
  if (f.meta("format") != kAxeFormat) fail(AXE_ERR_FORMAT, path + ": not an axe-llama file (format '" + f.meta("format") + "')");
  if (f.meta("version") != std::to_string(kAxeFormatVersion))
    fail(AXE_ERR_FORMAT, path + ": unsupported .axe version " + f.meta("version"));
  m->config = config_from_json(f.meta("config"), path);
  const AxeQuantFormat qf = plan_from_json(f.meta("plan"), path);
  const LlamaConfig& c = m->config;
  const uint64_t D = c.dim, V = c.vocab;
  auto f32 = [&](const std::string& name, std::vector<uint64_t> shape) {
    const TensorView& t = f.get(name, "F32", shape);
    if (reinterpret_cast<uintptr_t>(t.data) % alignof(float) != 0)
      fail(AXE_ERR_FORMAT, path + ": tensor '" + name + "' is not 4-byte aligned");
    return reinterpret_cast<const float*>(t.data);
  };
  m->embedding = f32("tok_embeddings.weight", {V, D});
  m->rms_final = f32("norm.weight", {D});
  m->layers.resize(c.n_layers);
  for (size_t l = 0; l < m->layers.size(); ++l) {
    LlamaLayer& ly = m->layers[l];
    ly.rms_att = f32(axe_tensor_name(l, "attention_norm.weight"), {D});
    ly.rms_ffn = f32(axe_tensor_name(l, "ffn_norm.weight"), {D});
    for (size_t i = 0; i < 7; ++i) {
      const std::string name = axe_tensor_name(l, axe_linear_names()[i].name);
      const auto [rows, cols] = axe_linear_shape(c, i);
      const float* scales = f32(name + ".scales", {rows});
      const AxeQuantFormat lf = qf.for_layer(name);
      const auto q = read_axe_codes(f, name, rows, cols, lf.weight_bits);
      ly.*(axe_linear_names()[i].member) = std::make_unique<LinearInt8>(
          pack_int8_weights(q.data(), rows, cols, scales, lf.weight_bits, lf.plan, lf.x_range()), lf.act_bits,
          lf.act_signed);
    }
  }
  m->classifier = std::make_unique<LinearF32>(c.shared_classifier ? m->embedding : f32("output.weight", {V, D}), V, D);
  auto tok_it = f.tensors().find("tokenizer");
  if (tok_it == f.tensors().end() || tok_it->second.dtype != "U8" || tok_it->second.shape.size() != 1)
    fail(AXE_ERR_FORMAT, path + ": tensor 'tokenizer' (U8, one dimension) is missing");
  const TensorView& tok = tok_it->second;
  m->tokenizer = std::make_unique<Tokenizer>(
      std::string_view(reinterpret_cast<const char*>(tok.data), tok.bytes), path + " (embedded tokenizer)", c.vocab);
  m->quantization = qf.describe_bits();
  return m;
}

}  // namespace axe
