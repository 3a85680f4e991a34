#include "models/formats/axe.h"

#include <cstring>
#include <fstream>

#include "runtime/error.h"
#include "runtime/linear_int8.h"

namespace axe {

std::string axe_codes_name(const std::string& linear) { return linear + ".codes"; }
std::string axe_scales_name(const std::string& linear) { return linear + ".scales"; }

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
  const auto j = parse_json(text, source, kAxeMetaConfig);
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
  if (!q.layer_bits.empty()) {
    nlohmann::json layers = nlohmann::json::object();
    for (const auto& [name, b] : q.layer_bits) layers[name] = {{"weight_bits", b.weight_bits}, {"act_bits", b.act_bits}};
    j["layer_bits"] = layers;
  }
  return j;
}

QuantFormat plan_from_json(const std::string& text, const std::string& source) {
  const auto j = parse_json(text, source, kAxeMetaPlan);
  QuantFormat q;
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

std::string axe_codes_dtype(int bits) { return bits <= 4 ? "U8" : "I8"; }

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

}  // namespace

AxeFile::AxeFile(const std::string& path, MappedFile::Mode mode)
    : file_(std::make_shared<const SafetensorsFile>(path, mode)) {
  const SafetensorsFile& f = *file_;
  if (f.meta(kAxeMetaFormat) != kAxeFormat)
    fail(AXE_ERR_FORMAT, path + ": not an axe-llama file (format '" + f.meta(kAxeMetaFormat) + "')");
  if (f.meta(kAxeMetaVersion) != std::to_string(kAxeFormatVersion))
    fail(AXE_ERR_FORMAT, path + ": unsupported .axe version " + f.meta(kAxeMetaVersion));
  config_ = config_from_json(f.meta(kAxeMetaConfig), path);
  format_ = plan_from_json(f.meta(kAxeMetaPlan), path);
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
  return f32(axe_scales_name(llama_tensor_name(layer, llama_linears()[i].name)), {llama_linear_shape(config_, i)[0]});
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
  m->embedding = f.f32(kTensorEmbedding, {V, D});
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
      ly.*(llama_linears()[i].member) = std::make_unique<LinearInt8>(
          pack_int8_weights(q.data(), rows, cols, scales, lf.weight_bits, lf.plan, lf.x_range()), lf.act_bits,
          lf.act_signed, policy);
    }
  }
  m->classifier = std::make_unique<LinearF32>(c.shared_classifier ? m->embedding : f.f32(kTensorClassifier, {V, D}), V, D);
  m->tokenizer = std::make_unique<Tokenizer>(f.tokenizer_bytes(), path + " (embedded tokenizer)", c.vocab);
  m->quant = qf;
  return m;
}

AxeWriter::AxeWriter(const LlamaModel& source) : source_(source) {
  if (source.quantized()) fail(AXE_ERR_INVALID_ARGUMENT, source.path + ": the model is already quantized");
}

const PlanCheck& AxeWriter::add_linear(const std::string& name, const std::vector<int8_t>& codes,
                                       std::vector<float> scales, const QuantFormat& lf) {
  const size_t rows = scales.size(), cols = rows ? codes.size() / rows : 0;
  Layer layer{encode_axe_codes(codes, rows, cols, lf.weight_bits), std::move(scales),
              check_plan(codes.data(), rows, cols, cols, lf.plan, lf.x_range())};
  return (layers_[name] = std::move(layer)).check;
}

AxeCertificate AxeWriter::write(const std::string& path, const QuantFormat& qf, const nlohmann::json& settings) {
  const LlamaModel& model = source_;
  const LlamaConfig& c = model.config;
  SafetensorsWriter out;
  AxeCertificate sum;
  nlohmann::json certificate = nlohmann::json::array();
  const uint64_t D = c.dim;
  out.add_borrowed(kTensorEmbedding, "F32", {uint64_t(c.vocab), D}, model.embedding, 4 * uint64_t(c.vocab) * D);
  out.add_borrowed(kTensorFinalNorm, "F32", {D}, model.rms_final, 4 * D);
  for (size_t l = 0; l < model.layers.size(); ++l) {
    const LlamaLayer& ly = model.layers[l];
    out.add_borrowed(llama_tensor_name(l, kTensorAttentionNorm), "F32", {D}, ly.rms_att, 4 * D);
    out.add_borrowed(llama_tensor_name(l, kTensorFfnNorm), "F32", {D}, ly.rms_ffn, 4 * D);
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const std::string name = llama_tensor_name(l, llama_linears()[i].name);
      const uint64_t rows = ly.linear(i).rows();
      auto it = layers_.find(name);
      if (it == layers_.end()) fail(AXE_ERR_INTERNAL, path + ": layer " + name + " was not quantized");
      Layer& layer = it->second;
      const PlanCheck& check = layer.check;
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
      out.add(axe_codes_name(name), layer.codes.dtype, layer.codes.shape, std::move(layer.codes.bytes));
      out.add(axe_scales_name(name), "F32", {rows}, layer.scales.data(), 4 * rows);
      ++sum.layers;
    }
  }
  if (!c.shared_classifier) {
    const LinearF32* cls = model.classifier->as_f32();
    if (!cls) fail(AXE_ERR_INTERNAL, model.path + ": the classifier has no fp32 weights");
    out.add_borrowed(kTensorClassifier, "F32", {uint64_t(c.vocab), D}, cls->data(), 4 * uint64_t(c.vocab) * D);
  }
  const std::string& tok = model.tokenizer->file_bytes();
  out.add_borrowed(kAxeTensorTokenizer, "U8", {tok.size()}, tok.data(), tok.size());
  out.set_metadata(kAxeMetaFormat, kAxeFormat);
  out.set_metadata(kAxeMetaVersion, std::to_string(kAxeFormatVersion));
  out.set_metadata(kAxeMetaConfig, config_to_json(c).dump());
  out.set_metadata(kAxeMetaPlan, plan_to_json(qf).dump());
  out.set_metadata(kAxeMetaQuantization, settings.dump());
  out.set_metadata(kAxeMetaCertificate,
                   nlohmann::json{{"layers", certificate},
                                  {"worst_inner_use", sum.worst_inner_use},
                                  {"worst_outer_use", sum.worst_outer_use},
                                  {"plan_holds", sum.inner_violations + sum.outer_violations == 0}}
                       .dump());
  out.write(path);
  return sum;
}

}  // namespace axe
