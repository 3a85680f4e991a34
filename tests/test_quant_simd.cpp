// The xsimd loops of quant/quant_simd.h against their scalar references,
// bit for bit, on every instruction set this CPU runs (AVX-512F, AVX, SSE2)
// and through the dispatcher.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "quant/axe_constraint.h"
#include "quant/quant_simd.h"
#include "quant/scales.h"

using namespace axe;

namespace {

const char* const kTargets[] = {"avx512f", "avx", "sse2"};

struct Rows {
  std::vector<float> w;  // rows x ldw, the columns past cols are poison
  size_t rows = 0, cols = 0, ldw = 0;
};

Rows make_rows(size_t rows, size_t cols, size_t ldw, const std::function<float(size_t, size_t)>& value) {
  Rows m{std::vector<float>(rows * ldw, std::numeric_limits<float>::quiet_NaN()), rows, cols, ldw};
  for (size_t r = 0; r < rows; ++r)
    for (size_t k = 0; k < cols; ++k) m.w[r * ldw + k] = value(r, k);
  return m;
}

// The scalar reference with one operation changed (or none), exposing the
// 19 candidate errors that mse_row_scales sums and compares: the SIMD code's
// errors must match kNone's bit for bit, and the changed variants show that
// such a comparison notices any change.
// (Round half away from zero instead of to even is no variant: at an exact
// tie both codes give the same |d|, so no error can tell them apart.)
enum class Variant { kNone, kDoubleDivision, kFusedAccumulate, kPairwiseSum, kNoClamp };
const char* const kVariantNames[] = {"none", "double division", "fused d*d+err", "pairwise sum", "no clamp"};

// Errors of candidates i = 20..2 into err[0..18]; returns the chosen scale.
// With kNone this is mse_row_scales line by line (checked below).
float reference_errors(const float* row, size_t cols, int bits, Variant v, double* err) {
  const int32_t qmax = (1 << (bits - 1)) - 1;
  float absmax = 0;
  for (size_t k = 0; k < cols; ++k) absmax = std::max(absmax, std::abs(row[k]));
  for (int c = 0; c < 19; ++c) err[c] = NAN;
  if (absmax == 0) return 1.0f;
  double best_err = INFINITY;
  float best = absmax / qmax;
  for (int i = 20; i >= 2; --i) {
    const float s = absmax * static_cast<float>(i) / 20.0f / static_cast<float>(qmax);
    double e[2] = {0, 0};
    for (size_t k = 0; k < cols; ++k) {
      double q;
      if (v == Variant::kDoubleDivision)
        q = round_clamp(row[k] / static_cast<double>(s), qmax);
      else if (v == Variant::kNoClamp)
        q = std::nearbyint(static_cast<double>(row[k] / s));
      else
        q = round_clamp(row[k] / s, qmax);
      const double d = row[k] - static_cast<double>(s) * q;
      double& acc = e[v == Variant::kPairwiseSum ? k % 2 : 0];
      acc = v == Variant::kFusedAccumulate ? std::fma(d, d, acc) : acc + d * d;
    }
    err[20 - i] = e[0] + e[1];
    if (err[20 - i] < best_err) best_err = err[20 - i], best = s;
  }
  return best;
}

bool same_bits(double a, double b) { return std::bit_cast<uint64_t>(a) == std::bit_cast<uint64_t>(b); }
bool same_bits(float a, float b) { return std::bit_cast<uint32_t>(a) == std::bit_cast<uint32_t>(b); }

// Checks every target and the dispatcher against mse_row_scales, bit for bit,
// and each target's candidate errors against reference_errors.
void check_mse(const Rows& m, int bits, const std::string& what) {
  std::vector<float> want(m.rows, -1.0f);
  mse_row_scales(m.w.data(), m.rows, m.cols, m.ldw, bits, want.data());
  std::vector<double> want_err(m.rows * 19);
  for (size_t r = 0; r < m.rows; ++r) {
    const float s = reference_errors(m.w.data() + r * m.ldw, m.cols, bits, Variant::kNone, &want_err[r * 19]);
    INFO(what, ": the test's copy of mse_row_scales, row ", r);
    REQUIRE(same_bits(s, want[r]));
  }
  auto same = [&](const std::vector<float>& got, const std::vector<double>* got_err, const std::string& target) {
    for (size_t r = 0; r < m.rows; ++r) {
      INFO(what, ": bits ", bits, ", cols ", m.cols, ", row ", r, ", ", target);
      REQUIRE(same_bits(got[r], want[r]));
      if (!got_err || std::isnan((*got_err)[r * 19])) continue;  // not searched by the SIMD code
      for (size_t c = 0; c < 19; ++c) {
        INFO("candidate i = ", 20 - c);
        REQUIRE(same_bits((*got_err)[r * 19 + c], want_err[r * 19 + c]));
      }
    }
  };
  std::vector<float> got(m.rows, -2.0f);
  mse_row_scales_simd(m.w.data(), m.rows, m.cols, m.ldw, bits, got.data());
  same(got, nullptr, std::string("dispatched ") + quant_simd_target());
  std::vector<double> got_err(m.rows * 19);
  for (const char* t : kTargets) {
    std::fill(got.begin(), got.end(), -2.0f);
    std::fill(got_err.begin(), got_err.end(), -2.0);
    if (mse_row_scales_simd_on(t, m.w.data(), m.rows, m.cols, m.ldw, bits, got.data(), got_err.data()))
      same(got, &got_err, t);
  }
}

}  // namespace

TEST_CASE("quant_simd: a target is dispatched") {
  const std::string t = quant_simd_target();
  MESSAGE("xsimd target: ", t);
  CHECK((t == "avx512f" || t == "avx" || t == "sse2"));
  float one = 1.0f, s = 0;
  CHECK_FALSE(mse_row_scales_simd_on("neon", &one, 1, 1, 1, 4, &s));
}

TEST_CASE("mse_row_scales_simd: bit-identical to mse_row_scales on random rows") {
  std::mt19937 rng(12345);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uni(-1, 1);
  const size_t cols_list[] = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 768};
  for (int bits : {2, 3, 4, 5, 8}) {
    for (size_t cols : cols_list) {
      check_mse(make_rows(6, cols, cols + 3, [&](size_t, size_t) { return normal(rng); }), bits, "gaussian");
      check_mse(make_rows(4, cols, cols, [&](size_t, size_t) { return uni(rng) * 1e-3f; }), bits, "uniform");
      // heavy tails: outliers make the small candidates clip hard
      check_mse(make_rows(4, cols, cols,
                          [&](size_t, size_t k) { return normal(rng) * (k % 13 == 5 ? 40.0f : 1.0f); }),
                bits, "outliers");
    }
  }
}

TEST_CASE("mse_row_scales_simd: zeros, ties, denormals, huge and tiny magnitudes") {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  for (int bits : {2, 4, 8}) {
    const int qmax = (1 << (bits - 1)) - 1;
    for (size_t cols : {size_t{1}, size_t{5}, size_t{16}, size_t{37}, size_t{200}}) {
      check_mse(make_rows(3, cols, cols, [](size_t, size_t) { return 0.0f; }), bits, "zeros");
      check_mse(make_rows(3, cols, cols, [](size_t, size_t k) { return k % 2 ? -0.0f : 0.0f; }), bits,
                "signed zeros");
      // absmax = 20 * qmax: candidate i has the exact scale i, and x = (n + 1/2) * i
      // is an exact tie between two codes for it.
      check_mse(make_rows(4, cols, cols,
                          [&](size_t r, size_t k) {
                            if (k == 0) return (r % 2 ? -20.0f : 20.0f) * static_cast<float>(qmax);
                            const int i = 2 + static_cast<int>((k + r) % 19), n = static_cast<int>(k % 7) - 3;
                            return (static_cast<float>(n) + 0.5f) * static_cast<float>(i);
                          }),
                bits, "ties");
      check_mse(make_rows(3, cols, cols, [&](size_t, size_t) { return normal(rng) * 1e-41f; }), bits,
                "denormal row");
      check_mse(make_rows(3, cols, cols, [&](size_t r, size_t k) { return k == r % cols ? 1.4e-45f : 0.0f; }),
                bits, "smallest denormal");
      check_mse(make_rows(3, cols, cols,
                          [&](size_t, size_t k) { return k % 3 == 0 ? normal(rng) : normal(rng) * 1e-40f; }),
                bits, "denormals among normals");
      check_mse(make_rows(3, cols, cols, [&](size_t, size_t) { return normal(rng) * 1e30f; }), bits, "1e30");
      check_mse(make_rows(3, cols, cols, [&](size_t, size_t) { return normal(rng) * 1e-30f; }), bits, "1e-30");
      check_mse(make_rows(3, cols, cols,
                          [&](size_t r, size_t k) { return k == 0 ? (r ? -FLT_MAX : FLT_MAX) : normal(rng); }),
                bits, "FLT_MAX (absmax * 20 overflows)");
      check_mse(make_rows(3, cols, cols, [&](size_t, size_t) { return normal(rng) * 1e37f; }), bits, "1e37");
      // Inf and NaN go to the scalar code; same results by construction, but
      // the routing is checked.
      check_mse(make_rows(3, cols, cols,
                          [&](size_t r, size_t k) {
                            return k == cols / 2 ? (r == 0 ? INFINITY : r == 1 ? -INFINITY : NAN) : normal(rng);
                          }),
                bits, "inf and nan");
    }
  }
}

TEST_CASE("mse_row_scales_simd: the error checks notice a changed operation") {
  // Each variant of the reference (double instead of float division, a
  // fused d*d+err as -ffp-contract=fast would make, a reordered sum, no
  // clamp) changes some candidate error on these rows, where the SIMD errors
  // match the unchanged reference bit for bit.
  std::mt19937 rng(2024);
  std::normal_distribution<float> normal;
  std::uniform_real_distribution<float> uni(1.0f, 2.0f);
  for (int bits : {2, 4, 8}) {
    const int qmax = (1 << (bits - 1)) - 1;
    const size_t cols = 64;
    // Odd rows: Gaussian. Even rows: absmax first, then for candidate
    // i = 2 + k % 19 a value x whose float quotient x / s_i rounds onto
    // another integer than the exact one (if one lies within 64 floats of
    // the tie (n + 1/2) s_i), else the float nearest that tie.
    Rows m = make_rows(8, cols, cols, [&](size_t, size_t) { return 0.0f; });
    for (size_t r = 0; r < m.rows; ++r) {
      float* row = m.w.data() + r * cols;
      if (r % 2) {
        for (size_t k = 0; k < cols; ++k) row[k] = normal(rng) * static_cast<float>(qmax);
        continue;
      }
      const float absmax = 20.0f * static_cast<float>(qmax) * uni(rng);
      row[0] = absmax;
      for (size_t k = 1; k < cols; ++k) {
        // |x| <= 2.5 s_i stays below absmax, except with qmax = 1
        const int i = 2 + static_cast<int>(k % 19), n = static_cast<int>(qmax == 1 ? k % 2 : k % 5) - (qmax == 1 ? 1 : 2);
        const float s = absmax * static_cast<float>(i) / 20.0f / static_cast<float>(qmax);
        float x = (static_cast<float>(n) + 0.5f) * s;
        row[k] = x;
        for (int step = 0; step < 64; ++step, x = std::nextafter(x, INFINITY))
          if (std::nearbyint(static_cast<double>(x / s)) != std::nearbyint(x / static_cast<double>(s))) {
            row[k] = x;
            break;
          }
      }
    }
    check_mse(m, bits, "variant rows");
    for (int v = 1; v < 5; ++v) {
      // With qmax = 1 only the tie at 1/2 matters, and a float quotient
      // cannot round onto a power of two from a nearby x, so there the
      // float and double divisions always give the same codes.
      if (qmax == 1 && static_cast<Variant>(v) == Variant::kDoubleDivision) continue;
      int changed = 0;
      for (size_t r = 0; r < m.rows; ++r) {
        double a[19], b[19];
        reference_errors(m.w.data() + r * cols, cols, bits, Variant::kNone, a);
        reference_errors(m.w.data() + r * cols, cols, bits, static_cast<Variant>(v), b);
        for (int c = 0; c < 19; ++c) changed += !same_bits(a[c], b[c]);
      }
      INFO("bits ", bits, ", variant ", std::string(kVariantNames[v]));
      CHECK(changed > 0);
    }
  }
}
