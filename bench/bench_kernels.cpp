// Microbenchmarks of the fp32 kernels on every target this CPU has, at the
// shapes of real models (GFLOP/s counts 2 ops per multiply-add), and of the
// tokenizer on the 640 KB TinyStories evaluation text.
//   build/bench/axe_bench_kernels --benchmark_filter=matmul_f32
//   build/bench/axe_bench_kernels --benchmark_filter=tokenize
//   build/bench/axe_bench_kernels --benchmark_filter=hadamard
//   build/bench/axe_bench_kernels --benchmark_filter=matmul_w
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <random>
#include <vector>

#include <fstream>
#include <sstream>

#include "runtime/cpu_target.h"
#include "runtime/tokenizer.h"
#include "runtime/aligned_buffer.h"
#include "runtime/ops/ops.h"

namespace {

void BM_matmul_f32(benchmark::State& state, axe::Target target) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  // Cache-line aligned, as the runtime's activations and weights are
  // (unaligned rows cost ~30% at M = 512: docs/PERFORMANCE.md).
  axe::AlignedBuffer<float> x(M * K), w(N * K), y(M * N);
  for (size_t i = 0; i < x.size(); ++i) x[i] = dist(rng);
  for (size_t i = 0; i < w.size(); ++i) w[i] = dist(rng);
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

// fp32 activations against fp32, bf16 or f16 weights (the 16-bit ones widened
// in the kernel), weights from memory: the product cycles through copies of W
// filling more than the last-level cache, so decode (M = 1) reads every byte
// from DRAM as it does in a model. GB/s counts the weight bytes read.
enum class WeightType { kF32, kBF16, kF16 };

void BM_matmul_weights(benchmark::State& state, axe::Target target, WeightType type) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  const size_t elem = type == WeightType::kF32 ? 4 : 2;
  const size_t bytes = N * K * elem;
  const size_t copies = std::max<size_t>(1, ((size_t{640} << 20) + bytes - 1) / bytes);  // > 480 MiB of L3 here
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  axe::AlignedBuffer<float> x(M * K), y(M * N);
  for (size_t i = 0; i < x.size(); ++i) x[i] = dist(rng);
  axe::AlignedBuffer<float> wf;
  axe::AlignedBuffer<uint16_t> wh;
  // One random copy, then duplicates (their bytes are what matters).
  if (type == WeightType::kF32) {
    wf.resize(copies * N * K);
    for (size_t i = 0; i < N * K; ++i) wf[i] = dist(rng);
    for (size_t c = 1; c < copies; ++c) std::copy_n(wf.data(), N * K, wf.data() + c * N * K);
  } else {
    wh.resize(copies * N * K);
    // Values in about [-1, 1] in either format: sign, exponent, random mantissa.
    for (size_t i = 0; i < N * K; ++i)
      wh[i] = type == WeightType::kBF16 ? uint16_t((rng() & 0x807F) | ((118 + rng() % 9) << 7))
                                        : uint16_t((rng() & 0x83FF) | ((6 + rng() % 9) << 10));
    for (size_t c = 1; c < copies; ++c) std::copy_n(wh.data(), N * K, wh.data() + c * N * K);
  }
  const axe::Ops& ops = axe::ops_for(target);
  size_t c = 0;
  for (auto _ : state) {
    if (type == WeightType::kF32)
      ops.matmul_f32(x.data(), K, M, wf.data() + c * N * K, K, K, y.data(), N, 0, N, false);
    else
      (type == WeightType::kBF16 ? ops.matmul_bf16 : ops.matmul_f16)(x.data(), K, M, wh.data() + c * N * K, K, K,
                                                                       y.data(), N, 0, N, false);
    benchmark::DoNotOptimize(y.data());
    c = (c + 1) % copies;
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * M * N * K * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["GB/s"] = benchmark::Counter(double(bytes) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

void BM_tokenize(benchmark::State& state, const char* tokenizer, int32_t vocab) {
  const std::string shared = AXE_SHARED_DIR;
  std::ifstream in(shared + "/data/tinystories/eval.txt", std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  const axe::Llama2cTokenizer tok(shared + "/models/" + tokenizer, vocab);
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
  // 16-bit weights against fp32, from memory: decode (M = 1) and a prefill
  // block (M = 64) at TinyLlama's MLP shapes; fp32 prefill of 512 tokens at
  // the stories110M MLP shapes.
  for (axe::Target t : axe::supported_targets())
    for (auto [type, name] :
         {std::pair{WeightType::kF32, "f32"}, {WeightType::kBF16, "bf16"}, {WeightType::kF16, "f16"}})
      for (int64_t M : {1, 64, 512})
        for (auto [K, N] : {std::pair<int64_t, int64_t>{768, 2048}, {2048, 768}, {2048, 5632}, {5632, 2048}}) {
          if (t == axe::Target::kScalar && M > 1) continue;
          // Prefill (M = 512) at the stories110M shape, fp32 only: the whole
          // product with weights from memory, as a forward pass sees it.
          if ((M == 512) != (K == 768 || N == 768) || (M == 512 && type != WeightType::kF32)) continue;
          benchmark::RegisterBenchmark((std::string("matmul_w/") + name + "/" + axe::target_name(t)).c_str(),
                                       BM_matmul_weights, t, type)
              ->Args({M, K, N})
              ->ArgNames({"M", "K", "N"})
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
  return 0;
}
const int registered = register_all();

}  // namespace

BENCHMARK_MAIN();

// Causal attention of one head over a prompt of n tokens (Ops::attention), as
// the forward pass calls it: blocks of `block` consecutive queries, block 1
// being one query at a time. GFLOP/s counts both products.
//   build/bench/axe_bench_kernels --benchmark_filter=attention
namespace {

void BM_attention(benchmark::State& state, axe::Target target) {
  const size_t n = state.range(0), hd = state.range(1), block = state.range(2), ld = n + 16;
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1, 1);
  std::vector<float> q(n * hd), keys(hd * ld), vals(hd * ld), out(n * hd);
  for (auto* v : {&q, &keys, &vals})
    for (auto& x : *v) x = dist(rng);
  std::vector<float> scratch(axe::attention_scratch_size(block, n));
  const axe::Ops& ops = axe::ops_for(target);
  for (auto _ : state) {
    for (size_t i0 = 0; i0 < n; i0 += block)
      ops.attention(q.data() + i0 * hd, hd, std::min(block, n - i0), keys.data(), vals.data(), ld, i0 + 1, hd,
                    scratch.data(), out.data() + i0 * hd, hd);
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(4.0 * hd * (n * (n + 1) / 2) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

int register_attention() {
  for (axe::Target t : axe::supported_targets())
    for (int64_t block : {1, 16})
      benchmark::RegisterBenchmark((std::string("attention/") + axe::target_name(t)).c_str(), BM_attention, t)
          ->Args({512, 64, block})
          ->ArgNames({"n", "head_dim", "block"})
          ->Unit(benchmark::kMicrosecond);
  return 0;
}
const int registered_attention = register_attention();

}  // namespace
