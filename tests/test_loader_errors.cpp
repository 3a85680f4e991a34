// Hostile model files: every damaged input is an AXE_ERR_FORMAT/IO status
// with a message naming the file and the problem, never a crash. And the v1
// format loads to the same model as the legacy one.
#include <doctest/doctest.h>

#include <cstring>

#include "api_helpers.h"
#include "temp_dir.h"

namespace {

// Loads `path` with tok512 and returns the status and message.
std::pair<axe_status, std::string> try_load(const std::string& path, const std::string& tok = test_paths::tok512()) {
  axe_model_params p = axe_model_default_params();
  p.tokenizer_path = tok.c_str();
  axe_model* m = nullptr;
  const axe_status st = axe_model_load(path.c_str(), &p, &m);
  const std::string msg = axe_last_error();
  axe_model_free(m);
  if (st != AXE_OK) CHECK(m == nullptr);
  return {st, msg};
}

void set_int(std::vector<char>& b, size_t offset, int32_t v) { std::memcpy(b.data() + offset, &v, 4); }

}  // namespace

TEST_CASE("damaged llama2.c files are rejected with a clear message") {
  TempDir dir;
  const auto good = read_bytes(test_paths::stories260k());
  REQUIRE(good.size() > 1000);

  SUBCASE("missing file") {
    auto [st, msg] = try_load(dir.file("nope.bin"));
    CHECK(st == AXE_ERR_IO);
    CHECK(msg.find("nope.bin") != std::string::npos);
  }
  SUBCASE("truncated in the weights") {
    auto bytes = good;
    bytes.resize(bytes.size() - 1000);
    auto [st, msg] = try_load(dir.write("trunc.bin", bytes));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("trunc.bin") != std::string::npos);
    CHECK(msg.find("truncated") != std::string::npos);
  }
  SUBCASE("truncated in the header") {
    auto bytes = good;
    bytes.resize(10);
    CHECK(try_load(dir.write("short.bin", bytes)).first == AXE_ERR_FORMAT);
    bytes.clear();
    CHECK(try_load(dir.write("empty.bin", bytes)).first == AXE_ERR_FORMAT);
  }
  SUBCASE("heads that do not divide dim") {
    auto bytes = good;
    set_int(bytes, 12, 7);
    auto [st, msg] = try_load(dir.write("heads.bin", bytes));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("does not divide dim") != std::string::npos);
  }
  SUBCASE("kv heads that do not divide heads") {
    auto bytes = good;
    set_int(bytes, 16, 3);
    CHECK(try_load(dir.write("kv.bin", bytes)).first == AXE_ERR_FORMAT);
  }
  SUBCASE("negative and absurd sizes") {
    for (auto [off, v] : {std::pair{0, -64}, {4, 0}, {8, 1 << 30}, {24, -1}, {0, 1 << 16}}) {
      auto bytes = good;
      set_int(bytes, off, v);
      CAPTURE(off);
      CAPTURE(v);
      CHECK(try_load(dir.write("bad.bin", bytes)).first == AXE_ERR_FORMAT);
    }
  }
  SUBCASE("trailing bytes (header and size disagree)") {
    auto bytes = good;
    bytes.resize(bytes.size() + 64);
    auto [st, msg] = try_load(dir.write("long.bin", bytes));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("unexpected bytes") != std::string::npos);
  }
  SUBCASE("a separate classifier that is missing") {
    auto bytes = good;
    set_int(bytes, 20, -512);
    CHECK(try_load(dir.write("cls.bin", bytes)).first == AXE_ERR_FORMAT);
  }
  SUBCASE("the wrong tokenizer") {
    auto [st, msg] = try_load(test_paths::stories260k(), test_paths::llama2_tokenizer());
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("tokenizer.bin") != std::string::npos);
  }
  SUBCASE("no tokenizer beside the model") {
    axe_model_params p = axe_model_default_params();
    axe_model* m = nullptr;
    const std::string path = dir.write("alone.bin", good);
    CHECK(axe_model_load(path.c_str(), &p, &m) == AXE_ERR_IO);
    CHECK(std::string(axe_last_error()).find("--tokenizer") != std::string::npos);
  }
}

TEST_CASE("the v1 (ak42) format gives the same model as the legacy format") {
  // Re-pack the legacy file as v1: header, then norms, embedding, matrices.
  const auto legacy = read_bytes(test_paths::stories260k());
  int32_t h[7];
  std::memcpy(h, legacy.data(), sizeof h);
  const size_t D = h[0], H = h[1], L = h[2], NH = h[3], KVH = h[4], V = h[5], S = h[6];
  const size_t HD = D / NH, KV = HD * KVH;
  std::vector<std::pair<size_t, size_t>> t;  // (offset, floats) of each legacy tensor
  size_t off = 28;
  for (size_t n : {V * D, L * D, L * D * D, L * KV * D, L * KV * D, L * D * D, L * D, L * H * D, L * D * H, L * H * D, D}) {
    t.push_back({off, n});
    off += n * 4;
  }
  enum { emb, rms_att, wq, wk, wv, wo, rms_ffn, w1, w2, w3, rms_final };
  std::vector<char> v1(256, 0);
  const uint32_t magic = 0x616b3432;
  const int32_t version = 1;
  std::memcpy(v1.data(), &magic, 4);
  std::memcpy(v1.data() + 4, &version, 4);
  std::memcpy(v1.data() + 8, h, sizeof h);
  v1[36] = 1;  // shared classifier
  for (int i : {rms_att, rms_ffn, rms_final, emb, wq, wk, wv, wo, w1, w2, w3})
    v1.insert(v1.end(), legacy.begin() + t[i].first, legacy.begin() + t[i].first + t[i].second * 4);
  (void)S;
  TempDir dir;
  const std::string path = dir.write("v1.bin", v1);
  auto a = th::load(path, test_paths::tok512().c_str());
  auto b = th::load();
  auto ca = th::context(a.get(), nullptr, 1), cb = th::context(b.get(), nullptr, 1);
  CHECK(th::greedy(a.get(), ca.get(), "Tom", 30) == th::greedy(b.get(), cb.get(), "Tom", 30));

  auto bad = v1;
  bad[4] = 2;  // version 2
  auto [st, msg] = try_load(dir.write("v2.bin", bad));
  CHECK(st == AXE_ERR_FORMAT);
  CHECK(msg.find("version") != std::string::npos);
}
