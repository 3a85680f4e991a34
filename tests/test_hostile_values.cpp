// Hostile values (docs/RELIABILITY.md): a NaN or infinite weight is reported
// where it first makes a non-finite activation, with the layer named, never
// turned into <unk>s or a NaN perplexity; the quantizer refuses it with the
// tensor named; activation quantization is defined behaviour on any float.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "api_helpers.h"
#include "runtime/kernels/int8_types.h"
#include "temp_dir.h"

namespace {

// stories260K (legacy llama2.c) with one float replaced: `tensor` is 0 for
// the embedding, 1 for rms_att, 2 for wq (each [layer][...]).
std::vector<char> with_value(int tensor, int layer, size_t index, float value) {
  auto bytes = read_bytes(test_paths::stories260k());
  int32_t h[7];
  std::memcpy(h, bytes.data(), sizeof h);
  const size_t D = h[0], L = h[2], V = std::abs(h[5]);
  size_t at = 28;
  if (tensor >= 1) at += 4 * V * D;
  if (tensor == 1) at += 4 * (layer * D + index);
  if (tensor == 2) at += 4 * (L * D + layer * D * D + index);
  if (tensor == 0) at += 4 * index;
  std::memcpy(bytes.data() + at, &value, 4);
  return bytes;
}

axe_status decode_all(axe_model* m, std::string* err) {
  auto c = th::context(m);
  std::vector<axe_token> toks{1, 403, 407, 261, 378};
  std::vector<int32_t> pos{0, 1, 2, 3, 4};
  const axe_status st = axe_decode(c.get(), toks.data(), pos.data(), toks.size(), nullptr);
  *err = axe_context_last_error(c.get());
  return st;
}

}  // namespace

TEST_CASE("a NaN or infinite weight stops the forward pass at the layer where it appears") {
  TempDir dir;
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  SUBCASE("NaN in layers.2's wq: the attention output of layer 2") {
    auto m = th::load(dir.write("nan.bin", with_value(2, 2, 5, nan)), test_paths::tok512().c_str());
    std::string err;
    CHECK(decode_all(m.get(), &err) == AXE_ERR_NUMERIC);
    CHECK(err.find("nan.bin: layer 2: the attention output") != std::string::npos);
    // Perplexity is an error too, not PPL = nan.
    auto c = th::context(m.get());
    const std::string text = "Once upon a time there was a little girl. She liked to play. One day she saw a dog.";
    axe_perplexity_params p = axe_perplexity_default_params();
    p.n_ctx = 16;
    axe_perplexity_result r{};
    r.struct_size = sizeof r;
    CHECK(axe_perplexity(c.get(), text.data(), text.size(), &p, &r) == AXE_ERR_NUMERIC);
  }
  SUBCASE("an infinite norm weight in layer 1: the input of its q/k/v") {
    auto m = th::load(dir.write("inf.bin", with_value(1, 1, 3, inf)), test_paths::tok512().c_str());
    std::string err;
    CHECK(decode_all(m.get(), &err) == AXE_ERR_NUMERIC);
    CHECK(err.find("layer 1: the input of attention.wq/wk/wv is not finite at position 0") != std::string::npos);
  }
  SUBCASE("a NaN token embedding: only the token that uses it") {
    // Token 403's embedding row, element 0.
    auto m = th::load(dir.write("emb.bin", with_value(0, 0, 403 * 64, nan)), test_paths::tok512().c_str());
    std::string err;
    CHECK(decode_all(m.get(), &err) == AXE_ERR_NUMERIC);
    CHECK(err.find("layer 0: the input of attention.wq/wk/wv is not finite at position 1") != std::string::npos);
  }
  SUBCASE("in a long prefill on two threads, the error names the first bad position") {
    // 300 tokens, the damaged one (403) at positions 97, 151 and 290: the
    // check runs in chunks on both threads, each stopping at its own first
    // bad row; the report must still be position 97, as a serial scan gives.
    auto m = th::load(dir.write("emb2.bin", with_value(0, 0, 403 * 64, nan)), test_paths::tok512().c_str());
    auto c = th::context(m.get(), nullptr, 2);
    std::vector<axe_token> toks(300);
    std::vector<int32_t> pos(300);
    for (size_t i = 0; i < toks.size(); ++i) {
      toks[i] = static_cast<axe_token>(260 + i % 100);  // never 403
      pos[i] = static_cast<int32_t>(i);
    }
    toks[97] = toks[151] = toks[290] = 403;
    CHECK(axe_decode(c.get(), toks.data(), pos.data(), toks.size(), nullptr) == AXE_ERR_NUMERIC);
    CHECK(std::string(axe_context_last_error(c.get()))
              .find("layer 0: the input of attention.wq/wk/wv is not finite at position 97 ") != std::string::npos);
  }
  SUBCASE("the quantizer refuses it, naming the tensor and the element") {
    auto m = th::load(dir.write("nanq.bin", with_value(2, 2, 5, nan)), test_paths::tok512().c_str());
    axe_quantize_params p = axe_quantize_default_params();
    p.n_threads = 1;
    const std::string out = dir.file("nan.axe");
    CHECK(axe_quantize(m.get(), out.c_str(), &p) == AXE_ERR_NUMERIC);
    CHECK(std::string(axe_model_last_error(m.get())).find("layers.2.attention.wq: the weight at row 0, column 5 is NaN") !=
          std::string::npos);
    CHECK_FALSE(std::filesystem::exists(out));
  }
}

TEST_CASE("activation quantization is defined on every float, and finite rows keep their codes") {
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const float big = std::numeric_limits<float>::max(), tiny = std::numeric_limits<float>::denorm_min();
  const std::vector<std::vector<float>> rows = {
      {1.0f, -2.0f, nan, 3.0f},      {inf, 1.0f, -1.0f, 0.0f}, {-inf, 1.0f, 2.0f, 0.0f},
      {big, -big, 1.0f, 0.0f},       {tiny, 0.0f, -tiny, tiny}, {0.0f, 0.0f, 0.0f, 0.0f},
      {nan, nan, nan, nan},          {big, big, big, big},
  };
  for (bool sym : {false, true}) {
    for (int bits : {8, 4}) {
      CAPTURE(sym);
      CAPTURE(bits);
      axe::Int8Activations a;
      std::vector<float> x;
      for (const auto& r : rows) x.insert(x.end(), r.begin(), r.end());
      axe::quantize_activations(x.data(), 4, rows.size(), 4, bits, sym, a);
      const axe::ActivationRange range = axe::ActivationRange::of(bits, sym);
      const int32_t cmin = sym ? range.mu + 128 : 0, cmax = sym ? range.nu + 128 : range.nu;
      for (size_t m = 0; m < rows.size(); ++m) {
        CAPTURE(m);
        CHECK(std::isfinite(a.scales[m]));
        CHECK(a.scales[m] > 0);
        for (size_t k = 0; k < 4; ++k) {
          const int32_t c = a.codes.data()[m * a.kp + k];
          CHECK(c >= cmin);
          CHECK(c <= cmax);
        }
      }
      // NaN gives the lowest code, +inf the highest, -inf the lowest.
      CHECK(a.codes.data()[0 * a.kp + 2] == cmin);
      CHECK(a.codes.data()[1 * a.kp + 0] == cmax);
      CHECK(a.codes.data()[2 * a.kp + 0] == cmin);
      // The finite values of a row with a NaN quantize as they would alone.
      axe::Int8Activations alone;
      const std::vector<float> finite{1.0f, -2.0f, 0.0f, 3.0f};
      axe::quantize_activations(finite.data(), 4, 1, 4, bits, sym, alone);
      CHECK(alone.scales[0] == a.scales[0]);
      for (size_t k : {0u, 1u, 3u}) CHECK(alone.codes.data()[k] == a.codes.data()[k]);
      // Finite extremes: the largest magnitudes reach the ends of the range.
      CHECK(a.codes.data()[3 * a.kp + 0] == cmax);
      CHECK(a.codes.data()[3 * a.kp + 1] == cmin);
    }
  }
}
