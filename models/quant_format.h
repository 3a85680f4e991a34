// How a quantized model's integer layers are stored and run: the
// accumulation plan, the activation format and the weight bits, model-wide
// and per layer. Loaded from (and written to) a .axe file's plan; carried by
// the model, so nothing downstream re-parses it.
#pragma once
#include <map>
#include <memory>
#include <string>

#include "runtime/kernels/accumulation_plan.h"
#include "runtime/linear_group.h"

namespace axe {

// Weight and activation bits of one linear layer.
struct LayerBits {
  int weight_bits = 8, act_bits = 8;
};

// `layer_bits` overrides the model-wide bits for the layers it names (the
// per-layer search picks them); for_layer() gives a layer's own format.
//
// Groupwise formats (group > 0): one weight scale per (row, group of `group`
// input columns), the last group of a row short when group does not divide
// K; symmetric activations scaled per token (act_group 0) or per group of
// act_group columns (a multiple of group: llama.cpp's Q8_0 activations are
// act_group = 32); the plan's tiles are the groups (contiguous, T = group),
// each tile's integer sum is scaled and added in fp32, so P_O is unused
// (32). They run on the groupwise kernels (runtime/linear_group.h).
struct QuantFormat {
  AccumulationPlan plan;
  int weight_bits = 8, act_bits = 8;
  bool act_signed = false;
  uint32_t group = 0;      // weight columns per scale; 0: one scale per row
  uint32_t act_group = 0;  // activation columns per scale (groupwise only); 0: per token
  std::map<std::string, LayerBits> layer_bits;
  ActivationRange x_range() const { return ActivationRange::of(act_bits, act_signed); }
  QuantFormat for_layer(const std::string& name) const;
  // "W4A8", or e.g. "W3-4A5-8 per layer" when layers differ.
  std::string describe_bits() const;
  bool groupwise() const { return group != 0; }
  // Empty when the group settings are consistent with each other and the
  // plan (see above), else what is wrong, in a user's terms.
  std::string group_invalid_reason() const;
  // "G=32, act per 32" / "per row"
  std::string describe_groups() const;
};

// An AXE groupwise layer from its codes [rows][cols] and scales
// [rows][ceil(cols / f.group)] (models/quant_format.h): weights packed as
// blocks of 32 (4-bit when the weight bits are <= 4, else 8-bit; each block
// takes its group's scale; cols padded with zero codes to a multiple of 32),
// activations by f's bits and act_group.
std::unique_ptr<LinearGroup> make_group_layer(const int8_t* codes, size_t rows, size_t cols, const float* scales,
                                              const QuantFormat& f);

}  // namespace axe
