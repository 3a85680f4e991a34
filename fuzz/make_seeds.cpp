// Writes the seed corpora of every harness into OUT_DIR/<harness>/:
//   fuzz_make_seeds OUT_DIR
// fuzz_llama2c: tiny random llama2.c checkpoints (legacy and v1, shared and
// separate classifier, grouped-query attention) with vocab 512 so that the
// stories260K tokenizer fits; fuzz_axe: those quantized through the C API
// (RTN W8A8, RTN W4 AXE 16-bit, contiguous tiles, signed activations, and an
// OPTQ per-layer search, which stores layer_bits); fuzz_axe_metadata: each
// .axe file's config and plan separated by NUL; fuzz_tokenizer_bin: the
// stories260K tokenizer; fuzz_tokenize: text. Small files keep the fuzzers
// fast (the stories260K model itself is 1 MB).
#include <sys/stat.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "fuzz_common.h"
#include "models/formats/axe.h"
#include "runtime/mapped_file.h"

namespace {

std::string out_dir;

void write(const std::string& harness, const std::string& name, const std::string& bytes) {
  const std::string dir = out_dir + "/" + harness;
  mkdir(dir.c_str(), 0755);
  std::ofstream f(dir + "/" + name, std::ios::binary);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!f) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot write %s/%s\n", dir.c_str(), name.c_str());
    std::exit(1);
  }
}

std::string read(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "fuzz_make_seeds: cannot read %s\n", path.c_str());
    std::exit(1);
  }
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

struct Shape {
  int32_t dim, hidden, layers, heads, kv_heads, vocab, seq_len;
};

// A llama2.c checkpoint with small random weights (fixed seed).
std::string llama2c(const Shape& s, bool v1, bool shared) {
  std::string out;
  auto i32 = [&](int32_t v) { out.append(reinterpret_cast<const char*>(&v), 4); };
  uint64_t state = 0x9e3779b97f4a7c15ull ^ (uint64_t(s.dim) << 32) ^ (v1 ? 1 : 0) ^ (shared ? 2 : 0);
  auto weights = [&](uint64_t n, bool norm) {
    for (uint64_t i = 0; i < n; ++i) {
      state = state * 6364136223846793005ull + 1442695040888963407ull;
      const float u = static_cast<float>((state >> 40) & 0xffffff) / float(1 << 24) - 0.5f;
      const float w = norm ? 1.0f + 0.1f * u : 0.2f * u;
      out.append(reinterpret_cast<const char*>(&w), 4);
    }
  };
  const uint64_t D = s.dim, H = s.hidden, L = s.layers, V = s.vocab, KV = uint64_t(s.dim) / s.heads * s.kv_heads;
  const uint64_t HD = uint64_t(s.dim) / s.heads;
  if (v1) {
    i32(0x616b3432);
    i32(1);
    for (int32_t v : {s.dim, s.hidden, s.layers, s.heads, s.kv_heads, s.vocab, s.seq_len}) i32(v);
    out.push_back(shared ? 1 : 0);
    out.resize(256, '\0');
    weights(L * D, true);
    weights(L * D, true);
    weights(D, true);
    weights(V * D, false);
  } else {
    for (int32_t v : {s.dim, s.hidden, s.layers, s.heads, s.kv_heads, shared ? s.vocab : -s.vocab, s.seq_len}) i32(v);
    weights(V * D, false);
    weights(L * D, true);
  }
  weights(L * D * D, false);
  weights(L * KV * D, false);
  weights(L * KV * D, false);
  weights(L * D * D, false);
  if (!v1) weights(L * D, true);
  weights(L * H * D, false);
  weights(L * D * H, false);
  weights(L * H * D, false);
  if (!v1) {
    weights(D, true);
    weights(uint64_t(s.seq_len) * HD, false);  // the old freq_cis block
  }
  if (!shared) weights(V * D, false);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  mkdir(out_dir.c_str(), 0755);
  axe_fuzz::work_dir();  // quiet log
  const std::string tok = axe_fuzz::stories_tokenizer();

  struct Model {
    const char* name;
    Shape shape;
    bool v1, shared;
  };
  const Model models[] = {
      {"legacy_shared", {16, 32, 1, 2, 2, 512, 16}, false, true},
      {"legacy_wcls", {16, 24, 1, 2, 1, 512, 8}, false, false},
      {"v1_shared_gqa", {32, 48, 2, 4, 2, 512, 16}, true, true},
      {"v1_wcls", {16, 32, 1, 1, 1, 512, 16}, true, false},
  };
  std::vector<std::string> axe_files;
  const std::string work = axe_fuzz::work_dir();
  for (const Model& m : models) {
    const std::string bytes = llama2c(m.shape, m.v1, m.shared);
    write("fuzz_llama2c", std::string(m.name) + ".bin", bytes);
    const std::string path = work + "/" + m.name + ".bin";
    std::ofstream(path, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    axe_model_params mp = axe_model_default_params();
    mp.tokenizer_path = tok.c_str();
    axe_model* model = nullptr;
    if (axe_model_load(path.c_str(), &mp, &model) != AXE_OK) {
      std::fprintf(stderr, "fuzz_make_seeds: %s does not load: %s\n", m.name, axe_last_error());
      return 1;
    }
    struct Q {
      const char* name;
      void (*set)(axe_quantize_params&);
    };
    static const std::string calib = read(axe_fuzz::shared_dir() + "/data/tinystories/calib.txt").substr(0, 4000);
    const Q qs[] = {
        {"rtn_w8a8", [](axe_quantize_params&) {}},
        {"rtn_w4_axe16", [](axe_quantize_params& p) { p.weight_bits = 4; p.axe = 1; p.inner_bits = 16; }},
        {"rtn_w5_contig", [](axe_quantize_params& p) {
           p.weight_bits = 5; p.axe = 1; p.tiles = AXE_TILES_CONTIGUOUS; p.tile = 16; p.inner_bits = 18; p.outer_bits = 20; }},
        {"rtn_w4_sym", [](axe_quantize_params& p) { p.weight_bits = 4; p.act_signed = 1; p.axe = 1; p.inner_bits = 16; }},
        {"rtn_w4_rotated", [](axe_quantize_params& p) {
           p.weight_bits = 4; p.axe = 1; p.inner_bits = 16; p.rotate = "hadamard"; p.rotate_seed = 3; }},
        {"optq_search13", [](axe_quantize_params& p) {
           p.algo = "optq"; p.weight_bits = 4; p.search = 1; p.inner_bits = 13;
           p.calib_text = calib.c_str(); p.calib_text_len = calib.size(); p.calib_samples = 2; p.calib_len = 8; }},
    };
    for (const Q& q : qs) {
      if (std::strcmp(m.name, "v1_shared_gqa") != 0 && std::strcmp(q.name, "rtn_w8a8") != 0 &&
          std::strcmp(q.name, "rtn_w4_axe16") != 0)
        continue;  // every variant on one model, two on the others
      axe_quantize_params p = axe_quantize_default_params();
      p.n_threads = 1;
      q.set(p);
      const std::string out = work + "/" + m.name + "." + q.name + ".axe";
      if (axe_quantize(model, out.c_str(), &p) != AXE_OK) {
        std::fprintf(stderr, "fuzz_make_seeds: quantizing %s (%s): %s\n", m.name, q.name, axe_model_last_error(model));
        return 1;
      }
      axe_files.push_back(out);
    }
    axe_model_free(model);
    std::remove(path.c_str());
  }
  for (const std::string& path : axe_files) {
    const std::string name = path.substr(path.rfind('/') + 1);
    write("fuzz_axe", name, read(path));
    const axe::AxeFile f(path, axe::MappedFile::Mode::kMap);
    write("fuzz_axe_metadata", name + ".json", f.meta(axe::kAxeMetaConfig) + std::string(1, '\0') + f.meta(axe::kAxeMetaPlan));
    std::remove(path.c_str());
  }
  write("fuzz_axe_metadata", "handmade.json",
        std::string(R"({"dim":8,"hidden_dim":16,"n_layers":1,"n_heads":2,"n_kv_heads":1,"vocab_size":3,"seq_len":4,)"
                    R"("shared_classifier":true,"norm_eps":1e-5,"rope_base":10000.0})") +
            std::string(1, '\0') +
            R"({"tiles":"lanes","tile":16,"inner_bits":16,"outer_bits":32,"weight_bits":4,"act_bits":8,"act":"asym",)"
            R"("layer_bits":{"layers.0.attention.wq":{"weight_bits":3,"act_bits":6}}})");

  write("fuzz_tokenizer_bin", "tok512.bin", read(tok));

  const std::string text = read(axe_fuzz::shared_dir() + "/data/tinystories/calib.txt");
  for (int i = 0; i < 16; ++i) write("fuzz_tokenize", "story" + std::to_string(i) + ".txt", text.substr(size_t(i) * 997, 40 + i * 13));
  const char* special[] = {"", " ", "  leading spaces", "<s></s><unk><0x41><0xFF>", "caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80",
                           "\xff\xfe\x80\xc3", "\xf4\x90\x80\x80 \xed\xa0\x80", "tab\tnew\nline\r\n", "a\0b"};
  int k = 0;
  for (const char* s : special) write("fuzz_tokenize", "special" + std::to_string(k++) + ".txt", std::string(s, s == special[8] ? 3 : std::strlen(s)));
  // fuzz_kld: base files of stories260K itself, chunks of 16 and 32 tokens.
  {
    axe_model_params mp = axe_model_default_params();
    mp.tokenizer_path = tok.c_str();
    axe_model* m = nullptr;
    if (axe_model_load(axe_fuzz::stories_model().c_str(), &mp, &m) != AXE_OK) return 1;
    axe_context_params cp = axe_context_default_params();
    cp.n_threads = 1;
    axe_context* c = nullptr;
    if (axe_context_create(m, &cp, &c) != AXE_OK) return 1;
    for (uint32_t n : {16u, 32u}) {
      const std::string base = work + "/base" + std::to_string(n) + ".kld";
      axe_perplexity_params p = axe_perplexity_default_params();
      p.n_ctx = n;
      p.n_chunks = 2;
      p.kld = AXE_KLD_WRITE_BASE;
      p.kld_base = base.c_str();
      axe_perplexity_result r{};
      r.struct_size = sizeof r;
      if (axe_perplexity(c, text.data(), 4000, &p, &r) != AXE_OK) return 1;
      write("fuzz_kld", "base" + std::to_string(n) + ".kld", read(base));
      std::remove(base.c_str());
    }
    axe_context_free(c);
    axe_model_free(m);
  }
  std::printf("seeds in %s\n", out_dir.c_str());
  return 0;
}
