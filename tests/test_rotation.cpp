// Hadamard rotation (models/llama/rotation.h): the documented sign
// generator, a rotated float model computing the unrotated model's function,
// and a rotated quantized model whose integer path is bit-exact against the
// int64 reference and its narrow datapath, with the plan proven on the
// rotated integers.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdlib>
#include <fstream>

#include "api_helpers.h"
#include "int8_helpers.h"
#include "models/formats/llama2c.h"
#include "models/formats/safetensors.h"
#include "models/llama/forward.h"
#include "models/llama/rotation.h"
#include "runtime/kernels/int8_kernels.h"
#include "temp_dir.h"

using namespace axe;

namespace {

std::string sign_string(uint64_t seed, size_t layer, BlockStage stage) {
  std::string s;
  for (float v : hadamard_signs(seed, layer, stage, 16)) s += v < 0 ? '-' : '+';
  return s;
}

std::vector<float> forward_logits(const LlamaModel& m, const std::vector<int32_t>& toks) {
  LlamaState st(m, 64, toks.size());
  std::vector<int8_t> want(toks.size(), 1);
  llama_forward(m, best_ops(), st, toks.data(), toks.size(), 0, want.data(), false);
  const size_t V = m.config.vocab;
  std::vector<float> out;
  for (size_t i = 0; i < toks.size(); ++i) out.insert(out.end(), st.logits_row(i), st.logits_row(i) + V);
  return out;
}

std::string quantize_rotated(axe_model* m, const std::string& out, const char* rotate, uint64_t seed, int wbits,
                             int inner_bits, bool axe_on) {
  axe_quantize_params p = axe_quantize_default_params();
  p.weight_bits = wbits;
  p.axe = axe_on;
  p.inner_bits = inner_bits;
  p.n_threads = 2;
  p.rotate = rotate;
  p.rotate_seed = seed;
  return th::quantize(m, out, p);
}

const std::vector<axe_token> kTokens{1, 403, 407, 261, 378, 290, 41, 5, 88, 199, 300, 301, 12, 99, 250, 7};

}  // namespace

TEST_CASE("rotation signs follow the generator docs/FORMAT.md gives (golden values from an independent script)") {
  CHECK(sign_string(0, 0, BlockStage::kAttentionIn) == "++-+-----+-++--+");
  CHECK(sign_string(7, 1, BlockStage::kFfnOut) == "-++++--+---++--+");
  CHECK(sign_string(123456789, 4, BlockStage::kFfnIn) == "---+-++--+++++++");
  std::string across;  // elements 60..71 span the first two 64-bit words
  const auto s = hadamard_signs(7, 1, BlockStage::kFfnOut, 130);
  for (size_t k = 60; k < 72; ++k) across += s[k] < 0 ? '-' : '+';
  CHECK(across == "+-++-++-+--+");
}

TEST_CASE("a rotated float model computes the unrotated model's logits, with the rotated weights and unit norms") {
  const auto m = load_llama2c(test_paths::stories260k(), test_paths::tok512(), true);
  const auto r = rotate_model(*m, 7, best_ops());
  REQUIRE(r->rotation);
  CHECK(r->rotation->seed() == 7);
  // The gains are folded: every block norm's stored gain is 1.
  for (size_t k = 0; k < size_t(m->config.dim); ++k) REQUIRE(r->layers[1].rms_ffn[k] == 1.0f);
  // Row 0 of layers.0.attention.wq is H^T (g * w), computed independently.
  const LinearF32& w0 = *m->layers[0].wq->as_f32();
  const LinearF32& w1 = *r->layers[0].wq->as_f32();
  std::vector<float> row(w0.data(), w0.data() + w0.cols());
  for (size_t k = 0; k < row.size(); ++k) row[k] *= m->layers[0].rms_att[k];
  const auto signs = hadamard_signs(7, 0, BlockStage::kAttentionIn, row.size());
  const size_t K = row.size();  // 64, one block
  for (size_t i = 0; i < K; ++i) {
    double ref = 0;
    for (size_t j = 0; j < K; ++j) ref += (__builtin_popcountll(i & j) % 2 ? -1.0 : 1.0) * signs[j] * row[j];
    CHECK(w1.data()[i] == doctest::Approx(ref / std::sqrt(double(K))).epsilon(1e-5).scale(1.0));
  }
  const std::vector<int32_t> toks(kTokens.begin(), kTokens.end());
  const auto a = forward_logits(*m, toks), b = forward_logits(*r, toks);
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (size_t i = 0; i < a.size(); ++i) worst = std::max(worst, std::abs(double(a[i]) - b[i]));
  CHECK(worst < 2e-4);
  CHECK(a != b);  // really a different computation
  // Without the runtime transform the rotated weights compute something else.
  auto unrotated = with_replaced_linears(*r, [](size_t, const std::string&, const Linear& l) {
    return std::make_unique<LinearF32>(l.as_f32()->data(), l.rows(), l.cols());
  });
  unrotated->rotation.reset();
  const auto c = forward_logits(*unrotated, toks);
  double far = 0;
  for (size_t i = 0; i < a.size(); ++i) far = std::max(far, std::abs(double(a[i]) - c[i]));
  CHECK(far > 1.0);
}

TEST_CASE("a rotated .axe: the plan proven on the rotated integers, every kernel and the narrow datapath bit-exact") {
  TempDir dir;
  auto m = th::load();
  const std::string q = quantize_rotated(m.get(), dir.file("rot.axe"), "hadamard", 7, 4, 14, true);
  {
    const SafetensorsFile f(q, MappedFile::Mode::kMap);
    const auto j = nlohmann::json::parse(f.meta("rotation"));
    CHECK(j == nlohmann::json{{"kind", "hadamard"}, {"seed", 7}});
  }
  axe_verify_result v{};
  v.struct_size = sizeof v;
  REQUIRE(axe_verify(q.c_str(), &v) == AXE_OK);
  CHECK(std::string(v.rotation) == "hadamard, seed 7");
  CHECK(v.inner_violations + v.outer_violations == 0);
  CHECK(v.certificate_matches);

  auto mq = th::load(q);
  std::vector<float> reference;
  size_t compared = 0;
  for (const std::string& kernel : th::forceable_int8_kernels({TileKind::kLanes, 16, 14, 32})) {
    CAPTURE(kernel);
    setenv("AXE_INT8_KERNEL", kernel.c_str(), 1);
    const auto logits = th::decode_logits(mq.get(), kTokens);
    if (reference.empty()) reference = logits;
    else CHECK(logits == reference);
    ++compared;
  }
  unsetenv("AXE_INT8_KERNEL");
  CHECK(compared >= 2);
  // The 14-bit datapath the plan promises: the same bits, no overflow.
  size_t overflows = 1;
  CHECK(th::decode_logits(mq.get(), kTokens, 2, 14, &overflows) == reference);
  CHECK(overflows == 0);

  // The same seed gives the same bytes; another seed other codes.
  const std::string again = quantize_rotated(m.get(), dir.file("again.axe"), "hadamard", 7, 4, 14, true);
  const std::string other = quantize_rotated(m.get(), dir.file("other.axe"), "hadamard", 8, 4, 14, true);
  auto bytes = [](const std::string& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  CHECK(bytes(again) == bytes(q));
  CHECK(bytes(other) != bytes(q));
}

TEST_CASE("rotated W8A8 keeps the float perplexity, and bad rotation parameters are errors") {
  TempDir dir;
  auto m = th::load();
  const std::string text = th::eval_slice();
  const double base = th::ppl(m.get(), text);
  auto mr = th::load(quantize_rotated(m.get(), dir.file("w8r.axe"), "hadamard", 3, 8, 32, false));
  CHECK(std::abs(th::ppl(mr.get(), text) / base - 1) < 0.01);
  auto mn = th::load(quantize_rotated(m.get(), dir.file("w8n.axe"), "none", 3, 8, 32, false));
  axe_verify_result v{};
  v.struct_size = sizeof v;
  REQUIRE(axe_verify(dir.file("w8n.axe").c_str(), &v) == AXE_OK);
  CHECK(std::string(v.rotation) == "none");

  axe_quantize_params p = axe_quantize_default_params();
  p.n_threads = 1;
  p.rotate = "givens";
  CHECK(axe_quantize(m.get(), dir.file("x.axe").c_str(), &p) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(std::string(axe_model_last_error(m.get())).find("unknown rotation 'givens'") != std::string::npos);
  p.rotate = "hadamard";
  p.rotate_seed = uint64_t{1} << 63;
  CHECK(axe_quantize(m.get(), dir.file("x.axe").c_str(), &p) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(std::string(axe_model_last_error(m.get())).find("rotate_seed") != std::string::npos);
  CHECK(!std::filesystem::exists(dir.file("x.axe")));
}
