// The input is a Hugging Face model folder: config.json, NUL,
// generation_config.json, NUL, tokenizer_config.json, NUL,
// model.safetensors.index.json, NUL, then the weights (the rest). An empty
// part is a file that is absent (config.json is then written empty). Without
// an index the weights are model.safetensors; with one they are cut at each
// "\n--axe-fuzz-next-shard--\n" into at most four shards named as
// transformers names them (model-00001-of-00002.safetensors, ...). The
// folder (one per process, reused) always holds stories260K-hf's
// tokenizer.json (vocab 512), copied at start. It is loaded through the C API
// (axe_model_load, which reads folders with load_hf_folder); a model that
// loads is decoded for a few tokens with n_ctx = 16. Odd-sized inputs are
// mapped (use_mmap = 1), even-sized ones copied. Findings besides crashes,
// sanitizer reports, leaks and timeouts: AXE_ERR_INTERNAL from the load (an
// exception that is not axe::Error).
#include <fstream>
#include <sstream>

#include "fuzz_common.h"

namespace {

constexpr std::string_view kShardSeparator = "\n--axe-fuzz-next-shard--\n";
constexpr size_t kMaxShards = 4;

std::string shard_name(size_t i, size_t n) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "model-%05zu-of-%05zu.safetensors", i, n);
  return buf;
}

void write_file(const std::string& path, std::string_view bytes) {
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f || (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size()) || std::fclose(f) != 0) {
    std::perror(("fuzz_hf_folder: writing " + path).c_str());
    std::abort();
  }
}

// The folder, with tokenizer.json in it; removed at exit.
const std::string& folder() {
  static const std::string dir = [] {
    const std::string d = axe_fuzz::work_dir() + "/folder";
    if (mkdir(d.c_str(), 0700) != 0) {
      std::perror(("fuzz_hf_folder: mkdir " + d).c_str());
      std::abort();
    }
    const std::string src = axe_fuzz::shared_dir() + "/models/stories260K-hf/tokenizer.json";
    std::ifstream in(src, std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "fuzz_hf_folder: cannot read %s\n", src.c_str());
      std::abort();
    }
    std::stringstream ss;
    ss << in.rdbuf();
    write_file(d + "/tokenizer.json", ss.str());
    static std::string at_exit_dir;
    at_exit_dir = d;
    std::atexit([] {
      std::remove((at_exit_dir + "/tokenizer.json").c_str());
      rmdir(at_exit_dir.c_str());
    });
    return d;
  }();
  return dir;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string& dir = folder();
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::string_view parts[4];
  for (std::string_view& p : parts) {
    const size_t z = in.find('\0');
    p = in.substr(0, z);
    in = z == std::string_view::npos ? std::string_view() : in.substr(z + 1);
  }
  std::vector<std::string> written;
  auto put = [&](const std::string& name, std::string_view bytes) {
    written.push_back(dir + "/" + name);
    write_file(written.back(), bytes);
  };
  put("config.json", parts[0]);
  if (!parts[1].empty()) put("generation_config.json", parts[1]);
  if (!parts[2].empty()) put("tokenizer_config.json", parts[2]);
  if (parts[3].empty()) {
    put("model.safetensors", in);
  } else {
    put("model.safetensors.index.json", parts[3]);
    std::vector<std::string_view> shards;
    while (shards.size() + 1 < kMaxShards) {
      const size_t at = in.find(kShardSeparator);
      if (at == std::string_view::npos) break;
      shards.push_back(in.substr(0, at));
      in.remove_prefix(at + kShardSeparator.size());
    }
    shards.push_back(in);
    for (size_t i = 0; i < shards.size(); ++i) put(shard_name(i + 1, shards.size()), shards[i]);
  }

  axe_model_params mp = axe_model_default_params();
  mp.use_mmap = static_cast<int32_t>(size & 1);
  axe_model* model = nullptr;
  const axe_status st = axe_model_load(dir.c_str(), &mp, &model);
  if (st == AXE_ERR_INTERNAL) {
    std::fprintf(stderr, "fuzz_hf_folder: axe_model_load returned AXE_ERR_INTERNAL: %s\n", axe_last_error());
    std::abort();
  }
  if (st != AXE_OK && std::getenv("AXE_FUZZ_VERBOSE")) std::fprintf(stderr, "%s\n", axe_last_error());
  if (st == AXE_OK) {
    axe_fuzz::decode_smoke(model);
    axe_model_free(model);
  }
  for (const std::string& p : written) std::remove(p.c_str());
  return 0;
}
