// axe bench: llama-bench's method and table. For each thread count and test,
// one warm-up run, then -r timed repetitions; pp<N> decodes N prompt tokens
// in one batch from an empty cache, tg<N> decodes N tokens one at a time from
// an empty cache. t/s is the mean over repetitions ± the sample deviation.
// csv and json add decode_bytes (axe_model_info: the weight bytes one
// generated token reads); for tg tests the progress line on stderr shows it
// and the read bandwidth it implies, decode_bytes x t/s.
#include <cmath>
#include <cstdint>

#include "commands.h"
#include "api_handles.h"
#include "clock.h"

namespace cli {
namespace {

struct Result {
  int32_t threads;
  std::string test;
  int64_t n_prompt, n_gen;
  double mean, sd;
  std::vector<double> samples;
};

std::vector<axe_token> random_tokens(size_t n, int32_t vocab, uint64_t seed) {
  std::vector<axe_token> t(n);
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (auto& v : t) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<axe_token>((s >> 33) % static_cast<uint64_t>(vocab));
  }
  return t;
}

double run_once(axe_context* ctx, const std::vector<axe_token>& toks, bool batch) {
  axe_context_reset(ctx);
  std::vector<int32_t> pos(toks.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
  const double t0 = now_seconds();
  if (batch) {
    check(axe_decode(ctx, toks.data(), pos.data(), toks.size(), nullptr), ctx);
  } else {
    for (size_t i = 0; i < toks.size(); ++i)
      check(axe_decode(ctx, &toks[i], &pos[i], 1, nullptr), ctx);
  }
  return now_seconds() - t0;
}

std::string human_size(double bytes) {
  char b[32];
  if (bytes >= 1024.0 * 1024 * 1024) std::snprintf(b, sizeof b, "%.2f GiB", bytes / (1024.0 * 1024 * 1024));
  else std::snprintf(b, sizeof b, "%.2f MiB", bytes / (1024.0 * 1024));
  return b;
}

std::string human_params(double n) {
  char b[32];
  if (n >= 1e9) std::snprintf(b, sizeof b, "%.2f B", n / 1e9);
  else if (n >= 1e6) std::snprintf(b, sizeof b, "%.2f M", n / 1e6);
  else std::snprintf(b, sizeof b, "%.2f K", n / 1e3);
  return b;
}

}  // namespace

int cmd_bench(int argc, char** argv) {
  ModelFlags mf;
  std::vector<int64_t> n_prompt{512}, n_gen{128}, threads;
  int64_t reps = 5;
  std::string output = "md";
  ArgParser p("bench", "-m MODEL [-p 512] [-n 128] [-t 1,2] [-r 5] [-o md|csv|json]",
              "Measures prompt processing (pp) and text generation (tg) speed as llama-bench does.");
  p.add({"-m", "--model"}, "FILE", "model file", [&](auto&, auto& v) { mf.model_path = v; });
  p.add({"--tokenizer"}, "FILE", "tokenizer.bin", [&](auto&, auto& v) { mf.tokenizer_path = v; });
  p.add({"-p", "--n-prompt"}, "N[,N]", "prompt lengths; 0 skips (default 512)",
        [&](auto& f, auto& v) { n_prompt = parse_int_list(f, v, 0, 1 << 16); });
  p.add({"-n", "--n-gen"}, "N[,N]", "generation lengths; 0 skips (default 128)",
        [&](auto& f, auto& v) { n_gen = parse_int_list(f, v, 0, 1 << 16); });
  p.add({"-t", "--threads"}, "N[,N]", "thread counts (default: physical cores)",
        [&](auto& f, auto& v) { threads = parse_int_list(f, v, 1, 1024); });
  p.add({"-r", "--repetitions"}, "N", "timed repetitions per test (default 5)",
        [&](auto& f, auto& v) { reps = parse_int(f, v, 1, 1000); });
  p.add({"-o", "--output"}, "md|csv|json", "output format (default md)", [&](auto& f, auto& v) {
    if (v != "md" && v != "csv" && v != "json")
      throw UsageError("invalid value '" + v + "' for " + f + ": expected md, csv or json");
    output = v;
  });
  p.add({"--target"}, "NAME", "SIMD target (see axe generate --help)", [&](auto&, auto& v) { mf.target = v; });
  p.add_switch({"--mmap"}, "use the model file's pages in place", [&] { mf.use_mmap = true; });
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);

  ModelPtr model = load_model(mf);
  axe_model_info info{};
  info.struct_size = sizeof info;
  check(axe_model_get_info(model.get(), &info), model.get());
  int64_t max_len = 1;
  for (auto v : n_prompt) max_len = std::max(max_len, v);
  for (auto v : n_gen) max_len = std::max(max_len, v);
  mf.n_ctx = static_cast<uint32_t>(max_len);
  if (threads.empty()) threads.push_back(0);

  std::vector<Result> results;
  std::string backend;
  for (int64_t t : threads) {
    ContextPtr ctx = make_context(model.get(), mf, static_cast<int32_t>(t), static_cast<uint32_t>(max_len));
    backend = std::string("CPU ") + axe_context_target(ctx.get());
    auto run_test = [&](const std::string& name, int64_t n, bool batch, int64_t np, int64_t ng) {
      const auto toks = random_tokens(static_cast<size_t>(n), info.n_vocab, 42);
      run_once(ctx.get(), toks, batch);  // warm-up
      Result r{axe_context_n_threads(ctx.get()), name, np, ng, 0, 0, {}};
      for (int64_t i = 0; i < reps; ++i) r.samples.push_back(n / run_once(ctx.get(), toks, batch));
      for (double v : r.samples) r.mean += v / reps;
      for (double v : r.samples) r.sd += (v - r.mean) * (v - r.mean);
      r.sd = reps > 1 ? std::sqrt(r.sd / (reps - 1)) : 0.0;
      results.push_back(r);
      if (output != "md") return;
      if (ng > 0)
        std::fprintf(stderr, "  %s t=%d: %.2f t/s  (%.1f MB/token, %.2f GB/s)\n", name.c_str(), r.threads, r.mean,
                     static_cast<double>(info.decode_bytes) / 1e6, static_cast<double>(info.decode_bytes) * r.mean / 1e9);
      else
        std::fprintf(stderr, "  %s t=%d: %.2f t/s\n", name.c_str(), r.threads, r.mean);
    };
    for (int64_t n : n_prompt)
      if (n > 0) run_test("pp" + std::to_string(n), n, true, n, 0);
    for (int64_t n : n_gen)
      if (n > 0) run_test("tg" + std::to_string(n), n, false, 0, n);
  }

  const std::string size = human_size(static_cast<double>(info.size_bytes));
  const std::string params = human_params(static_cast<double>(info.n_params));
  if (output == "md") {
    std::printf("| model | size | params | backend | threads | test | t/s |\n");
    std::printf("| ----- | ---: | -----: | ------- | ------: | ---: | --: |\n");
    for (const auto& r : results)
      std::printf("| %s | %s | %s | %s | %d | %s | %.2f ± %.2f |\n", info.description, size.c_str(), params.c_str(),
                  backend.c_str(), r.threads, r.test.c_str(), r.mean, r.sd);
  } else if (output == "csv") {
    std::printf("model,size_bytes,n_params,backend,n_threads,n_prompt,n_gen,test,avg_ts,stddev_ts,decode_bytes\n");
    for (const auto& r : results)
      std::printf("\"%s\",%llu,%llu,\"%s\",%d,%lld,%lld,%s,%.6f,%.6f,%llu\n", info.description,
                  static_cast<unsigned long long>(info.size_bytes), static_cast<unsigned long long>(info.n_params),
                  backend.c_str(), r.threads, static_cast<long long>(r.n_prompt), static_cast<long long>(r.n_gen),
                  r.test.c_str(), r.mean, r.sd, static_cast<unsigned long long>(info.decode_bytes));
  } else {
    std::printf("[\n");
    for (size_t i = 0; i < results.size(); ++i) {
      const auto& r = results[i];
      std::printf("  {\"model\": \"%s\", \"size_bytes\": %llu, \"n_params\": %llu, \"backend\": \"%s\", "
                  "\"n_threads\": %d, \"n_prompt\": %lld, \"n_gen\": %lld, \"test\": \"%s\", \"avg_ts\": %.6f, "
                  "\"stddev_ts\": %.6f, \"samples_ts\": [",
                  info.description, static_cast<unsigned long long>(info.size_bytes),
                  static_cast<unsigned long long>(info.n_params), backend.c_str(), r.threads,
                  static_cast<long long>(r.n_prompt), static_cast<long long>(r.n_gen), r.test.c_str(), r.mean, r.sd);
      for (size_t j = 0; j < r.samples.size(); ++j) std::printf("%s%.6f", j ? ", " : "", r.samples[j]);
      std::printf("], \"decode_bytes\": %llu}%s\n", static_cast<unsigned long long>(info.decode_bytes),
                  i + 1 < results.size() ? "," : "");
    }
    std::printf("]\n");
  }
  return 0;
}

}  // namespace cli
