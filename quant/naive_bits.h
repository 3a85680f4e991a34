// The naive baseline of AXE.md section 7: no constraint, but bit widths
// small enough that the data-type bound fits the accumulator for any weights.
#pragma once
#include <cstdint>

namespace axe {

// A2Q's data-type bound: the accumulator width that any K-term dot product of
// N-bit activations and M-bit weights fits, P* = ceil(alpha + log2(1 +
// 2^-alpha) + 1) with alpha = log2(K) + N + M - 1 - [x signed].
uint32_t data_type_bound(uint64_t k, int act_bits, int weight_bits, bool act_signed);

struct NaiveBits {
  int act_bits, weight_bits;
  bool found;
};
// Lowers N first (down to 2), then M (down to 2), until the bound for tiles of
// `max_tile` terms fits `inner_bits`.
NaiveBits naive_bits(uint64_t max_tile, uint32_t inner_bits, int act_bits, int weight_bits, bool act_signed);

}  // namespace axe
