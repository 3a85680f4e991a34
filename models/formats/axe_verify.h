// `axe verify`: proves a .axe file's accumulation plan from its stored
// integers alone, with the same checker the quantizer and kernels use.
#pragma once
#include <string>

#include "runtime/kernels/accumulation_plan.h"

namespace axe {

struct VerifyReport {
  std::string plan;  // e.g. "lanes x16, P_I=16, P_O=32" with the activation range
  uint64_t layers = 0, rows = 0, tiles = 0;
  uint64_t inner_violations = 0, outer_violations = 0;
  double worst_inner_use = 0, worst_outer_use = 0;
  std::string first_violation;  // "layers.2.attention.wq row 17 tile 3", or empty
  std::string rotation = "none";  // "hadamard, seed 7": the integers checked are the rotated ones
  bool certificate_matches = true;  // the stored certificate agrees with the recomputation
};

// Throws AXE_ERR_FORMAT for a damaged file.
VerifyReport verify_axe_file(const std::string& path);

}  // namespace axe
