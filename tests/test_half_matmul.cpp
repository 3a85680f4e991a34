// The fp32 GEMM/GEMV on 16-bit weights (Ops::matmul_bf16, Ops::matmul_f16)
// and LinearHalf: every target against a double-precision reference of the
// widened weights, the widening of every bit pattern against a conversion
// written here from the formats' definitions, and the bitwise properties the
// runtime relies on (results independent of batching, of the row split and
// of the path, equal to matmul_f32 on the widened weights).
#include <doctest/doctest.h>
#include <tbb/task_arena.h>

#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "runtime/cpu_target.h"
#include "runtime/linear.h"
#include "runtime/ops/ops.h"

namespace {

using HalfType = axe::LinearHalf::HalfType;
using MatMulHalfFn = void (*)(const float*, size_t, size_t, const uint16_t*, size_t, size_t, float*, size_t, size_t,
                              size_t, bool);

// The value of a 16-bit pattern from the format's definition (sign, biased
// exponent, mantissa with or without the implicit bit), in double.
double ref_value(HalfType t, uint16_t h) {
  const int mant_bits = t == HalfType::kBF16 ? 7 : 10;
  const int exp_bits = 15 - mant_bits;
  const int bias = (1 << (exp_bits - 1)) - 1;
  const int e = (h >> mant_bits) & ((1 << exp_bits) - 1);
  const int m = h & ((1 << mant_bits) - 1);
  double v;
  if (e == (1 << exp_bits) - 1)
    v = m ? std::nan("") : HUGE_VAL;
  else if (e == 0)
    v = std::ldexp(double(m), 1 - bias - mant_bits);
  else
    v = std::ldexp(double(m + (1 << mant_bits)), e - bias - mant_bits);
  return (h & 0x8000) ? -v : v;
}

uint32_t float_bits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}

// The exact fp32 bits a pattern widens to: NaNs keep sign and payload and
// come out quiet (as vcvtph2ps does; bf16 NaNs are already fp32 NaNs).
uint32_t ref_bits(HalfType t, uint16_t h) {
  const double v = ref_value(t, h);
  if (!std::isnan(v)) return float_bits(static_cast<float>(v));
  if (t == HalfType::kBF16) return uint32_t{h} << 16;
  return (uint32_t{h & 0x8000u} << 16) | 0x7FC00000u | (uint32_t{h & 0x3FFu} << 13);
}

// Random finite weights of magnitude ~[2^-6, 2), a few subnormals and zeros.
std::vector<uint16_t> random_half(HalfType t, size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<uint16_t> w(n);
  for (auto& h : w) {
    const uint32_t r = rng();
    const uint16_t sign = (r & 1) ? 0x8000 : 0;
    if (t == HalfType::kBF16) {
      const uint32_t e = (r >> 8) % 64 == 0 ? 0 : 121 + (r >> 1) % 7;
      h = uint16_t(sign | (e << 7) | ((r >> 16) & 0x7F));
    } else {
      const uint32_t e = (r >> 8) % 64 == 0 ? 0 : 9 + (r >> 1) % 7;
      h = uint16_t(sign | (e << 10) | ((r >> 16) & 0x3FF));
    }
  }
  return w;
}

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

MatMulHalfFn matmul_of(const axe::Ops& ops, HalfType t) {
  return t == HalfType::kBF16 ? ops.matmul_bf16 : ops.matmul_f16;
}

const char* type_name(HalfType t) { return t == HalfType::kBF16 ? "bf16" : "f16"; }

std::vector<float> widen_ref(HalfType t, const std::vector<uint16_t>& w) {
  std::vector<float> out(w.size());
  for (size_t i = 0; i < w.size(); ++i) out[i] = static_cast<float>(ref_value(t, w[i]));
  return out;
}

}  // namespace

TEST_CASE("half matmul of bf16 and f16 matches a double reference of the widened weights on every target") {
  const int N = 29;
  for (axe::Target target : axe::supported_targets()) {
    const axe::Ops& ops = axe::ops_for(target);
    const std::string target_str = axe::target_name(target);
    CAPTURE(target_str);
    for (HalfType t : {HalfType::kBF16, HalfType::kF16}) {
      const std::string type_str = type_name(t);
      CAPTURE(type_str);
      const MatMulHalfFn matmul = matmul_of(ops, t);
      for (int K : {1, 7, 33, 172, 768 + 5, 2100}) {
        // Strides larger than the rows: x, w and y rows each padded.
        const size_t ldx = size_t(K) + 3, ldw = size_t(K) + 5, ldy = N + 2;
        const auto w = random_half(t, size_t(N) * ldw, uint32_t(K));
        const auto wf = widen_ref(t, w);
        for (int M : {1, 2, 5, 64}) {
          const auto x = random_vec(size_t(M) * ldx, uint32_t(K * 7 + M));
          const auto y0 = random_vec(size_t(M) * ldy, 3);
          for (auto range : {std::pair{0, N}, {3, 26}}) {
            const int n0 = range.first, n1 = range.second;
            for (bool acc : {false, true}) {
              CAPTURE(K);
              CAPTURE(M);
              CAPTURE(n0);
              CAPTURE(n1);
              CAPTURE(acc);
              std::vector<float> y = y0;
              matmul(x.data(), ldx, size_t(M), w.data(), ldw, size_t(K), y.data(), ldy, size_t(n0), size_t(n1), acc);
              for (int m = 0; m < M; ++m)
                for (int n = 0; n < int(ldy); ++n) {
                  const size_t i = size_t(m) * ldy + size_t(n);
                  if (n < n0 || n >= n1) {  // rows outside the range (and the padding) untouched
                    REQUIRE(float_bits(y[i]) == float_bits(y0[i]));
                    continue;
                  }
                  double ref = acc ? y0[i] : 0.0, mag = acc ? std::fabs(y0[i]) : 0.0;
                  for (int k = 0; k < K; ++k) {
                    const double p = double(x[size_t(m) * ldx + size_t(k)]) * wf[size_t(n) * ldw + size_t(k)];
                    ref += p;
                    mag += std::fabs(p);
                  }
                  REQUIRE(std::fabs(double(y[i]) - ref) <= 1e-5 * mag + 1e-30);
                }
            }
          }
        }
      }
    }
  }
}

TEST_CASE("half matmul results do not depend on batching or the row split and equal matmul_f32 on widened weights") {
  const int M = 64, N = 29;
  for (int K : {773, 2100}) {
    const auto x = random_vec(size_t(M) * K, 4);
    for (axe::Target target : axe::supported_targets()) {
      const axe::Ops& ops = axe::ops_for(target);
      const std::string target_str = axe::target_name(target);
      CAPTURE(target_str);
      for (HalfType t : {HalfType::kBF16, HalfType::kF16}) {
        const std::string type_str = type_name(t);
        CAPTURE(type_str);
        CAPTURE(K);
        const MatMulHalfFn matmul = matmul_of(ops, t);
        const auto w = random_half(t, size_t(N) * K, 5);
        std::vector<float> whole(size_t(M) * N);
        matmul(x.data(), K, M, w.data(), K, K, whole.data(), N, 0, N, false);
        // One token at a time, rows in uneven ranges (decode: the GEMV path).
        std::vector<float> pieces(size_t(M) * N, -1.0f);
        for (int m = 0; m < M; ++m)
          for (auto [a, b] : {std::pair{0, 3}, {3, 4}, {4, 21}, {21, 29}})
            matmul(x.data() + size_t(m) * K, K, 1, w.data(), K, K, pieces.data() + size_t(m) * N, N, a, b, false);
        CHECK(whole == pieces);
        // Small batches (widened in registers) and odd ones (buffered), other splits.
        for (int batch : {2, 3, 5, 7}) {
          CAPTURE(batch);
          std::vector<float> batched(size_t(M) * N, -1.0f);
          for (int m = 0; m < M; m += batch) {
            const int mb = std::min(batch, M - m);
            for (auto [a, b] : {std::pair{0, 13}, {13, 29}})
              matmul(x.data() + size_t(m) * K, K, mb, w.data(), K, K, batched.data() + size_t(m) * N, N, a, b, false);
          }
          CHECK(whole == batched);
        }
        // The same bits as matmul_f32 on the exactly widened weights.
        const auto wf = widen_ref(t, w);
        std::vector<float> f32(size_t(M) * N);
        ops.matmul_f32(x.data(), K, M, wf.data(), K, K, f32.data(), N, 0, N, false);
        CHECK(whole == f32);
        std::vector<float> f32_one(N), half_one(N);
        ops.matmul_f32(x.data(), K, 1, wf.data(), K, K, f32_one.data(), N, 0, N, false);
        matmul(x.data(), K, 1, w.data(), K, K, half_one.data(), N, 0, N, false);
        CHECK(f32_one == half_one);
      }
    }
  }
}

TEST_CASE("half matmul widens all 65536 bit patterns exactly on every target in every lane") {
  // Row p holds pattern p at column p % K and zeros elsewhere; x is all ones,
  // so y[p] = widen(p) + zeros exactly (NaN stays NaN, inf stays inf). K = 19
  // puts patterns in every lane of the full vectors and of the padded tail.
  const size_t N = 65536, K = 19;
  std::vector<uint16_t> w(N * K, 0);
  for (size_t p = 0; p < N; ++p) w[p * K + p % K] = uint16_t(p);
  for (axe::Target target : axe::supported_targets()) {
    const axe::Ops& ops = axe::ops_for(target);
    const std::string target_str = axe::target_name(target);
    CAPTURE(target_str);
    for (HalfType t : {HalfType::kBF16, HalfType::kF16}) {
      const std::string type_str = type_name(t);
      CAPTURE(type_str);
      for (size_t M : {1, 2, 4}) {  // GEMV, small tiles, buffered panels
        CAPTURE(M);
        const std::vector<float> x(M * K, 1.0f);
        std::vector<float> y(M * N);
        matmul_of(ops, t)(x.data(), K, M, w.data(), K, K, y.data(), N, 0, N, false);
        size_t wrong = 0;
        for (size_t m = 0; m < M; ++m)
          for (size_t p = 0; p < N; ++p) {
            const double ref = ref_value(t, uint16_t(p));
            const float got = y[m * N + p];
            if (std::isnan(ref) ? !std::isnan(got) : double(got) != ref) {
              if (wrong++ < 5) FAIL_CHECK("pattern " << p << " gave " << got << ", want " << ref);
            }
          }
        CHECK(wrong == 0);
      }
    }
  }
}

TEST_CASE("LinearHalf widen_row gives the exact fp32 bits of every half pattern") {
  std::vector<uint16_t> w(65536);
  for (size_t p = 0; p < w.size(); ++p) w[p] = uint16_t(p);
  for (HalfType t : {HalfType::kBF16, HalfType::kF16}) {
    const std::string type_str = type_name(t);
    CAPTURE(type_str);
    const axe::LinearHalf layer(t, w.data(), 1, w.size());
    std::vector<float> out(w.size());
    layer.widen_row(0, out.data());
    size_t wrong = 0;
    for (size_t p = 0; p < w.size(); ++p)
      if (float_bits(out[p]) != ref_bits(t, uint16_t(p)))
        if (wrong++ < 5) FAIL_CHECK("pattern " << p << " gave bits " << float_bits(out[p]));
    CHECK(wrong == 0);
    // Spot checks of the definitions themselves.
    if (t == HalfType::kF16) {
      CHECK(out[0x3C00] == 1.0f);
      CHECK(out[0xC000] == -2.0f);
      CHECK(out[0x7BFF] == 65504.0f);
      CHECK(out[0x0001] == std::ldexp(1.0f, -24));
      CHECK(out[0x03FF] == std::ldexp(1023.0f, -24));
      CHECK(std::isinf(out[0x7C00]));
      CHECK(std::isnan(out[0x7C01]));
    } else {
      CHECK(out[0x3F80] == 1.0f);
      CHECK(out[0xC000] == -2.0f);
      CHECK(out[0x0001] == std::ldexp(1.0f, -133));
      CHECK(std::isinf(out[0xFF80]));
      CHECK(std::isnan(out[0x7FC0]));
    }
  }
}

TEST_CASE("LinearHalf forward equals the half matmul op directly") {
  const size_t rows = 300, cols = 773;
  for (HalfType t : {HalfType::kBF16, HalfType::kF16}) {
    const std::string type_str = type_name(t);
    CAPTURE(type_str);
    const auto w = random_half(t, rows * cols, 9);
    const axe::LinearHalf layer(t, w.data(), rows, cols);
    CHECK(layer.rows() == rows);
    CHECK(layer.cols() == cols);
    CHECK(layer.weight_bytes() == 2 * rows * cols);
    CHECK(layer.type() == t);
    CHECK(layer.data() == w.data());
    const axe::Linear& base = layer;
    CHECK(base.as_half() == &layer);
    CHECK(base.as_f32() == nullptr);
    CHECK(base.as_int8() == nullptr);
    std::vector<float> row(cols);
    layer.widen_row(rows - 1, row.data());
    for (size_t k = 0; k < cols; ++k) REQUIRE(double(row[k]) == ref_value(t, w[(rows - 1) * cols + k]));
    tbb::task_arena arena(2);
    for (axe::Target target : axe::supported_targets()) {
      const axe::Ops& ops = axe::ops_for(target);
      const std::string target_str = axe::target_name(target);
      CAPTURE(target_str);
      for (size_t n_tokens : {1, 7}) {
        CAPTURE(n_tokens);
        const auto x = random_vec(n_tokens * cols, 10);
        const auto y0 = random_vec(n_tokens * rows, 11);
        for (bool acc : {false, true}) {
          std::vector<float> direct = y0, threaded = y0, single = y0;
          matmul_of(ops, t)(x.data(), cols, n_tokens, w.data(), cols, cols, direct.data(), rows, 0, rows, acc);
          arena.execute([&] { layer.forward(ops, x.data(), cols, n_tokens, threaded.data(), rows, acc, true); });
          layer.forward(ops, x.data(), cols, n_tokens, single.data(), rows, acc, false);
          CHECK(direct == threaded);
          CHECK(direct == single);
        }
      }
    }
  }
}
