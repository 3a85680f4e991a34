// The activation quantizers' code paths: quantize_activation_rows
// (int8_types.h) and quantize_group_activation_rows (group_types.h) run the
// best of these this CPU has (chosen once from cpu_features()); every path
// gives the same bytes as the scalar one for every input, NaN, infinities and
// signed zeros included (tests/test_act_quant.cpp). Exposed for the tests and
// benchmarks, which call each path directly.
#pragma once
#include <cstddef>

#include "runtime/kernels/group_types.h"
#include "runtime/kernels/int8_types.h"

namespace axe {

enum class ActQuantPath { kScalar = 0, kAVX2 = 1, kAVX512 = 2 };

const char* act_quant_path_name(ActQuantPath p);
bool act_quant_path_supported(ActQuantPath p);  // by this CPU and build
ActQuantPath best_act_quant_path();             // what the public functions run

// The public functions on a given path (one this CPU supports; otherwise
// AXE_ERR_INVALID_ARGUMENT). The group format is checked as by the public one.
void quantize_activation_rows_on(ActQuantPath p, const float* x, size_t ldx, size_t m0, size_t m1,
                                 Int8Activations& out);
void quantize_group_activation_rows_on(ActQuantPath p, const float* x, size_t ldx, size_t m0, size_t m1,
                                       GroupActivations& out, const GroupActFormat& f);

// Per-row parameters of the per-token quantizer, from the row's range
// [lo, hi] (finite, lo <= 0 <= hi): x -> clamp(x * inv, vmin, vmax) rounded
// to nearest even, plus zero.
struct ActRowParams {
  float scale, inv, vmin, vmax;
  int32_t zero;
};
ActRowParams act_row_params(float lo, float hi, const ActivationRange& range);

// The group quantizer's parameters for a span whose |x| maximum is amax:
// codes round(clamp(x * id, -qmax, qmax)) (a NaN product: 0), scale `stored`.
struct GroupSpanParams {
  float id, stored;
};
GroupSpanParams group_span_params(float amax, float qmax);

#if defined(__x86_64__)
// act_quant_x86.cpp: the row loops (no checks; call only when the CPU has the
// instructions, and the group format is valid).
void quantize_activation_rows_avx512(const float* x, size_t ldx, size_t m0, size_t m1, Int8Activations& out);
void quantize_activation_rows_avx2(const float* x, size_t ldx, size_t m0, size_t m1, Int8Activations& out);
void quantize_group_activation_rows_avx512(const float* x, size_t ldx, size_t m0, size_t m1, GroupActivations& out,
                                           const GroupActFormat& f);
void quantize_group_activation_rows_avx2(const float* x, size_t ldx, size_t m0, size_t m1, GroupActivations& out,
                                         const GroupActFormat& f);
#endif

}  // namespace axe
