// The GGUF reader (models/formats/gguf.h): files written by llama.cpp (its
// vocab-only test files, and tiny models made by its converter and quantizer),
// dequantization compared bit for bit with llama.cpp's own NumPy dequantizers
// (gguf-py, through tools/gguf_dequant_goldens.py), and hostile files: every
// check of the reader hit by a header built here byte by byte, every prefix of
// a real file, and random corruptions, each an axe::Error naming the file.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <unistd.h>

#include <bit>
#include <chrono>
#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <sstream>

#include "models/formats/gguf.h"
#include "temp_dir.h"
#include "test_paths.h"

namespace {

using axe::GgmlType;
using axe::GgufFile;
using axe::GgufValue;
using Mode = axe::MappedFile::Mode;

std::string fixture(const std::string& name) { return std::string(AXE_FIXTURES_DIR) + "/gguf/" + name; }

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

uint32_t bits_of(float f) { return std::bit_cast<uint32_t>(f); }

uint64_t fnv1a64(const void* p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<const uint8_t*>(p)[i]) * 0x100000001b3ull;
  return h;
}

std::vector<float> dequantize(const GgufFile::Tensor& t) {
  std::vector<float> out(t.n_elements());
  axe::ggml_dequantize(t.type, t.data, out.size(), out.data());
  return out;
}

// ---------------------------------------------------------------------------
// A GGUF file built byte by byte.

struct Bytes {
  std::vector<char> b;
  Bytes& raw(const void* p, size_t n) {
    b.insert(b.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
    return *this;
  }
  Bytes& u8(uint8_t v) { return raw(&v, 1); }
  Bytes& u32(uint32_t v) { return raw(&v, 4); }
  Bytes& u64(uint64_t v) { return raw(&v, 8); }
  Bytes& str(const std::string& s) { return u64(s.size()).raw(s.data(), s.size()); }
  Bytes& append(const Bytes& o) { return raw(o.b.data(), o.b.size()); }
};

// Metadata entries.
Bytes kv_u32(const std::string& key, uint32_t v) { return Bytes().str(key).u32(4).u32(v); }
Bytes kv_u64(const std::string& key, uint64_t v) { return Bytes().str(key).u32(10).u64(v); }
Bytes kv_str(const std::string& key, const std::string& v) { return Bytes().str(key).u32(8).str(v); }

struct TensorSpec {
  std::string name;
  std::vector<uint64_t> ne;
  uint32_t type;
  uint64_t offset;
};

struct Spec {
  char magic[4] = {'G', 'G', 'U', 'F'};
  uint32_t version = 3;
  std::vector<Bytes> kvs = {kv_str("general.architecture", "llama"), kv_u32("llama.block_count", 1)};
  std::vector<TensorSpec> tensors = {{"a", {8}, 0, 0},            // F32, 32 bytes
                                     {"b.weight", {32, 2}, 8, 32}};  // Q8_0, 68 bytes
  int64_t n_tensors = -1, n_kv = -1;  // the counts written; -1: the real ones
  size_t alignment = 32;              // where the data section starts
  uint64_t data_bytes = 100;
};

std::vector<char> build(const Spec& s) {
  Bytes out;
  out.raw(s.magic, 4).u32(s.version);
  out.u64(s.n_tensors >= 0 ? static_cast<uint64_t>(s.n_tensors) : s.tensors.size());
  out.u64(s.n_kv >= 0 ? static_cast<uint64_t>(s.n_kv) : s.kvs.size());
  for (const Bytes& kv : s.kvs) out.append(kv);
  for (const TensorSpec& t : s.tensors) {
    out.str(t.name).u32(static_cast<uint32_t>(t.ne.size()));
    for (uint64_t d : t.ne) out.u64(d);
    out.u32(t.type).u64(t.offset);
  }
  while (out.b.size() % s.alignment) out.u8(0);
  for (uint64_t i = 0; i < s.data_bytes; ++i) out.u8(static_cast<uint8_t>(i));
  return out.b;
}

// The message of the axe::Error that reading `bytes` gives ("" when it reads).
std::string error_of(const TempDir& dir, const std::vector<char>& bytes, axe_status* status = nullptr) {
  const std::string path = dir.write("t.gguf", bytes);
  try {
    GgufFile f(path, Mode::kMap);
  } catch (const axe::Error& e) {
    if (status) *status = e.status();
    return e.what();
  }
  return "";
}

// Reading `s` fails with AXE_ERR_FORMAT, one line naming the file and containing `what`.
void check_bad(const TempDir& dir, const Spec& s, const std::string& what) {
  axe_status st = AXE_OK;
  const std::string msg = error_of(dir, build(s), &st);
  INFO("expected: " << what << "\ngot: " << msg);
  CHECK(st == AXE_ERR_FORMAT);
  CHECK(msg.find(dir.file("t.gguf") + ": ") == 0);
  CHECK(msg.find(what) != std::string::npos);
  CHECK(msg.find('\n') == std::string::npos);
}

// A file descriptor for rewriting a temporary file in place.
struct Fd {
  int fd;
  explicit Fd(const std::string& path) : fd(::open(path.c_str(), O_RDWR)) { REQUIRE(fd >= 0); }
  ~Fd() { ::close(fd); }
};

}  // namespace

// ---------------------------------------------------------------------------
// Files written by llama.cpp

TEST_CASE("gguf reads llama.cpp's vocab-only spm file") {
  const std::string path = test_paths::shared("data/tokenizer-tests/ggml-vocab-llama-spm.gguf");
  const auto t0 = std::chrono::steady_clock::now();
  GgufFile f(path, Mode::kMap);
  const double t = seconds_since(t0);
  MESSAGE("ggml-vocab-llama-spm.gguf (32000 tokens, 724 KB) parsed in " << t * 1e3 << " ms");
  CHECK(f.version() == 3);
  CHECK(f.tensors().empty());
  CHECK(f.alignment() == 32);
  CHECK(f.metadata().size() == 22);
  CHECK(f.metadata()[0].first == "general.architecture");
  CHECK(f.get_string("general.architecture") == "llama");
  CHECK(f.get_string("tokenizer.ggml.model") == "llama");
  CHECK(f.get_string("tokenizer.ggml.pre") == "default");
  CHECK(f.get_uint("llama.vocab_size") == 32000);
  CHECK(f.get_uint("llama.context_length") == 4096);
  CHECK(f.get_float("llama.attention.layer_norm_rms_epsilon") == doctest::Approx(1e-5));
  CHECK(f.get_uint("tokenizer.ggml.bos_token_id") == 1);
  CHECK(f.get_uint("tokenizer.ggml.eos_token_id") == 2);
  CHECK(f.get_bool("tokenizer.ggml.add_bos_token"));
  CHECK_FALSE(f.get_bool("tokenizer.ggml.add_eos_token"));
  const auto& tokens = f.get_string_array("tokenizer.ggml.tokens");
  REQUIRE(tokens.size() == 32000);
  CHECK(tokens[0] == "<unk>");
  CHECK(tokens[1] == "<s>");
  CHECK(tokens[2] == "</s>");
  CHECK(tokens[3] == "<0x00>");
  CHECK(tokens[29871] == "\xe2\x96\x81");  // U+2581, SentencePiece's space
  CHECK(tokens[31999] == "\xe7\xbb\x99");  // U+7ED9
  const auto scores = f.get_float_array("tokenizer.ggml.scores");
  REQUIRE(scores.size() == 32000);
  CHECK(scores[0] == 0.0f);
  CHECK(scores[259] == -1e9f);
  CHECK(scores[31999] == -31740.0f);
  const auto types = f.get_int_array("tokenizer.ggml.token_type");
  REQUIRE(types.size() == 32000);
  CHECK(types[0] == 2);  // unknown
  CHECK(types[1] == 3);  // control
  CHECK(types[3] == 6);  // byte
  CHECK(types[259] == 1);  // normal
  CHECK_FALSE(f.has("tokenizer.ggml.merges"));
  CHECK(f.find("tokenizer.ggml.merges") == nullptr);
  CHECK(f.find("tokenizer.ggml.tokens")->type_name() == "arr[str]");
}

TEST_CASE("gguf reads llama.cpp's vocab-only bpe file with 128256 tokens and 280147 merges") {
  const std::string path = test_paths::shared("data/tokenizer-tests/ggml-vocab-llama-bpe.gguf");
  const auto t0 = std::chrono::steady_clock::now();
  GgufFile f(path, Mode::kMap);
  const double t = seconds_since(t0);
  MESSAGE("ggml-vocab-llama-bpe.gguf (128256 tokens + 280147 merges, 7.8 MB) parsed in " << t * 1e3 << " ms");
  CHECK(f.version() == 3);
  CHECK(f.tensors().empty());
  CHECK(f.get_string("tokenizer.ggml.model") == "gpt2");
  CHECK(f.get_string("tokenizer.ggml.pre") == "llama-bpe");
  CHECK(f.get_uint("llama.vocab_size") == 128256);
  CHECK(f.get_float("llama.rope.freq_base") == 500000.0);
  CHECK(f.get_uint("llama.attention.head_count_kv") == 8);
  CHECK(f.get_int("tokenizer.ggml.bos_token_id") == 128000);
  CHECK(f.get_int("tokenizer.ggml.eos_token_id") == 128001);
  const auto& tokens = f.get_string_array("tokenizer.ggml.tokens");
  REQUIRE(tokens.size() == 128256);
  CHECK(tokens[0] == "!");
  CHECK(tokens[128000] == "<|begin_of_text|>");
  CHECK(tokens[128001] == "<|end_of_text|>");
  CHECK(tokens[128255] == "<|reserved_special_token_250|>");
  CHECK(tokens[1602] == "\xc4\x89\xc4\x8a");  // "ĉĊ"
  const auto& merges = f.get_string_array("tokenizer.ggml.merges");
  REQUIRE(merges.size() == 280147);
  CHECK(merges[0] == "\xc4\xa0 \xc4\xa0");  // "Ġ Ġ"
  CHECK(merges[280146] == "\xc3\xa9\xc4\xb6 \xc2\xa6");  // "éĶ ¦"
  const auto types = f.get_int_array("tokenizer.ggml.token_type");
  REQUIRE(types.size() == 128256);
  CHECK(types[0] == 1);
  CHECK(types[128000] == 3);
  CHECK_FALSE(f.has("tokenizer.ggml.scores"));
  CHECK_FALSE(f.find_float("tokenizer.ggml.scores").has_value());

  // The same through a private huge-page copy.
  GgufFile g(path, Mode::kHugePageCopy);
  CHECK(g.get_string_array("tokenizer.ggml.tokens") == tokens);
}

TEST_CASE("gguf reads a tiny llama model converted and quantized by llama.cpp") {
  const auto t0 = std::chrono::steady_clock::now();
  GgufFile f(fixture("tiny-mix.gguf"), Mode::kMap);
  MESSAGE("tiny-mix.gguf parsed in " << seconds_since(t0) * 1e3 << " ms");
  CHECK(f.version() == 3);
  CHECK(f.alignment() == 32);
  CHECK(f.data_offset() == 12672);
  CHECK(f.get_string("general.architecture") == "llama");
  CHECK(f.get_uint("llama.embedding_length") == 64);
  CHECK(f.get_uint("llama.feed_forward_length") == 172);
  CHECK(f.get_uint("llama.block_count") == 2);
  CHECK(f.get_uint("llama.attention.head_count") == 8);
  CHECK(f.get_uint("llama.attention.head_count_kv") == 4);
  CHECK(f.get_uint("llama.context_length") == 128);  // hard-coded by llama.cpp's llama2.c converter
  CHECK(f.get_uint("llama.rope.dimension_count") == 8);
  CHECK(f.get_uint("general.file_type") == 2);  // MOSTLY_Q4_0
  CHECK(f.get_uint("general.quantization_version") == 2);
  CHECK(f.get_uint("tokenizer.ggml.padding_token_id") == 0xFFFFFFFFu);
  CHECK(f.get_float("llama.attention.layer_norm_rms_epsilon") == doctest::Approx(1e-5));
  const auto& tokens = f.get_string_array("tokenizer.ggml.tokens");
  REQUIRE(tokens.size() == 512);
  CHECK(tokens[1] == "<s>");
  CHECK(tokens[3] == "<0x00>");
  CHECK(f.get_float_array("tokenizer.ggml.scores").size() == 512);

  REQUIRE(f.tensors().size() == 21);
  CHECK(f.tensors()[0].name == "output.weight");  // llama-quantize's order
  struct Expect {
    const char* name;
    GgmlType type;
    std::vector<uint64_t> ne;
  };
  const Expect expect[] = {
      {"token_embd.weight", GgmlType::Q4_0, {64, 512}},         {"output.weight", GgmlType::Q8_0, {64, 512}},
      {"output_norm.weight", GgmlType::F32, {64}},              {"blk.0.attn_q.weight", GgmlType::Q4_0, {64, 64}},
      {"blk.0.attn_k.weight", GgmlType::Q4_0, {64, 32}},        {"blk.0.attn_v.weight", GgmlType::Q4_0, {64, 32}},
      {"blk.0.attn_output.weight", GgmlType::Q4_0, {64, 64}},   {"blk.0.attn_norm.weight", GgmlType::F32, {64}},
      {"blk.0.ffn_gate.weight", GgmlType::Q4_0, {64, 172}},     {"blk.0.ffn_up.weight", GgmlType::Q4_0, {64, 172}},
      {"blk.0.ffn_down.weight", GgmlType::F16, {172, 64}},      {"blk.0.ffn_norm.weight", GgmlType::F32, {64}},
      {"blk.1.attn_q.weight", GgmlType::Q4_1, {64, 64}},        {"blk.1.attn_k.weight", GgmlType::Q5_0, {64, 32}},
      {"blk.1.attn_v.weight", GgmlType::Q5_1, {64, 32}},        {"blk.1.attn_output.weight", GgmlType::Q8_0, {64, 64}},
      {"blk.1.ffn_down.weight", GgmlType::F16, {172, 64}},
  };
  for (const Expect& e : expect) {
    CAPTURE(e.name);
    const GgufFile::Tensor* t = f.tensor(e.name);
    REQUIRE(t != nullptr);
    CHECK(t->type == e.type);
    CHECK(t->ne == e.ne);
    CHECK(t->bytes == t->n_elements() / axe::ggml_block_size(e.type) * axe::ggml_block_bytes(e.type));
    CHECK(t->data == f.tensors()[0].data + (t->offset - f.tensors()[0].offset));
  }
  const GgufFile::Tensor* emb = f.tensor("token_embd.weight");
  CHECK(emb->offset == 47744 - 12672);
  CHECK(emb->bytes == 18432);
  CHECK(emb->n_rows() == 512);
  CHECK(emb->row_elements() == 64);
  CHECK(emb->shape_string() == "[64, 512]");
  CHECK(f.tensor("blk.2.attn_q.weight") == nullptr);
  CHECK(std::string(axe::ggml_type_name(f.tensor("blk.1.attn_v.weight")->type)) == "Q5_1");

  GgufFile k(fixture("kq-mix.gguf"), Mode::kHugePageCopy);
  CHECK(k.get_uint("general.file_type") == 15);  // MOSTLY_Q4_K_M
  CHECK(k.get_uint("llama.embedding_length") == 256);
  REQUIRE(k.tensors().size() == 12);
  CHECK(k.tensor("blk.0.attn_q.weight")->type == GgmlType::Q2_K);
  CHECK(k.tensor("blk.0.attn_k.weight")->type == GgmlType::Q3_K);
  CHECK(k.tensor("blk.0.ffn_up.weight")->type == GgmlType::Q4_K);
  CHECK(k.tensor("blk.0.attn_v.weight")->type == GgmlType::Q5_K);
  CHECK(k.tensor("blk.0.attn_output.weight")->type == GgmlType::Q6_K);
  CHECK(k.tensor("blk.0.ffn_down.weight")->type == GgmlType::Q8_0);  // 32 columns: llama-quantize's fallback
  CHECK(k.tensor("blk.0.attn_q.weight")->ne == std::vector<uint64_t>{256, 256});
}

TEST_CASE("gguf version 2 reads as version 3") {
  TempDir dir;
  std::vector<char> bytes = read_bytes(fixture("kq-mix.gguf"));
  bytes[4] = 2;
  const std::string path = dir.write("v2.gguf", bytes);
  GgufFile v2(path, Mode::kMap), v3(fixture("kq-mix.gguf"), Mode::kMap);
  CHECK(v2.version() == 2);
  REQUIRE(v2.tensors().size() == v3.tensors().size());
  for (size_t i = 0; i < v2.tensors().size(); ++i) {
    CHECK(v2.tensors()[i].name == v3.tensors()[i].name);
    CHECK(std::memcmp(v2.tensors()[i].data, v3.tensors()[i].data, v3.tensors()[i].bytes) == 0);
  }
}

// ---------------------------------------------------------------------------
// Dequantization against gguf-py

TEST_CASE("gguf type sizes match gguf-py") {
  std::ifstream in(fixture("goldens.txt"));
  REQUIRE(in.good());
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string kind, name;
    uint32_t number = 0;
    size_t block = 0, bytes = 0;
    if (!(s >> kind) || kind != "type") continue;
    s >> name >> number >> block >> bytes;
    CAPTURE(name);
    const auto t = static_cast<GgmlType>(number);
    CHECK(std::string(axe::ggml_type_name(t)) == name);
    CHECK(axe::ggml_block_size(t) == block);
    CHECK(axe::ggml_block_bytes(t) == bytes);
    ++n;
  }
  CHECK(n == 35);  // every type gguf-py knows
  for (uint32_t gap : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 43u, 99u, 0xFFFFFFFFu}) {
    const auto t = static_cast<GgmlType>(gap);
    CHECK(axe::ggml_block_size(t) == 0);
    CHECK(axe::ggml_block_bytes(t) == 0);
    CHECK_FALSE(axe::ggml_can_dequantize(t));
    CHECK(std::string(axe::ggml_type_name(t)) == "type " + std::to_string(gap));
  }
}

TEST_CASE("gguf dequantizes llama.cpp-quantized tensors exactly as gguf-py") {
  std::ifstream in(fixture("goldens.txt"));
  REQUIRE(in.good());
  std::map<std::string, std::unique_ptr<GgufFile>> files;
  std::map<std::string, int> per_type;
  int n = 0;
  for (std::string line; std::getline(in, line);) {
    std::istringstream s(line);
    std::string kind, file, name, type;
    uint64_t count = 0;
    std::string hash;
    if (!(s >> kind) || kind != "tensor") continue;
    s >> file >> name >> type >> count >> hash;
    CAPTURE(file);
    CAPTURE(name);
    auto& f = files[file];
    if (!f) f = std::make_unique<GgufFile>(fixture(file), Mode::kMap);
    const GgufFile::Tensor* t = f->tensor(name);
    REQUIRE(t != nullptr);
    CHECK(axe::ggml_type_name(t->type) == type);
    REQUIRE(t->n_elements() == count);
    REQUIRE(axe::ggml_can_dequantize(t->type));
    const std::vector<float> y = dequantize(*t);
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(fnv1a64(y.data(), y.size() * 4)));
    CHECK(hex == hash);
    for (std::string sample; s >> sample;) {
      const size_t colon = sample.find(':');
      const size_t i = std::stoull(sample.substr(0, colon));
      const uint32_t want = static_cast<uint32_t>(std::stoul(sample.substr(colon + 1), nullptr, 16));
      CAPTURE(i);
      CHECK(bits_of(y[i]) == want);
    }
    ++per_type[type];
    ++n;
  }
  CHECK(n == 33);
  std::string types;
  for (const auto& [t, c] : per_type) types += " " + t + "×" + std::to_string(c);
  MESSAGE("tensors of llama.cpp fixtures bit-identical to gguf-py:" << types);
  for (const char* t : {"F32", "F16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"})
    CHECK(per_type.count(t) == 1);
}

TEST_CASE("gguf dequantizes random blocks exactly as gguf-py even with NaN and infinite scales") {
  GgufFile f(fixture("random-blocks.gguf"), Mode::kMap);
  CHECK(f.alignment() == 64);  // written by gguf-py with add_custom_alignment(64)
  CHECK(f.data_offset() % 64 == 0);
  int types = 0;
  for (const GgufFile::Tensor& t : f.tensors()) {
    if (t.name.size() > 9 && t.name.substr(t.name.size() - 9) == ".expected") continue;
    CAPTURE(t.name);
    CHECK(t.name == axe::ggml_type_name(t.type));
    CHECK(t.offset % 64 == 0);
    const GgufFile::Tensor* e = f.tensor(t.name + ".expected");
    REQUIRE(e != nullptr);
    REQUIRE(e->type == GgmlType::F32);
    REQUIRE(e->n_elements() == t.n_elements());
    const std::vector<float> y = dequantize(t);
    std::vector<float> want(e->n_elements());
    std::memcpy(want.data(), e->data, e->bytes);
    size_t same = 0, nan = 0, inf = 0, first_difference = y.size();
    for (size_t i = 0; i < y.size(); ++i) {
      // NaN payloads may differ (numpy and the CPU choose them); anything else is bit-exact.
      if (std::isnan(want[i]) && std::isnan(y[i])) {
        ++nan;
        ++same;
      } else if (bits_of(want[i]) == bits_of(y[i])) {
        inf += std::isinf(y[i]);
        ++same;
      } else if (first_difference == y.size()) {
        first_difference = i;
      }
    }
    INFO("first difference at " << first_difference << ": " << (first_difference < y.size() ? y[first_difference] : 0)
                                << " vs gguf-py " << (first_difference < y.size() ? want[first_difference] : 0));
    CHECK(same == y.size());
    if (t.type != GgmlType::F32) {
      CHECK(nan > 0);  // the special scales were there
      CHECK(inf > 0);
    }
    ++types;
  }
  CHECK(types == 16);

  // Any alignment of the source and any multiple of the block: same result.
  const GgufFile::Tensor* q = f.tensor("Q5_K");
  std::vector<uint8_t> shifted(q->bytes + 1);
  std::memcpy(shifted.data() + 1, q->data, q->bytes);
  std::vector<float> a(256), b(256);
  axe::ggml_dequantize(GgmlType::Q5_K, shifted.data() + 1 + 176 * 3, 256, a.data());
  axe::ggml_dequantize(GgmlType::Q5_K, q->data + 176 * 3, 256, b.data());
  CHECK(std::memcmp(a.data(), b.data(), 1024) == 0);
  axe::ggml_dequantize(GgmlType::Q5_K, q->data, 0, nullptr);  // nothing to do
}

TEST_CASE("gguf dequantization refuses types it cannot do and partial blocks") {
  std::vector<uint8_t> src(1024);
  std::vector<float> out(256);
  for (GgmlType t : {GgmlType::IQ2_XXS, GgmlType::Q8_1, GgmlType::TQ1_0, GgmlType::I32, static_cast<GgmlType>(77)}) {
    CAPTURE(axe::ggml_type_name(t));
    CHECK_FALSE(axe::ggml_can_dequantize(t));
    try {
      axe::ggml_dequantize(t, src.data(), 256, out.data());
      CHECK(false);
    } catch (const axe::Error& e) {
      CHECK(e.status() == AXE_ERR_UNSUPPORTED);
      CHECK(std::string(e.what()).find(axe::ggml_type_name(t)) != std::string::npos);
    }
  }
  try {
    axe::ggml_dequantize(GgmlType::Q4_K, src.data(), 128, out.data());
    CHECK(false);
  } catch (const axe::Error& e) {
    CHECK(e.status() == AXE_ERR_INVALID_ARGUMENT);
    CHECK(std::string(e.what()) == "dequantizing Q4_K: 128 elements is not a multiple of the block size 256");
  }
  for (GgmlType t : {GgmlType::F32, GgmlType::F16, GgmlType::BF16, GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0,
                     GgmlType::Q5_1, GgmlType::Q8_0, GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K,
                     GgmlType::Q6_K, GgmlType::Q8_K, GgmlType::IQ4_NL, GgmlType::IQ4_XS})
    CHECK(axe::ggml_can_dequantize(t));
}

TEST_CASE("gguf half and bfloat16 conversions are exact for all 65536 patterns") {
  std::vector<uint16_t> all(65536);
  for (uint32_t i = 0; i < 65536; ++i) all[i] = static_cast<uint16_t>(i);
  std::vector<float> h(65536), b(65536);
  axe::ggml_dequantize(GgmlType::F16, reinterpret_cast<const uint8_t*>(all.data()), 65536, h.data());
  axe::ggml_dequantize(GgmlType::BF16, reinterpret_cast<const uint8_t*>(all.data()), 65536, b.data());
  for (uint32_t i = 0; i < 65536; ++i) {
    CAPTURE(i);
    const uint32_t sign = i >> 15, exp = (i >> 10) & 31, man = i & 1023;
    if (exp == 31) {
      if (man) REQUIRE(std::isnan(h[i]));
      else REQUIRE(std::isinf(h[i]));
    } else {
      const double v = (exp ? std::ldexp(1024.0 + man, static_cast<int>(exp) - 25) : std::ldexp(man, -24));
      REQUIRE(static_cast<double>(h[i]) == (sign ? -v : v));
      REQUIRE(std::signbit(h[i]) == (sign != 0));
    }
    REQUIRE(bits_of(b[i]) == i << 16);
  }
}

// ---------------------------------------------------------------------------
// Metadata getters

TEST_CASE("gguf metadata getters check kinds and ranges") {
  const std::string path = fixture("random-blocks.gguf");
  GgufFile f(path, Mode::kMap);
  CHECK(f.get_uint("test.u8") == 200);
  CHECK(f.get_int("test.u8") == 200);
  CHECK(f.get_int("test.i8") == -100);
  CHECK(f.get_uint("test.u16") == 60000);
  CHECK(f.get_int("test.i16") == -30000);
  CHECK(f.get_uint("test.u32") == 4000000000u);
  CHECK(f.get_int("test.i32") == -2000000000);
  CHECK(f.get_uint("test.u64") == (uint64_t{1} << 63) + 5);
  CHECK(f.get_int("test.i64") == -(int64_t{1} << 62));
  CHECK(f.get_float("test.f32") == static_cast<double>(0.1f));
  CHECK(f.get_float("test.f64") == 0.1);
  CHECK(f.get_bool("test.bool"));
  CHECK(f.get_string("test.string") == "h\xc3\xa9llo");
  CHECK(f.get_string("test.empty_string").empty());
  CHECK(f.get_string_array("test.arr_str") == std::vector<std::string>{"a", "", "\xc3\xbc"});
  CHECK(f.get_float_array("test.arr_f32") == std::vector<float>{1.5f, -2.25f});
  const auto f64 = f.get_float_array("test.arr_f64");
  CHECK(f64[0] == 0.5f);
  CHECK(std::isinf(f64[1]));  // 1e300 as a float
  CHECK(f.get_int_array("test.arr_i32") == std::vector<int64_t>{1, -2, 3});
  CHECK(f.get_int_array("test.arr_u8") == std::vector<int64_t>{0, 255});
  const GgufValue* b = f.find("test.arr_bool");
  REQUIRE(b != nullptr);
  CHECK(b->type_name() == "arr[bool]");
  CHECK(b->count == 3);
  CHECK(b->number_at(0) == 1);
  CHECK(b->number_at(1) == 0);
  const GgufValue* u64 = f.find("test.arr_u64");
  CHECK(u64->uint_at(1) == UINT64_MAX);
  CHECK_FALSE(u64->int_at(1).has_value());
  CHECK(u64->int_at(0) == 1);
  const GgufValue* nested = f.find("test.nested");
  REQUIRE(nested != nullptr);
  CHECK(nested->type_name() == "arr[arr[i32]]");
  REQUIRE(nested->items.size() == 2);
  CHECK(nested->items[0].count == 2);
  CHECK(nested->items[0].int_at(1) == 2);
  CHECK(nested->items[1].int_at(0) == 3);
  const GgufValue* nested_str = f.find("test.nested_str");
  REQUIRE(nested_str->items.size() == 2);
  CHECK(nested_str->items[1].strings == std::vector<std::string>{"y", "z"});

  CHECK(f.find_uint("test.u32") == 4000000000u);
  CHECK_FALSE(f.find_uint("test.absent").has_value());
  CHECK_FALSE(f.find_int("test.absent").has_value());
  CHECK_FALSE(f.find_bool("test.absent").has_value());
  CHECK_FALSE(f.find_string("test.absent").has_value());
  CHECK(f.find_string("test.string") == "h\xc3\xa9llo");

  auto error = [&](auto&& fn) -> std::string {
    try {
      fn();
    } catch (const axe::Error& e) {
      CHECK(e.status() == AXE_ERR_FORMAT);
      return e.what();
    }
    return "no error";
  };
  const std::string p = path + ": metadata ";
  CHECK(error([&] { f.get_uint("test.absent"); }) == p + "'test.absent' is missing");
  CHECK(error([&] { f.get_string("test.absent"); }) == p + "'test.absent' is missing");
  CHECK(error([&] { f.get_uint("test.string"); }) == p + "'test.string' is str, expected an integer");
  CHECK(error([&] { f.get_uint("test.bool"); }) == p + "'test.bool' is bool, expected an integer");
  CHECK(error([&] { f.get_uint("test.i8"); }) == p + "'test.i8' = -100 is negative");
  CHECK(error([&] { f.get_int("test.u64"); }) == p + "'test.u64' = 9223372036854775813 does not fit in an int64");
  CHECK(error([&] { f.get_float("test.u32"); }) == p + "'test.u32' is u32, expected f32 or f64");
  CHECK(error([&] { f.get_bool("test.u8"); }) == p + "'test.u8' is u8, expected bool");
  CHECK(error([&] { f.get_string("test.arr_str"); }) == p + "'test.arr_str' is arr[str], expected str");
  CHECK(error([&] { f.get_string_array("test.arr_i32"); }) == p + "'test.arr_i32' is arr[i32], expected arr[str]");
  CHECK(error([&] { f.get_float_array("test.arr_i32"); }) ==
        p + "'test.arr_i32' is arr[i32], expected arr[f32] or arr[f64]");
  CHECK(error([&] { f.get_int_array("test.arr_f32"); }) ==
        p + "'test.arr_f32' is arr[f32], expected an array of integers");
  CHECK(error([&] { f.get_int_array("test.arr_u64"); }) ==
        p + "'test.arr_u64' element 1 = 18446744073709551615 does not fit in an int64");
  CHECK(error([&] { f.find_uint("test.string"); }) == p + "'test.string' is str, expected an integer");
}

// ---------------------------------------------------------------------------
// Hostile files

TEST_CASE("gguf built headers read when valid") {
  TempDir dir;
  Spec s;
  const std::string path = dir.write("t.gguf", build(s));
  GgufFile f(path, Mode::kMap);
  REQUIRE(f.tensors().size() == 2);
  CHECK(f.data_offset() % 32 == 0);
  CHECK(f.tensor("b.weight")->bytes == 68);
  CHECK(f.tensor("b.weight")->data[0] == 32);  // the data bytes count up from 0
  CHECK(f.get_uint("llama.block_count") == 1);

  // Version 2, no metadata, no tensors: nothing but the header.
  Spec empty;
  empty.version = 2;
  empty.kvs.clear();
  empty.tensors.clear();
  empty.data_bytes = 0;
  empty.alignment = 1;
  GgufFile e(dir.write("empty.gguf", build(empty)), Mode::kMap);
  CHECK(e.version() == 2);
  CHECK(e.metadata().empty());
  CHECK(e.data_offset() == 24);

  // Zero-size dimensions, no dimensions, tensors out of order, a 1-byte alignment.
  Spec odd;
  odd.kvs.push_back(kv_u32("general.alignment", 1));
  odd.tensors = {{"zero", {0, 7}, 8, 3}, {"scalar", {}, 0, 4}, {"late", {3}, 1, 8}, {"early", {2}, 1, 0}};
  odd.alignment = 1;
  odd.data_bytes = 14;
  GgufFile o(dir.write("odd.gguf", build(odd)), Mode::kMap);
  CHECK(o.alignment() == 1);
  CHECK(o.tensor("zero")->n_elements() == 0);
  CHECK(o.tensor("zero")->bytes == 0);
  CHECK(o.tensor("scalar")->n_elements() == 1);
  CHECK(o.tensor("scalar")->bytes == 4);
  CHECK(o.tensor("scalar")->shape_string() == "[]");
  CHECK(o.tensors()[3].name == "early");
}

TEST_CASE("gguf hostile headers are one-line errors naming the file") {
  TempDir dir;
  const uint64_t big = uint64_t{1} << 62;

  SUBCASE("empty file") { CHECK(error_of(dir, {}).find("not a GGUF file") != std::string::npos); }
  SUBCASE("bad magic") {
    Spec s;
    s.magic[3] = 'X';
    check_bad(dir, s, "not a GGUF file (no \"GGUF\" magic at offset 0)");
  }
  SUBCASE("version 1") {
    Spec s;
    s.version = 1;
    check_bad(dir, s, "GGUF version 1 is not supported (only versions 2 and 3 are) at offset 4");
  }
  SUBCASE("version 0 and 4") {
    Spec s;
    s.version = 0;
    check_bad(dir, s, "unsupported GGUF version 0");
    s.version = 4;
    check_bad(dir, s, "unsupported GGUF version 4");
  }
  SUBCASE("big-endian") {
    Spec s;
    s.version = 0x03000000;
    check_bad(dir, s, "looks byte-swapped: big-endian GGUF is not supported at offset 4");
  }
  SUBCASE("header cut short") {
    std::vector<char> b = build(Spec());
    b.resize(20);
    axe_status st = AXE_OK;
    const std::string msg = error_of(dir, b, &st);
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("truncated: the metadata count needs 8 bytes, the file has 4 left at offset 16") !=
          std::string::npos);
  }
  SUBCASE("counts larger than the file can hold") {
    Spec s;
    s.n_tensors = static_cast<int64_t>(big);
    check_bad(dir, s, "tensor count 4611686018427387904 is impossible in a file of");
    s.n_tensors = -1;
    s.n_kv = static_cast<int64_t>(big);
    check_bad(dir, s, "metadata count 4611686018427387904 is impossible");
    // Each entry needs 14 (metadata) or 25 (tensor) bytes: just too many for this file.
    const size_t size = build(Spec()).size();
    s.n_kv = static_cast<int64_t>((size - 24) / 14 + 1);
    check_bad(dir, s, "is impossible in a file of " + std::to_string(size) + " bytes");
    s.n_kv = -1;
    s.n_tensors = static_cast<int64_t>((size - 24) / 25 + 1);
    check_bad(dir, s, "tensor count");
  }
  SUBCASE("one metadata entry more than the file has") {
    Spec s;
    s.n_kv = 3;
    s.tensors.clear();
    s.data_bytes = 0;
    s.alignment = 1;
    check_bad(dir, s, "metadata entry 2: truncated: key needs 8 bytes");
  }
  SUBCASE("key lengths") {
    Spec s;
    s.kvs[1] = Bytes().u64(UINT64_MAX).u32(4).u32(1);
    check_bad(dir, s, "metadata entry 1: key length 18446744073709551615 exceeds the limit of 65535 at offset ");
    s.kvs[1] = Bytes().u64(60000).u32(4).u32(1);
    check_bad(dir, s, "metadata entry 1: key length 60000 exceeds the");
    s.kvs[1] = kv_u32(std::string(65536, 'k'), 1);
    check_bad(dir, s, "key length 65536 exceeds the limit of 65535");
    s.kvs[1] = kv_u32("", 1);
    check_bad(dir, s, "metadata entry 1: empty key at offset ");
  }
  SUBCASE("duplicate key") {
    Spec s;
    s.kvs.push_back(kv_u32("llama.block_count", 2));
    check_bad(dir, s, "metadata entry 2: duplicate key 'llama.block_count' at offset ");
  }
  SUBCASE("unknown value kinds") {
    Spec s;
    s.kvs[1] = Bytes().str("x").u32(13).u32(0);
    check_bad(dir, s, "metadata 'x': unknown value kind 13 at offset ");
    s.kvs[1] = Bytes().str("x").u32(9).u32(99).u64(1).u32(0);
    check_bad(dir, s, "metadata 'x': unknown array element kind 99");
  }
  SUBCASE("string lengths") {
    Spec s;
    s.kvs[0] = Bytes().str("general.architecture").u32(8).u64(UINT64_MAX - 3).raw("llama", 5);
    check_bad(dir, s, "metadata 'general.architecture': string length 18446744073709551612 exceeds the");
    s.kvs[0] = Bytes().str("a").u32(9).u32(8).u64(2).str("ok").u64(1000000);
    check_bad(dir, s, "metadata 'a': string in array length 1000000 exceeds the");
  }
  SUBCASE("array lengths are checked before allocating") {
    Spec s;
    s.kvs[1] = Bytes().str("a").u32(9).u32(4).u64(big).u32(1);  // 2^62 u32
    check_bad(dir, s, "metadata 'a': array of 4611686018427387904 u32 needs at least 4 bytes per element");
    s.kvs[1] = Bytes().str("a").u32(9).u32(8).u64(big).u32(1);  // 2^62 strings
    check_bad(dir, s, "array of 4611686018427387904 str needs at least 8 bytes per element");
    s.kvs[1] = Bytes().str("a").u32(9).u32(12).u64(UINT64_MAX).u32(1);  // 2^64-1 f64
    check_bad(dir, s, "array of 18446744073709551615 f64 needs at least 8 bytes");
    s.kvs[1] = Bytes().str("a").u32(9).u32(9).u64(big);  // 2^62 arrays
    check_bad(dir, s, "array of 4611686018427387904 arr needs at least 12 bytes");
    const size_t left = build(Spec()).size();  // more than the bytes left, by a little
    s.kvs[1] = Bytes().str("a").u32(9).u32(0).u64(left);
    check_bad(dir, s, "metadata 'a': array of " + std::to_string(left) + " u8 needs at least 1 bytes per element");
  }
  SUBCASE("arrays nest two deep at most") {
    Spec s;
    // [[1, 2]] is fine; [[[1]]] is not.
    s.kvs.push_back(Bytes().str("ok").u32(9).u32(9).u64(1).u32(5).u64(2).u32(1).u32(2));
    s.kvs.push_back(Bytes().str("deep").u32(9).u32(9).u64(1).u32(9).u64(1).u32(5).u64(1).u32(1));
    check_bad(dir, s, "metadata 'deep': arrays nest deeper than 2 at offset ");
  }
  SUBCASE("bools are 0 or 1") {
    Spec s;
    s.kvs[1] = Bytes().str("b").u32(7).u8(2);
    check_bad(dir, s, "metadata 'b': bool value 2 is neither 0 nor 1");
    s.kvs[1] = Bytes().str("b").u32(9).u32(7).u64(3).u8(1).u8(0).u8(255);
    check_bad(dir, s, "metadata 'b': bool element 2 is 255, neither 0 nor 1");
  }
  SUBCASE("general.alignment") {
    Spec s;
    s.kvs.push_back(kv_u64("general.alignment", 32));
    check_bad(dir, s, "metadata 'general.alignment' is u64, expected u32");
    s.kvs.back() = kv_u32("general.alignment", 0);
    check_bad(dir, s, "metadata 'general.alignment' = 0 is not a power of two");
    s.kvs.back() = kv_u32("general.alignment", 48);
    check_bad(dir, s, "metadata 'general.alignment' = 48 is not a power of two");
    s.kvs.back() = kv_u32("general.alignment", 1u << 31);  // valid, but the data section is not there
    check_bad(dir, s, "truncated: the data section would start at offset 2147483648");
  }
  SUBCASE("tensor names") {
    Spec s;
    s.tensors[1].name = "";
    check_bad(dir, s, "tensor 1: empty tensor name at offset ");
    s.tensors[1].name = std::string(65, 'n');
    check_bad(dir, s, "tensor 1: tensor name length 65 exceeds the limit of 64");
    s.tensors[1].name = "a";
    check_bad(dir, s, "tensor 1: duplicate tensor name 'a' at offset ");
    s.tensors[0].name = s.tensors[1].name = "two\nlines";
    check_bad(dir, s, "tensor 1: duplicate tensor name 'two\\x0alines' at offset ");
  }
  SUBCASE("dimensions") {
    Spec s;
    s.tensors[0].ne = {2, 2, 2, 1, 1};
    check_bad(dir, s, "tensor 'a': 5 dimensions, more than 4 at offset ");
    s.tensors[0].ne = {8, uint64_t{1} << 63};
    check_bad(dir, s, "tensor 'a': dimension 1 = 9223372036854775808 is negative as int64");
    s.tensors[0].ne = {uint64_t{1} << 32, uint64_t{1} << 32};
    check_bad(dir, s, "tensor 'a': shape [4294967296, 4294967296] has too many elements");
    s.tensors[0].ne = {uint64_t{1} << 31, uint64_t{1} << 31, 4};
    check_bad(dir, s, "has too many elements");
    s.tensors[0].ne = {big};  // 2^62 F32 = 2^64 bytes
    check_bad(dir, s, "tensor 'a': shape [4611686018427387904] of F32 has too many bytes");
  }
  SUBCASE("types") {
    Spec s;
    s.tensors[1].type = 99;
    check_bad(dir, s, "tensor 'b.weight': unknown ggml type 99 at offset ");
    s.tensors[1].type = 4;  // Q4_2, removed from ggml
    check_bad(dir, s, "unknown ggml type 4");
    s.tensors[1].type = 31;  // Q4_0_4_4, removed from GGUF
    check_bad(dir, s, "unknown ggml type 31");
    s.tensors[1].type = 8;
    s.tensors[1].ne = {48, 2};
    check_bad(dir, s, "tensor 'b.weight': row of 48 elements is not a multiple of the Q8_0 block size 32 at offset ");
    s.tensors[1].type = 12;  // Q4_K
    s.tensors[1].ne = {32, 2};
    check_bad(dir, s, "row of 32 elements is not a multiple of the Q4_K block size 256");
  }
  SUBCASE("data offsets") {
    Spec s;
    s.tensors[1].offset = 36;
    check_bad(dir, s, "tensor 'b.weight' (info at offset ");
    check_bad(dir, s, "): data offset 36 is not a multiple of the alignment 32");
    s.tensors[1].offset = 64;  // 64 + 68 > 100
    check_bad(dir, s, "its 68 bytes [32, 2] Q8_0 at data offset 64");
    check_bad(dir, s, "run past the end of the file");
    s.tensors[1].offset = UINT64_MAX - 31;  // aligned, and wraps around when added
    check_bad(dir, s, "run past the end of the file");
    s.tensors[1].offset = 0;
    check_bad(dir, s, "tensors 'a' and 'b.weight' overlap in the data section (at data offset 0)");
    s.tensors[1].offset = 32;
    s.tensors[0].ne = {9};  // 36 bytes: into b's
    check_bad(dir, s, "overlap");
  }
  SUBCASE("data section past the end") {
    Spec s;
    s.tensors = {{"zero", {0}, 0, 0}};
    s.alignment = 1;
    s.data_bytes = 0;
    check_bad(dir, s, "truncated: the data section would start at offset");
  }
  SUBCASE("more tensors than the file has") {
    Spec s;
    s.n_tensors = 3;
    check_bad(dir, s, "tensor 2: ");
  }
}

TEST_CASE("gguf every prefix of a llama.cpp file fails cleanly") {
  TempDir dir;
  const std::vector<char> whole = read_bytes(fixture("tiny-mix.gguf"));
  const std::string path = dir.write("cut.gguf", whole);
  uint64_t data_end = 0, data_offset = 0;
  {
    GgufFile f(path, Mode::kMap);
    data_offset = f.data_offset();
    for (const auto& t : f.tensors()) data_end = std::max(data_end, data_offset + t.offset + t.bytes);
  }
  // Every byte through the header and the first tensor data, then every 61st,
  // and every byte around the end of the last tensor's data (the file goes on
  // with padding: those prefixes hold every tensor and parse).
  Fd fd(path);
  const auto t0 = std::chrono::steady_clock::now();
  size_t tried = 0, wrong = 0, parsed = 0, complete = 0;
  for (uint64_t n = whole.size(); n-- > 0;) {
    if (n > data_offset + 256 && n % 61 != 0 && n + 3 < data_end) continue;
    complete += n >= data_end;
    REQUIRE(::ftruncate(fd.fd, static_cast<off_t>(n)) == 0);
    ++tried;
    try {
      GgufFile f(path, Mode::kMap);
      ++parsed;
      if (n < data_end) ++wrong;  // the last tensor's data cannot be complete
    } catch (const axe::Error& e) {
      const std::string msg = e.what();
      if (e.status() != AXE_ERR_FORMAT || msg.find(path + ": ") != 0 || msg.find('\n') != std::string::npos) {
        if (++wrong < 5) MESSAGE("prefix " << n << ": " << msg);
      }
    }
  }
  MESSAGE(tried << " prefixes of tiny-mix.gguf (every byte of the " << data_offset
                << "-byte header) read in " << seconds_since(t0) << " s; " << parsed << " parsed");
  CHECK(wrong == 0);
  CHECK(parsed == complete);
  CHECK(complete == whole.size() - data_end);
}

TEST_CASE("gguf random corruptions of a header never crash") {
  TempDir dir;
  const std::vector<char> whole = read_bytes(fixture("kq-mix.gguf"));
  const std::string path = dir.write("bad.gguf", whole);
  const size_t header = GgufFile(path, Mode::kMap).data_offset();
  Fd fd(path);
  std::mt19937_64 rng(12345);
  size_t errors = 0, parsed = 0, other = 0;
  const char interesting[] = {0, 1, 2, 4, 8, 9, 10, 12, 13, 31, 32, 63, 64, 127, -128, -1};
  for (int trial = 0; trial < 3000; ++trial) {
    std::vector<std::pair<size_t, char>> changed;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      const size_t at = rng() % header;
      const char v = (rng() & 1) ? interesting[rng() % sizeof interesting] : static_cast<char>(rng());
      changed.push_back({at, v});
      REQUIRE(::pwrite(fd.fd, &v, 1, static_cast<off_t>(at)) == 1);
    }
    try {
      GgufFile f(path, Mode::kMap);
      ++parsed;
      for (const auto& t : f.tensors())  // whatever parsed must be usable
        if (axe::ggml_can_dequantize(t.type) && t.n_elements() <= (1u << 20)) (void)dequantize(t);
    } catch (const axe::Error& e) {
      ++errors;
      const std::string msg = e.what();
      if (msg.find(path + ": ") != 0 || msg.find('\n') != std::string::npos) ++other;
    } catch (const std::exception& e) {
      ++other;
      MESSAGE("trial " << trial << ": " << e.what());
    }
    for (auto it = changed.rbegin(); it != changed.rend(); ++it)
      REQUIRE(::pwrite(fd.fd, &whole[it->first], 1, static_cast<off_t>(it->first)) == 1);
  }
  MESSAGE("3000 corrupted headers of kq-mix.gguf: " << errors << " errors, " << parsed << " still parsed");
  CHECK(other == 0);
  CHECK(errors > 0);
}
