// EP-init, the baseline of docs/AXE.md section 7: after an
// unconstrained quantizer that rounded toward zero, each accumulator's codes
// are projected onto the l1 ball of the non-centred bound
//   ||q||_1 <= Acc * 2^([x signed] - N),   Acc = 2^(P-1) - 1,
// and rounded toward zero again, so the l1 norm never grows. With a plan the
// accumulators are the tiles (P = P_I) and, when P_O is narrower than
// sufficient, the rows (P = P_O). The bound is sufficient for the plan.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/kernels/accumulation_plan.h"

namespace axe {

void ep_init_project(std::vector<int8_t>& codes, size_t rows, size_t cols, const AccumulationPlan& plan, int act_bits,
                     bool act_signed);

}  // namespace axe
