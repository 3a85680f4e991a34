// Integer kernel benchmarks on every kernel this CPU can run (AVX2 kernels
// run on AVX-512 machines too), at the shapes of real models, with the limits
// they are measured against: memory bandwidth (read, copy) and each
// instruction sequence's MAC rate with independent chains.
//   build/bench/axe_bench_int8 --benchmark_filter=int8_gemm
// The read bandwidth at thread counts other than 1 and 2 (memory/read, memory/copy):
//   AXE_BENCH_MEMORY_THREADS=4,8 build/bench/axe_bench_int8 --benchmark_filter='^memory/read/'
// Counters: GOP/s (2 ops per multiply-add), GB/s of weights streamed.
#include <benchmark/benchmark.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif
#include <tbb/global_control.h>
#include <tbb/parallel_for.h>
#include <tbb/task_arena.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <vector>

#include "runtime/kernels/act_quant.h"
#include "runtime/kernels/int8_kernels.h"

namespace {

using namespace axe;

// Weights that satisfy a lanes x16, P_I = 16 plan for u8 activations, so
// that every kernel, int16 included, is exact on them (cached per shape).
const Int8Weights& weights(size_t K, size_t N, int bits) {
  static std::map<std::tuple<size_t, size_t, int>, Int8Weights> cache;
  auto key = std::make_tuple(K, N, bits);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  std::mt19937 rng(7);
  const int limit = (1 << (bits - 1)) - 1;
  std::uniform_int_distribution<int> dist(-limit, limit);
  std::vector<int8_t> q(N * K);
  for (auto& v : q) v = static_cast<int8_t>(dist(rng));
  const AccumulationPlan plan{TileKind::kLanes, 16, 16, 32};
  const ActivationRange xr = ActivationRange::of(8, false);
  clip_codes_to_plan(q.data(), N, K, K, plan, xr);
  std::vector<float> scales(N, 0.01f);
  return cache.emplace(key, pack_int8_weights(q.data(), N, K, scales.data(), bits, plan, xr)).first->second;
}

// Copies of a layer's weights totalling >= 512 MiB, so that a GEMV that
// walks through them reads its weights from memory, not from the caches.
const std::vector<Int8Weights>& weight_copies(size_t K, size_t N, int bits) {
  static std::map<std::tuple<size_t, size_t, int>, std::vector<Int8Weights>> cache;
  auto& copies = cache[std::make_tuple(K, N, bits)];
  if (!copies.empty()) return copies;
  const Int8Weights& w = weights(K, N, bits);
  const size_t bytes = w.row_bytes() * w.rows;
  const size_t n = std::max<size_t>(2, (size_t{512} << 20) / bytes + 1);
  for (size_t i = 0; i < n; ++i) {
    Int8Weights c;
    c.rows = w.rows, c.cols = w.cols, c.kp = w.kp, c.bits = w.bits, c.packed4 = w.packed4;
    c.scales = w.scales, c.row_sums = w.row_sums, c.max_abs = w.max_abs;
    c.plan = w.plan, c.x_range = w.x_range, c.plan_holds = w.plan_holds;
    c.data.resize(w.data.size());
    std::memcpy(c.data.data(), w.data.data(), w.data.size());
    copies.push_back(std::move(c));
  }
  return copies;
}

Int8Activations acts(size_t M, size_t K) {
  std::mt19937 rng(3);
  std::normal_distribution<float> normal;
  std::vector<float> x(M * K);
  for (auto& v : x) v = normal(rng);
  Int8Activations a;
  quantize_activations(x.data(), K, M, K, 8, false, a);
  return a;
}

void BM_int8_gemm(benchmark::State& state, const Int8Kernel* kernel, int bits, bool from_memory) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2), threads = state.range(3);
  const Int8Weights& w = weights(K, N, bits);
  const std::vector<Int8Weights>* copies = from_memory ? &weight_copies(K, N, bits) : nullptr;
  size_t next = 0;
  const Int8Activations x = acts(M, K);
  if (!kernel->usable(w, x.range)) {
    state.SkipWithError("kernel not usable here");
    return;
  }
  std::vector<float> y(M * N);
  tbb::task_arena arena(static_cast<int>(threads));
  const Int8Output out{nullptr, 0, y.data(), N, nullptr};
  const size_t blocks = (N + 63) / 64;
  for (auto _ : state) {
    const Int8Weights& wi = copies ? (*copies)[next++ % copies->size()] : w;
    arena.execute([&] {
      tbb::parallel_for(size_t{0}, blocks, [&](size_t b) {
        kernel->run(x, 0, M, wi, b * 64, std::min(N, b * 64 + 64), out);
      }, tbb::static_partitioner());
    });
    benchmark::DoNotOptimize(y.data());
  }
  state.counters["GOP/s"] = benchmark::Counter(2.0 * M * N * K * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["GB/s"] =
      benchmark::Counter(double(w.row_bytes()) * N * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}

// The emulated 16-bit datapath: on plan-satisfying weights (every tile is
// provably safe, summed directly) and on unconstrained ones (every step
// emulated), to compare with the kernels above.
void BM_emulated(benchmark::State& state, bool constrained) {
  const size_t M = state.range(0), K = state.range(1), N = state.range(2);
  const AccumulationPlan plan{TileKind::kLanes, 16, 16, 32};
  const ActivationRange xr = ActivationRange::of(8, false);
  std::mt19937 rng(11);
  std::uniform_int_distribution<int> dist(-127, 127);
  std::vector<int8_t> q(N * K);
  for (auto& v : q) v = static_cast<int8_t>(dist(rng));
  if (constrained) clip_codes_to_plan(q.data(), N, K, K, plan, xr);
  std::vector<float> scales(N, 0.01f);
  const Int8Weights w = pack_int8_weights(q.data(), N, K, scales.data(), 8, plan, xr);
  const Int8Activations x = acts(M, K);
  std::vector<float> y(M * N);
  OverflowCounts counts;
  const EmulatedLayer layer =
      prepare_emulation(w, {plan, false}, x.range, Int8KernelPolicy::from_environment(supported_targets().back()));  // once per layer, at load
  for (auto _ : state) int8_gemm_emulated(x, 0, M, w, 0, N, {nullptr, 0, y.data(), N, nullptr}, layer, counts);
  state.counters["GOP/s"] = benchmark::Counter(2.0 * M * N * K * state.iterations() / 1e9, benchmark::Counter::kIsRate);
  state.counters["overflows/dot"] = double(counts.inner + counts.outer) / double(counts.dot_products);
}

// Reads n bytes with wide loads and 4 independent accumulators.
#if defined(__x86_64__)
__attribute__((target("avx2"))) uint64_t read_all(const uint64_t* p, size_t words) {
  __m256i a[4] = {_mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256(), _mm256_setzero_si256()};
  for (size_t i = 0; i + 16 <= words; i += 16)
    for (int j = 0; j < 4; ++j)
      a[j] = _mm256_xor_si256(a[j], _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + i + 4 * j)));
  alignas(32) uint64_t t[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(t), _mm256_xor_si256(_mm256_xor_si256(a[0], a[1]), _mm256_xor_si256(a[2], a[3])));
  return t[0] ^ t[1] ^ t[2] ^ t[3];
}
#else
uint64_t read_all(const uint64_t* p, size_t words) {
  uint64_t s = 0;
  for (size_t i = 0; i < words; ++i) s ^= p[i];
  return s;
}
#endif

// STREAM-style: read or copy a buffer far larger than the caches (1 GiB;
// the copy's destination, another GiB, is allocated only when copying).
void BM_memory(benchmark::State& state, bool copy) {
  const size_t bytes = size_t{1} << 30, threads = state.range(0);
  static std::vector<uint64_t> src(bytes / 8, 1);
  static std::vector<uint64_t> dst;
  if (copy) dst.resize(bytes / 8);
  tbb::task_arena arena(static_cast<int>(threads));
  const size_t chunks = 64, per = src.size() / chunks;
  for (auto _ : state) {
    uint64_t total = 0;
    arena.execute([&] {
      tbb::parallel_for(size_t{0}, chunks, [&](size_t c) {
        if (copy) {
          std::memcpy(&dst[c * per], &src[c * per], per * 8);
        } else {
          benchmark::DoNotOptimize(read_all(&src[c * per], per));
        }
      }, tbb::static_partitioner());
    });
    benchmark::DoNotOptimize(total);
  }
  state.counters["GB/s"] = benchmark::Counter(double(copy ? 2 * bytes : bytes) * state.iterations() / 1e9,
                                              benchmark::Counter::kIsRate);
}

#if defined(__x86_64__)
// Peak MAC rates: 10 independent chains of one instruction sequence, no loads.
#define AXE_CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9)
__attribute__((target("avx512bw"))) void peak_i16_512(size_t n) {
  for (size_t i = 0; i < n; ++i) {
#define X(r) "vpmaddubsw %%zmm30, %%zmm31, %%zmm1" #r "\n vpaddw %%zmm1" #r ", %%zmm" #r ", %%zmm" #r "\n"
    asm volatile(AXE_CHAINS(X) ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                 "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19");
#undef X
  }
}
// 20 independent chains (zmm0-19) of one accumulating instruction, acc =
// INSN(acc, zmm30, zmm31): VNNI's vpdpbusd, and fp32 FMA, the fp32 GEMM's
// instruction (its MAC rate is half its GFLOP/s); 20 covers the latency
// times two ports of either.
#define AXE_ACC2(INSN, r) INSN " %%zmm30, %%zmm31, %%zmm" #r "\n " INSN " %%zmm30, %%zmm31, %%zmm1" #r "\n"
#define AXE_ACC20(INSN)                                                                                         \
  AXE_ACC2(INSN, 0) AXE_ACC2(INSN, 1) AXE_ACC2(INSN, 2) AXE_ACC2(INSN, 3) AXE_ACC2(INSN, 4) AXE_ACC2(INSN, 5) \
      AXE_ACC2(INSN, 6) AXE_ACC2(INSN, 7) AXE_ACC2(INSN, 8) AXE_ACC2(INSN, 9)
#define AXE_PEAK_ACC512(NAME, TARGET, INSN)                                                                        \
  __attribute__((target(TARGET))) void NAME(size_t n) {                                                           \
    for (size_t i = 0; i < n; ++i)                                                                                \
      asm volatile(AXE_ACC20(INSN)::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", \
                   "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19");       \
  }
AXE_PEAK_ACC512(peak_vnni_512, "avx512vnni", "vpdpbusd")
AXE_PEAK_ACC512(peak_fma_512, "avx512f", "vfmadd231ps")
// ymm: accumulators ymm0-5, temporaries ymm6-11, inputs ymm12/13, ones ymm14.
#define AXE_CHAINS6(X) X(0, 6) X(1, 7) X(2, 8) X(3, 9) X(4, 10) X(5, 11)
__attribute__((target("avx2"))) void peak_i16_256(size_t n) {
  for (size_t i = 0; i < n; ++i) {
#define X(a, t) "vpmaddubsw %%ymm12, %%ymm13, %%ymm" #t "\n vpaddw %%ymm" #t ", %%ymm" #a ", %%ymm" #a "\n"
    asm volatile(AXE_CHAINS6(X) ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                 "xmm10", "xmm11");
#undef X
  }
}
__attribute__((target("avx2"))) void peak_i32_256(size_t n) {
  for (size_t i = 0; i < n; ++i) {
#define X(a, t)                                                                                 \
  "vpmaddubsw %%ymm12, %%ymm13, %%ymm" #t "\n vpmaddwd %%ymm14, %%ymm" #t ", %%ymm" #t "\n" \
  " vpaddd %%ymm" #t ", %%ymm" #a ", %%ymm" #a "\n"
    asm volatile(AXE_CHAINS6(X) ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                 "xmm10", "xmm11");
#undef X
  }
}
__attribute__((target("avxvnni"))) void peak_avxvnni_256(size_t n) {
  for (size_t i = 0; i < n; ++i) {
#define X(r) "%{vex%} vpdpbusd %%ymm14, %%ymm15, %%ymm" #r "\n"
    asm volatile(AXE_CHAINS(X) ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9");
#undef X
  }
}

void BM_peak(benchmark::State& state, void (*fn)(size_t), double macs_per_iter) {
  const size_t n = 1 << 16;
  for (auto _ : state) fn(n);
  state.counters["GMAC/s"] =
      benchmark::Counter(macs_per_iter * n * state.iterations() / 1e9, benchmark::Counter::kIsRate);
}
#endif

int register_all() {
  const std::pair<int64_t, int64_t> shapes[] = {{768, 768}, {768, 2048}, {2048, 768}, {2048, 2048}, {2048, 5632}, {5632, 2048}};
  for (const Int8Kernel& k : int8_kernels()) {
    if (k.accumulator == Int8Accumulator::kInt64) continue;  // the reference is for tests
    for (int bits : {8, 4}) {
      // This CPU lacks it, or it is not for these weights (the 4-bit GEMV).
      if (!k.usable(weights(768, 64, bits), ActivationRange::of(8, false))) continue;
      for (int64_t M : {1, 16, 512})
        for (auto [K, N] : shapes) {
          if (std::string(k.name) == "scalar-int32" && M == 512) continue;
          for (int64_t threads : {1, 2})
            for (bool mem : {false, true}) {
              // Decode (M = 1) is also measured with weights streamed from memory, on one and two cores.
              if ((threads == 2 || mem) && M != 1) continue;
              benchmark::RegisterBenchmark((std::string(mem ? "int8_gemv_from_memory/" : "int8_gemm/") + k.name +
                                            "/w" + std::to_string(bits)).c_str(),
                                           BM_int8_gemm, &k, bits, mem)
                  ->Args({M, K, N, threads})
                  ->ArgNames({"M", "K", "N", "threads"})
                  ->Unit(benchmark::kMicrosecond)
                  ->UseRealTime();
            }
        }
    }
  }
  for (bool constrained : {true, false})
    benchmark::RegisterBenchmark(constrained ? "int8_emulated/p16/plan-holds" : "int8_emulated/p16/unconstrained",
                                 BM_emulated, constrained)
        ->Args({16, 2048, 2048})
        ->ArgNames({"M", "K", "N"})
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  // memory/read and memory/copy on 1 and 2 threads, and on every count
  // AXE_BENCH_MEMORY_THREADS lists (comma-separated, e.g. 4,8: what
  // bench/vs_llamacpp.sh sets to measure the read bandwidth at its -t list).
  std::vector<int64_t> memory_threads{1, 2};
  if (const char* e = std::getenv("AXE_BENCH_MEMORY_THREADS")) {
    for (const char* p = e; *p;) {
      char* end = nullptr;
      const long t = std::strtol(p, &end, 10);
      if (end == p) break;  // not a number: the rest is ignored
      if (t >= 1 && t <= 4096 && std::find(memory_threads.begin(), memory_threads.end(), t) == memory_threads.end())
        memory_threads.push_back(t);
      p = *end == ',' ? end + 1 : end;
    }
  }
  for (int64_t t : memory_threads) {
    benchmark::RegisterBenchmark("memory/read", BM_memory, false)->Arg(t)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("memory/copy", BM_memory, true)->Arg(t)->ArgName("threads")->UseRealTime()->Unit(benchmark::kMillisecond);
  }
#if defined(__x86_64__)
  if (cpu_features().avx512) benchmark::RegisterBenchmark("peak/zmm vpmaddubsw+vpaddw", BM_peak, &peak_i16_512, 10 * 64.0);
  if (cpu_features().avx512_vnni) benchmark::RegisterBenchmark("peak/zmm vpdpbusd", BM_peak, &peak_vnni_512, 20 * 64.0);
  if (cpu_features().avx512) benchmark::RegisterBenchmark("peak/zmm vfmadd231ps (fp32)", BM_peak, &peak_fma_512, 20 * 16.0);
  if (cpu_features().avx2) {
    benchmark::RegisterBenchmark("peak/ymm vpmaddubsw+vpaddw", BM_peak, &peak_i16_256, 6 * 32.0);
    benchmark::RegisterBenchmark("peak/ymm vpmaddubsw+vpmaddwd+vpaddd", BM_peak, &peak_i32_256, 6 * 32.0);
  }
  if (cpu_features().avx_vnni) benchmark::RegisterBenchmark("peak/ymm vpdpbusd (AVX-VNNI)", BM_peak, &peak_avxvnni_256, 10 * 32.0);
#endif
  return 0;
}
const int registered = register_all();

}  // namespace

// The activation quantizers before the GEMMs (act_quant.h) on each path:
//   build/bench/axe_bench_int8 --benchmark_filter=act_quant
namespace {

void BM_act_quant(benchmark::State& state, bool group, axe::ActQuantPath path) {
  const size_t M = static_cast<size_t>(state.range(0)), K = static_cast<size_t>(state.range(1));
  std::mt19937 rng(5);
  std::normal_distribution<float> normal;
  std::vector<float> x(M * K);
  for (auto& v : x) v = normal(rng);
  axe::Int8Activations a;
  axe::GroupActivations g;
  axe::size_activations(M, K, 8, false, a);
  axe::size_group_activations(M, K, g);
  for (auto _ : state) {
    if (group) axe::quantize_group_activation_rows_on(path, x.data(), K, 0, M, g, axe::GroupActFormat{});
    else axe::quantize_activation_rows_on(path, x.data(), K, 0, M, a);
    benchmark::ClobberMemory();
  }
  state.counters["Gelem/s"] = benchmark::Counter(static_cast<double>(M * K) * state.iterations() / 1e9,
                                                 benchmark::Counter::kIsRate);
}

const int act_quant_registered = [] {
  for (bool group : {false, true})
    for (axe::ActQuantPath p : {axe::ActQuantPath::kScalar, axe::ActQuantPath::kAVX2, axe::ActQuantPath::kAVX512})
      if (axe::act_quant_path_supported(p))
        benchmark::RegisterBenchmark((std::string("act_quant/") + (group ? "group_q8/" : "per_token_u8/") +
                                      axe::act_quant_path_name(p)).c_str(),
                                     BM_act_quant, group, p)
            ->Args({512, 768})
            ->Args({512, 2048})
            ->ArgNames({"M", "K"})
            ->Unit(benchmark::kMicrosecond);
  return 0;
}();

}  // namespace

BENCHMARK_MAIN();
