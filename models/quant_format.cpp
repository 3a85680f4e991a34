#include "models/quant_format.h"

#include <algorithm>

namespace axe {

QuantFormat QuantFormat::for_layer(const std::string& name) const {
  QuantFormat q = *this;
  q.layer_bits.clear();
  if (auto it = layer_bits.find(name); it != layer_bits.end()) {
    q.weight_bits = it->second.weight_bits;
    q.act_bits = it->second.act_bits;
  }
  return q;
}

std::string QuantFormat::describe_bits() const {
  int w_lo = weight_bits, w_hi = weight_bits, a_lo = act_bits, a_hi = act_bits;
  for (const auto& [name, b] : layer_bits) {
    w_lo = std::min(w_lo, b.weight_bits), w_hi = std::max(w_hi, b.weight_bits);
    a_lo = std::min(a_lo, b.act_bits), a_hi = std::max(a_hi, b.act_bits);
  }
  auto range = [](int lo, int hi) { return lo == hi ? std::to_string(lo) : std::to_string(lo) + "-" + std::to_string(hi); };
  return "W" + range(w_lo, w_hi) + "A" + range(a_lo, a_hi) + (w_lo != w_hi || a_lo != a_hi ? " per layer" : "");
}

}  // namespace axe
