// `axe verify MODEL.gguf`: can this GGUF model's integer blocks run on a
// narrow-accumulator datapath? For every Q8_0 and Q4_0 tensor, each block of
// 32 codes is one tile (llama.cpp's datapath: an integer dot product per
// block against activations quantized per block, then scaled and added in
// float, so only the block's accumulator is narrow). Its exact worst case
// over every activation in the range (docs/AXE.md, conditions (C+)/(C-)) gives
// the smallest accumulator width P_I at which it cannot overflow.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/kernels/accumulation_plan.h"

namespace axe {

struct GgufTensorCheck {
  std::string name, type;     // "blk.0.attn_q.weight", "Q4_0"
  bool checked = false;       // Q8_0 or Q4_0 blocks of a product (not the embedding table's lookups)
  std::string note;           // why not checked: "another type", "embedding lookup"
  uint64_t rows = 0, blocks = 0;
  int64_t worst_magnitude = 0;      // largest block worst case
  uint32_t min_inner_bits = 0;      // smallest P_I that holds for every block
  uint64_t overflowing_blocks = 0;  // blocks whose worst case exceeds the P_I asked about
};

struct GgufCheckReport {
  uint32_t inner_bits = 0;
  ActivationRange x;
  std::vector<GgufTensorCheck> tensors;  // file order
  uint64_t checked = 0, skipped = 0, blocks = 0, overflowing_blocks = 0;
  uint32_t min_inner_bits = 0;  // over every checked tensor
  bool holds() const { return overflowing_blocks == 0; }
};

// Reads the file with the same checks as the loader (AXE_ERR_FORMAT when
// damaged). inner_bits in [2, 32].
GgufCheckReport verify_gguf_file(const std::string& path, uint32_t inner_bits, ActivationRange x);

// The smallest accumulator width whose limit 2^(P-1) - 1 holds `magnitude`.
uint32_t bits_for_magnitude(int64_t magnitude);

}  // namespace axe
