// Which integer kernels a layer runs: the fastest exact ones, chosen once
// per layer when a model is loaded or a context is created, never on the hot
// path. Every kernel that is exact for the layer's weights and activation
// range on this CPU (and at or below the policy's SIMD target) is timed on
// the layer's own rows, for decode (1 token) and for prefill (many tokens);
// the winners are remembered per (shape, weight format, plan, activation
// range, target), so layers of one shape are timed once. An inexact kernel
// is never a candidate, so the choice changes speed only: all candidates give
// bit-identical outputs. A policy's forced kernel (AXE_INT8_KERNEL=name) is
// taken where it is exact (tests, benchmarks).
#pragma once
#include "runtime/kernels/int8_kernels.h"

namespace axe {

Int8KernelChoice choose_int8_kernels(const Int8Weights& w, ActivationRange x, const Int8KernelPolicy& policy);

}  // namespace axe
