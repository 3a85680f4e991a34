// Every SIMD target's ops against plain double-precision loops, and the
// bitwise properties the runtime relies on (results independent of batching
// and of the row split between threads).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

#include "runtime/cpu_target.h"
#include "runtime/kv_cache.h"
#include "runtime/ops/ops.h"

namespace {

std::vector<float> random_vec(size_t n, uint32_t seed, float scale = 1.0f) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> dist(-scale, scale);
  std::vector<float> v(n);
  for (auto& x : v) x = dist(rng);
  return v;
}

}  // namespace

TEST_CASE("matmul_f32 matches a double reference on every target, any shape") {
  for (axe::Target t : axe::supported_targets()) {
    const axe::Ops& ops = axe::ops_for(t);
    CAPTURE(axe::target_name(t));
    struct Shape {
      int M, N, K;
    };
    for (auto [M, N, K] : {Shape{1, 1, 1}, {1, 37, 64}, {3, 9, 172}, {5, 13, 1030}, {17, 33, 2100}, {130, 6, 48}}) {
      CAPTURE(M);
      CAPTURE(N);
      CAPTURE(K);
      const auto x = random_vec(size_t(M) * K, 1), w = random_vec(size_t(N) * K, 2);
      const auto y0 = random_vec(size_t(M) * N, 3);
      for (bool acc : {false, true}) {
        std::vector<float> y = y0;
        ops.matmul_f32(x.data(), K, M, w.data(), K, K, y.data(), N, 0, N, acc);
        for (int m = 0; m < M; ++m)
          for (int n = 0; n < N; ++n) {
            double ref = acc ? y0[size_t(m) * N + n] : 0.0;
            for (int k = 0; k < K; ++k) ref += double(x[size_t(m) * K + k]) * w[size_t(n) * K + k];
            REQUIRE(y[size_t(m) * N + n] == doctest::Approx(ref).epsilon(1e-4).scale(std::sqrt(double(K))));
          }
      }
    }
  }
}

TEST_CASE("matmul_f32 results do not depend on batching or on the row split") {
  const int M = 11, N = 29, K = 2500;
  const auto x = random_vec(size_t(M) * K, 4), w = random_vec(size_t(N) * K, 5);
  for (axe::Target t : axe::supported_targets()) {
    const axe::Ops& ops = axe::ops_for(t);
    CAPTURE(axe::target_name(t));
    std::vector<float> whole(size_t(M) * N), pieces(size_t(M) * N);
    ops.matmul_f32(x.data(), K, M, w.data(), K, K, whole.data(), N, 0, N, false);
    // One token at a time, rows in uneven ranges.
    for (int m = 0; m < M; ++m)
      for (auto [a, b] : {std::pair{0, 3}, {3, 4}, {4, 21}, {21, 29}})
        ops.matmul_f32(x.data() + size_t(m) * K, K, 1, w.data(), K, K, pieces.data() + size_t(m) * N, N, a, b, false);
    CHECK(whole == pieces);
  }
}

TEST_CASE("rmsnorm, softmax, silu_mul and attention match double references on every target") {
  const size_t n = 77;
  const auto x = random_vec(n, 6, 3.0f), w = random_vec(n, 7);
  for (axe::Target t : axe::supported_targets()) {
    const axe::Ops& ops = axe::ops_for(t);
    CAPTURE(axe::target_name(t));
    std::vector<float> out(n);
    ops.rmsnorm(x.data(), w.data(), out.data(), n, 1e-5f);
    double ss = 0;
    for (float v : x) ss += double(v) * v;
    const double inv = 1.0 / std::sqrt(ss / n + 1e-5);
    for (size_t i = 0; i < n; ++i) CHECK(out[i] == doctest::Approx(x[i] * inv * w[i]).epsilon(1e-5));

    std::vector<float> s = x;
    ops.softmax(s.data(), n);
    double mx = -1e30, sum = 0;
    for (float v : x) mx = std::max(mx, double(v));
    for (float v : x) sum += std::exp(v - mx);
    for (size_t i = 0; i < n; ++i) CHECK(s[i] == doctest::Approx(std::exp(x[i] - mx) / sum).epsilon(1e-5));

    std::vector<float> a = x;
    ops.silu_mul(a.data(), w.data(), n);
    for (size_t i = 0; i < n; ++i) CHECK(a[i] == doctest::Approx(x[i] / (1.0 + std::exp(-double(x[i]))) * w[i]).epsilon(1e-5));

    for (size_t n_pos : {size_t{1}, size_t{9}, size_t{40}}) {
    const size_t hd = 24, ld = 40;
    const auto q = random_vec(hd, 8), keys = random_vec(ld * hd, 9), vals = random_vec(ld * hd, 10);  // [hd][ld]
    std::vector<float> scratch(axe::attention_scratch_size(1, n_pos)), o(hd);
    ops.attention(q.data(), hd, 1, keys.data(), vals.data(), ld, n_pos, hd, scratch.data(), o.data(), hd);
    std::vector<double> sc(n_pos);
    double m2 = -1e30, z = 0;
    for (size_t p = 0; p < n_pos; ++p) {
      for (size_t i = 0; i < hd; ++i) sc[p] += double(q[i]) * keys[i * ld + p];
      sc[p] /= std::sqrt(double(hd));
      m2 = std::max(m2, sc[p]);
    }
    for (auto& v : sc) z += v = std::exp(v - m2);
    for (size_t i = 0; i < hd; ++i) {
      double ref = 0;
      for (size_t p = 0; p < n_pos; ++p) ref += sc[p] / z * vals[i * ld + p];
      CHECK(o[i] == doctest::Approx(ref).epsilon(1e-5).scale(1e-6));
    }
    }
  }
}

namespace {

// A cache of one head for the attention tests: [hd][ld], the positions at
// and past `used` NaN (a query must never read them).
struct AttnCase {
  size_t hd, n_pos, n_q, ld, ldq, ldo;
  std::vector<float> q, keys, vals;
  AttnCase(size_t hd_, size_t n_pos_, size_t n_q_, uint32_t seed)
      : hd(hd_), n_pos(n_pos_), n_q(n_q_), ld(n_pos_ + n_q_ + 21), ldq(hd_ + 3), ldo(hd_ + 5) {
    q = random_vec(n_q * ldq, seed, 2.0f);
    keys = random_vec(hd * ld, seed + 1, 2.0f);
    vals = random_vec(hd * ld, seed + 2);
    const size_t used = n_pos + n_q - 1;
    for (size_t i = 0; i < hd; ++i)
      for (size_t t = used; t < ld; ++t) keys[i * ld + t] = vals[i * ld + t] = std::nanf("");
  }
  // Queries [j0, j0 + nq) in one call, into out (n_q rows of stride ldo).
  void run(const axe::Ops& ops, size_t j0, size_t nq, std::vector<float>& out) const {
    std::vector<float> scratch(axe::attention_scratch_size(nq, n_pos + j0));
    ops.attention(q.data() + j0 * ldq, ldq, nq, keys.data(), vals.data(), ld, n_pos + j0, hd, scratch.data(),
                  out.data() + j0 * ldo, ldo);
  }
};

}  // namespace

TEST_CASE("blocked attention matches a double reference on every target") {
  for (axe::Target t : axe::supported_targets()) {
    const axe::Ops& ops = axe::ops_for(t);
    CAPTURE(axe::target_name(t));
    for (size_t hd : {size_t{1}, size_t{7}, size_t{8}, size_t{24}, size_t{64}, size_t{67}})
      for (size_t n_pos : {size_t{1}, size_t{5}, size_t{17}, size_t{50}})
        for (size_t n_q : {size_t{1}, size_t{6}, size_t{13}}) {
          CAPTURE(hd);
          CAPTURE(n_pos);
          CAPTURE(n_q);
          const AttnCase c(hd, n_pos, n_q, static_cast<uint32_t>(hd * 1000 + n_pos * 10 + n_q));
          std::vector<float> out(n_q * c.ldo, -7.0f);
          c.run(ops, 0, n_q, out);
          for (size_t j = 0; j < n_q; ++j) {
            const size_t n = n_pos + j;
            std::vector<double> sc(n);
            double mx = -1e300, z = 0;
            for (size_t p = 0; p < n; ++p) {
              for (size_t i = 0; i < hd; ++i) sc[p] += double(c.q[j * c.ldq + i]) * c.keys[i * c.ld + p];
              sc[p] /= std::sqrt(double(hd));
              mx = std::max(mx, sc[p]);
            }
            for (auto& v : sc) z += v = std::exp(v - mx);
            for (size_t i = 0; i < hd; ++i) {
              double ref = 0;
              for (size_t p = 0; p < n; ++p) ref += sc[p] / z * c.vals[i * c.ld + p];
              REQUIRE(out[j * c.ldo + i] == doctest::Approx(ref).epsilon(1e-5).scale(1.0));
            }
            for (size_t i = hd; i < c.ldo && j + 1 < n_q; ++i) REQUIRE(out[j * c.ldo + i] == -7.0f);  // gaps untouched
          }
        }
  }
}

TEST_CASE("blocked attention gives the bits of one query at a time on every target") {
  for (axe::Target t : axe::supported_targets()) {
    const axe::Ops& ops = axe::ops_for(t);
    CAPTURE(axe::target_name(t));
    for (size_t hd : {size_t{3}, size_t{8}, size_t{13}, size_t{64}, size_t{65}})
      for (size_t n_pos : {size_t{1}, size_t{2}, size_t{15}, size_t{31}, size_t{77}})
        for (size_t n_q : {size_t{2}, size_t{5}, size_t{18}, size_t{37}}) {
          CAPTURE(hd);
          CAPTURE(n_pos);
          CAPTURE(n_q);
          const AttnCase c(hd, n_pos, n_q, static_cast<uint32_t>(hd * 7000 + n_pos * 70 + n_q));
          std::vector<float> whole(n_q * c.ldo), single(n_q * c.ldo), uneven(n_q * c.ldo);
          c.run(ops, 0, n_q, whole);
          for (size_t j = 0; j < n_q; ++j) c.run(ops, j, 1, single);
          for (size_t j0 = 0, step = 3; j0 < n_q; j0 += step, step += 4) c.run(ops, j0, std::min(step, n_q - j0), uneven);
          for (size_t j = 0; j < n_q; ++j)
            for (size_t i = 0; i < hd; ++i) {
              CAPTURE(j);
              CAPTURE(i);
              REQUIRE(std::isfinite(whole[j * c.ldo + i]));
              REQUIRE(std::memcmp(&whole[j * c.ldo + i], &single[j * c.ldo + i], 4) == 0);
              REQUIRE(std::memcmp(&whole[j * c.ldo + i], &uneven[j * c.ldo + i], 4) == 0);
            }
        }
  }
}

TEST_CASE("target selection: scalar always, unknown names rejected") {
  const auto have = axe::supported_targets();
  CHECK(have.front() == axe::Target::kScalar);
  CHECK(axe::choose_target("scalar") == axe::Target::kScalar);
  CHECK_THROWS(axe::choose_target("avx9000"));
}

TEST_CASE("KV cache: positions stored transposed per layer, rows padded off powers of two") {
  const size_t layers = 3, kv = 8, n_ctx = 64;
  axe::KvCache c(layers, kv, n_ctx);
  CHECK(c.ld() >= n_ctx);
  CHECK(c.ld() % 64 != 0);  // 64 positions pad to 80: not a power-of-two stride
  std::vector<float> k(2 * kv), v(2 * kv);
  for (size_t i = 0; i < k.size(); ++i) k[i] = static_cast<float>(i), v[i] = -static_cast<float>(i);
  c.store(1, 10, 2, k.data(), v.data());  // positions 10 and 11 of layer 1
  for (size_t p = 0; p < 2; ++p)
    for (size_t j = 0; j < kv; ++j) {
      CHECK(c.keys(1)[j * c.ld() + 10 + p] == k[p * kv + j]);
      CHECK(c.values(1)[j * c.ld() + 10 + p] == v[p * kv + j]);
      CHECK(c.keys(0)[j * c.ld() + 10 + p] == 0.0f);  // other layers untouched
      CHECK(c.keys(2)[j * c.ld() + 10 + p] == 0.0f);
    }
}

namespace {

// The Walsh-Hadamard matrix entry of a block of any power-of-two size:
// (-1)^popcount(i & j).
double walsh(size_t i, size_t j) { return __builtin_popcountll(i & j) % 2 ? -1.0 : 1.0; }

// The plain scalar butterflies in the documented order (h = 1, 2, 4, ...).
void hadamard_scalar(float* x, const float* d, size_t n) {
  size_t o = 0;
  for (int bit = 62; bit >= 0; --bit) {
    const size_t b = size_t{1} << bit;
    if (n & b) {
      for (size_t k = 0; k < b; ++k) x[o + k] *= d[o + k];
      for (size_t h = 1; h < b; h *= 2)
        for (size_t i = 0; i < b; i += 2 * h)
          for (size_t j = i; j < i + h; ++j) {
            const float a = x[o + j], c = x[o + j + h];
            x[o + j] = a + c;
            x[o + j + h] = a - c;
          }
      o += b;
    }
  }
}

}  // namespace

TEST_CASE("hadamard: the block-diagonal transform as a dense product, the same bits on every target, an involution") {
  for (size_t n : {size_t{1}, size_t{4}, size_t{16}, size_t{64}, size_t{172}, size_t{768}, size_t{1000}, size_t{2048}}) {
    CAPTURE(n);
    const auto x = random_vec(n, 11, 2.0f);
    // d: random signs over 1/sqrt(block), as the rotation uses it.
    std::vector<float> d(n);
    std::vector<size_t> block_of(n), start_of(n);
    std::mt19937 rng(12);
    size_t o = 0;
    for (int bit = 62; bit >= 0; --bit) {
      const size_t b = size_t{1} << bit;
      if (n & b) {
        for (size_t k = o; k < o + b; ++k) {
          d[k] = (rng() & 1 ? -1.0f : 1.0f) / std::sqrt(static_cast<float>(b));
          block_of[k] = b;
          start_of[k] = o;
        }
        o += b;
      }
    }
    std::vector<float> want = x;
    hadamard_scalar(want.data(), d.data(), n);
    // The dense product B diag(d) x in double.
    for (size_t i = 0; i < n; ++i) {
      double ref = 0;
      for (size_t j = start_of[i]; j < start_of[i] + block_of[i]; ++j)
        ref += walsh(i - start_of[i], j - start_of[i]) * d[j] * x[j];
      CHECK(want[i] == doctest::Approx(ref).epsilon(1e-5).scale(1.0));
    }
    for (axe::Target t : axe::supported_targets()) {
      CAPTURE(axe::target_name(t));
      std::vector<float> y = x;
      axe::ops_for(t).hadamard(y.data(), d.data(), n);
      CHECK(y == want);
      // Orthonormal and symmetric up to the signs: diag(d) applied after a
      // second transform gives x back (d^2 = 1/block undoes B^2 = block I).
      std::vector<float> ones(n);
      for (size_t i = 0; i < n; ++i) ones[i] = 1.0f / std::sqrt(static_cast<float>(block_of[i]));
      axe::ops_for(t).hadamard(y.data(), ones.data(), n);
      for (size_t i = 0; i < n; ++i) CHECK(y[i] * (d[i] * std::sqrt(static_cast<float>(block_of[i]))) == doctest::Approx(x[i]).epsilon(1e-5).scale(1.0));
    }
  }
}
