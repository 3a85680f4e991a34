// The .axe file: a quantized Llama model in a safetensors container (see
// docs/FORMAT.md). Tensor names follow llama2.c's; linear layers are stored
// as integer codes plus per-row scales; __metadata__ holds the model config,
// the quantization settings, the accumulation plan and a per-layer
// certificate, each as a JSON string.
#pragma once
#include <nlohmann/json.hpp>

#include <array>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "models/llama/model.h"
#include "runtime/kernels/accumulation_plan.h"

namespace axe {

constexpr const char* kAxeFormat = "axe-llama";
constexpr int kAxeFormatVersion = 1;

// The seven linear layers of a block: tensor name suffix and member.
struct AxeLinearName {
  const char* name;  // "attention.wq", ...
  std::unique_ptr<Linear> LlamaLayer::*member;
};
const std::array<AxeLinearName, 7>& axe_linear_names();
std::string axe_tensor_name(size_t layer, const std::string& what);  // "layers.3.attention.wq"
// [rows, cols] of the i-th linear layer of axe_linear_names() for config c.
std::array<uint64_t, 2> axe_linear_shape(const LlamaConfig& c, size_t i);

// A model sharing every weight of `m` but its block's linear layers, which
// come from make(layer index, tensor name, the original layer). The classifier
// is a fresh fp32 view of the original's weights; tokenizer and files stay
// with `m`, which must outlive the result.
using LinearFactory = std::function<std::unique_ptr<Linear>(size_t, const std::string&, const Linear&)>;
std::unique_ptr<LlamaModel> with_replaced_linears(const LlamaModel& m, const LinearFactory& make);

nlohmann::json config_to_json(const LlamaConfig& c);
LlamaConfig config_from_json(const std::string& text, const std::string& source);

// Weight and activation bits of one linear layer.
struct LayerBits {
  int weight_bits = 8, act_bits = 8;
};

// The plan, the activation format and the weight bits as stored in metadata.
// `layer_bits` overrides the model-wide bits for the layers it names (the
// per-layer search picks them); for_layer() gives a layer's own format.
struct AxeQuantFormat {
  AccumulationPlan plan;
  int weight_bits = 8, act_bits = 8;
  bool act_signed = false;
  std::map<std::string, LayerBits> layer_bits;
  ActivationRange x_range() const { return ActivationRange::of(act_bits, act_signed); }
  AxeQuantFormat for_layer(const std::string& name) const;
  // "W4A8", or e.g. "W3-4A5-8 per layer" when layers differ.
  std::string describe_bits() const;
};
nlohmann::json plan_to_json(const AxeQuantFormat& q);
AxeQuantFormat plan_from_json(const std::string& text, const std::string& source);

// True when the file starts like a safetensors file (8-byte length, '{').
bool looks_like_axe(const std::string& path);
std::unique_ptr<LlamaModel> load_axe(const std::string& path, bool use_mmap);

// The stored codes of linear layer `name` (I8 [rows, cols], or U8
// [rows, ceil(cols / 2)] with two 4-bit codes per byte), checked for shape and
// range and unpacked into int8 codes [rows][cols].
std::vector<int8_t> read_axe_codes(const SafetensorsFile& f, const std::string& name, uint64_t rows, uint64_t cols,
                                   int bits);

}  // namespace axe
