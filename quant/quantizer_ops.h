// The SIMD table the quantizer's products run on: the best target this CPU
// has (the quantizer is not a context, so it has no --target of its own).
#pragma once
#include "runtime/ops/ops.h"

namespace axe {

inline const Ops& quantizer_ops() { return ops_for(supported_targets().back()); }

}  // namespace axe
