// Scalar vs xsimd for the quantizer's element-wise loops (quant/quant_simd.h)
// at real layer shapes, plus the measurements behind the loops left scalar.
//   axe_bench_quant_simd --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

#include "quant/axe_constraint.h"
#include "quant/quant_simd.h"
#include "quant/scales.h"

using namespace axe;

namespace {

std::vector<float> gaussian(size_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 0.02f);
  std::vector<float> w(n);
  for (auto& v : w) v = normal(rng);
  return w;
}

// rows x cols, bits
void shapes(benchmark::internal::Benchmark* b) {
  for (int bits : {4, 8})
    for (auto [r, c] : {std::pair{768, 768}, {2048, 768}, {768, 2048}, {2048, 5632}}) b->Args({r, c, bits});
  b->Unit(benchmark::kMillisecond);
}

// ---- 1. mse_row_scales: kept --------------------------------------------

template <int Which>  // 0 scalar, 1 dispatched xsimd, 2 xsimd avx, 3 xsimd sse2
void BM_MseRowScales(benchmark::State& st) {
  const size_t rows = static_cast<size_t>(st.range(0)), cols = static_cast<size_t>(st.range(1));
  const int bits = static_cast<int>(st.range(2));
  const auto w = gaussian(rows * cols, 1);
  std::vector<float> s(rows);
  if (Which == 1) st.SetLabel(quant_simd_target());
  for (auto _ : st) {
    if (Which == 0) mse_row_scales(w.data(), rows, cols, cols, bits, s.data());
    if (Which == 1) mse_row_scales_simd(w.data(), rows, cols, cols, bits, s.data());
    if (Which == 2 && !mse_row_scales_simd_on("avx", w.data(), rows, cols, cols, bits, s.data()))
      return st.SkipWithError("no AVX");
    if (Which == 3) mse_row_scales_simd_on("sse2", w.data(), rows, cols, cols, bits, s.data());
    benchmark::DoNotOptimize(s.data());
    benchmark::ClobberMemory();
  }
  st.SetItemsProcessed(static_cast<int64_t>(st.iterations() * rows * cols));
}
BENCHMARK(BM_MseRowScales<0>)->Name("mse_row_scales/scalar")->Apply(shapes);
BENCHMARK(BM_MseRowScales<1>)->Name("mse_row_scales/xsimd")->Apply(shapes);
BENCHMARK(BM_MseRowScales<2>)->Name("mse_row_scales/xsimd_avx")->Apply(shapes);
BENCHMARK(BM_MseRowScales<3>)->Name("mse_row_scales/xsimd_sse2")->Apply(shapes);

// ---- 2. AXE soft thresholds: the element-wise share ---------------------
// set_soft_thresholds as it is, against its element-wise parts alone (the
// w / s division and |a - mean|, with the sequential mean kept): the most
// any SIMD version of those parts could save.

void axe_shapes(benchmark::internal::Benchmark* b) {
  for (int inner : {12, 16})
    for (auto [r, c] : {std::pair{768, 768}, {2048, 5632}}) b->Args({r, c, inner});
  b->Unit(benchmark::kMillisecond);
}

void BM_AxeSoftThresholds(benchmark::State& st) {
  const size_t rows = static_cast<size_t>(st.range(0)), cols = static_cast<size_t>(st.range(1));
  const AccumulationPlan plan{TileKind::kContiguous, 64, static_cast<uint32_t>(st.range(2)), 32};
  const auto w = gaussian(rows * cols, 2);
  std::vector<float> s(rows);
  mse_row_scales(w.data(), rows, cols, cols, 4, s.data());
  AxeConstraint axe(plan, ActivationRange::of(8, false), 4, rows, cols);
  for (auto _ : st) {
    axe.set_soft_thresholds(w.data(), cols, s.data());
    benchmark::ClobberMemory();
  }
}
BENCHMARK(BM_AxeSoftThresholds)->Name("axe_soft_thresholds/whole")->Apply(axe_shapes);

void BM_AxeElementwise(benchmark::State& st) {
  const size_t rows = static_cast<size_t>(st.range(0)), cols = static_cast<size_t>(st.range(1));
  const size_t tile = 64;
  const auto w = gaussian(rows * cols, 2);
  std::vector<float> s(rows);
  mse_row_scales(w.data(), rows, cols, cols, 4, s.data());
  std::vector<double> a(cols);
  for (auto _ : st) {
    for (size_t r = 0; r < rows; ++r) {
      for (size_t k = 0; k < cols; ++k) a[k] = w[r * cols + k] / s[r];
      for (size_t t0 = 0; t0 < cols; t0 += tile) {
        const size_t t1 = std::min(cols, t0 + tile);
        double mean = 0;
        for (size_t k = t0; k < t1; ++k) mean += a[k];
        mean /= static_cast<double>(tile);
        for (size_t k = t0; k < t1; ++k) a[k] = std::abs(a[k] - mean);
      }
      benchmark::DoNotOptimize(a.data());
    }
  }
}
BENCHMARK(BM_AxeElementwise)->Name("axe_soft_thresholds/elementwise_only")->Apply(axe_shapes);

// ---- 3. greedy columns (no AXE): the round/clamp share ------------------
// One 16-row chunk of greedy_quantize_columns' OPTQ loop over all K columns
// (eager in-block updates, block 128; the per-block GEMM left out), against
// its v/s, round_clamp, s*q, e steps alone: the most any SIMD version of
// those steps could save.

void greedy_shapes(benchmark::internal::Benchmark* b) {
  for (int k : {768, 2048, 5632}) b->Arg(k);
  b->Unit(benchmark::kMicrosecond);
}

struct Chunk {
  size_t K, rows = 16;
  std::vector<float> v, c, s;
  explicit Chunk(size_t k) : K(k), v(gaussian(rows * k, 3)), c(gaussian(k * k, 4)), s(rows, 0.01f) {
    for (size_t i = 0; i < K; ++i) c[i * K + i] = 1.0f;
  }
};

template <bool kRoundOnly>
void BM_GreedyChunk(benchmark::State& st) {
  const Chunk ch(static_cast<size_t>(st.range(0)));
  const size_t K = ch.K, B = 128;
  const int32_t qmax = 7;
  std::vector<float> V(ch.v);
  std::vector<int8_t> codes(ch.rows * K);
  for (auto _ : st) {
    std::copy(ch.v.begin(), ch.v.end(), V.begin());
    for (size_t i1 = 0; i1 < K; i1 += B) {
      const size_t i2 = std::min(K, i1 + B);
      for (size_t i = i1; i < i2; ++i) {
        for (size_t r = 0; r < ch.rows; ++r) {
          const float s = ch.s[r];
          const double v = V[r * K + i];
          const int32_t q = round_clamp(v / s, qmax);
          codes[r * K + i] = static_cast<int8_t>(q);
          const double sq = static_cast<double>(s) * q;
          const float e = static_cast<float>((v - sq) / ch.c[i * K + i]);
          if (kRoundOnly) {
            V[r * K + i] = e;
            continue;
          }
          for (size_t j = i + 1; j < i2; ++j) V[r * K + j] -= e * ch.c[i * K + j];
        }
      }
    }
    benchmark::DoNotOptimize(V.data());
    benchmark::DoNotOptimize(codes.data());
  }
}
BENCHMARK(BM_GreedyChunk<false>)->Name("greedy_chunk16/round_and_updates")->Apply(greedy_shapes);
BENCHMARK(BM_GreedyChunk<true>)->Name("greedy_chunk16/round_only")->Apply(greedy_shapes);

}  // namespace

BENCHMARK_MAIN();
