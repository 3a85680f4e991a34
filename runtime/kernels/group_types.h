// Groupwise integer weights and activations: one scale per group of 32 input
// columns, for llama.cpp's Q8_0 / Q4_0 tensors (run natively, never
// dequantized) and AXE's groupwise models.
//
//   W[n][k] = dw[n][g] * q[n][k],  x[m][k] = dx[m][g] * a[m][k],  g = k / 32
//   y[m][n] (+)= sum over g = 0, 1, ... of float(sum_{k in g} q[n][k] * a[m][k]) * (dw[n][g] * dx[m][g])
//
// with the fp32 order of that outer sum fixed once (group_accumulate in
// group_kernels.h), so that every kernel gives the same bits.
//
// Weight codes q: 8-bit in [-128, 127] (Q8_0 allows -128), or 4-bit in
// [-8, 7] (Q4_0: nibble - 8). Activation codes a: int8 in [-127, 127]
// (llama.cpp's Q8_0 rule, quantize_group_activations).
//
// Packed weight layout (GroupWeights::data). Rows are taken 16 at a time (a
// panel; the last one padded with zero codes and zero scales), and a panel's
// groups follow each other, so one panel is one sequential stream:
//
//   data = [panel][group][block],  block = the panel's 16 rows x 32 columns
//
// Codes are stored as unsigned u = q + offset (offset 8 for 4-bit, 128 for
// 8-bit: u = q ^ 0x80), so that u is the unsigned operand of vpdpbusd /
// vpmaddubsw and the activations the signed one; the kernels subtract
// offset * sum(a) per group (GroupActivations::sums), exactly.
//  - 8-bit block, 512 bytes: 8 chunks of 64 bytes; chunk j, byte 4r + i holds
//    u[row r][column 4j + i]. One 64-byte load is the column quad j of all 16
//    rows: one int32 lane per row, as vpdpbusd sums it.
//  - 4-bit block, 256 bytes: 4 chunks of 64 bytes; chunk j, byte 4r + i holds
//    u[r][4j + i] in its low nibble and u[r][16 + 4j + i] in its high nibble.
//    That byte is exactly byte 4j + i of row r's block_q4_0 quants (llama.cpp
//    keeps elements 0..15 in the low and 16..31 in the high nibbles, stored as
//    q + 8), so packing Q4_0 moves 4-byte words, and one load (and, shift, and)
//    gives the quads j and j + 4 of 16 rows.
// A ymm kernel reads bytes 0..31 of a chunk for rows 0..7, 32..63 for rows 8..15.
//
// Scales: `scales` [rows][groups] fp32 (the API's view), and the kernels'
// copy in panel order [panel][group][16]: fp16 (half_scales) when every scale
// is exactly a finite-or-infinite half, as GGUF's always are (a Q4_0 stream is
// then 4.5 bits per weight, Q8_0 8.5), otherwise fp32.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/aligned_buffer.h"
#include "runtime/half_float.h"

namespace axe {

constexpr size_t kGroupSize = 32;        // columns per group (GGUF's QK4_0 = QK8_0 = 32)
constexpr size_t kGroupPanelRows = 16;   // rows per panel (one int32 zmm lane each)

struct GroupWeights {
  size_t rows = 0, cols = 0, groups = 0;  // cols = 32 * groups
  size_t panels = 0;                      // ceil(rows / 16)
  int bits = 8;                           // 4 or 8
  AlignedBuffer<uint8_t> data;            // [panels][groups][block_bytes()], see above
  std::vector<float> scales;              // [rows][groups]
  bool half_scales = false;               // kernels read panel_half, else panel_f32
  AlignedBuffer<uint16_t> panel_half;     // [panels][groups][16] (padding rows: 0)
  AlignedBuffer<float> panel_f32;         // [panels][groups][16] (padding rows: 0)
  int32_t max_abs = 0;                    // largest |q|

  // Stored codes are q + offset().
  int32_t offset() const { return bits == 4 ? 8 : 128; }
  size_t block_bytes() const { return kGroupPanelRows * kGroupSize * static_cast<size_t>(bits) / 8; }
  const uint8_t* block(size_t panel, size_t group) const {
    return data.data() + (panel * groups + group) * block_bytes();
  }
  // Bytes a pass over the weights reads (codes and the kernels' scales).
  size_t stream_bytes() const {
    return data.size() + (half_scales ? panel_half.size() * 2 : panel_f32.size() * 4);
  }
  int8_t code(size_t row, size_t col) const;  // q, decoded from the packed layout
};

// Packs rows x cols codes (row-major, stride cols) with scales [rows][cols / 32].
// bits is 4 or 8; cols must be a multiple of 32 (callers pad other K). Throws
// AXE_ERR_INVALID_ARGUMENT for a bad shape or bits, AXE_ERR_FORMAT for a code
// outside the range (4-bit: [-8, 7]). Any scale value is accepted (NaN and
// infinities give NaN or infinite outputs, nothing worse).
GroupWeights pack_group_weights(const int8_t* codes, size_t rows, size_t cols, const float* scales, int bits);
// GGUF's raw blocks, rows x cols elements (cols / 32 blocks per row, rows
// contiguous, any alignment): block_q8_0 = fp16 d + 32 int8 (34 bytes),
// block_q4_0 = fp16 d + 16 bytes, byte j low nibble = element j, high nibble =
// element j + 16, value = nibble - 8 (18 bytes). d is widened exactly.
GroupWeights pack_q8_0(const uint8_t* blocks, size_t rows, size_t cols);
GroupWeights pack_q4_0(const uint8_t* blocks, size_t rows, size_t cols);

struct GroupActivations {
  size_t tokens = 0, cols = 0, groups = 0;
  AlignedBuffer<int8_t> codes;  // [tokens][cols], in [-127, 127]
  std::vector<float> scales;    // [tokens][groups]: fp16(d) widened
  std::vector<int32_t> sums;    // [tokens][groups]: sum of the group's codes
};

// llama.cpp's quantize_row_q8_0_ref for every group of 32 values of each of
// `tokens` rows of x (stride ldx; cols a multiple of 32):
//   amax = running MAX(amax, |x|) with ggml's MAX(a, b) = a > b ? a : b;
//   d = amax / 127; id = d != 0 ? 1 / d : 0; code = roundf(x * id);
//   the scale is d rounded to fp16 (as stored in block_q8_0) and widened.
// Codes are computed with the fp32 d, as llama.cpp does. Where llama.cpp's
// conversion to int8 would be undefined (a NaN, or an infinite x * id when
// id overflows for amax below ~3.7e-37), the code is 0 for a NaN and clamped
// to [-127, 127] otherwise; for every other input this changes nothing
// (|x * id| <= 127 up to rounding). So: any input is defined behaviour; an
// infinite input gives an infinite scale and NaN outputs for its group; an
// |x| above 65504 * 127 gives an infinite scale (the fp16 overflows, as in
// llama.cpp); a NaN gives whatever llama.cpp's MAX makes of it.
void quantize_group_activations(const float* x, size_t ldx, size_t tokens, size_t cols, GroupActivations& out);
// The same in two steps, so that rows can be quantized in parallel.
void size_group_activations(size_t tokens, size_t cols, GroupActivations& out);
void quantize_group_activation_rows(const float* x, size_t ldx, size_t m0, size_t m1, GroupActivations& out);

// AXE's groupwise activations, the same rule generalized: N-bit symmetric
// codes (qmax = 2^(N-1) - 1: d = amax / qmax, code = roundf(x / d) in
// [-qmax, qmax], d rounded to fp16) with one scale per `group` columns (a
// multiple of 32, the scale repeated in each of its blocks; 0: one per
// token), and x holding only `valid_cols` columns (0: all), the rest of the
// out.cols being zero (a layer whose K is not a multiple of 32, padded).
// {8, 32, 0} is quantize_group_activation_rows exactly.
struct GroupActFormat {
  int bits = 8;
  size_t group = kGroupSize;
  size_t valid_cols = 0;
};
void quantize_group_activation_rows(const float* x, size_t ldx, size_t m0, size_t m1, GroupActivations& out,
                                    const GroupActFormat& f);

}  // namespace axe
