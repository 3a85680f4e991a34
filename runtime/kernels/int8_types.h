// Integer weights and activations in the layout the int8 kernels read.
//
// Weights: signed M-bit codes (M <= 8), narrow range [-(2^(M-1)-1), 2^(M-1)-1],
// one fp32 scale per row. Rows are padded with zero codes to a multiple of 64
// columns (zeros add nothing to any sum, so the plan is unaffected). For
// M <= 4 codes are packed two per byte: in each block of 64 columns, byte j
// holds column j in its low nibble and column 32 + j in its high nibble, each
// stored as code + 8.
//
// Activations: per token, u8 codes u with scale s and zero point z, x = s*(u-z).
// Asymmetric (unsigned) codes are u in [0, 2^N - 1]. Symmetric (signed) codes
// c in [-(2^(N-1)-1), 2^(N-1)-1] are stored as u = c + 128 with z = 128.
//
// Every kernel computes, exactly, D[m][n] = sum_k q[n][k] * (u[m][k] - z[m])
// and writes y[m][n] = s_w[n] * s_x[m] * D[m][n] (+ bias[n]).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "runtime/aligned_buffer.h"
#include "runtime/kernels/accumulation_plan.h"

namespace axe {

constexpr size_t kInt8ColumnAlign = 64;

struct Int8Weights {
  size_t rows = 0, cols = 0, kp = 0;  // kp: cols rounded up to 64
  int bits = 8;
  bool packed4 = false;
  AlignedBuffer<int8_t> data;    // [rows][kp] codes, or [rows][kp / 2] nibbles
  std::vector<float> scales;     // [rows]
  std::vector<int32_t> row_sums; // [rows] sum of the codes
  int32_t max_abs = 0;           // largest |code|
  // The plan the weights were checked against, for activations in x_range,
  // and the result: int16 kernels may run only when `plan_holds`.
  AccumulationPlan plan;
  ActivationRange x_range;
  bool plan_holds = false;

  size_t row_bytes() const { return packed4 ? kp / 2 : kp; }
  int8_t code(size_t row, size_t col) const;  // unpacked, any layout
};

// Packs rows x cols codes (row-major, stride cols) with per-row scales, and
// checks them against `plan` for activations in `x`. Throws AXE_ERR_FORMAT
// if a code is outside the M-bit narrow range.
Int8Weights pack_int8_weights(const int8_t* codes, size_t rows, size_t cols, const float* scales, int bits,
                              const AccumulationPlan& plan, ActivationRange x);

struct Int8Activations {
  size_t tokens = 0, cols = 0, kp = 0;
  ActivationRange range;
  AlignedBuffer<uint8_t> codes;  // [tokens][kp], padding holds the zero point
  std::vector<float> scales;     // [tokens]
  std::vector<int32_t> zeros;    // [tokens]
};

// Dynamic per-token quantization of x (tokens rows of `cols`, stride ldx) to
// N-bit codes: asymmetric min/max with a zero point, or symmetric absmax.
void quantize_activations(const float* x, size_t ldx, size_t tokens, size_t cols, int bits, bool is_signed,
                          Int8Activations& out);
// The same in two steps, so that rows can be quantized in parallel: sizes
// `out` for tokens x cols codes, then quantizes rows [m0, m1) of x (row m
// of x is token m; each row's result does not depend on the split).
void size_activations(size_t tokens, size_t cols, int bits, bool is_signed, Int8Activations& out);
void quantize_activation_rows(const float* x, size_t ldx, size_t m0, size_t m1, Int8Activations& out);

}  // namespace axe
