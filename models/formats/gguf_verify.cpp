#include "models/formats/gguf_verify.h"

#include <algorithm>
#include <bit>

#include "models/formats/gguf.h"
#include "runtime/error.h"

namespace axe {

uint32_t bits_for_magnitude(int64_t magnitude) {
  // acc_limit(P) = 2^(P-1) - 1 >= m  <=>  P >= bit_width(m) + 1.
  return std::max<uint32_t>(2, static_cast<uint32_t>(std::bit_width(static_cast<uint64_t>(magnitude))) + 1);
}

GgufCheckReport verify_gguf_file(const std::string& path, uint32_t inner_bits, ActivationRange x) {
  if (inner_bits < 2 || inner_bits > 32)
    fail(AXE_ERR_INVALID_ARGUMENT, "the accumulator width " + std::to_string(inner_bits) + " is outside [2, 32]");
  const GgufFile f(path, MappedFile::Mode::kMap);
  GgufCheckReport r;
  r.inner_bits = inner_bits;
  r.x = x;
  const int64_t limit = AccumulationPlan::acc_limit(inner_bits);
  int64_t worst_all = 0;
  for (const GgufFile::Tensor& t : f.tensors()) {
    GgufTensorCheck c;
    c.name = t.name;
    c.type = ggml_type_name(t.type);
    c.rows = t.n_rows();
    const bool q8 = t.type == GgmlType::Q8_0, q4 = t.type == GgmlType::Q4_0;
    // The embedding table is looked up, not multiplied: no accumulator,
    // unless it is also the classifier (no output.weight).
    const bool lookup = t.name == "token_embd.weight" && f.tensor("output.weight");
    if ((!q8 && !q4) || lookup) {
      c.note = lookup ? "embedding lookup" : "not integer blocks";
      ++r.skipped;
      r.tensors.push_back(std::move(c));
      continue;
    }
    c.checked = true;
    const size_t block_bytes = ggml_block_bytes(t.type);
    c.blocks = t.bytes / block_bytes;
    for (uint64_t b = 0; b < c.blocks; ++b) {
      const uint8_t* p = t.data + b * block_bytes + 2;  // after the fp16 scale
      int64_t pos = 0, neg = 0;
      for (int k = 0; k < 32; ++k) {
        const int q = q8 ? static_cast<int8_t>(p[k]) : (k < 16 ? (p[k] & 15) : (p[k - 16] >> 4)) - 8;
        (q > 0 ? pos : neg) += q;
      }
      const int64_t w = worst_case_magnitude(pos, neg, x);
      c.worst_magnitude = std::max(c.worst_magnitude, w);
      if (w > limit) ++c.overflowing_blocks;
    }
    c.min_inner_bits = bits_for_magnitude(c.worst_magnitude);
    worst_all = std::max(worst_all, c.worst_magnitude);
    ++r.checked;
    r.blocks += c.blocks;
    r.overflowing_blocks += c.overflowing_blocks;
    r.tensors.push_back(std::move(c));
  }
  r.min_inner_bits = r.checked ? bits_for_magnitude(worst_all) : 0;
  return r;
}

}  // namespace axe
