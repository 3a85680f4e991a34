// xsimd versions of the quantizer's element-wise loops, chosen at run time
// (xsimd::dispatch over AVX-512F, AVX and SSE2; each compiled in its own
// translation unit with that target's flags, never -march=native).
//
// Each function returns results bit-identical to its scalar reference: the
// same floating-point operations in the same order, only several of them side
// by side. The tests (tests/test_quant_simd.cpp) compare every bit.
#pragma once
#include <cstddef>

namespace axe {

// Same semantics and results as mse_row_scales (quant/scales.h): scales[r]
// for rows x cols weights (row stride ldw), M-bit codes. Each SIMD lane owns
// one of the 19 candidate clipping thresholds and walks the columns in order,
// so every candidate's squared-error sum is added in the scalar order. Rows
// holding Inf or NaN, and rows whose candidate scales under- or overflow,
// are handed to the scalar mse_row_scales itself.
// Assumes the default floating-point environment (round to nearest, no
// flush-to-zero changes between calls), as the scalar code does.
void mse_row_scales_simd(const float* w, size_t rows, size_t cols, size_t ldw, int bits, float* scales);

// The instruction set xsimd::dispatch picks on this CPU for the functions
// above: "avx512f", "avx" or "sse2".
const char* quant_simd_target();

// For tests and benchmarks: mse_row_scales_simd on the named instruction set
// ("avx512f", "avx" or "sse2") instead of the dispatched one. Returns false,
// writing nothing, when the name is unknown or this CPU lacks that set.
// With `errors`, also writes each row's 19 squared-error sums (candidates
// i = 20 .. 2) to errors[19 r ..]; NaN for all-zero rows and for rows left
// to the scalar code.
bool mse_row_scales_simd_on(const char* target, const float* w, size_t rows, size_t cols, size_t ldw, int bits,
                            float* scales, double* errors = nullptr);

}  // namespace axe
