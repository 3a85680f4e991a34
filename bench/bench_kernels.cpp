// Microbenchmarks of the fp32 kernels on every target this CPU has, at the
// shapes of real models (GFLOP/s counts 2 ops per multiply-add), and of the
// tokenizer on the 640 KB TinyStories evaluation text.
//   build/bench/axe_bench_kernels --benchmark_filter=matmul_f32
//   build/bench/axe_bench_kernels --benchmark_filter=tokenize
//   build/bench/axe_bench_kernels --benchmark_filter=hadamard
#include <benchmark/benchmark.h>

#include <random>
#include <vector>

#include <fstream>
#include <sstream>

#include "runtime/cpu_target.h"
#include "runtime/tokenizer.h"
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

void BM_tokenize(benchmark::State& state, const char* tokenizer, int32_t vocab) {
  const std::string shared = AXE_SHARED_DIR;
  std::ifstream in(shared + "/data/tinystories/eval.txt", std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const axe::Tokenizer tok(shared + "/models/" + tokenizer, vocab);
  size_t n = 0;
  for (auto _ : state) n = tok.encode(text, true).size();
  state.counters["tokens"] = static_cast<double>(n);
  state.counters["MB/s"] = benchmark::Counter(double(text.size()) * state.iterations() / 1e6, benchmark::Counter::kIsRate);
}

// The online rotation of one token's input (Ops::hadamard) at the widths of
// real models: 768 = 512 + 256, 2048, 5632 = 4096 + 1024 + 512.
void BM_hadamard(benchmark::State& state, axe::Target target) {
  const size_t n = state.range(0);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> x(n), d(n);
  for (auto& v : x) v = dist(rng);
  // Signs over sqrt(block): orthonormal, so x keeps its norm over iterations.
  const std::vector<float> scale = axe::hadamard_scales(n);
  for (size_t k = 0; k < n; ++k) d[k] = (rng() & 1 ? 1.0f : -1.0f) * scale[k];
  const axe::Ops& ops = axe::ops_for(target);
  for (auto _ : state) {
    ops.hadamard(x.data(), d.data(), n);
    benchmark::DoNotOptimize(x.data());
  }
  state.counters["Melem/s"] = benchmark::Counter(double(n) * state.iterations() / 1e6, benchmark::Counter::kIsRate);
}

int register_all() {
  benchmark::RegisterBenchmark("tokenize/eval.txt/tok512", BM_tokenize, "stories260K/tok512.bin", 512)
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("tokenize/eval.txt/llama2-32000", BM_tokenize, "llama2-tokenizer/tokenizer.bin", 32000)
      ->Unit(benchmark::kMillisecond);
  for (axe::Target t : axe::supported_targets())
    for (int64_t n : {768, 2048, 5632})
      benchmark::RegisterBenchmark((std::string("hadamard/") + axe::target_name(t)).c_str(), BM_hadamard, t)
          ->Arg(n)
          ->ArgName("K")
          ->Unit(benchmark::kMicrosecond);
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
