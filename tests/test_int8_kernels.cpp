// The integer kernels: every kernel this CPU can run against the int64
// reference, bit for bit, on random and on extreme inputs, for plans that
// hold; the plan checker; the datapath emulation and its overflow counts.
#include <doctest/doctest.h>

#include <algorithm>
#include <random>

#include "runtime/kernels/int8_kernels.h"

using namespace axe;

namespace {

// Random codes in the M-bit range (or all at a limit when extreme), clipped
// to the plan's budgets when a plan is given.
std::vector<int8_t> codes_for_plan(size_t rows, size_t cols, int bits, const AccumulationPlan* plan, ActivationRange x,
                                   bool extreme, uint32_t seed) {
  std::mt19937 rng(seed);
  const int limit = (1 << (bits - 1)) - 1;
  std::uniform_int_distribution<int> dist(-limit, limit);
  std::vector<int8_t> q(rows * cols);
  for (auto& v : q) v = static_cast<int8_t>(extreme ? ((rng() & 1) ? limit : -limit) : dist(rng));
  if (plan) clip_codes_to_plan(q.data(), rows, cols, cols, *plan, x);
  return q;
}

Int8Activations activations(size_t tokens, size_t cols, int bits, bool is_signed, bool extreme, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> x(tokens * cols);
  for (size_t i = 0; i < x.size(); ++i) {
    if (!extreme) x[i] = normal(rng) + 0.3f;
    else x[i] = (rng() & 1) ? 1.0f : -1.0f;  // codes at both ends of the range
  }
  Int8Activations a;
  quantize_activations(x.data(), cols, tokens, cols, bits, is_signed, a);
  if (extreme && !is_signed) {
    // All codes at nu or at mu, whatever the rounding did.
    for (size_t m = 0; m < tokens; ++m)
      for (size_t k = 0; k < cols; ++k) a.codes.data()[m * a.kp + k] = (k * 7 + m) % 3 ? a.range.nu : 0;
  }
  return a;
}

struct Case {
  size_t M, K, N;
  int wbits, abits;
  bool is_signed, extreme;
  AccumulationPlan plan;
};

}  // namespace

TEST_CASE("check_plan computes the exact worst case per tile and per row") {
  const int8_t q[4] = {127, 127, -127, 0};
  const ActivationRange u8 = ActivationRange::of(8, false);
  AccumulationPlan p{TileKind::kContiguous, 2, 16, 32};
  PlanCheck c = check_plan(q, 1, 4, 4, p, u8);
  CHECK(c.inner_violations == 1);  // 255 * 254 = 64770 > 32767
  CHECK(c.first_bad_tile == 0);
  CHECK(c.worst_inner_use == doctest::Approx(64770.0 / 32767));
  p.inner_bits = 17;  // 65535
  c = check_plan(q, 1, 4, 4, p, u8);
  CHECK(c.ok());
  p.outer_bits = 17;  // row: A = 254, B = -127: max(255*254, 255*127) = 64770 <= 65535
  CHECK(check_plan(q, 1, 4, 4, p, u8).ok());
  // Signed narrow activations: worst case max(127*254 + 127*127, ...) = 48387.
  const ActivationRange s8 = ActivationRange::of(8, true);
  CHECK(s8.mu == -127);
  CHECK(worst_case_magnitude(254, -127, s8) == 127 * 254 + 127 * 127);
  p = {TileKind::kLanes, 2, 16, 32};  // columns 0,1 -> tile 0; 2,3 -> tile 1
  c = check_plan(q, 1, 4, 4, p, u8);
  CHECK(c.tiles == 2);
  CHECK(c.inner_violations == 1);
  CHECK(p.tile_of(5) == 0);
  CHECK(AccumulationPlan{TileKind::kLanes, 4, 16, 15}.invalid_reason() != "");
}

// The definition, column by column through tile_of: what check_plan's
// tile-by-tile and pair-by-pair walk must reproduce in every field.
PlanCheck check_plan_by_columns(const int8_t* codes, size_t rows, size_t cols, const AccumulationPlan& plan,
                                ActivationRange x) {
  PlanCheck r;
  r.rows = rows;
  const uint32_t n = plan.n_tiles(cols);  // index n: the whole row
  for (size_t row = 0; row < rows; ++row) {
    std::vector<int64_t> pos(n + 1), neg(n + 1);
    for (size_t k = 0; k < cols; ++k) {
      const int v = codes[row * cols + k];
      for (uint32_t t : {plan.tile_of(k), n}) (v > 0 ? pos : neg)[t] += v;
    }
    for (uint32_t t = 0; t <= n; ++t) {
      const bool whole = t == n;
      const int64_t m = worst_case_magnitude(pos[t], neg[t], x);
      const int64_t limit = AccumulationPlan::acc_limit(whole ? plan.outer_bits : plan.inner_bits);
      double& worst = whole ? r.worst_outer_use : r.worst_inner_use;
      worst = std::max(worst, static_cast<double>(m) / limit);
      if (m <= limit) continue;
      ++(whole ? r.outer_violations : r.inner_violations);
      if (r.first_bad_row < 0) r.first_bad_row = static_cast<int64_t>(row), r.first_bad_tile = whole ? int64_t{-1} : int64_t{t};
    }
    r.tiles += n;
  }
  return r;
}

TEST_CASE("check_plan gives the column-by-column definition's result for both tile kinds and odd widths") {
  const ActivationRange u8 = ActivationRange::of(8, false);
  for (TileKind kind : {TileKind::kContiguous, TileKind::kLanes})
    for (uint32_t tile : {1u, 3u, 16u, 64u})
      for (size_t cols : {size_t{1}, size_t{2}, size_t{5}, size_t{31}, size_t{33}, size_t{200}, size_t{333}})
        for (uint32_t inner : {12u, 16u, 20u}) {
          const AccumulationPlan plan{kind, tile, inner, 22};
          if (!plan.invalid_reason().empty()) continue;
          CAPTURE(static_cast<int>(kind));
          CAPTURE(tile);
          CAPTURE(cols);
          CAPTURE(inner);
          const std::vector<int8_t> q = codes_for_plan(7, cols, 8, nullptr, u8, false, static_cast<uint32_t>(cols + tile));
          const PlanCheck a = check_plan(q.data(), 7, cols, cols, plan, u8);
          const PlanCheck b = check_plan_by_columns(q.data(), 7, cols, plan, u8);
          CHECK(a.rows == b.rows);
          CHECK(a.tiles == b.tiles);
          CHECK(a.inner_violations == b.inner_violations);
          CHECK(a.outer_violations == b.outer_violations);
          CHECK(a.first_bad_row == b.first_bad_row);
          CHECK(a.first_bad_tile == b.first_bad_tile);
          CHECK(a.worst_inner_use == b.worst_inner_use);
          CHECK(a.worst_outer_use == b.worst_outer_use);
        }
}

TEST_CASE("clip_codes_to_plan makes any codes satisfy the plan, and the budget binds") {
  for (const AccumulationPlan& plan : {AccumulationPlan{TileKind::kContiguous, 64, 16, 32},
                                       AccumulationPlan{TileKind::kLanes, 16, 16, 18},
                                       AccumulationPlan{TileKind::kContiguous, 50, 14, 16}})
    for (bool is_signed : {false, true}) {
      const ActivationRange xr = ActivationRange::of(8, is_signed);
      const auto before = codes_for_plan(6, 333, 8, nullptr, xr, true, 5);
      auto after = before;
      clip_codes_to_plan(after.data(), 6, 333, 333, plan, xr);
      const PlanCheck c = check_plan(after.data(), 6, 333, 333, plan, xr);
      CAPTURE(plan.describe());
      CHECK(c.ok());
      CHECK(c.worst_inner_use > 0.9);  // the budget is used, not thrown away
      CHECK_FALSE(check_plan(before.data(), 6, 333, 333, plan, xr).ok());
      for (size_t i = 0; i < after.size(); ++i)  // only shrinks toward zero, never flips sign
        REQUIRE((after[i] == 0 || (after[i] > 0) == (before[i] > 0)));
    }
}

TEST_CASE("4-bit packing round-trips and out-of-range codes are rejected") {
  const size_t rows = 3, cols = 150;
  const auto q = codes_for_plan(rows, cols, 4, nullptr, {}, false, 1);
  std::vector<float> s(rows, 1.0f);
  const Int8Weights w = pack_int8_weights(q.data(), rows, cols, s.data(), 4, {}, ActivationRange::of(8, false));
  CHECK(w.packed4);
  CHECK(w.kp == 192);
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < w.kp; ++c) REQUIRE(w.code(r, c) == (c < cols ? q[r * cols + c] : 0));
  std::vector<int8_t> bad(q);
  bad[7] = 8;  // outside [-7, 7]
  CHECK_THROWS(pack_int8_weights(bad.data(), rows, cols, s.data(), 4, {}, ActivationRange::of(8, false)));
}

TEST_CASE("activation quantization: ranges, zero point, error within half a step") {
  std::vector<float> x{-1.0f, 0.0f, 0.25f, 3.0f, -0.5f};
  for (bool is_signed : {false, true}) {
    Int8Activations a;
    quantize_activations(x.data(), x.size(), 1, x.size(), 8, is_signed, a);
    for (size_t k = 0; k < x.size(); ++k) {
      const int u = a.codes.data()[k];
      CHECK(u - (is_signed ? 128 : 0) >= a.range.mu);
      CHECK(u - (is_signed ? 128 : 0) <= a.range.nu);
      CHECK(a.scales[0] * (u - a.zeros[0]) == doctest::Approx(x[k]).epsilon(0).scale(1).epsilon(a.scales[0] * 0.51f));
    }
    CHECK(a.codes.data()[1] == a.zeros[0]);  // 0 is exact
  }
}

TEST_CASE("every integer kernel matches the int64 reference bit for bit") {
  const ActivationRange u8 = ActivationRange::of(8, false);
  (void)u8;
  std::vector<Case> cases;
  const AccumulationPlan plans[] = {
      {TileKind::kLanes, 16, 16, 32}, {TileKind::kContiguous, 128, 16, 32}, {TileKind::kLanes, 16, 16, 16},
      {TileKind::kContiguous, 64, 14, 20}, {TileKind::kLanes, 8, 15, 32}, {TileKind::kContiguous, 64, 32, 32}};
  uint32_t seed = 1;
  for (const auto& plan : plans)
    for (int wbits : {8, 4})
      for (bool is_signed : {false, true})
        for (bool extreme : {false, true}) {
          cases.push_back({5, 300, 11, wbits, 8, is_signed, extreme, plan});
          cases.push_back({8, 200, 16, wbits, 8, is_signed, extreme, plan});
          if (seed++ % 3 == 0) cases.push_back({17, 1024, 9, wbits, 8, is_signed, extreme, plan});
          // A token block of 64 (4-bit panels unpacked once for its tiles)
          // and one of 20 (read packed).
          if (wbits == 4) cases.push_back({64 + 20, 192, 6, wbits, 8, is_signed, extreme, plan});
        }
  cases.push_back({3, 64, 5, 8, 4, false, true, {TileKind::kContiguous, 64, 16, 32}});
  size_t int16_runs = 0;
  for (const Case& c : cases) {
    const ActivationRange xr = ActivationRange::of(c.abits, c.is_signed);
    const auto q = codes_for_plan(c.N, c.K, c.wbits, &c.plan, xr, c.extreme, seed++);
    std::vector<float> scales(c.N), bias(c.N);
    for (size_t n = 0; n < c.N; ++n) scales[n] = 0.01f * (n + 1), bias[n] = 0.37f * n - 1.0f;
    const Int8Weights w = pack_int8_weights(q.data(), c.N, c.K, scales.data(), c.wbits, c.plan, xr);
    REQUIRE(w.plan_holds);
    const Int8Activations x = activations(c.M, c.K, c.abits, c.is_signed, c.extreme, seed++);
    std::vector<int32_t> d_ref(c.M * c.N), d(c.M * c.N);
    std::vector<float> y_ref(c.M * c.N), y(c.M * c.N);
    int8_gemm_reference(x, 0, c.M, w, 0, c.N, {d_ref.data(), c.N, y_ref.data(), c.N, bias.data()});
    for (const Int8Kernel& k : int8_kernels()) {
      if (!k.usable(w, x.range)) continue;
      CAPTURE(k.name);
      CAPTURE(c.plan.describe());
      CAPTURE(c.wbits);
      CAPTURE(c.is_signed);
      CAPTURE(c.extreme);
      std::fill(d.begin(), d.end(), -1);
      // Rows and tokens in two uneven pieces, as threads would split them.
      k.run(x, 0, c.M, w, 0, c.N / 2, {d.data(), c.N, y.data(), c.N, bias.data()});
      k.run(x, 0, c.M, w, c.N / 2, c.N, {d.data(), c.N, y.data(), c.N, bias.data()});
      REQUIRE(d == d_ref);
      REQUIRE(y == y_ref);
      if (k.accumulator == Int8Accumulator::kInt16) ++int16_runs;
    }
    OverflowCounts counts;
    std::fill(d.begin(), d.end(), -1);
    int8_gemm_emulated(x, 0, c.M, w, 0, c.N, {d.data(), c.N, nullptr, 0, nullptr}, DatapathSpec{c.plan, false}, counts);
    CHECK(d == d_ref);  // a plan that holds never overflows
    CHECK(counts.inner == 0);
    CHECK(counts.outer == 0);
  }
  // On x86 machines with AVX2 the int16 kernels must have been exercised.
#if defined(__x86_64__)
  if (cpu_features().avx2) CHECK(int16_runs > 0);
#endif
}

TEST_CASE("int16 kernels refuse weights whose plan does not hold") {
  const ActivationRange xr = ActivationRange::of(8, false);
  const AccumulationPlan plan{TileKind::kLanes, 16, 16, 32};
  const auto q = codes_for_plan(4, 256, 8, nullptr, xr, true, 3);  // unconstrained, at the limits
  std::vector<float> s(4, 1.0f);
  const Int8Weights w = pack_int8_weights(q.data(), 4, 256, s.data(), 8, plan, xr);
  CHECK_FALSE(w.plan_holds);
  for (const Int8Kernel& k : int8_kernels())
    if (k.accumulator == Int8Accumulator::kInt16) CHECK_FALSE(k.usable(w, xr));
}

// The emulated datapath by its definition, one step at a time, for checking
// the optimized emulation.
void naive_emulation(const Int8Activations& x, const Int8Weights& w, const DatapathSpec& spec,
                     std::vector<int32_t>& d, OverflowCounts& c) {
  const auto& p = spec.plan;
  auto step = [&](int64_t& acc, int64_t v, uint32_t bits) {
    const int64_t lo = -(int64_t{1} << (bits - 1)), hi = (int64_t{1} << (bits - 1)) - 1, exact = acc + v;
    if (exact >= lo && exact <= hi) return acc = exact, 0;
    if (spec.saturate) acc = exact < lo ? lo : hi;
    else acc = ((exact - lo) % (hi - lo + 1) + (hi - lo + 1)) % (hi - lo + 1) + lo;
    return 1;
  };
  const int32_t off = x.range.is_signed() ? 128 : 0;
  for (size_t m = 0; m < x.tokens; ++m)
    for (size_t n = 0; n < w.rows; ++n) {
      int64_t total = 0;
      for (uint32_t t = 0; t < p.n_tiles(w.cols); ++t) {
        int64_t acc = 0;
        for (size_t k = 0; k < w.cols; ++k)
          if (p.tile_of(k) == t) c.inner += step(acc, int64_t{w.code(n, k)} * (x.codes.data()[m * x.kp + k] - off), p.inner_bits);
        c.outer += step(total, acc, p.outer_bits);
      }
      d[m * w.rows + n] = static_cast<int32_t>(total - int64_t{x.zeros[m] - off} * w.row_sums[n]);
    }
}

TEST_CASE("the optimized emulation equals a step-by-step emulation, overflowing or not") {
  uint32_t seed = 40;
  for (const AccumulationPlan& plan : {AccumulationPlan{TileKind::kContiguous, 32, 14, 16},
                                       AccumulationPlan{TileKind::kLanes, 8, 12, 18},
                                       AccumulationPlan{TileKind::kContiguous, 64, 16, 32}})
    for (bool is_signed : {false, true})
      for (bool saturate : {false, true}) {
        const ActivationRange xr = ActivationRange::of(8, is_signed);
        // Half the rows clipped to the plan (safe tiles), half not.
        auto q = codes_for_plan(12, 256, 8, nullptr, xr, false, seed++);
        clip_codes_to_plan(q.data(), 6, 256, 256, plan, xr);
        std::vector<float> s(12, 0.5f);
        const Int8Weights w = pack_int8_weights(q.data(), 12, 256, s.data(), 8, plan, xr);
        const bool extreme = seed % 2 == 0;
        const Int8Activations x = activations(5, 256, 8, is_signed, extreme, seed++);
        std::vector<int32_t> d(60), d_naive(60);
        OverflowCounts c, c_naive;
        const DatapathSpec spec{plan, saturate};
        int8_gemm_emulated(x, 0, 5, w, 0, 12, {d.data(), 12, nullptr, 0, nullptr}, spec, c);
        naive_emulation(x, w, spec, d_naive, c_naive);
        CAPTURE(plan.describe());
        CAPTURE(saturate);
        CHECK(d == d_naive);
        CHECK(c.inner == c_naive.inner);
        CHECK(c.outer == c_naive.outer);
        CHECK(c_naive.inner > 0);  // the unclipped rows do overflow
      }
}

TEST_CASE("datapath emulation: wrap and saturate, and overflow counts") {
  const ActivationRange xr = ActivationRange::of(8, false);
  const int8_t q[2] = {100, 100};
  const float s = 1.0f;
  const AccumulationPlan plan{TileKind::kContiguous, 2, 8, 32};
  const Int8Weights w = pack_int8_weights(q, 1, 2, &s, 8, plan, xr);
  Int8Activations x;
  const float ones[2] = {1.0f, 1.0f};
  quantize_activations(ones, 2, 1, 2, 8, false, x);
  x.codes.data()[0] = x.codes.data()[1] = 1;
  x.zeros[0] = 0;
  int32_t d = 0;
  OverflowCounts wrap, sat;
  int8_gemm_emulated(x, 0, 1, w, 0, 1, {&d, 1, nullptr, 0, nullptr}, DatapathSpec{plan, false}, wrap);
  CHECK(d == 200 - 256);  // 8-bit two's complement wraps
  CHECK(wrap.inner == 1);
  int8_gemm_emulated(x, 0, 1, w, 0, 1, {&d, 1, nullptr, 0, nullptr}, DatapathSpec{plan, true}, sat);
  CHECK(d == 127);
  CHECK(sat.inner == 1);

  // An unconstrained layer on a 16-bit datapath overflows; the emulation says so.
  const AccumulationPlan p16{TileKind::kContiguous, 64, 16, 32};
  const auto big = codes_for_plan(8, 512, 8, nullptr, xr, true, 9);
  std::vector<float> sc(8, 1.0f);
  const Int8Weights wb = pack_int8_weights(big.data(), 8, 512, sc.data(), 8, p16, xr);
  const Int8Activations xb = activations(4, 512, 8, false, true, 10);
  OverflowCounts c;
  std::vector<int32_t> dd(32);
  int8_gemm_emulated(xb, 0, 4, wb, 0, 8, {dd.data(), 8, nullptr, 0, nullptr}, DatapathSpec{p16, false}, c);
  CHECK(c.inner > 0);
  CHECK(c.dot_products == 32);
}
