// A loaded Llama model: configuration, weights (behind the Linear interface)
// and tokenizer. Immutable after loading; shared by contexts. Readers of each
// file format (models/formats/) build it.
#pragma once
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "models/llama/arch.h"
#include "models/llama/config.h"
#include "models/llama/rotation.h"
#include "models/quant_format.h"
#include "runtime/linear.h"
#include "runtime/tokenizer.h"

namespace axe {

struct LlamaLayer {
  const float* rms_att = nullptr;  // [dim]
  const float* rms_ffn = nullptr;  // [dim]
  std::unique_ptr<Linear> wq, wk, wv, wo, w1, w2, w3;
  Linear& linear(size_t i) { return *(this->*(llama_linears()[i].member)); }
  const Linear& linear(size_t i) const { return *(this->*(llama_linears()[i].member)); }
};

struct LlamaModel {
  LlamaConfig config;
  std::string path;
  std::string format;  // what the reader read: "llama2c-legacy", "llama2c-v1", "axe"
  // What the weights point into (mapped or copied files), kept alive here.
  std::vector<std::shared_ptr<const void>> storage;
  // The integer layers' format for a quantized model; empty for a float one.
  std::optional<QuantFormat> quant;
  // The embedding table: fp32 rows [vocab][dim], or (a .axe with compact
  // embeddings) 8-bit rows with one scale each: row t is
  // embedding_scales[t] * embedding_codes[t][.].
  const float* embedding = nullptr;
  const int8_t* embedding_codes = nullptr;
  const float* embedding_scales = nullptr;
  // Or (a 16-bit Hugging Face folder) 16-bit rows [vocab][dim], widened at lookup.
  std::shared_ptr<const LinearHalf> embedding_half;
  const float* rms_final = nullptr;  // [dim]
  std::vector<LlamaLayer> layers;
  std::unique_ptr<Linear> classifier;  // [vocab][dim], fp32 or integer
  std::unique_ptr<Tokenizer> tokenizer;
  // Set when the linear layers' inputs are rotated (models/llama/rotation.h).
  std::shared_ptr<const HadamardRotation> rotation;
  // What the model's folder said about chat: its Jinja chat_template (empty
  // when none) and every id that ends a turn (eos_token_id, which may be a
  // list, and the tokenizer's end-of-turn tokens), ascending.
  std::string chat_template;
  std::vector<int32_t> stop_ids;
  // The tensors the reader converted at load to a format axe runs natively
  // (a GGUF's non-native quantized linears to Q8_0: models/formats/gguf_model.h),
  // in load order, with the error against the file's exact values:
  // ||W_converted - W_file|| / ||W_file|| and max |W_converted - W_file|
  // (both 0 for an exact conversion, NaN when a non-finite value changed).
  struct Conversion {
    std::string tensor, from, to;  // "blk.0.attn_k.weight", "Q3_K", "Q8_0"
    double rel_rms = 0, max_abs = 0;
  };
  std::vector<Conversion> conversions;

  bool quantized() const { return quant.has_value(); }
  // Sets stop_ids to the ids a file names (`from_file`), the tokenizer's EOS
  // and its end-of-turn tokens, ascending and without repeats.
  void set_stop_ids(std::vector<int32_t> from_file);
  // "F32", "BF16" or "F16" (the block layers' type), or the bits of a quantized model ("W4A8").
  std::string describe_weights() const;
  uint64_t n_params() const;
  uint64_t weight_bytes() const;
};

// A model sharing every weight of `m` but its blocks' linear layers, which
// come from make(layer index, tensor name, the original layer). The
// classifier is a fresh view of the original's fp32 weights, or, when it is
// an integer layer, also comes from make(SIZE_MAX, kClassifierLinear, it);
// the rotation is shared; tokenizer and storage stay with `m`, which must
// outlive the result.
using LinearFactory = std::function<std::unique_ptr<Linear>(size_t, const std::string&, const Linear&)>;
std::unique_ptr<LlamaModel> with_replaced_linears(const LlamaModel& m, const LinearFactory& make);

// Whether any weight of `m` is 16-bit (a LinearHalf or 16-bit embedding rows).
bool has_half_weights(const LlamaModel& m);
// A model like `m` whose 16-bit weights are widened to fp32 copies it owns
// (for the quantizer, which reads fp32); tokenizer copied, other weights shared.
std::unique_ptr<LlamaModel> with_f32_weights(const LlamaModel& m);

}  // namespace axe
