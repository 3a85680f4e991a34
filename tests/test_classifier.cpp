// The quantized classifier and the 8-bit embedding rows of a .axe (the
// default; --keep-output-f32 keeps both in fp32): what the file holds, that
// the classifier is certified and searched like the other layers, what a
// looked-up row is, and the perplexity they cost on stories260K.
#include <doctest/doctest.h>

#include <cmath>
#include <filesystem>

#include "api_helpers.h"
#include "models/formats/axe.h"
#include "models/formats/llama2c.h"
#include "models/formats/safetensors.h"
#include "models/llama/forward.h"
#include "temp_dir.h"

using namespace axe;

namespace {

std::string quantize(axe_model* m, const std::string& out, int wbits, int output_bits, bool keep_f32) {
  axe_quantize_params p = axe_quantize_default_params();
  p.weight_bits = wbits;
  p.output_bits = output_bits;
  p.keep_output_f32 = keep_f32;
  p.n_threads = 2;
  return th::quantize(m, out, p);
}

}  // namespace

TEST_CASE("by default the classifier is an integer layer of the file and the embedding 8-bit rows, --keep-output-f32 keeps fp32") {
  TempDir dir;
  auto m = th::load();
  const std::string q = quantize(m.get(), dir.file("w8.axe"), 8, 0, false);
  const std::string k = quantize(m.get(), dir.file("w8k.axe"), 8, 0, true);
  {
    const SafetensorsFile f(q, MappedFile::Mode::kMap);
    CHECK(f.tensors().at("output.codes").dtype == "I8");
    CHECK(f.tensors().at("output.codes").shape == std::vector<uint64_t>{512, 64});
    CHECK(f.tensors().at("tok_embeddings.codes").dtype == "I8");
    CHECK(f.tensors().at("tok_embeddings.scales").shape == std::vector<uint64_t>{512});
    CHECK(!f.tensors().count("tok_embeddings.weight"));
    const SafetensorsFile g(k, MappedFile::Mode::kMap);
    CHECK(g.tensors().count("tok_embeddings.weight"));
    CHECK(!g.tensors().count("output.codes"));
    CHECK(!g.tensors().count("tok_embeddings.codes"));
  }
  CHECK(std::filesystem::file_size(q) < std::filesystem::file_size(k));
  axe_verify_result v{};
  v.struct_size = sizeof v;
  REQUIRE(axe_verify(q.c_str(), &v) == AXE_OK);
  CHECK(v.layers == 36);
  CHECK(std::string(v.plan).find("classifier W8A8") != std::string::npos);
  REQUIRE(axe_verify(k.c_str(), &v) == AXE_OK);
  CHECK(v.layers == 35);

  // Quality: an 8-bit classifier and 8-bit embedding rows cost little.
  auto mq = th::load(q), mk = th::load(k);
  const std::string text = th::eval_slice();
  const double pf = th::ppl(m.get(), text), pq = th::ppl(mq.get(), text), pk = th::ppl(mk.get(), text);
  CAPTURE(pf);
  CAPTURE(pq);
  CAPTURE(pk);
  CHECK(std::abs(pq / pk - 1) < 0.01);
  CHECK(std::abs(pq / pf - 1) < 0.02);
  auto c = th::context(mq.get(), nullptr, 1);
  CHECK(th::greedy(mq.get(), c.get(), "", 20).rfind("Once upon a time", 0) == 0);

  // Its own bits: 4-bit classifier codes are stored packed, and described.
  const std::string q4 = quantize(m.get(), dir.file("w8c4.axe"), 8, 4, false);
  {
    const SafetensorsFile f(q4, MappedFile::Mode::kMap);
    CHECK(f.tensors().at("output.codes").dtype == "U8");
    CHECK(f.tensors().at("output.codes").shape == std::vector<uint64_t>{512, 32});
  }
  REQUIRE(axe_verify(q4.c_str(), &v) == AXE_OK);
  CHECK(std::string(v.plan).find("W8A8, activations [0, 255]; classifier W4A8") != std::string::npos);
  axe_quantize_params p = axe_quantize_default_params();
  p.output_bits = 9;
  CHECK(axe_quantize(m.get(), dir.file("bad.axe").c_str(), &p) == AXE_ERR_INVALID_ARGUMENT);
  CHECK(std::string(axe_model_last_error(m.get())).find("classifier's weight bits") != std::string::npos);
}

TEST_CASE("a looked-up embedding row is its scale times its 8-bit codes, within half a step of the float row") {
  TempDir dir;
  auto m = th::load();
  const std::string q = quantize(m.get(), dir.file("w8.axe"), 8, 0, false);
  const auto fm = load_llama2c(test_paths::stories260k(), test_paths::tok512(), true);
  const auto qm = load_axe(q, true);
  REQUIRE(qm->embedding_codes);
  REQUIRE(!qm->embedding);
  const size_t D = qm->config.dim;
  const std::vector<int32_t> toks{0, 1, 17, 300, 511};
  LlamaState st(*qm, 8, toks.size());
  llama_embed(*qm, st, toks.data(), toks.size());
  for (size_t i = 0; i < toks.size(); ++i) {
    const size_t t = static_cast<size_t>(toks[i]);
    const float scale = qm->embedding_scales[t];
    float amax = 0;
    for (size_t k = 0; k < D; ++k) amax = std::max(amax, std::abs(fm->embedding[t * D + k]));
    CHECK(scale == amax / 127.0f);
    for (size_t k = 0; k < D; ++k) {
      const float got = st.hidden()[i * D + k];
      CHECK(got == scale * static_cast<float>(qm->embedding_codes[t * D + k]));
      CHECK(std::abs(got - fm->embedding[t * D + k]) <= 0.5f * scale * (1 + 1e-5f));
    }
  }
}

TEST_CASE("the classifier follows the constraint: AXE holds it to the plan, naive and the search choose its bits") {
  TempDir dir;
  auto m = th::load();
  axe_quantize_params p = axe_quantize_default_params();
  p.weight_bits = 4;
  p.n_threads = 2;
  p.inner_bits = 12;
  p.naive = 1;
  const std::string naive = dir.file("naive.axe");
  th::quantize(m.get(), naive, p);
  const SafetensorsFile f(naive, MappedFile::Mode::kMap);
  const auto plan = nlohmann::json::parse(f.meta("plan"));
  // From W8A8 for the classifier: its 4-column lane tiles fit 12 bits only
  // with fewer bits (the data-type bound 4 * 127 * 255 needs 18).
  REQUIRE(plan.contains("layer_bits"));
  REQUIRE(plan["layer_bits"].contains("output"));
  const int wb = plan["layer_bits"]["output"]["weight_bits"], ab = plan["layer_bits"]["output"]["act_bits"];
  CHECK(wb + ab < 16);
  axe_verify_result v{};
  v.struct_size = sizeof v;
  REQUIRE(axe_verify(naive.c_str(), &v) == AXE_OK);
  CHECK(v.inner_violations + v.outer_violations == 0);

  p.naive = 0;
  p.axe = 1;
  p.output_bits = 8;  // forced: an 8-bit classifier under a 12-bit plan is held to it
  const std::string axe8 = dir.file("axe8.axe");
  th::quantize(m.get(), axe8, p);
  REQUIRE(axe_verify(axe8.c_str(), &v) == AXE_OK);
  CHECK(v.inner_violations + v.outer_violations == 0);
  CHECK(std::string(v.plan).find("classifier W8A8") != std::string::npos);
}
