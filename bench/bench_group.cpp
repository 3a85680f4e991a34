// Groupwise kernel benchmarks (runtime/kernels/group_kernels.h) on every
// kernel this CPU runs, for GGUF Q4_0 and Q8_0 weights packed from raw blocks:
//  - decode: one token, weights streamed from memory (cycling through copies
//    totalling >= 1 GiB, so that no cache holds them), K=2048,N=5632 and
//    K=5632,N=2048 (a 1B-class Llama's MLP); GB/s of packed weights (codes and
//    fp16 scales: 4.5 and 8.5 bits per weight) and the Q8_0/Q4_0 time ratio,
//    printed after the run (the aim: ~1.7x, the ratio of bytes read);
//  - prefill: M = 64 and 512 tokens at K = N = 2048, and M = 512 at the
//    stories110M shape's K = N = 768 and TinyLlama-1.1B's k/v projections
//    (K = 2048, N = 256, where the activations' rearrangement weighs most),
//    weights in cache, GOP/s (2 per MAC);
//  - memory/read: what one core reads from memory, for scale.
//   build-dev/bench/axe_bench_group --benchmark_min_time=0.3 --benchmark_repetitions=3
//     --benchmark_report_aggregates_only=true
#include <benchmark/benchmark.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <cstdio>
#include <cstring>
#include <map>
#include <random>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "runtime/kernels/group_kernels.h"

namespace {

using namespace axe;

// Random GGUF blocks (fp16 scales ~0.01, random quants), packed as the loader will.
GroupWeights make_weights(size_t K, size_t N, int bits, uint32_t seed) {
  std::mt19937 rng(seed);
  const size_t bb = bits == 8 ? 34 : 18, blocks = N * K / 32;
  std::vector<uint8_t> raw(blocks * bb);
  for (auto& b : raw) b = static_cast<uint8_t>(rng());
  std::uniform_real_distribution<float> d(0.005f, 0.02f);
  for (size_t i = 0; i < blocks; ++i) {
    const uint16_t h = fp32_to_fp16(d(rng));
    std::memcpy(&raw[i * bb], &h, 2);
  }
  return bits == 8 ? pack_q8_0(raw.data(), N, K) : pack_q4_0(raw.data(), N, K);
}

// Copies totalling >= 1 GiB, cycled through so every pass reads from memory.
const std::vector<GroupWeights>& weight_copies(size_t K, size_t N, int bits) {
  static std::map<std::tuple<size_t, size_t, int>, std::vector<GroupWeights>> cache;
  auto& copies = cache[{K, N, bits}];
  if (!copies.empty()) return copies;
  GroupWeights w = make_weights(K, N, bits, 7);
  const size_t n = std::max<size_t>(2, (size_t{1} << 30) / w.stream_bytes() + 1);
  for (size_t i = 0; i < n; ++i) {
    GroupWeights c;
    c.rows = w.rows, c.cols = w.cols, c.groups = w.groups, c.panels = w.panels, c.bits = w.bits;
    c.scales = w.scales, c.half_scales = w.half_scales, c.max_abs = w.max_abs;
    c.data.resize(w.data.size());
    std::memcpy(c.data.data(), w.data.data(), w.data.size());
    c.panel_half.resize(w.panel_half.size());
    std::memcpy(c.panel_half.data(), w.panel_half.data(), w.panel_half.size() * 2);
    copies.push_back(std::move(c));
  }
  return copies;
}

const GroupWeights& cached_weights(size_t K, size_t N, int bits) {
  static std::map<std::tuple<size_t, size_t, int>, GroupWeights> cache;
  auto it = cache.find({K, N, bits});
  if (it == cache.end()) it = cache.emplace(std::make_tuple(K, N, bits), make_weights(K, N, bits, 9)).first;
  return it->second;
}

GroupActivations acts(size_t M, size_t K) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> x(M * K);
  for (auto& v : x) v = normal(rng);
  GroupActivations a;
  quantize_group_activations(x.data(), K, M, K, a);
  return a;
}

void BM_gemv_from_memory(benchmark::State& state, const GroupKernel* k, int bits) {
  const size_t K = state.range(0), N = state.range(1), threads = state.range(2);
  const std::vector<GroupWeights>& copies = weight_copies(K, N, bits);
  if (!k->usable(copies[0])) return state.SkipWithError("kernel not usable here");
  const GroupActivations x = acts(1, K);
  std::vector<float> y(N);
  const GroupOutput out{y.data(), N};
  tbb::task_arena arena(static_cast<int>(threads));
  const size_t chunks = (N + 63) / 64;
  size_t next = 0;
  for (auto _ : state) {
    const GroupWeights& w = copies[next++ % copies.size()];
    if (threads == 1) {
      k->run(x, 0, 1, w, 0, N, out);
    } else {
      arena.execute([&] {
        tbb::parallel_for(size_t{0}, chunks, [&](size_t c) { k->run(x, 0, 1, w, c * 64, std::min(N, c * 64 + 64), out); },
                          tbb::static_partitioner());
      });
    }
    benchmark::DoNotOptimize(y.data());
  }
  const double bytes = static_cast<double>(copies[0].stream_bytes());
  state.counters["GB/s"] = benchmark::Counter(bytes * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["bits/w"] = bytes * 8 / (double(N) * K);
}

void BM_prefill(benchmark::State& state, const GroupKernel* k, int bits) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  const GroupWeights& w = cached_weights(K, N, bits);
  if (!k->usable(w)) return state.SkipWithError("kernel not usable here");
  const GroupActivations x = acts(M, K);
  std::vector<float> y(M * N);
  for (auto _ : state) {
    k->run(x, 0, M, w, 0, N, {y.data(), N});
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GOP/s"] = benchmark::Counter(2.0 * M * N * K * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_all(const uint64_t* p, size_t words) {
  __m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  for (size_t i = 0; i + 16 <= words; i += 16)
    for (int j = 0; j < 4; ++j)
      a[j] = _mm256_xor_si256(a[j], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4 * j)));
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t),
                     _mm256_xor_si256(_mm256_xor_si256(a[0], a[1]), _mm256_xor_si256(a[2], a[3])));
  return t[0] ^ t[1] ^ t[2] ^ t[3];
}
#else
uint64_t read_all(const uint64_t* p, size_t words) {
  uint64_t s = 0;
  for (size_t i = 0; i < words; ++i) s ^= p[i];
  return s;
}
#endif

// One core reading 8 MB slices of a 1 GiB buffer in turn (a GEMV's access pattern).
void BM_memory_read(benchmark::State& state) {
  static std::vector<uint64_t> src((size_t{1} << 30) / 8, 1);
  const size_t slice = (size_t{8} << 20) / 8;
  size_t next = 0;
  for (auto _ : state) {
    benchmark::DoNotOptimize(read_all(&src[(next++ % (src.size() / slice)) * slice], slice));
  }
  state.counters["GB/s"] = benchmark::Counter(double(slice * 8) * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

// Prints, after the tables, each kernel's Q8_0/Q4_0 decode time ratio per
// shape, by real and by CPU time (the median when repeated).
class RatioReporter : public benchmark::ConsoleReporter {
 public:
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.error_occurred) continue;
      const bool median = r.run_type == Run::RT_Aggregate && r.aggregate_name == "median";
      if (median || (r.run_type == Run::RT_Iteration && !medians_.count(r.run_name.str())))
        times_[r.run_name.str()] = {r.GetAdjustedRealTime(), r.GetAdjustedCPUTime()};
      if (median) medians_.insert(r.run_name.str());
    }
    ConsoleReporter::ReportRuns(runs);
  }
  void Finalize() override {
    ConsoleReporter::Finalize();
    bool header = false;
    for (const auto& [name, t4] : times_) {
      const size_t at = name.find("/q4_0/");
      if (name.rfind("group_gemv_from_memory/", 0) != 0 || at == std::string::npos) continue;
      auto it = times_.find(name.substr(0, at) + "/q8_0/" + name.substr(at + 6));
      if (it == times_.end()) continue;
      if (!header)
        std::printf("\nQ8_0 time / Q4_0 time, decode from memory (bytes ratio 8.5 / 4.5 = 1.89): real, CPU\n");
      header = true;
      std::printf("  %-72s %.2fx  %.2fx\n", name.c_str(), it->second.first / t4.first, it->second.second / t4.second);
    }
  }

 private:
  std::map<std::string, std::pair<double, double>> times_;
  std::set<std::string> medians_;
};

int register_all() {
  for (const GroupKernel& k : group_kernels()) {
    if (k.accumulator == GroupAccumulator::kInt64) continue;  // the reference is for tests
    for (int bits : {4, 8}) {
      if (!k.usable(cached_weights(64, 16, bits))) continue;
      const std::string base = std::string(k.name) + (bits == 4 ? "/q4_0" : "/q8_0");
      const bool scalar = k.target == Target::kScalar;
      for (auto [K, N] : {std::pair<int64_t, int64_t>{2048, 5632}, {5632, 2048}})
        for (int64_t threads : {1, 2}) {
          if (scalar && threads == 2) continue;
          benchmark::RegisterBenchmark(("group_gemv_from_memory/" + base).c_str(), BM_gemv_from_memory, &k, bits)
              ->Args({K, N, threads})
              ->ArgNames({"K", "N", "threads"})
              ->Unit(benchmark::kMicrosecond)
              ->UseRealTime();
        }
      if (scalar) continue;
      for (auto [M, K, N] : {std::tuple<int64_t, int64_t, int64_t>{64, 2048, 2048}, {512, 2048, 2048}, {512, 768, 768},
                             {512, 2048, 256}})
        benchmark::RegisterBenchmark(("group_prefill/" + base).c_str(), BM_prefill, &k, bits)
            ->Args({M, K, N})
            ->ArgNames({"M", "K", "N"})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
    }
  }
  benchmark::RegisterBenchmark("memory/read 8MB slices, 1 core", BM_memory_read)->Unit(benchmark::kMicrosecond)->UseRealTime();
  return 0;
}
const int registered = register_all();

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  RatioReporter reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}
