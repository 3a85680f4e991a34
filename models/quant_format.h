// How a quantized model's integer layers are stored and run: the
// accumulation plan, the activation format and the weight bits, model-wide
// and per layer. Loaded from (and written to) a .axe file's plan; carried by
// the model, so nothing downstream re-parses it.
#pragma once
#include <map>
#include <string>

#include "runtime/kernels/accumulation_plan.h"

namespace axe {

// Weight and activation bits of one linear layer.
struct LayerBits {
  int weight_bits = 8, act_bits = 8;
};

// `layer_bits` overrides the model-wide bits for the layers it names (the
// per-layer search picks them); for_layer() gives a layer's own format.
struct QuantFormat {
  AccumulationPlan plan;
  int weight_bits = 8, act_bits = 8;
  bool act_signed = false;
  std::map<std::string, LayerBits> layer_bits;
  ActivationRange x_range() const { return ActivationRange::of(act_bits, act_signed); }
  QuantFormat for_layer(const std::string& name) const;
  // "W4A8", or e.g. "W3-4A5-8 per layer" when layers differ.
  std::string describe_bits() const;
};

}  // namespace axe
