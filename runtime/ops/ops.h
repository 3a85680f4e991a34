// The per-target operation table. One table per SIMD target is compiled from
// the same Highway source (runtime/ops/ops_dispatch.cpp); a context picks its
// table once, at creation, so there is no per-call CPU detection.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

#include "runtime/cpu_target.h"

namespace axe {

// matmul_f32's K block: each output sums its products in blocks of this many
// k, lane-wise, and adds the blocks in order. It is part of the summation
// order, so code that skips whole blocks of zero products (the quantizer's
// triangular inverse) relies on it; tuned in runtime/kernels/matmul_f32-inl.h.
constexpr size_t kMatMulKBlock = 1024;

struct Ops {
  Target target;
  // y[m][n] (+)= sum_k x[m][k] * w[n][k] for m < M and n in [n_begin, n_end).
  // x rows have stride ldx, w rows stride ldw, y rows stride ldy. The result
  // of every element is independent of M, of the row range and of the target
  // tile shape (fixed summation order), so outputs do not depend on how work
  // is split across threads or batched.
  void (*matmul_f32)(const float* x, size_t ldx, size_t M, const float* w, size_t ldw, size_t K, float* y,
                     size_t ldy, size_t n_begin, size_t n_end, bool accumulate);
  // matmul_f32 with 16-bit weights: w holds raw bf16 (matmul_bf16) or IEEE
  // f16 (matmul_f16) values, row-major [N][K] with row stride ldw elements,
  // widened exactly to fp32 on the fly; x stays fp32 (never rounded to 16
  // bits). Same contract as matmul_f32: every element's result is independent
  // of M, of the row range and of the tile shape, and equals matmul_f32's on
  // the widened weights for the same target.
  void (*matmul_bf16)(const float* x, size_t ldx, size_t M, const uint16_t* w, size_t ldw, size_t K, float* y,
                      size_t ldy, size_t n_begin, size_t n_end, bool accumulate);
  void (*matmul_f16)(const float* x, size_t ldx, size_t M, const uint16_t* w, size_t ldw, size_t K, float* y,
                     size_t ldy, size_t n_begin, size_t n_end, bool accumulate);
  // out[i] = x[i] * w[i] / sqrt(mean(x^2) + eps)
  void (*rmsnorm)(const float* x, const float* w, float* out, size_t n, float eps);
  // Causal attention of n_q consecutive query tokens of one head over a cache
  // stored transposed: keys_t[i * ld + t] is component i of the key at
  // position t (likewise values_t). Query j (q + j * ldq, head_dim floats)
  // sees positions [0, n_pos + j); its head_dim outputs go to out + j * ldo.
  // scratch holds attention_scratch_size(n_q, n_pos) floats. Every output's
  // bits depend only on the target and on its query's position count, never
  // on n_q: a block of queries gives the bits of one query at a time.
  void (*attention)(const float* q, size_t ldq, size_t n_q, const float* keys_t, const float* values_t, size_t ld,
                    size_t n_pos, size_t head_dim, float* scratch, float* out, size_t ldo);
  // a[i] = silu(a[i]) * b[i]
  void (*silu_mul)(float* a, const float* b, size_t n);
  // x[i] = softmax(x)[i]
  void (*softmax)(float* x, size_t n);
  // x <- B (d * x) elementwise-then-transform, in place: B is block
  // diagonal, one unnormalized Walsh-Hadamard block per set bit of n,
  // largest first (n = 172: 128, 32, 8, 4). With d = random signs / sqrt(block)
  // this is the orthonormal rotation of docs/FORMAT.md ("rotation"). Every
  // target gives the same bits.
  void (*hadamard)(float* x, const float* d, size_t n);
  // Narrow-datapath stepping of one tile for M tokens at once (see
  // runtime/kernels/emulate_steps-inl.h); returns the overflow steps.
  uint64_t (*emulate_steps)(const int32_t* q, const uint32_t* cols, size_t n_cols, const int32_t* xs_t, size_t ld,
                            size_t M, uint32_t bits, bool saturate, int32_t* acc);
};

// Ops::attention's scratch: one row per query, row stride the last query's
// position count rounded up to whole vectors of any target.
inline constexpr size_t kAttentionScratchAlign = 64;
constexpr size_t attention_scratch_ld(size_t n_pos_last) {
  return (n_pos_last + kAttentionScratchAlign - 1) / kAttentionScratchAlign * kAttentionScratchAlign;
}
constexpr size_t attention_scratch_size(size_t n_q, size_t n_pos) {
  return n_q == 0 ? 0 : n_q * attention_scratch_ld(n_pos + n_q - 1);
}

// 1/sqrt(block size) for each of the n positions of Ops::hadamard's blocks:
// times random signs, the d that makes the transform orthonormal.
std::vector<float> hadamard_scales(size_t n);

// The table of target t (which must be one of supported_targets()).
const Ops& ops_for(Target t);
// The table of the best target this CPU has.
const Ops& best_ops();

}  // namespace axe
