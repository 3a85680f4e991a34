// Which integer kernel a layer runs: the fastest exact one. Every kernel that
// is exact for the layer's weights and activation range on this CPU (and at
// or below the context's SIMD target) is timed once on the layer's own rows,
// for decode (1 token) or prefill (many tokens), and the winner is cached per
// (shape, weight format, plan, activation range, target, token bucket). An
// inexact kernel is never a candidate, so the choice changes speed only: all
// candidates give bit-identical outputs. The environment variable
// AXE_INT8_KERNEL=name forces a kernel where it is exact (tests, benchmarks).
#pragma once
#include "runtime/kernels/int8_kernels.h"

namespace axe {

const Int8Kernel& select_int8_kernel(const Int8Weights& w, ActivationRange x, size_t tokens, Target max_target);

}  // namespace axe
