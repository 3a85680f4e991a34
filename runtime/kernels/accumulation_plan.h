// The accumulation plan: which input positions each narrow accumulator sums,
// its width P_I, and the width P_O of the accumulator that adds the tile sums.
// One type shared by the integer kernels (which rely on it for exactness), the
// quantizer (which enforces it) and the verifier (which proves it from the
// stored integers). The math is docs/AXE.md sections 1-2.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace axe {

enum class TileKind : uint8_t {
  // Tile of column k is k / tile (the paper's tiles of T columns).
  kContiguous = 0,
  // Tile of column k is (k / 2) % tile: the positions that one 16-bit lane of
  // a u8 x s8 pair-multiply (vpmaddubsw) kernel sums over a whole row when the
  // vector holds 2 * tile bytes. A kernel whose vectors hold a multiple of
  // that sums subsets of these tiles, so one plan with tile = 16 covers both
  // the AVX2 (16 lanes) and the AVX-512 (32 lanes) int16 kernels.
  kLanes = 1,
};

// The range [mu, nu] of activation codes (AXE.md section 1).
struct ActivationRange {
  int32_t mu = 0, nu = 255;
  // N-bit codes: unsigned [0, 2^N - 1] (asymmetric with a zero point), or
  // signed narrow [-(2^(N-1) - 1), 2^(N-1) - 1] (symmetric).
  static ActivationRange of(int bits, bool is_signed);
  bool is_signed() const { return mu < 0; }
};

struct AccumulationPlan {
  TileKind kind = TileKind::kContiguous;
  uint32_t tile = 64;      // columns per tile (contiguous) or lanes (lanes)
  uint32_t inner_bits = 32;  // P_I, 2..32
  uint32_t outer_bits = 32;  // P_O, P_I..32

  uint32_t tile_of(size_t col) const {
    return kind == TileKind::kContiguous ? static_cast<uint32_t>(col / tile) : static_cast<uint32_t>((col / 2) % tile);
  }
  uint32_t n_tiles(size_t cols) const;
  // Columns of the largest tile of a row of `cols` columns.
  uint64_t largest_tile(size_t cols) const;
  // True when P_O is narrower than P_I + ceil(log2(n_tiles)): the row total
  // then needs a budget of its own beside the tiles'.
  bool outer_binds(size_t cols) const;
  // Largest magnitude a P-bit accumulator holds: 2^(P-1) - 1.
  static int64_t acc_limit(uint32_t bits) { return (int64_t{1} << (bits - 1)) - 1; }
  // Empty string when the plan is well formed, else what is wrong.
  std::string invalid_reason() const;
  std::string describe() const;  // e.g. "lanes x16, P_I=16, P_O=32"
};

// The exact worst case of one accumulator over all inputs in [mu, nu], given
// the sums of its positive (A >= 0) and negative (B <= 0) weight codes:
// max(nu*A + mu*B, -(mu*A + nu*B)) (conditions (C+) and (C-)).
inline int64_t worst_case_magnitude(int64_t pos_sum, int64_t neg_sum, ActivationRange x) {
  const int64_t hi = int64_t{x.nu} * pos_sum + int64_t{x.mu} * neg_sum;
  const int64_t lo = int64_t{x.mu} * pos_sum + int64_t{x.nu} * neg_sum;
  return hi > -lo ? hi : -lo;
}

// Result of checking integer weights against a plan.
struct PlanCheck {
  uint64_t rows = 0, tiles = 0;                 // checked
  uint64_t inner_violations = 0, outer_violations = 0;
  double worst_inner_use = 0, worst_outer_use = 0;  // worst magnitude / limit
  int64_t first_bad_row = -1, first_bad_tile = -1;  // -1 tile: the row (outer)
  bool ok() const { return inner_violations == 0 && outer_violations == 0; }
};

// Checks rows x cols integer codes (row stride ld) against the plan for
// activations in x: every tile (inner, P_I) and every row's total (outer,
// P_O). The quantizer, the kernels' selection and `axe verify` all use this.
PlanCheck check_plan(const int8_t* codes, size_t rows, size_t cols, size_t ld, const AccumulationPlan& plan,
                     ActivationRange x);

// The hard clip of AXE.md section 3 on integer codes: walks each row's
// columns in order and shrinks every code toward zero until its tile (P_I)
// and its row (P_O) still satisfy the plan, then adds it to the running sums.
// Afterwards check_plan(...).ok() holds. In place; rows x cols, stride ld.
void clip_codes_to_plan(int8_t* codes, size_t rows, size_t cols, size_t ld, const AccumulationPlan& plan,
                        ActivationRange x);

}  // namespace axe
