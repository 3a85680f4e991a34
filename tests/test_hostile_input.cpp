// Hostile files and paths (docs/RELIABILITY.md): non-regular inputs are
// refused without blocking, outputs never replace what is not a regular
// file, .axe metadata is read strictly and identically by load and verify,
// formats are told apart by what files start with, resource requests are
// checked before allocation, and messages name what is wrong.
#include <doctest/doctest.h>
#include <sys/stat.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>

#include "api_helpers.h"
#include "models/formats/safetensors.h"
#include "temp_dir.h"

namespace {

std::pair<axe_status, std::string> load_status(const std::string& path) {
  axe_model_params p = axe_model_default_params();
  p.tokenizer_path = nullptr;
  axe_model* m = nullptr;
  const axe_status st = axe_model_load(path.c_str(), &p, &m);
  const std::string msg = axe_last_error();
  axe_model_free(m);
  return {st, msg};
}

std::pair<axe_status, std::string> verify_status(const std::string& path) {
  axe_verify_result r{};
  r.struct_size = sizeof r;
  const axe_status st = axe_verify(path.c_str(), &r);
  return {st, st == AXE_OK ? std::string() : std::string(axe_last_error())};
}

// A small valid .axe (W4A8 RTN under AXE at 16 bits).
std::string make_axe(const TempDir& dir) {
  auto m = th::load();
  axe_quantize_params p = axe_quantize_default_params();
  p.weight_bits = 4;
  p.axe = 1;
  p.inner_bits = 16;
  p.n_threads = 1;
  return th::quantize(m.get(), dir.file("good.axe"), p);
}

// Rewrites a .axe with one metadata value (a JSON document) changed by `edit`
// and, optionally, the tensor set changed.
std::string rewrite(const TempDir& dir, const std::string& src, const std::string& name, const std::string& key,
                    const std::function<void(nlohmann::json&)>& edit,
                    const std::function<bool(const std::string&)>& keep = nullptr) {
  const axe::SafetensorsFile f(src, axe::MappedFile::Mode::kMap);
  axe::SafetensorsWriter w;
  for (const auto& [n, t] : f.tensors())
    if (!keep || keep(n)) w.add(n, t.dtype, t.shape, t.data, t.bytes);
  for (const auto& [k, v] : f.metadata()) {
    if (k != key) {
      w.set_metadata(k, v);
      continue;
    }
    nlohmann::json j = nlohmann::json::parse(v);
    edit(j);
    w.set_metadata(k, j.dump());
  }
  const std::string out = dir.file(name);
  w.write(out);
  return out;
}

// Rewrites a .axe with the bytes of tensor `name` changed by `edit`.
std::string rewrite_tensor(const TempDir& dir, const std::string& src, const std::string& out_name,
                           const std::string& name, const std::function<void(std::vector<uint8_t>&)>& edit) {
  const axe::SafetensorsFile f(src, axe::MappedFile::Mode::kMap);
  axe::SafetensorsWriter w;
  for (const auto& [n, t] : f.tensors()) {
    std::vector<uint8_t> b(t.data, t.data + t.bytes);
    if (n == name) edit(b);
    w.add(n, t.dtype, t.shape, std::move(b));
  }
  for (const auto& [k, v] : f.metadata()) w.set_metadata(k, v);
  const std::string out = dir.file(out_name);
  w.write(out);
  return out;
}

// Both the loader and the verifier refuse the file, with `what` in the message.
void both_refuse(const std::string& path, const std::string& what) {
  CAPTURE(path);
  const auto [ls, lm] = load_status(path);
  const auto [vs, vm] = verify_status(path);
  CHECK(ls == AXE_ERR_FORMAT);
  CHECK(vs == AXE_ERR_FORMAT);
  CHECK_MESSAGE(lm.find(what) != std::string::npos, lm);
  CHECK_MESSAGE(vm.find(what) != std::string::npos, vm);
}

}  // namespace

TEST_CASE("inputs that are not regular files are refused at once") {
  TempDir dir;
  const std::string fifo = dir.file("fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto [st, msg] = load_status(fifo);  // would block in open() without O_NONBLOCK
  CHECK(st == AXE_ERR_IO);
  CHECK(msg.find("not a regular file (a FIFO)") != std::string::npos);
  CHECK(verify_status(fifo).first == AXE_ERR_IO);
  CHECK(load_status(dir.path.string()).second.find("a directory without config.json") != std::string::npos);
  CHECK(load_status("/dev/zero").second.find("a device") != std::string::npos);
  // A FIFO as the tokenizer.
  axe_model_params p = axe_model_default_params();
  p.tokenizer_path = fifo.c_str();
  axe_model* m = nullptr;
  CHECK(axe_model_load(test_paths::stories260k().c_str(), &p, &m) == AXE_ERR_IO);
}

TEST_CASE("an output that exists and is not a regular file is never replaced") {
  TempDir dir;
  auto m = th::load();
  axe_quantize_params p = axe_quantize_default_params();
  p.n_threads = 1;
  const std::string fifo = dir.file("out.fifo");
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  CHECK(axe_quantize(m.get(), fifo.c_str(), &p) == AXE_ERR_IO);
  CHECK(std::string(axe_model_last_error(m.get())).find("refusing to replace it") != std::string::npos);
  struct stat st {};
  REQUIRE(::lstat(fifo.c_str(), &st) == 0);
  CHECK(S_ISFIFO(st.st_mode));
  const std::string link = dir.file("link.axe");
  std::filesystem::create_symlink(dir.file("target.axe"), link);
  CHECK(axe_quantize(m.get(), link.c_str(), &p) == AXE_ERR_IO);
  CHECK(std::filesystem::is_symlink(link));
  CHECK(axe_quantize(m.get(), dir.file("no/such/folder/x.axe").c_str(), &p) == AXE_ERR_IO);
  const std::string msg = axe_model_last_error(m.get());
  CHECK(msg.find("no/such/folder/x.axe: cannot write: the folder") != std::string::npos);
  CHECK(msg.find(".tmp") == std::string::npos);
}

TEST_CASE(".axe metadata is read strictly, and load and verify refuse the same files") {
  TempDir dir;
  const std::string good = make_axe(dir);
  REQUIRE(load_status(good).first == AXE_OK);
  REQUIRE(verify_status(good).first == AXE_OK);
  using J = nlohmann::json;
  both_refuse(rewrite(dir, good, "frac.axe", "plan", [](J& j) { j["weight_bits"] = 4.5; }), "'weight_bits' is not an integer");
  both_refuse(rewrite(dir, good, "huge.axe", "config", [](J& j) { j["dim"] = 1e30; }), "'dim' is not an integer");
  both_refuse(rewrite(dir, good, "bool.axe", "config", [](J& j) { j["shared_classifier"] = 1; }), "is not true or false");
  both_refuse(rewrite(dir, good, "wrap.axe", "plan", [](J& j) { j["tile"] = (uint64_t{1} << 32) + 64; }), "'tile' is outside");
  both_refuse(rewrite(dir, good, "neg.axe", "plan", [](J& j) { j["tile"] = -1; }), "'tile' is outside");
  both_refuse(rewrite(dir, good, "unknown.axe", "plan", [](J& j) { j["rounding"] = "up"; }), "unknown field 'rounding'");
  both_refuse(rewrite(dir, good, "range.axe", "plan", [](J& j) { j["act_max"] = 127; }), "act_min/act_max");
  both_refuse(rewrite(dir, good, "lb.axe", "plan", [](J& j) { j["layer_bits"] = {{"layers.99.attention.wq", {{"weight_bits", 4}, {"act_bits", 8}}}}; }),
              "layer_bits names 'layers.99.attention.wq'");
  both_refuse(rewrite(dir, good, "fewer.axe", "config", [](J& j) { j["n_layers"] = j["n_layers"].get<int>() - 1; }),
              "unexpected tensor");
  both_refuse(rewrite(dir, good, "cert.axe", "certificate", [](J& j) { j = nullptr; }), "metadata 'certificate'");
  both_refuse(rewrite(dir, good, "missing.axe", "config", [](J&) {}, [](const std::string& n) { return n != "norm.weight"; }),
              "'norm.weight' is missing");
  // The rotation record of a rotated file.
  auto m = th::load();
  axe_quantize_params rp = axe_quantize_default_params();
  rp.n_threads = 1;
  rp.rotate = "hadamard";
  rp.rotate_seed = 5;
  const std::string rotated = th::quantize(m.get(), dir.file("rotated.axe"), rp);
  REQUIRE(load_status(rotated).first == AXE_OK);
  both_refuse(rewrite(dir, rotated, "kind.axe", "rotation", [](J& j) { j["kind"] = "givens"; }), "'kind' is not hadamard");
  both_refuse(rewrite(dir, rotated, "seedneg.axe", "rotation", [](J& j) { j["seed"] = -1; }), "'seed' is outside");
  both_refuse(rewrite(dir, rotated, "seedfrac.axe", "rotation", [](J& j) { j["seed"] = 1.5; }), "'seed' is not an integer");
  both_refuse(rewrite(dir, rotated, "noseed.axe", "rotation", [](J& j) { j.erase("seed"); }), "'seed' is missing");
  both_refuse(rewrite(dir, rotated, "blocks.axe", "rotation", [](J& j) { j["block"] = 64; }), "unknown field 'block'");
  both_refuse(rewrite(dir, rotated, "rotnull.axe", "rotation", [](J& j) { j = nullptr; }), "metadata 'rotation'");
  // A metadata value of 1 MB is not echoed whole.
  const std::string long_format = rewrite(dir, good, "long.axe", "config", [](J& j) { j[std::string(1 << 20, 'x')] = 1; });
  const auto [st, msg] = load_status(long_format);
  CHECK(st == AXE_ERR_FORMAT);
  CHECK(msg.size() < 400);
}

TEST_CASE("a quantized classifier and 8-bit embedding rows: damaged or inconsistent files are refused") {
  TempDir dir;
  const std::string good = make_axe(dir);  // the default: classifier codes, embedding rows
  {
    const axe::SafetensorsFile f(good, axe::MappedFile::Mode::kMap);
    REQUIRE(f.tensors().count("output.codes"));
    REQUIRE(f.tensors().count("tok_embeddings.codes"));
    REQUIRE(!f.tensors().count("tok_embeddings.weight"));
  }
  both_refuse(rewrite_tensor(dir, good, "m128.axe", "tok_embeddings.codes", [](std::vector<uint8_t>& b) { b[70] = 0x80; }),
              "tok_embeddings.codes: code -128 at row 1, column 6");
  both_refuse(rewrite_tensor(dir, good, "nanscale.axe", "tok_embeddings.scales",
                             [](std::vector<uint8_t>& b) {
                               const float nan = std::nanf("");
                               std::memcpy(b.data() + 4 * 3, &nan, 4);
                             }),
              "the scale of row 3 is not a finite number >= 0");
  // stories260K shares its classifier with the embedding: without the
  // classifier's own codes there is nothing to classify with.
  both_refuse(rewrite(dir, good, "nocls.axe", "config", [](nlohmann::json&) {},
                      [](const std::string& n) { return n != "output.codes" && n != "output.scales"; }),
              "needs the classifier's own codes ('output.codes')");
  // A classifier code outside its bits (W4 here: 4-bit nibbles, -8 is out).
  both_refuse(rewrite_tensor(dir, good, "clsrange.axe", "output.codes", [](std::vector<uint8_t>& b) { b[0] = 0x80; }),
              "output: code -8 at row 0, column 0");
}

TEST_CASE("damaged .axe headers: both refuse, and the message is about the .axe") {
  TempDir dir;
  const std::string good = make_axe(dir);
  const auto bytes = read_bytes(good);
  uint64_t len;
  std::memcpy(&len, bytes.data(), 8);
  SUBCASE("header length one short: every tensor shifted by a byte") {
    auto b = bytes;
    const uint64_t shorter = len - 1;
    std::memcpy(b.data(), &shorter, 8);
    both_refuse(dir.write("short.axe", b), "64-byte aligned");
  }
  SUBCASE("NUL padding instead of spaces") {
    auto b = bytes;
    REQUIRE(b[8 + len - 1] == ' ');
    b[8 + len - 1] = '\0';
    both_refuse(dir.write("nul.axe", b), "padded with spaces only");
  }
  SUBCASE("a UTF-8 byte order mark") {
    auto b = bytes;
    b[8] = '\xEF';
    b[9] = '\xBB';
    b[10] = '\xBF';
    both_refuse(dir.write("bom.axe", b), "padded with spaces only");
    // Named otherwise, it is still recognised as safetensors, not llama2.c.
    const auto [st, msg] = load_status(dir.write("bom.bin", b));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("inconsistent header") == std::string::npos);
  }
  SUBCASE("a header length beyond the file, named .bin") {
    auto b = bytes;
    const uint64_t huge = uint64_t{1} << 40;
    std::memcpy(b.data(), &huge, 8);
    const auto [st, msg] = load_status(dir.write("len.bin", b));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("safetensors header length") != std::string::npos);
  }
}

TEST_CASE("a context larger than allowed names where n_ctx came from") {
  auto m = th::load();
  axe_context_params p = axe_context_default_params();
  p.n_ctx = (1u << 20) + 1;
  axe_context* c = nullptr;
  CHECK(axe_context_create(m.get(), &p, &c) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(std::string(axe_last_error()).find("n_ctx (-c) 1048577") != std::string::npos);
  // The largest allowed context is mapped on demand: creating it is cheap.
  p.n_ctx = 1u << 20;
  REQUIRE(axe_context_create(m.get(), &p, &c) == AXE_OK);
  axe_context_free(c);
}
