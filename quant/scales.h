// Per-row symmetric weight scales, chosen once before a layer is quantized
// and then fixed (AXE.md section 6): the clipping threshold absmax * i / 20,
// i = 2..20, whose round-to-nearest codes give the least squared error.
#pragma once
#include <cstddef>

namespace axe {

// The fixed scale of each weight: one per row (`group` 0), or one per (row,
// group of `group` columns), stored [rows][groups], the last group of a row
// short when group does not divide the columns. Every quantizer reads its
// scales through this.
struct ScaleGrid {
  const float* s = nullptr;
  size_t group = 0, groups = 1;
  ScaleGrid(const float* per_row) : s(per_row) {}  // NOLINT: a per-row array is a grid
  ScaleGrid(const float* grid, size_t cols, size_t group_cols)
      : s(grid), group(group_cols), groups(group_cols ? (cols + group_cols - 1) / group_cols : 1) {}
  float at(size_t row, size_t col) const { return group ? s[row * groups + col / group] : s[row]; }
};

// A scale as an fp16 can hold it (GGUF's block scales are fp16): the nearest
// fp16, kept positive and finite (the smallest subnormal, or the largest
// finite value, at the ends).
float fp16_representable_scale(float s);

// scales[r] for rows x cols weights (row stride ldw), M-bit codes.
void mse_row_scales(const float* w, size_t rows, size_t cols, size_t ldw, int bits, float* scales);

}  // namespace axe
