#include "models/quant_format.h"

#include <algorithm>
#include <string>
#include <vector>

#include "runtime/error.h"

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

std::string QuantFormat::group_invalid_reason() const {
  if (!group) return act_group ? "activation groups need weight groups (group > 0)" : "";
  const std::string g = std::to_string(group);
  if (group % 32 != 0 || group > 4096) return "the group size must be a multiple of 32 up to 4096, not " + g;
  if (!act_signed)
    return "groupwise weights take symmetric activations (--act sym): the groupwise kernels have no zero point";
  if (act_group % group != 0)
    return "activation groups of " + std::to_string(act_group) + " columns do not cover whole weight groups of " + g +
           ": a tile's integer sum needs one activation scale (use --act-group " + g + " or a multiple, or 0 per token)";
  if (act_group > (1u << 20)) return "the activation group is too large";
  if (plan.kind != TileKind::kContiguous || plan.tile != group)
    return "with weight groups of " + g + " the tiles are the groups (contiguous, T = " + g + "), not " + plan.describe();
  if (plan.outer_bits != 32)
    return "groupwise tile sums are scaled and added in fp32: there is no P_O to set (outer_bits must be 32)";
  return "";
}

std::string QuantFormat::describe_groups() const {
  if (!group) return "per row";
  return "G=" + std::to_string(group) + ", act per " + (act_group ? std::to_string(act_group) : std::string("token"));
}

std::unique_ptr<LinearGroup> make_group_layer(const int8_t* codes, size_t rows, size_t cols, const float* scales,
                                              const QuantFormat& f) {
  if (!f.group || f.group % kGroupSize != 0)
    fail(AXE_ERR_INTERNAL, "make_group_layer: groups of " + std::to_string(f.group) + " columns");
  const size_t padded = (cols + kGroupSize - 1) / kGroupSize * kGroupSize, blocks = padded / kGroupSize;
  const size_t groups = (cols + f.group - 1) / f.group, per = f.group / kGroupSize;
  std::vector<int8_t> q(rows * padded, 0);
  std::vector<float> s(rows * blocks);
  for (size_t r = 0; r < rows; ++r) {
    std::copy(codes + r * cols, codes + (r + 1) * cols, q.begin() + static_cast<ptrdiff_t>(r * padded));
    for (size_t b = 0; b < blocks; ++b) s[r * blocks + b] = scales[r * groups + b / per];
  }
  GroupActFormat act;
  act.bits = f.act_bits;
  act.group = f.act_group;
  return std::make_unique<LinearGroup>(pack_group_weights(q.data(), rows, padded, s.data(), f.weight_bits <= 4 ? 4 : 8),
                                       act, cols);
}

}  // namespace axe
