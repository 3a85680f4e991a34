// Microbenchmarks of the fp32 kernels on every target this CPU has, at the
// shapes of real models. GFLOP/s counts 2 ops per multiply-add.
//   build/bench/axe_bench_kernels --benchmark_filter=matmul_f32
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include "runtime/cpu_target.h"
#include "runtime/ops/ops.h"

namespace {

void BM_matmul_f32(benchmark::State& state, axe::Target target) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> x(M * K), w(N * K), y(M * N);
  for (auto& v : x) v = dist(rng);
  for (auto& v : w) v = dist(rng);
  const axe::Ops& ops = axe::ops_for(target);
  for (auto _ : state) {
    ops.matmul_f32(x.data(), K, M, w.data(), K, K, y.data(), N, 0, N, false);
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * N * K * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["GB/s"] =
      benchmark::Counter(4.0 * N * K * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

int register_all() {
  for (axe::Target t : axe::supported_targets()) {
    for (int64_t M : {1, 16, 512})
      for (auto [K, N] : {std::pair<int64_t, int64_t>{768, 768}, {768, 2048}, {2048, 768}, {2048, 2048}, {2048, 5632}, {5632, 2048}}) {
        if (t == axe::Target::kScalar && M == 512) continue;  // minutes, and nobody runs it
        benchmark::RegisterBenchmark((std::string("matmul_f32/") + axe::target_name(t)).c_str(), BM_matmul_f32, t)
            ->Args({M, K, N})
            ->ArgNames({"M", "K", "N"})
            ->Unit(benchmark::kMicrosecond)
            ->UseRealTime();
      }
  }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();
