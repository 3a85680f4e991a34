// The per-layer datapath-aware search (`--search`): AXE at every activation
// width N from the requested one down and every weight width M from the
// requested one down, each stopping where the data-type bound already fits
// P_I (narrower would only lose precision); the driver keeps, per layer, the
// (N, M) with the lowest calibration output error computed from H and G.
#pragma once
#include <cstdint>
#include <vector>

#include "models/quant_format.h"
#include "quant/calibration.h"
#include "quant/scales.h"
#include "runtime/linear.h"

namespace axe {

// The (N, M) pairs to try for a layer whose largest tile sums max_tile
// terms, N-major, N and M descending.
std::vector<LayerBits> search_candidates(const QuantFormat& qf, uint64_t max_tile);

// || X w - X~ s q ||^2 summed over rows, less the candidate-independent
// || X w ||^2: -2 (s q)^T G w + (s q)^T H (s q).
double calibration_error(const LinearF32& layer, const std::vector<int8_t>& codes, ScaleGrid scales,
                         const LayerStats& stats);

}  // namespace axe
