// The Hugging Face tokenizer.json tokenizer on the 640 KB TinyStories
// evaluation text (Llama 3's byte-level BPE and stories260K's
// SentencePiece-style BPE), with and without special-token parsing, and the
// time to read Llama 3's 7.6 MB tokenizer.json.
//   build/bench/axe_bench_tokenizer_json
#include <benchmark/benchmark.h>

#include <fstream>
#include <sstream>
#include <string>

#include "runtime/tokenizer_json.h"

namespace {

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

const std::string kShared = AXE_SHARED_DIR;
const std::string kLlama3 = kShared + "/data/tokenizer-tests/llama3-tokenizer.json";
const std::string kStories = kShared + "/models/stories260K-hf/tokenizer.json";

void BM_tokenize_json(benchmark::State& state, const std::string* path, int32_t vocab, bool parse_special) {
  const std::string text = slurp(kShared + "/data/tinystories/eval.txt");
  const axe::JsonTokenizer tok(slurp(*path), "", *path, vocab);
  size_t n = 0;
  for (auto _ : state) n = tok.encode(text, true, parse_special).size();
  state.counters["tokens"] = static_cast<double>(n);
  state.counters["MB/s"] = benchmark::Counter(double(text.size()) * state.iterations() / 1e6, benchmark::Counter::kIsRate);
}

void BM_load_json(benchmark::State& state, const std::string* path, int32_t vocab) {
  const std::string bytes = slurp(*path);
  for (auto _ : state) {
    axe::JsonTokenizer tok(bytes, "", *path, vocab);
    benchmark::DoNotOptimize(tok.n_vocab());
  }
  state.counters["MB/s"] = benchmark::Counter(double(bytes.size()) * state.iterations() / 1e6, benchmark::Counter::kIsRate);
}

BENCHMARK_CAPTURE(BM_tokenize_json, eval.txt/llama3, &kLlama3, 128256, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_tokenize_json, eval.txt/llama3/parse_special, &kLlama3, 128256, true)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_tokenize_json, eval.txt/stories260K, &kStories, 512, false)->Unit(benchmark::kMillisecond);
BENCHMARK_CAPTURE(BM_load_json, llama3, &kLlama3, 128256)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
