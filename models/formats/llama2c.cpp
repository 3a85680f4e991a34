// llama2.c checkpoints.
//  legacy: 7 int32 (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab,
//          seq_len; vocab < 0 means a separate classifier), then fp32 tensors:
//          embedding, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final,
//          the old freq_cis block (seq_len * head_dim/2 * 2, skipped), and the
//          classifier when separate.
//  v1:     uint32 magic "ak42", int32 version 1, the 7 int32, uint8
//          shared_classifier, zero padding to 256 bytes, then fp32 tensors:
//          rms_att, rms_ffn, rms_final, embedding, wq, wk, wv, wo, w1, w2, w3,
//          and the classifier when separate.
// Weights are [out][in] row-major and used in place from the mapping.
#include <cstring>
#include <filesystem>

#include "models/formats/llama2c.h"
#include "runtime/error.h"
#include "runtime/file_io.h"
#include "runtime/mapped_file.h"

namespace axe {
namespace {

constexpr uint32_t kMagicV1 = 0x616b3432;  // "ak42"

// Hands out consecutive fp32 tensors, checking each against the file.
class TensorCursor {
 public:
  TensorCursor(const MappedFile& f, size_t offset) : f_(f), off_(offset) {}
  const float* take(uint64_t count, const char* what) {
    if (count > (uint64_t{1} << 40)) fail(AXE_ERR_FORMAT, f_.path() + ": tensor " + what + " is impossibly large");
    const size_t bytes = static_cast<size_t>(count) * 4;
    const uint8_t* p = f_.at(off_, bytes, what);
    off_ += bytes;
    return reinterpret_cast<const float*>(p);
  }
  void skip(uint64_t count, const char* what) { take(count, what); }
  size_t offset() const { return off_; }

 private:
  const MappedFile& f_;
  size_t off_;
};

std::string find_tokenizer(const std::string& model_path) {
  namespace fs = std::filesystem;
  const fs::path dir = fs::absolute(model_path).parent_path();
  if (fs::exists(dir / "tokenizer.bin")) return (dir / "tokenizer.bin").string();
  std::vector<fs::path> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("tok", 0) == 0 && e.path().extension() == ".bin") found.push_back(e.path());
  }
  if (found.size() == 1) return found[0].string();
  if (found.empty())
    fail(AXE_ERR_IO, model_path + ": no tokenizer.bin or tok*.bin beside the model; give one with --tokenizer");
  fail(AXE_ERR_IO, model_path + ": several tok*.bin files beside the model; choose one with --tokenizer");
}

}  // namespace

std::unique_ptr<LlamaModel> load_llama2c(const std::string& path, const std::string& tokenizer_path, bool use_mmap) {
  auto m = std::make_unique<LlamaModel>();
  m->path = path;
  // The tensors follow the header (28 bytes, or 256 in v1) in multiples of
  // the row sizes: the copy aligns the first one to a cache line.
  const std::string head = read_file_head(path, 4);
  uint32_t magic = 0;
  if (head.size() == 4) std::memcpy(&magic, head.data(), 4);
  auto file = std::make_shared<const MappedFile>(
      path, use_mmap ? MappedFile::Mode::kMap : MappedFile::Mode::kHugePageCopy, magic == kMagicV1 ? 256 : 28);
  m->storage.push_back(file);
  const MappedFile& f = *file;
  LlamaConfig& c = m->config;

  const bool v1 = f.size() >= 4 && f.read<uint32_t>(0, "the magic") == kMagicV1;
  size_t header = 0;
  if (v1) {
    const int32_t version = f.read<int32_t>(4, "the version");
    if (version != 1)
      fail(AXE_ERR_FORMAT, path + ": unsupported llama2.c version " + std::to_string(version) + " at offset 4");
    f.at(0, 256, "the 256-byte v1 header");
    header = 8;
  }
  int32_t h[7];
  for (int i = 0; i < 7; ++i) h[i] = f.read<int32_t>(header + 4 * i, "the model header");
  c.dim = h[0];
  c.hidden_dim = h[1];
  c.n_layers = h[2];
  c.n_heads = h[3];
  c.n_kv_heads = h[4];
  c.vocab = h[5];
  c.seq_len = h[6];
  if (v1) {
    const uint8_t shared = f.read<uint8_t>(header + 28, "the shared_classifier flag");
    if (shared > 1) fail(AXE_ERR_FORMAT, path + ": bad shared_classifier flag at offset 36");
    c.shared_classifier = shared == 1;
    m->format = "llama2c-v1";
  } else {
    c.shared_classifier = c.vocab > 0;
    if (c.vocab < 0 && c.vocab != INT32_MIN) c.vocab = -c.vocab;
    m->format = "llama2c-legacy";
  }
  c.validate(path);

  const uint64_t D = c.dim, H = c.hidden_dim, L = c.n_layers, V = c.vocab, KV = c.kv_dim();
  const uint64_t HD = c.head_dim();
  TensorCursor cur(f, v1 ? 256 : 28);
  m->layers.resize(L);
  std::vector<const float*> rms_att(L), rms_ffn(L), wq(L), wk(L), wv(L), wo(L), w1(L), w2(L), w3(L);
  auto take_layers = [&](std::vector<const float*>& dst, uint64_t per_layer, const char* what) {
    for (uint64_t l = 0; l < L; ++l) dst[l] = cur.take(per_layer, what);
  };
  const float* wcls = nullptr;
  if (v1) {
    take_layers(rms_att, D, "rms_att_weight");
    take_layers(rms_ffn, D, "rms_ffn_weight");
    m->rms_final = cur.take(D, "rms_final_weight");
    m->embedding = cur.take(V * D, "token_embedding_table");
  } else {
    m->embedding = cur.take(V * D, "token_embedding_table");
    take_layers(rms_att, D, "rms_att_weight");
  }
  take_layers(wq, D * D, "wq");
  take_layers(wk, KV * D, "wk");
  take_layers(wv, KV * D, "wv");
  take_layers(wo, D * D, "wo");
  if (!v1) take_layers(rms_ffn, D, "rms_ffn_weight");
  take_layers(w1, H * D, "w1");
  take_layers(w2, D * H, "w2");
  take_layers(w3, H * D, "w3");
  if (!v1) {
    m->rms_final = cur.take(D, "rms_final_weight");
    cur.skip(uint64_t(c.seq_len) * HD, "freq_cis");
  }
  wcls = c.shared_classifier ? m->embedding : cur.take(V * D, "the classifier (wcls)");
  if (cur.offset() != f.size())
    fail(AXE_ERR_FORMAT, path + ": " + std::to_string(f.size() - cur.offset()) +
                             " unexpected bytes after the last tensor at offset " + std::to_string(cur.offset()) +
                             " (header and file size disagree)");

  for (uint64_t l = 0; l < L; ++l) {
    LlamaLayer& ly = m->layers[l];
    ly.rms_att = rms_att[l];
    ly.rms_ffn = rms_ffn[l];
    ly.wq = std::make_unique<LinearF32>(wq[l], D, D);
    ly.wk = std::make_unique<LinearF32>(wk[l], KV, D);
    ly.wv = std::make_unique<LinearF32>(wv[l], KV, D);
    ly.wo = std::make_unique<LinearF32>(wo[l], D, D);
    ly.w1 = std::make_unique<LinearF32>(w1[l], H, D);
    ly.w2 = std::make_unique<LinearF32>(w2[l], D, H);
    ly.w3 = std::make_unique<LinearF32>(w3[l], H, D);
  }
  m->classifier = std::make_unique<LinearF32>(wcls, V, D);
  m->tokenizer =
      std::make_unique<Llama2cTokenizer>(tokenizer_path.empty() ? find_tokenizer(path) : tokenizer_path, c.vocab);
  m->stop_ids = {Llama2cTokenizer::kEos};
  return m;
}

}  // namespace axe
