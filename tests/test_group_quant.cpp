// Groupwise quantization (--group G): scales per (row, group), the .axe
// round trip, the groupwise runtime on every target, AXE with tiles = groups
// on the emulated narrow datapath, and the settings that are refused.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>

#include "api_helpers.h"
#include "models/formats/axe.h"
#include "models/formats/gguf.h"
#include "models/formats/llama2c.h"
#include "quant/axe_constraint.h"
#include "quant/scales.h"
#include "runtime/half_float.h"
#include "runtime/kernels/group_kernels.h"
#include "runtime/kernels/group_types.h"
#include "runtime/linear_group.h"
#include "temp_dir.h"

using namespace axe;

namespace {

axe_quantize_params group_params(int wbits, int group, int act_group, bool axe_on = false, int pi = 32) {
  axe_quantize_params p = axe_quantize_default_params();
  p.weight_bits = wbits;
  p.act_signed = 1;
  p.group = group;
  p.act_group = act_group;
  p.axe = axe_on;
  p.inner_bits = pi;
  p.n_threads = 2;
  return p;
}

const std::vector<axe_token> kTokens{1, 403, 407, 261, 378, 290, 41, 5, 88, 199, 300, 301, 12, 99, 250, 7};

}  // namespace

TEST_CASE("groupwise activations: llama.cpp's rule generalized to N bits and wider groups and padded columns") {
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.0f, 2.0f);
  const size_t tokens = 3, cols = 128;
  std::vector<float> x(tokens * cols);
  for (float& v : x) v = nd(rng);
  x[5] = 40.0f;  // one outlier in the first group
  GroupActivations a, b;
  size_group_activations(tokens, cols, a);
  size_group_activations(tokens, cols, b);
  quantize_group_activation_rows(x.data(), cols, 0, tokens, a);
  quantize_group_activation_rows(x.data(), cols, 0, tokens, b, GroupActFormat{});
  CHECK(std::memcmp(a.codes.data(), b.codes.data(), a.codes.size()) == 0);
  CHECK(a.scales == b.scales);
  CHECK(a.sums == b.sums);

  // 5 bits, groups of 64, only 100 of the 128 columns hold x.
  GroupActFormat f;
  f.bits = 5;
  f.group = 64;
  f.valid_cols = 100;
  quantize_group_activation_rows(x.data(), cols, 0, tokens, b, f);
  for (size_t m = 0; m < tokens; ++m)
    for (size_t g0 = 0; g0 < cols; g0 += 64) {
      float amax = 0;
      for (size_t k = g0; k < std::min<size_t>(g0 + 64, 100); ++k) amax = std::max(amax, std::fabs(x[m * cols + k]));
      const float d = amax / 15.0f;
      const float want_scale = fp16_to_fp32(fp32_to_fp16(d));
      for (size_t blk = g0 / 32; blk < g0 / 32 + 2; ++blk) CHECK(b.scales[m * 4 + blk] == want_scale);
      int32_t sum0 = 0;
      for (size_t k = g0; k < g0 + 64; ++k) {
        const int want = k < 100 ? static_cast<int>(std::round(std::clamp(x[m * cols + k] / d, -15.0f, 15.0f))) : 0;
        INFO("token ", m, " column ", k);
        CHECK(int{b.codes.data()[m * cols + k]} == want);
        if (k < g0 + 32) sum0 += want;
      }
      CHECK(b.sums[m * 4 + g0 / 32] == sum0);
    }
  // Per token (group 0): one scale across the row.
  f.group = 0;
  quantize_group_activation_rows(x.data(), cols, 0, tokens, b, f);
  for (size_t m = 0; m < tokens; ++m)
    for (size_t g = 1; g < 4; ++g) CHECK(b.scales[m * 4 + g] == b.scales[m * 4]);
  f.group = 48;  // not whole blocks
  CHECK_THROWS_AS(quantize_group_activation_rows(x.data(), cols, 0, tokens, b, f), Error);
}

TEST_CASE("group scales are each group's MSE choice as an fp16 and RTN codes round with them") {
  TempDir dir;
  auto m = th::load();
  const std::string out = th::quantize(m.get(), dir.file("g32.axe"), group_params(4, 32, 32));
  const AxeFile f(out, MappedFile::Mode::kMap);
  CHECK(f.format().group == 32);
  CHECK(f.format().act_group == 32);
  CHECK(f.format().plan.kind == TileKind::kContiguous);
  CHECK(f.format().plan.tile == 32);
  const auto fm = load_llama2c(test_paths::stories260k(), test_paths::tok512(), true);
  // w2 (index 5 in the table: wq wk wv wo w1 w2 w3) has K = 172: groups of 32 and a last one of 12.
  for (size_t i : {size_t{0}, size_t{5}}) {
    const LinearF32& lin = *fm->layers[1].linear(i).as_f32();
    const size_t rows = lin.rows(), cols = lin.cols(), groups = (cols + 31) / 32;
    const float* s = f.scales(1, i);
    const auto q = f.codes(1, i);
    for (size_t r = 0; r < rows; ++r)
      for (size_t g = 0; g < groups; ++g) {
        const size_t len = std::min<size_t>(32, cols - g * 32);
        float want = 0;
        mse_row_scales(lin.data() + r * cols + g * 32, 1, len, cols, 4, &want);
        want = fp16_representable_scale(want);
        INFO("layer ", i, " row ", r, " group ", g);
        REQUIRE(s[r * groups + g] == want);
        CHECK(fp16_to_fp32(fp32_to_fp16(s[r * groups + g])) == s[r * groups + g]);
        for (size_t k = g * 32; k < g * 32 + len; ++k)
          REQUIRE(int{q[r * cols + k]} == round_clamp(lin.data()[r * cols + k] / want, 7));
      }
  }
  CHECK(fp16_representable_scale(1e-12f) == fp16_to_fp32(1));
  CHECK(fp16_representable_scale(1e9f) == 65504.0f);
  CHECK(fp16_representable_scale(0.0f) == 1.0f);
}

TEST_CASE("a groupwise model runs on LinearGroup: every kernel gives the reference's bits and a wide emulated datapath the same logits") {
  TempDir dir;
  auto m = th::load();
  const double float_ppl = th::ppl(m.get(), th::eval_slice());
  for (int wbits : {8, 4}) {
    for (int act_group : {32, 0}) {
      INFO("W", wbits, " act group ", act_group);
      std::string name = "g";  // appended piece by piece: GCC 12's -Wrestrict misfires on a chain of +
      name += std::to_string(wbits);
      name += "_";
      name += std::to_string(act_group);
      const std::string out = th::quantize(m.get(), dir.file(name + ".axe"), group_params(wbits, 32, act_group));
      const auto model = load_axe(out, true);
      const LinearGroup* g = model->layers[0].linear(5).as_group();
      REQUIRE(g != nullptr);
      CHECK(g->cols() == 172);  // padded to 192 inside
      CHECK(g->weights().cols == 192);
      CHECK(g->weights().bits == wbits);
      CHECK(g->weights().half_scales);  // fp16 scales: the 8.5 / 4.5-bit stream
      REQUIRE(model->classifier->as_group() != nullptr);

      // Every kernel this CPU runs gives the int64 reference's bits on every layer.
      std::mt19937 rng(3);
      std::normal_distribution<float> nd(0.0f, 1.0f);
      for (size_t l = 0; l < model->layers.size(); ++l)
        for (size_t i = 0; i < kLlamaLinears; ++i) {
          const LinearGroup& lin = *model->layers[l].linear(i).as_group();
          const GroupWeights& w = lin.weights();
          const size_t T = 5;
          std::vector<float> x(T * lin.cols());
          for (float& v : x) v = nd(rng);
          GroupActivations a;
          size_group_activations(T, w.cols, a);
          quantize_group_activation_rows(x.data(), lin.cols(), 0, T, a, lin.act_format());
          std::vector<float> want(T * w.rows), got(T * w.rows);
          GroupOutput o;
          o.y = want.data();
          o.ldy = w.rows;
          group_gemm_reference(a, 0, T, w, 0, w.rows, o);
          o.y = got.data();
          for (const GroupKernel& k : group_kernels()) {
            if (!k.usable(w)) continue;
            for (size_t t : {size_t{1}, T}) {
              INFO("layer ", l, " linear ", i, " kernel ", k.name, " tokens ", t);
              k.run(a, 0, t, w, 0, w.rows, o);
              CHECK(std::memcmp(got.data(), want.data(), t * w.rows * sizeof(float)) == 0);
            }
          }
        }
      auto q = th::load(out);
      const auto best = th::decode_logits(q.get(), kTokens);
      size_t steps = 1;
      CHECK(th::decode_logits(q.get(), kTokens, 2, 32, &steps) == best);
      CHECK(steps == 0);
      if (wbits == 8 && act_group == 32) {
        const double p = th::ppl(q.get(), th::eval_slice());
        CHECK(p < float_ppl * 1.01);
        CHECK(p > float_ppl * 0.99);
      }
    }
  }
}

TEST_CASE("AXE with groups: every group tile fits P_I and the narrow datapath never overflows") {
  TempDir dir;
  auto m = th::load();
  const std::string axe13 = th::quantize(m.get(), dir.file("axe13.axe"), group_params(4, 32, 32, true, 13));
  const std::string raw = th::quantize(m.get(), dir.file("raw.axe"), group_params(4, 32, 32, false, 13));
  axe_verify_result r{};
  r.struct_size = sizeof r;
  REQUIRE(axe_verify(axe13.c_str(), &r) == AXE_OK);
  CHECK(r.inner_violations == 0);
  CHECK(r.worst_inner_use <= 1.0);
  CHECK(r.worst_inner_use > 0.9);  // the budget binds
  CHECK(std::string(r.plan).find("contiguous T=32, P_I=13") == 0);
  CHECK(std::string(r.plan).find("G=32, act per 32") != std::string::npos);
  // Tiles counted per group: K = 64 has 2 groups, w2's K = 172 has 6, and the classifier's 512 rows 2.
  // wq and wo have 64 rows, wk and wv 32 (4 KV heads of 8), w1 and w3 172, w2 64.
  const uint64_t per_block = (64 + 32 + 32 + 64) * 2 + 172 * 2 * 2 + 64 * 6;
  CHECK(r.tiles == 5 * per_block + 512 * 2);
  REQUIRE(axe_verify(raw.c_str(), &r) == AXE_OK);
  CHECK(r.inner_violations > 0);

  auto ma = th::load(axe13), mr = th::load(raw);
  size_t steps = 1;
  CHECK(th::decode_logits(ma.get(), kTokens, 2, 13, &steps) == th::decode_logits(ma.get(), kTokens));
  CHECK(steps == 0);
  CHECK(th::decode_logits(mr.get(), kTokens, 2, 13, &steps) != th::decode_logits(mr.get(), kTokens));
  CHECK(steps > 0);
  // Saturating instead of wrapping changes the outputs of the overflowing model only.
  axe_context_params p = axe_context_default_params();
  p.acc_sim_inner_bits = 13;
  p.acc_sim_outer_bits = 32;
  p.acc_sim_saturate = 1;
  axe_context* c = nullptr;
  REQUIRE(axe_context_create(ma.get(), &p, &c) == AXE_OK);
  axe_context_free(c);
}

TEST_CASE("groupwise settings that cannot run are refused by quantize and by the loader") {
  TempDir dir;
  auto m = th::load();
  auto refused = [&](axe_quantize_params p, const char* what) {
    INFO(std::string(what));
    CHECK(axe_quantize(m.get(), dir.file("bad.axe").c_str(), &p) == AXE_ERR_INVALID_ARGUMENT);
    INFO(std::string(axe_model_last_error(m.get())));
    CHECK(std::string(axe_model_last_error(m.get())).find(what) != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("bad.axe")));
  };
  axe_quantize_params p = group_params(4, 48, 48);
  refused(p, "multiple of 32");
  p = group_params(4, 32, 32);
  p.act_signed = 0;
  refused(p, "symmetric activations");
  p = group_params(4, 64, 32);
  refused(p, "do not cover whole weight groups");
  p = group_params(4, 32, 32);
  p.tiles = AXE_TILES_LANES;
  p.tile = 8;
  refused(p, "the tiles are the groups");
  p = group_params(4, 32, 32, false, 16);
  p.outer_bits = 20;
  refused(p, "no P_O");
  p = group_params(4, 0, 32);
  refused(p, "activation groups need weight groups");

  // Files whose plan is edited: the loader and verify refuse what the quantizer would.
  const std::string good = th::quantize(m.get(), dir.file("good.axe"), group_params(8, 32, 32));
  const auto bytes = read_bytes(good);
  uint64_t header_len;
  std::memcpy(&header_len, bytes.data(), 8);
  const auto header = nlohmann::json::parse(std::string(bytes.data() + 8, header_len));
  // The file with its plan changed by `edit` (the header re-padded to its
  // length, so the tensors stay where they were).
  auto with_plan = [&](const std::function<void(nlohmann::json&)>& edit) {
    nlohmann::json h = header;
    auto plan = nlohmann::json::parse(h["__metadata__"]["plan"].get<std::string>());
    edit(plan);
    h["__metadata__"]["plan"] = plan.dump();
    std::string text = h.dump();
    REQUIRE(text.size() <= header_len);
    text.resize(header_len, ' ');
    std::vector<char> b = bytes;
    std::memcpy(b.data() + 8, text.data(), text.size());
    return dir.write("edited.axe", b);
  };
  auto rejected = [&](const std::string& path, const char* what) {
    INFO(std::string(what));
    axe_model* mm = nullptr;
    CHECK(axe_model_load(path.c_str(), nullptr, &mm) == AXE_ERR_FORMAT);
    INFO(std::string(axe_last_error()));
    CHECK(std::string(axe_last_error()).find("edited.axe") != std::string::npos);
    CHECK(std::string(axe_last_error()).find(what) != std::string::npos);
    axe_verify_result r{};
    r.struct_size = sizeof r;
    CHECK(axe_verify(path.c_str(), &r) == AXE_ERR_FORMAT);
  };
  CHECK(th::load(with_plan([](nlohmann::json&) {})) != nullptr);  // the editing itself keeps a good file
  rejected(with_plan([](nlohmann::json& p) { p["act"] = "asym", p["act_min"] = 0, p["act_max"] = 255; }),
           "symmetric activations");
  rejected(with_plan([](nlohmann::json& p) { p["group"] = 64, p["act_group"] = 64; }), "the tiles are the groups");
  rejected(with_plan([](nlohmann::json& p) { p["act_group"] = 16; }), "do not cover whole weight groups");
  rejected(with_plan([](nlohmann::json& p) { p["group"] = 40, p["tile"] = 40; }), "multiple of 32");
  rejected(with_plan([](nlohmann::json& p) { p.erase("group"), p.erase("act_group"); }), "scales");  // [rows, groups] scales, per-row plan
}

TEST_CASE("quantize to OUT.gguf: Q4_0 blocks of the .axe codes with the plan and certificate in axe keys") {
  TempDir dir;
  auto m = th::load();
  const std::string axe_file = th::quantize(m.get(), dir.file("w4.axe"), group_params(4, 32, 32, true, 14));
  const std::string gguf = th::quantize(m.get(), dir.file("w4.gguf"), group_params(4, 32, 32, true, 14));
  // Nothing else is left in the folder (the intermediate .axe is removed).
  size_t files = 0;
  for (const auto& e : std::filesystem::directory_iterator(dir.path)) files += e.is_regular_file();
  CHECK(files == 2);

  const GgufFile g(gguf, MappedFile::Mode::kMap);
  const AxeFile a(axe_file, MappedFile::Mode::kMap);
  CHECK(g.get_string("axe.plan") == a.meta(kAxeMetaPlan));
  CHECK(g.get_string("axe.certificate") == a.meta(kAxeMetaCertificate));
  CHECK(nlohmann::json::parse(g.get_string("axe.quantization"))["axe"] == true);
  const auto floats = nlohmann::json::parse(g.get_string("axe.not_groupwise"));
  REQUIRE(floats.size() == 5);  // each block's w2 (K = 172)
  CHECK(floats[0] == "layers.0.feed_forward.w2");
  // The same codes and scales as the .axe file: wq of block 2 as Q4_0 blocks.
  const GgufFile::Tensor* t = g.tensor("blk.2.attn_q.weight");
  REQUIRE(t != nullptr);
  CHECK(t->type == GgmlType::Q4_0);
  const auto q = a.codes(2, 0);
  const float* s = a.scales(2, 0);
  const uint8_t* blocks = t->data;
  for (size_t r = 0; r < 64; ++r)
    for (size_t b = 0; b < 2; ++b) {
      const uint8_t* blk = blocks + (r * 2 + b) * 18;
      uint16_t d;
      std::memcpy(&d, blk, 2);
      REQUIRE(fp16_to_fp32(d) == s[r * 2 + b]);
      for (size_t j = 0; j < 16; ++j) {
        CHECK(int{blk[2 + j] & 0x0F} - 8 == q[r * 64 + b * 32 + j]);
        CHECK(int{blk[2 + j] >> 4} - 8 == q[r * 64 + b * 32 + j + 16]);
      }
    }
  CHECK(g.tensor("blk.0.ffn_down.weight")->type == GgmlType::F32);
  // It runs as the .axe file does but for w2 (fp32 activations there).
  auto mg = th::load(gguf), ma = th::load(axe_file);
  const double pg = th::ppl(mg.get(), th::eval_slice()), pa = th::ppl(ma.get(), th::eval_slice());
  CHECK(pg < pa * 1.01);
  CHECK(pg > pa * 0.99);

  // Formats GGUF cannot hold are refused before any work, leaving no file.
  for (const axe_quantize_params& p : {group_params(4, 64, 64), group_params(4, 32, 0), axe_quantize_default_params()}) {
    CHECK(axe_quantize(m.get(), dir.file("no.gguf").c_str(), &p) == AXE_ERR_INVALID_ARGUMENT);
    CHECK(std::string(axe_model_last_error(m.get())).find("--group 32") != std::string::npos);
    CHECK_FALSE(std::filesystem::exists(dir.file("no.gguf")));
  }
}
