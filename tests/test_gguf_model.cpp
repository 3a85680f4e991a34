// Llama models and tokenizers from GGUF files (models/formats/gguf_model.h):
// llama.cpp's own files, checked against the independent reference, against
// the llama2.c and tokenizer.json readers, and against llama.cpp's perplexity.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "api_helpers.h"
#include "models/formats/gguf.h"
#include "models/formats/gguf_model.h"
#include "models/formats/gguf_verify.h"
#include "models/formats/hf_folder.h"
#include "models/formats/llama2c.h"
#include "reference_llama.h"
#include "runtime/error.h"
#include "runtime/tokenizer.h"
#include "runtime/tokenizer_json.h"
#include "temp_dir.h"
#include "test_paths.h"
#include "text_helpers.h"

namespace {

using Ids = std::vector<int32_t>;

std::string fixture(const std::string& name) { return std::string(AXE_FIXTURES_DIR) + "/gguf/" + name; }

using th::slurp;

// llama.cpp's tokenizer test vectors: inputs and the ids it expects (no BOS).
void check_vectors(const axe::Tokenizer& tok, const std::string& vocab) {
  for (const th::VocabVector& v : th::vocab_vectors(vocab)) {
    CAPTURE(v.text);
    CHECK(tok.encode(v.text, false) == v.ids);
  }
}

// Writes the GGUF model's weights, dequantized, as a legacy llama2.c file
// (untied: the converter stores output.weight too), for reference::Llama.
void write_llama2c(const axe::GgufFile& f, const std::string& out) {
  const uint64_t D = f.get_uint("llama.embedding_length"), H = f.get_uint("llama.feed_forward_length");
  const uint64_t L = f.get_uint("llama.block_count"), NH = f.get_uint("llama.attention.head_count");
  const uint64_t KVH = f.get_uint("llama.attention.head_count_kv"), SEQ = f.get_uint("llama.context_length");
  const uint64_t V = f.tensor("token_embd.weight")->ne[1];
  std::FILE* o = std::fopen(out.c_str(), "wb");
  REQUIRE(o);
  const int32_t h[7] = {int32_t(D), int32_t(H), int32_t(L), int32_t(NH), int32_t(KVH), -int32_t(V), int32_t(SEQ)};
  std::fwrite(h, 4, 7, o);
  auto put = [&](const std::string& name) {
    const axe::GgufFile::Tensor* t = f.tensor(name);
    REQUIRE(t);
    std::vector<float> v(t->n_elements());
    axe::ggml_dequantize(t->type, t->data, v.size(), v.data());
    std::fwrite(v.data(), 4, v.size(), o);
  };
  auto per_layer = [&](const char* what) {
    for (uint64_t l = 0; l < L; ++l) put("blk." + std::to_string(l) + "." + what);
  };
  put("token_embd.weight");
  per_layer("attn_norm.weight");
  per_layer("attn_q.weight");
  per_layer("attn_k.weight");
  per_layer("attn_v.weight");
  per_layer("attn_output.weight");
  per_layer("ffn_norm.weight");
  per_layer("ffn_gate.weight");
  per_layer("ffn_down.weight");
  per_layer("ffn_up.weight");
  put("output_norm.weight");
  const std::vector<float> freq_cis(SEQ * (D / NH), 0.0f);
  std::fwrite(freq_cis.data(), 4, freq_cis.size(), o);
  put("output.weight");
  std::fclose(o);
}

}  // namespace

TEST_CASE("GGUF tokenizers reproduce llama.cpp's test vectors for Llama 2 SPM and Llama 3 BPE") {
  const std::string dir = test_paths::shared("data/tokenizer-tests/");
  const axe::GgufFile spm(dir + "ggml-vocab-llama-spm.gguf", axe::MappedFile::Mode::kMap);
  const auto spm_tok = axe::gguf_tokenizer(spm, 32000);
  CHECK(spm_tok->kind() == "llama2c");
  check_vectors(*spm_tok, "ggml-vocab-llama-spm.gguf");
  // The same bytes as llama2.c's export of Llama 2's tokenizer.model.
  CHECK(spm_tok->file_bytes() == slurp(test_paths::llama2_tokenizer()));

  const axe::GgufFile bpe(dir + "ggml-vocab-llama-bpe.gguf", axe::MappedFile::Mode::kMap);
  const auto bpe_tok = axe::gguf_tokenizer(bpe, 128256);
  CHECK(bpe_tok->kind() == "tokenizer.json");
  check_vectors(*bpe_tok, "ggml-vocab-llama-bpe.gguf");
  CHECK(bpe_tok->bos() == 128000);
  CHECK(bpe_tok->adds_bos());
  // The tokenizer from GGUF equals the one from the Hugging Face tokenizer.json.
  const axe::JsonTokenizer hf(slurp(test_paths::llama3_tokenizer_json()), "", "llama3", 128256);
  const std::string text = slurp(test_paths::shared("data/tinystories/eval.txt"));
  const Ids ids = bpe_tok->encode(text, true);
  CHECK(ids == hf.encode(text, true));
  CHECK(ids == th::parse_ids(slurp(test_paths::shared("data/tinystories/eval.llama3.ids"))));
  CHECK(bpe_tok->encode("<|eot_id|>", false, true) == Ids{128009});
  const std::vector<int32_t> eot = bpe_tok->end_of_turn_ids();
  CHECK(std::find(eot.begin(), eot.end(), 128009) != eot.end());
}

TEST_CASE("a GGUF model llama.cpp quantized matches the reference on its dequantized weights") {
  // tiny-mix.gguf: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, F16 and F32 tensors (tests/fixtures/gguf/README.md).
  // Q8_0/Q4_0 layers run natively and quantize their inputs per block of 32
  // to 8 bits, as llama.cpp does; the reference keeps them in double, so the
  // logits agree to that rounding (the kernels themselves are bit-exact
  // against their int64 reference in test_group_kernels.cpp).
  const axe::GgufFile f(fixture("tiny-mix.gguf"), axe::MappedFile::Mode::kMap);
  TempDir dir;
  const std::string bin = dir.file("tiny.bin");
  write_llama2c(f, bin);
  reference::Llama ref(bin);
  th::Model m = th::load(fixture("tiny-mix.gguf"));
  axe_model_info info{};
  info.struct_size = sizeof info;
  REQUIRE(axe_model_get_info(m.get(), &info) == AXE_OK);
  CHECK(info.dim == 64);
  CHECK(info.n_layers == 2);
  CHECK(info.n_vocab == 512);
  th::Context ctx = th::context(m.get());
  const Ids toks = {1, 400, 72, 300, 9, 511, 2, 17};
  double worst = 0, scale = 0;
  int same_top = 0;
  for (size_t p = 0; p < toks.size(); ++p) {
    const int32_t pos = static_cast<int32_t>(p);
    REQUIRE(axe_decode(ctx.get(), &toks[p], &pos, 1, nullptr) == AXE_OK);
    const float* got = axe_get_logits(ctx.get(), -1);
    const std::vector<double> want = ref.step(toks[p], pos);
    for (size_t v = 0; v < want.size(); ++v) {
      worst = std::max(worst, std::abs(double(got[v]) - want[v]));
      scale = std::max(scale, std::abs(want[v]));
    }
    same_top += std::max_element(got, got + want.size()) - got == std::max_element(want.begin(), want.end()) - want.begin();
  }
  INFO("max |logit difference| " << worst << " of logits up to " << scale);
  CHECK(worst < 1.5e-2 * std::max(1.0, scale));  // measured 0.0060 of the scale
  CHECK(same_top >= 7);
}

TEST_CASE("stories260K as llama.cpp's Q8_0 GGUF: its tokenizer and its perplexity") {
  // Made by llama-convert-llama2c-to-ggml and llama-quantize Q8_0 (tests/fixtures/gguf/README.md).
  const std::string path = fixture("stories260K-q8_0.gguf");
  th::Model m = th::load(path);
  const std::string text = slurp(test_paths::shared("data/tinystories/eval.txt"));
  const axe::Llama2cTokenizer tok512(test_paths::tok512(), 512);
  size_t n = 0;
  std::vector<axe_token> ids(text.size() + 2);
  REQUIRE(axe_tokenize(m.get(), text.data(), text.size(), 1, ids.data(), ids.size(), &n) == AXE_OK);
  ids.resize(n);
  CHECK(ids == tok512.encode(text, true));
  // Perplexity with 128-token chunks (the converter records a context of 128)
  // over all of eval.txt: the llama2.c file's is 5.3136; llama.cpp's
  // llama-perplexity on this file 5.3201; here, on the same datapath (Q8_0
  // weights times activations quantized per block of 32), 5.3199. (The Q8_0
  // weights with fp32 activations give 5.3180.)
  const double ppl = th::ppl(m.get(), text);
  CHECK(ppl == doctest::Approx(5.3199).epsilon(1e-4));
  CHECK(std::abs(ppl - 5.3201) / 5.3201 < 2e-4);
  CHECK(std::abs(ppl - 5.3136) / 5.3136 < 2e-3);
}

TEST_CASE("hostile GGUF models are refused naming the file") {
  TempDir dir;
  const std::string good = slurp(fixture("tiny-mix.gguf"));
  auto load_error = [&](const std::string& bytes) {
    const std::string path = dir.file("bad.gguf");
    std::ofstream(path, std::ios::binary) << bytes;
    axe_model* m = nullptr;
    axe_model_params p = axe_model_default_params();
    const axe_status st = axe_model_load(path.c_str(), &p, &m);
    axe_model_free(m);
    return std::make_pair(st, std::string(axe_last_error()));
  };
  auto patched = [&](const std::string& from, const std::string& to) {
    REQUIRE(from.size() == to.size());
    std::string b = good;
    const size_t at = b.find(from);
    REQUIRE(at != std::string::npos);
    b.replace(at, from.size(), to);
    return b;
  };
  {
    const std::string key = std::string("general.architecture\x08\0\0\0\x05\0\0\0\0\0\0\0", 32);
    const auto [st, msg] = load_error(patched(key + "llama", key + "qwen2"));
    CHECK(st == AXE_ERR_UNSUPPORTED);
    CHECK(msg.find("bad.gguf: metadata 'general.architecture' is 'qwen2'") != std::string::npos);
  }
  {
    const auto [st, msg] = load_error(patched("blk.1.attn_q.weight", "blk.1.attn_x.weight"));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("bad.gguf: tensor 'blk.1.attn_q.weight' is missing") != std::string::npos);
  }
  {
    const auto [st, msg] = load_error(patched("llama.embedding_length", "llama.embedding_lengtx"));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("bad.gguf: metadata 'llama.embedding_length' is missing") != std::string::npos);
  }
  {
    const auto [st, msg] = load_error(patched("tokenizer.ggml.model", "tokenizer.ggml.mode_"));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("bad.gguf: metadata 'tokenizer.ggml.model' is missing") != std::string::npos);
  }
  {
    const auto [st, msg] = load_error(good.substr(0, good.size() - 100));
    CHECK(st == AXE_ERR_FORMAT);
    CHECK(msg.find("bad.gguf") != std::string::npos);
  }
}

TEST_CASE("axe verify of a GGUF: each Q8_0 and Q4_0 block's exact worst case and the smallest accumulator") {
  const std::string path = fixture("tiny-mix.gguf");
  const axe::GgufFile f(path, axe::MappedFile::Mode::kMap);
  for (const bool sym : {true, false}) {
    const axe::ActivationRange x = axe::ActivationRange::of(8, sym);
    const axe::GgufCheckReport r = axe::verify_gguf_file(path, 16, x);
    REQUIRE(r.tensors.size() == f.tensors().size());
    uint32_t widest = 0;
    for (size_t i = 0; i < r.tensors.size(); ++i) {
      const axe::GgufTensorCheck& c = r.tensors[i];
      const axe::GgufFile::Tensor& t = f.tensors()[i];
      CAPTURE(c.name);
      const bool integer = t.type == axe::GgmlType::Q8_0 || t.type == axe::GgmlType::Q4_0;
      CHECK(c.checked == (integer && t.name != "token_embd.weight"));
      if (!c.checked) continue;
      // Independently: the codes are the dequantized values over the block's
      // scale; each block's worst case is max(nu*A + mu*B, -(mu*A + nu*B)).
      std::vector<float> v(t.n_elements());
      axe::ggml_dequantize(t.type, t.data, v.size(), v.data());
      int64_t worst = 0;
      uint64_t over = 0;
      for (size_t b = 0; b < v.size() / 32; ++b) {
        float d = 0;
        for (size_t k = 0; k < 32; ++k) d = std::max(d, std::abs(v[b * 32 + k]));
        int64_t pos = 0, neg = 0;
        if (d > 0) {
          // The scale: the block's fp16 d (the first two bytes of the block).
          uint16_t h;
          std::memcpy(&h, t.data + b * axe::ggml_block_bytes(t.type), 2);
          float scale;
          axe::ggml_dequantize(axe::GgmlType::F16, reinterpret_cast<const uint8_t*>(&h), 1, &scale);
          for (size_t k = 0; k < 32; ++k) {
            const int64_t q = std::llround(v[b * 32 + k] / scale);
            (q > 0 ? pos : neg) += q;
          }
        }
        const int64_t hi = int64_t{x.nu} * pos + int64_t{x.mu} * neg, lo = int64_t{x.mu} * pos + int64_t{x.nu} * neg;
        const int64_t w = std::max(hi, -lo);
        worst = std::max(worst, w);
        over += w > 32767;
      }
      CHECK(c.worst_magnitude == worst);
      CHECK(c.overflowing_blocks == over);
      CHECK(c.min_inner_bits == axe::bits_for_magnitude(worst));
      // Narrow-range 4-bit codes times symmetric 8-bit activations over 32 columns fit 16 bits.
      if (t.type == axe::GgmlType::Q4_0 && sym) CHECK(c.min_inner_bits <= 16);
      widest = std::max(widest, c.min_inner_bits);
    }
    CHECK(r.min_inner_bits == widest);
    // At the smallest width every block holds; one bit less, some block does not.
    CHECK(axe::verify_gguf_file(path, r.min_inner_bits, x).holds());
    CHECK(!axe::verify_gguf_file(path, r.min_inner_bits - 1, x).holds());
  }
  CHECK(axe::bits_for_magnitude(32767) == 16);
  CHECK(axe::bits_for_magnitude(32768) == 17);
  CHECK(axe::bits_for_magnitude(0) == 2);
}

// llama.cpp reads these files too: stories260K written so, through
// llama-perplexity -c 128 --chunks 200 on eval.txt, gives PPL 4.8093, its
// figure for its own converter's F32 file (Intel Xeon, Sapphire Rapids class).
TEST_CASE("a float model written as GGUF reads back to the same logits") {
  TempDir dir;
  const std::vector<axe_token> toks = {1, 400, 72, 300, 9, 511, 2, 17, 260, 33};
  th::Model bin = th::load(test_paths::stories260k());
  const std::vector<float> want = th::decode_logits(bin.get(), toks);
  // From the llama2.c file: the same tensors, the same bits.
  const auto m = axe::load_llama2c(test_paths::stories260k(), "", true);
  const std::string a = dir.file("from-llama2c.gguf");
  axe::write_gguf(*m, a);
  th::Model ga = th::load(a);
  CHECK(th::decode_logits(ga.get(), toks) == want);
  // The vocabulary round-trips: the same tokenizer bytes as tok512.bin.
  const axe::GgufFile fa(a, axe::MappedFile::Mode::kMap);
  const std::string tok512 = slurp(test_paths::tok512());
  const std::string back = axe::gguf_tokenizer(fa, 512)->file_bytes();
  CHECK(back.substr(4) == tok512.substr(4));  // pieces and scores (the header's max length may differ)
  // From the Hugging Face folder (rotate-half q and k): rows put back in
  // llama.cpp's adjacent-pair order, so the same model within float rounding.
  // (Its vocabulary as llama2.c's, as a folder with tokenizer.model would have it:
  // the writer takes SentencePiece vocabularies.)
  const auto hf = axe::load_hf_folder(test_paths::stories260k_hf(""), true);
  hf->tokenizer = std::make_unique<axe::Llama2cTokenizer>(test_paths::tok512(), 512);
  const std::string b = dir.file("from-hf.gguf");
  axe::write_gguf(*hf, b);
  th::Model gb = th::load(b);
  const std::vector<float> got = th::decode_logits(gb.get(), toks);
  REQUIRE(got.size() == want.size());
  double worst = 0;
  for (size_t i = 0; i < got.size(); ++i) worst = std::max(worst, double(std::abs(got[i] - want[i])));
  CHECK(worst < 1e-4);
  // Writing refuses what it cannot write, and never replaces a non-file.
  CHECK_THROWS_AS(axe::write_gguf(*m, dir.path.string()), axe::Error);
}
