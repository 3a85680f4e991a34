// The quantizer's fp32 products at TinyLlama's and stories110M's widths.
//   axe_bench_quant --benchmark_filter=hessian --benchmark_repetitions=3
// hessian/K/B: H += X^T X (lower triangle, as the calibrator accumulates it)
// over 2048 tokens fed in calls of B tokens; all threads of the default arena.
#include <benchmark/benchmark.h>

#include <random>

#include "quant/calibration.h"
#include "runtime/ops/ops.h"

using namespace axe;

namespace {

void BM_Hessian(benchmark::State& st) {
  const Eigen::Index k = st.range(0), batch = st.range(1);
  constexpr Eigen::Index kTokens = 2048;
  std::mt19937 rng(1);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  RowMatrixF x(kTokens, k);
  for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = normal(rng);
  RowMatrixF h = RowMatrixF::Zero(k, k);
  const Ops& ops = best_ops();
  for (auto _ : st) {
    for (Eigen::Index t = 0; t < kTokens; t += batch) {
      const RowMatrixF part = x.middleRows(t, batch);
      add_cross_products(ops, part, part, h, true);
    }
    benchmark::DoNotOptimize(h.data());
  }
  // Multiply-adds of the lower triangle with its diagonal.
  st.counters["GFLOP/s"] = benchmark::Counter(static_cast<double>(kTokens) * k * (k + 1),
                                              benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_Hessian)
    ->Name("hessian")
    ->ArgsProduct({{768, 2048, 5632}, {256, 1024}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
