// Per-row symmetric weight scales, chosen once before a layer is quantized
// and then fixed (AXE.md section 6): the clipping threshold absmax * i / 20,
// i = 2..20, whose round-to-nearest codes give the least squared error.
#pragma once
#include <cstddef>

namespace axe {

// scales[r] for rows x cols weights (row stride ldw), M-bit codes.
void mse_row_scales(const float* w, size_t rows, size_t cols, size_t ldw, int bits, float* scales);

}  // namespace axe
