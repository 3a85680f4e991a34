#include "models/quant_format.h"

#include <algorithm>

#include "models/llama/arch.h"

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
    if (name == kClassifierLinear) continue;  // the classifier's own bits are reported apart
    w_lo = std::min(w_lo, b.weight_bits), w_hi = std::max(w_hi, b.weight_bits);
    a_lo = std::min(a_lo, b.act_bits), a_hi = std::max(a_hi, b.act_bits);
  }
  // Appended piece by piece: GCC 12's -Wrestrict misfires on chains of
  // temporary string concatenations here.
  std::string out;
  auto range = [&out](char what, int lo, int hi) {
    out += what;
    out += std::to_string(lo);
    if (hi != lo) {
      out += '-';
      out += std::to_string(hi);
    }
  };
  range('W', w_lo, w_hi);
  range('A', a_lo, a_hi);
  if (w_lo != w_hi || a_lo != a_hi) out += " per layer";
  return out;
}

}  // namespace axe
