// Quantization to .axe: the AXE constraint step, the file's round trip, its
// verification (and tampering), int16 and int32 kernels giving identical
// logits on a quantized stories260K, and atomic output.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>

#include "api_helpers.h"
#include "int8_helpers.h"
#include "quant/axe_constraint.h"
#include "quant/ep_init.h"
#include "quant/naive_bits.h"
#include "runtime/cpu_target.h"
#include "runtime/kernels/int8_kernels.h"
#include "temp_dir.h"

using namespace axe;

namespace {

std::string quantize(axe_model* m, const std::string& out, int wbits, bool axe_on, axe_tile_kind tiles, int tile,
                     int pi, int po = 32, bool sym = false, int output_bits = 0) {
  axe_quantize_params p = axe_quantize_default_params();
  p.output_bits = output_bits;
  p.weight_bits = wbits;
  p.axe = axe_on;
  p.tiles = tiles;
  p.tile = tile;
  p.inner_bits = pi;
  p.outer_bits = po;
  p.act_signed = sym;
  p.n_threads = 2;
  return th::quantize(m, out, p);
}

using th::eval_slice;
using th::ppl;

}  // namespace

TEST_CASE("l1 projection threshold") {
  CHECK(l1_projection_threshold({1, 2, 3}, 10) == 0.0);
  const std::vector<double> v{5, 1, 3, 0.5};
  const double theta = l1_projection_threshold(v, 4);
  double s = 0;
  for (double x : v) s += std::max(x - theta, 0.0);
  CHECK(s == doctest::Approx(4.0));
  CHECK(round_clamp(2.5, 7) == 2);  // half to even
  CHECK(round_clamp(-3.5, 7) == -4);
  CHECK(round_clamp(100, 7) == 7);
}

TEST_CASE("the AXE step keeps every tile and row inside the plan, and the budget binds") {
  std::mt19937 rng(5);
  std::normal_distribution<float> normal(0, 1);
  const size_t rows = 24, cols = 300;
  std::vector<float> w(rows * cols);
  for (auto& v : w) v = normal(rng);
  for (const AccumulationPlan& plan : {AccumulationPlan{TileKind::kLanes, 16, 12, 32},
                                       AccumulationPlan{TileKind::kContiguous, 64, 14, 16},
                                       AccumulationPlan{TileKind::kContiguous, 50, 13, 14}})
    for (bool sym : {false, true}) {
      CAPTURE(plan.describe());
      const ActivationRange xr = ActivationRange::of(8, sym);
      const int bits = 4;
      std::vector<float> scales(rows);
      for (size_t r = 0; r < rows; ++r) scales[r] = 3.0f / 7;  // ~3 sigma at the 4-bit limit
      AxeConstraint axe(plan, xr, bits, rows, cols);
      axe.set_soft_thresholds(w.data(), cols, scales.data());
      std::vector<int8_t> q(rows * cols), rtn(rows * cols);
      for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < cols; ++k) {
          q[r * cols + k] = static_cast<int8_t>(axe.quantize(r, k, w[r * cols + k], scales[r]));
          rtn[r * cols + k] = static_cast<int8_t>(round_clamp(w[r * cols + k] / scales[r], 7));
        }
      const PlanCheck c = check_plan(q.data(), rows, cols, cols, plan, xr);
      CHECK(c.ok());
      CHECK(c.worst_inner_use > 0.5);
      CHECK_FALSE(check_plan(rtn.data(), rows, cols, cols, plan, xr).ok());  // unconstrained breaks it
    }
}

TEST_CASE(".axe round trip: W8A8 RTN keeps stories260K's perplexity, W4A8 AXE verifies") {
  TempDir dir;
  auto m = th::load();
  const std::string text = eval_slice();
  const double base = ppl(m.get(), text);
  const std::string q8 = quantize(m.get(), dir.file("w8.axe"), 8, false, AXE_TILES_LANES, 16, 32);
  auto m8 = th::load(q8);
  axe_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(axe_model_get_info(m8.get(), &info) == AXE_OK);
  CHECK(std::string(info.description) == "llama 260K W8A8");
  CHECK(info.n_vocab == 512);
  const double p8 = ppl(m8.get(), text);
  CAPTURE(base);
  CAPTURE(p8);
  CHECK(p8 < base * 1.03);
  CHECK(p8 > base * 0.97);
  auto c8 = th::context(m8.get(), nullptr, 1);
  CHECK(th::greedy(m8.get(), c8.get(), "", 20).rfind("Once upon a time", 0) == 0);

  const std::string q4 = quantize(m.get(), dir.file("w4.axe"), 4, true, AXE_TILES_LANES, 16, 12);
  axe_verify_result r{};
  r.struct_size = sizeof r;
  REQUIRE(axe_verify(q4.c_str(), &r) == AXE_OK);
  CHECK(r.layers == 36);  // 7 per block and the classifier
  CHECK(r.inner_violations == 0);
  CHECK(r.outer_violations == 0);
  CHECK(r.worst_inner_use > 0.9);  // at P_I = 12 the budget binds
  CHECK(r.worst_inner_use <= 1.0);
  CHECK(r.certificate_matches == 1);
  CHECK(std::string(r.plan).find("lanes x16, P_I=12") != std::string::npos);
  // Where the budget never binds, AXE changes nothing: same codes as RTN
  // (W4A8 in 16-lane tiles, the classifier included, fits 16 bits).
  const std::string r16 = quantize(m.get(), dir.file("rtn16.axe"), 4, false, AXE_TILES_LANES, 16, 16, 32, false, 4);
  const std::string a16 = quantize(m.get(), dir.file("axe16.axe"), 4, true, AXE_TILES_LANES, 16, 16, 32, false, 4);
  auto mr = th::load(r16), ma = th::load(a16);
  CHECK(ppl(mr.get(), text) == ppl(ma.get(), text));

  // The same weights without AXE break a 12-bit plan; verify says so.
  const std::string q4u = quantize(m.get(), dir.file("w4u.axe"), 4, false, AXE_TILES_LANES, 16, 12);
  REQUIRE(axe_verify(q4u.c_str(), &r) == AXE_OK);
  CHECK(r.inner_violations > 0);
  CHECK(std::string(r.first_violation).find("layers.") == 0);
}

TEST_CASE("a quantized model gives identical logits through the int16 and int32 kernels") {
  TempDir dir;
  auto m = th::load();
  const std::string q = quantize(m.get(), dir.file("w4.axe"), 4, true, AXE_TILES_LANES, 16, 16);
  auto mq = th::load(q);
  const std::vector<axe_token> toks{1, 403, 407, 261, 378, 290, 41, 5, 88, 199, 300, 301};
  std::vector<float> reference;
  size_t compared = 0;
  for (const std::string& kernel : th::forceable_int8_kernels({TileKind::kLanes, 16, 16, 32})) {
    CAPTURE(kernel);
    setenv("AXE_INT8_KERNEL", kernel.c_str(), 1);
    const std::vector<float> logits = th::decode_logits(mq.get(), toks, 1);
    if (reference.empty()) reference = logits;
    else CHECK(logits == reference);
    ++compared;
  }
  unsetenv("AXE_INT8_KERNEL");
  CHECK(compared >= 2);
}

TEST_CASE("verify catches a tampered file, and damaged files are errors") {
  TempDir dir;
  auto m = th::load();
  const std::string q = quantize(m.get(), dir.file("w4.axe"), 4, true, AXE_TILES_LANES, 16, 12);
  auto bytes = read_bytes(q);
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  const auto header = nlohmann::json::parse(std::string(bytes.data() + 8, header_len));
  const auto off = header["layers.2.feed_forward.w1.codes"]["data_offsets"];
  const uint64_t begin = 8 + header_len + off[0].get<uint64_t>();
  for (size_t i = 0; i < 32; ++i) bytes[begin + i] = static_cast<char>(0xFF);  // codes +7, +7: row 0 over budget
  const std::string tampered = dir.write("tampered.axe", bytes);
  axe_verify_result r{};
  r.struct_size = sizeof r;
  REQUIRE(axe_verify(tampered.c_str(), &r) == AXE_OK);
  CHECK(r.inner_violations > 0);
  CHECK(std::string(r.first_violation).find("layers.2.feed_forward.w1 row 0") == 0);
  CHECK(r.certificate_matches == 0);

  auto truncated = read_bytes(q);
  truncated.resize(truncated.size() / 2);
  const std::string t = dir.write("truncated.axe", truncated);
  CHECK(axe_verify(t.c_str(), &r) == AXE_ERR_FORMAT);
  axe_model* mm = nullptr;
  CHECK(axe_model_load(t.c_str(), nullptr, &mm) == AXE_ERR_FORMAT);
  CHECK(std::string(axe_last_error()).find("truncated.axe") != std::string::npos);

  auto garbled = read_bytes(q);
  garbled[12] = '#';  // inside the JSON header
  CHECK(axe_verify(dir.write("garbled.axe", garbled).c_str(), &r) == AXE_ERR_FORMAT);

  // A version this build does not know: verify is no more lenient than the loader.
  auto future = read_bytes(q);
  const std::string v1 = "\"version\":\"1\"";
  const size_t at = std::string(future.data() + 8, header_len).find(v1);
  REQUIRE(at != std::string::npos);
  future[8 + at + v1.size() - 2] = '2';
  const std::string fv = dir.write("future.axe", future);
  CHECK(axe_verify(fv.c_str(), &r) == AXE_ERR_FORMAT);
  CHECK(std::string(axe_last_error()).find("unsupported .axe version 2") != std::string::npos);
  CHECK(axe_model_load(fv.c_str(), nullptr, &mm) == AXE_ERR_FORMAT);
  CHECK(std::string(axe_last_error()).find("unsupported .axe version 2") != std::string::npos);
}

TEST_CASE("the quantizer's SIMD target: named targets are deterministic, auto is the best one whatever AXE_TARGET says, unknown is an error") {
  TempDir dir;
  auto m = th::load();
  const std::string calib = eval_slice();
  auto run = [&](const char* target, const std::string& name) {
    axe_quantize_params p = axe_quantize_default_params();
    p.algo = "gpfq";
    p.weight_bits = 4;
    p.axe = 1;
    p.inner_bits = 16;
    p.calib_text = calib.data();
    p.calib_text_len = calib.size();
    p.calib_samples = 4;
    p.calib_len = 64;
    p.n_threads = 2;
    p.target = target;
    const std::string out = dir.file(name);
    const axe_status st = axe_quantize(m.get(), out.c_str(), &p);
    return st == AXE_OK ? read_bytes(out) : std::vector<char>{};
  };
  const auto best = run(nullptr, "auto.axe");
  REQUIRE_FALSE(best.empty());
  CHECK(run(target_name(supported_targets().back()), "best.axe") == best);
  // The environment's AXE_TARGET is for contexts: it does not change a quantized file.
  setenv("AXE_TARGET", "scalar", 1);
  CHECK(run(nullptr, "env.axe") == best);
  unsetenv("AXE_TARGET");
  const auto scalar = run("scalar", "scalar1.axe");
  REQUIRE_FALSE(scalar.empty());
  CHECK(run("scalar", "scalar2.axe") == scalar);
  CHECK(run("avx9000", "bad.axe").empty());
  CHECK(std::string(axe_model_last_error(m.get())).find("avx9000") != std::string::npos);
  CHECK_FALSE(std::filesystem::exists(dir.file("bad.axe")));
}

TEST_CASE("quantize writes atomically: failures and aborts leave no file") {
  TempDir dir;
  auto m = th::load();
  axe_quantize_params p = axe_quantize_default_params();
  p.n_threads = 1;
  CHECK(axe_quantize(m.get(), dir.file("no/such/dir/out.axe").c_str(), &p) == AXE_ERR_IO);
  p.progress = [](float done, void*) { return done < 0.5f ? 1 : 0; };
  const std::string out = dir.file("aborted.axe");
  CHECK(axe_quantize(m.get(), out.c_str(), &p) == AXE_ERR_ABORTED);
  CHECK_FALSE(std::filesystem::exists(out));
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) CHECK(e.path().filename().string().find(".tmp") == std::string::npos);
  p.progress = nullptr;
  p.algo = "optq";  // without calibration text
  CHECK(axe_quantize(m.get(), out.c_str(), &p) == AXE_ERR_INVALID_ARGUMENT);
  p.algo = "gpfq";
  CHECK(axe_quantize(m.get(), out.c_str(), &p) == AXE_ERR_INVALID_ARGUMENT);
  p.algo = "rtn";
  p.inner_bits = 40;
  CHECK(axe_quantize(m.get(), out.c_str(), &p) == AXE_ERR_INVALID_ARGUMENT);
  CHECK_FALSE(std::filesystem::exists(out));
}

TEST_CASE("acc-sim: an AXE model is bit-identical on its narrow datapath, an unconstrained one overflows") {
  TempDir dir;
  auto m = th::load();
  const std::string axe13 = quantize(m.get(), dir.file("axe13.axe"), 4, true, AXE_TILES_LANES, 16, 13);
  const std::string raw13 = quantize(m.get(), dir.file("raw13.axe"), 4, false, AXE_TILES_LANES, 16, 13);
  const std::vector<axe_token> toks{1, 403, 407, 261, 378, 290, 41, 5, 88, 199, 300, 301, 12, 99, 250, 7};
  std::vector<int32_t> pos(toks.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
  std::vector<int8_t> want(toks.size(), 1);
  auto logits = [&](axe_model* model, int32_t sim_bits, size_t* overflow_steps) {
    axe_context_params p = axe_context_default_params();
    p.n_threads = 2;
    p.acc_sim_inner_bits = sim_bits;
    axe_context* c = nullptr;
    INFO(axe_last_error());
    REQUIRE(axe_context_create(model, &p, &c) == AXE_OK);
    th::Context ctx(c);
    REQUIRE(axe_decode(c, toks.data(), pos.data(), toks.size(), want.data()) == AXE_OK);
    std::vector<float> out;
    for (size_t i = 0; i < toks.size(); ++i) {
      const float* l = axe_get_logits(c, static_cast<int32_t>(i));
      out.insert(out.end(), l, l + 512);
    }
    size_t n = 0;
    if (overflow_steps) {
      REQUIRE(axe_context_overflows(c, nullptr, 0, &n) == AXE_ERR_BUFFER_TOO_SMALL);
      CHECK(n == 36);
      std::vector<axe_overflow_report> r(n);
      REQUIRE(axe_context_overflows(c, r.data(), r.size(), &n) == AXE_OK);
      *overflow_steps = 0;
      for (const auto& e : r) *overflow_steps += e.inner_overflows + e.outer_overflows;
      // One dot product per token and output row: wq has 64 rows, w1 172.
      CHECK(std::string(r[0].layer) == "layers.0.attention.wq");
      CHECK(r[0].dot_products == toks.size() * 64);
      CHECK(std::string(r[4].layer) == "layers.0.feed_forward.w1");
      CHECK(r[4].dot_products == toks.size() * 172);
    } else {
      CHECK(axe_context_overflows(c, nullptr, 0, &n) == AXE_ERR_INVALID_ARGUMENT);
    }
    return out;
  };
  auto ma = th::load(axe13), mr = th::load(raw13);
  size_t steps = 0;
  CHECK(logits(ma.get(), 13, &steps) == logits(ma.get(), 0, nullptr));
  CHECK(steps == 0);
  CHECK(logits(mr.get(), 13, &steps) != logits(mr.get(), 0, nullptr));
  CHECK(steps > 0);
  CHECK(logits(mr.get(), 32, &steps) == logits(mr.get(), 0, nullptr));  // a wide datapath is exact
  CHECK(steps == 0);

  axe_context_params p = axe_context_default_params();
  p.acc_sim_inner_bits = 16;
  axe_context* c = nullptr;
  CHECK(axe_context_create(m.get(), &p, &c) == AXE_ERR_INVALID_ARGUMENT);  // a float model
  CHECK(std::string(axe_last_error()).find(".axe") != std::string::npos);
  p.acc_sim_inner_bits = 40;
  CHECK(axe_context_create(ma.get(), &p, &c) == AXE_ERR_INVALID_ARGUMENT);
}

TEST_CASE("naive baseline: the data-type bound and the bit widths it leads to") {
  // AXE.md section 1: K=128, N=8, M=4, unsigned: 20 bits; K=128, N=4, M=4: 16.
  CHECK(data_type_bound(128, 8, 4, false) == 20);
  CHECK(data_type_bound(128, 4, 4, false) == 16);
  CHECK(data_type_bound(128, 8, 4, true) == 19);
  const NaiveBits a = naive_bits(128, 16, 8, 4, false);  // the paper's W4A8 -> W4A4 at 128 x 16b
  CHECK(a.found);
  CHECK(a.act_bits == 4);
  CHECK(a.weight_bits == 4);
  const NaiveBits b = naive_bits(128, 9, 8, 4, false);  // activations bottom out, then weights
  CHECK(b.act_bits == 2);
  CHECK(b.weight_bits < 4);
  CHECK_FALSE(naive_bits(1 << 20, 4, 8, 8, false).found);
}

TEST_CASE("EP-init projection: every tile and row inside its l1 ball, magnitudes never grow") {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int> code(-7, 7);
  const size_t rows = 9, cols = 150;  // a short last contiguous tile
  for (const AccumulationPlan& plan : {AccumulationPlan{TileKind::kContiguous, 32, 12, 14},
                                       AccumulationPlan{TileKind::kLanes, 16, 11, 32}})
    for (bool sym : {false, true}) {
      std::vector<int8_t> q(rows * cols);
      for (auto& v : q) v = static_cast<int8_t>(code(rng));
      for (size_t k = 0; k < cols; ++k) q[k] = static_cast<int8_t>(k % 12 == 0);  // row 0 fits already
      const std::vector<int8_t> before = q;
      ep_init_project(q, rows, cols, plan, 8, sym);
      const ActivationRange xr = ActivationRange::of(8, sym);
      const PlanCheck c = check_plan(q.data(), rows, cols, cols, plan, xr);
      CAPTURE(plan.describe());
      CAPTURE(sym);
      CHECK(c.ok());
      CHECK(c.worst_inner_use > 0.5);  // it projects onto the ball, not far inside it
      size_t changed = 0;
      for (size_t i = 0; i < q.size(); ++i) {
        CHECK(std::abs(q[i]) <= std::abs(before[i]));
        CHECK(q[i] * before[i] >= 0);
        changed += q[i] != before[i];
      }
      CHECK(changed > 0);
      for (size_t k = 0; k < cols; ++k) CHECK(q[k] == before[k]);
    }
}

TEST_CASE("--search: per-layer widths in the file, the plan holds on the narrow datapath, and it beats naive and AXE") {
  TempDir dir;
  auto m = th::load();
  std::ifstream in(test_paths::shared("data/tinystories/calib.txt"), std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  const std::string calib = ss.str().substr(0, 200000);
  auto run = [&](const char* algo, const char* name, int mode) {  // 0 axe, 1 search, 2 naive, 3 ep-init
    axe_quantize_params p = axe_quantize_default_params();
    p.algo = algo;
    p.weight_bits = 4;
    p.inner_bits = 12;
    p.axe = mode == 0;
    p.search = mode == 1;
    p.naive = mode == 2;
    p.ep_init = mode == 3;
    p.calib_text = calib.data();
    p.calib_text_len = calib.size();
    p.calib_samples = 16;
    p.calib_len = 128;
    p.n_threads = 2;
    const std::string out = dir.file(name);
    INFO(axe_model_last_error(m.get()));
    REQUIRE(axe_quantize(m.get(), out.c_str(), &p) == AXE_OK);
    axe_verify_result r{};
    r.struct_size = sizeof r;
    REQUIRE(axe_verify(out.c_str(), &r) == AXE_OK);
    CHECK(r.inner_violations + r.outer_violations == 0);
    return out;
  };
  const std::string search = run("optq", "search.axe", 1);
  const std::string naive = run("optq", "naive.axe", 2);
  const std::string plain = run("optq", "axe.axe", 0);
  run("gpfq", "gpfq-axe.axe", 0);
  run("gpfq", "ep.axe", 3);

  // The chosen widths are stored per layer, and some are narrower than A8.
  auto bytes = read_bytes(search);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const auto header = nlohmann::json::parse(std::string(bytes.data() + 8, header_len));
  const auto plan = nlohmann::json::parse(header["__metadata__"]["plan"].get<std::string>());
  REQUIRE(plan.contains("layer_bits"));
  CHECK(plan["layer_bits"].size() == 36);  // the classifier is searched too
  int narrowest = 8;
  for (const auto& [name, b] : plan["layer_bits"].items()) narrowest = std::min(narrowest, b["act_bits"].get<int>());
  CHECK(narrowest < 8);

  // Hostile per-layer bits: out of range, or not matching the stored codes.
  auto edit_layer_bits = [&](const std::string& key, char digit, const char* file) {
    auto b = bytes;
    const std::string hay(b.begin(), b.end());
    const size_t at = hay.find(key + "\\\":", hay.find("layer_bits"));
    REQUIRE(at != std::string::npos);
    b[at + key.size() + 3] = digit;  // after key\":
    return dir.write(file, b);
  };
  for (const auto& [key, digit] : {std::pair<std::string, char>{"act_bits", '9'}, {"weight_bits", '8'}}) {
    CAPTURE(key);
    const std::string bad = edit_layer_bits(key, digit, "bad-bits.axe");
    axe_model* mm = nullptr;
    CHECK(axe_model_load(bad.c_str(), nullptr, &mm) == AXE_ERR_FORMAT);
    CHECK(std::string(axe_last_error()).find("bad-bits.axe") != std::string::npos);
    axe_verify_result vr{};
    vr.struct_size = sizeof vr;
    CHECK(axe_verify(bad.c_str(), &vr) == AXE_ERR_FORMAT);
  }

  // Each layer runs at its own widths: on a 12-bit datapath nothing overflows
  // and the logits are the exact ones.
  auto ms = th::load(search);
  const std::vector<axe_token> toks{1, 403, 407, 261, 378, 290, 41, 5};
  std::vector<int32_t> pos(toks.size());
  for (size_t i = 0; i < pos.size(); ++i) pos[i] = static_cast<int32_t>(i);
  std::vector<int8_t> want(toks.size(), 1);
  std::vector<float> exact, narrow;
  for (int32_t sim : {0, 12}) {
    axe_context_params cp = axe_context_default_params();
    cp.acc_sim_inner_bits = sim;
    axe_context* c = nullptr;
    REQUIRE(axe_context_create(ms.get(), &cp, &c) == AXE_OK);
    th::Context ctx(c);
    REQUIRE(axe_decode(c, toks.data(), pos.data(), toks.size(), want.data()) == AXE_OK);
    const float* l = axe_get_logits(c, static_cast<int32_t>(toks.size() - 1));
    (sim ? narrow : exact).assign(l, l + 512);
    if (sim) {
      size_t n = 36;
      std::vector<axe_overflow_report> r(n);
      REQUIRE(axe_context_overflows(c, r.data(), r.size(), &n) == AXE_OK);
      for (const auto& e : r) CHECK(e.inner_overflows == 0);
    }
  }
  CHECK(exact == narrow);

  const std::string text = eval_slice();
  auto mn = th::load(naive), mp = th::load(plain);
  const double p_search = ppl(ms.get(), text), p_naive = ppl(mn.get(), text), p_axe = ppl(mp.get(), text);
  CAPTURE(p_search);
  CAPTURE(p_naive);
  CAPTURE(p_axe);
  CHECK(p_search < p_naive);
  CHECK(p_search < p_axe);
}
