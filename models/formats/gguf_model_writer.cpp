// write_gguf (models/formats/gguf_model.h): a model to a GGUF file llama.cpp loads.
#include "models/formats/gguf_model.h"

#include <cstring>
#include <filesystem>

#include "models/formats/gguf.h"
#include "models/formats/gguf_writer.h"
#include "runtime/error.h"

namespace axe {

void write_gguf(const LlamaModel& m, const std::string& path) {
  const LlamaConfig& c = m.config;
  const auto* spm = dynamic_cast<const Llama2cTokenizer*>(m.tokenizer.get());
  if (!spm)
    fail(AXE_ERR_UNSUPPORTED, m.path + ": writing GGUF needs a SentencePiece (llama2.c) vocabulary; this model's tokenizer is " +
                                  std::string(m.tokenizer->kind()));
  if (m.quantized() || has_half_weights(m) || !m.embedding)
    fail(AXE_ERR_UNSUPPORTED, m.path + ": writing GGUF takes a float model with fp32 weights");
  if (c.rope_scaling.kind == RopeScaling::Kind::kLlama3)
    fail(AXE_ERR_UNSUPPORTED, m.path + ": llama3 rope scaling is not written to GGUF yet");
  GgufWriter w;
  w.set_string("general.architecture", "llama");
  w.set_string("general.name", std::filesystem::path(m.path).filename().string());
  w.set_u32("general.alignment", 32);
  w.set_u32("llama.context_length", static_cast<uint32_t>(c.seq_len));
  w.set_u32("llama.embedding_length", static_cast<uint32_t>(c.dim));
  w.set_u32("llama.block_count", static_cast<uint32_t>(c.n_layers));
  w.set_u32("llama.feed_forward_length", static_cast<uint32_t>(c.hidden_dim));
  w.set_u32("llama.rope.dimension_count", static_cast<uint32_t>(c.head_dim()));
  w.set_u32("llama.attention.head_count", static_cast<uint32_t>(c.n_heads));
  w.set_u32("llama.attention.head_count_kv", static_cast<uint32_t>(c.n_kv_heads));
  if (c.head_size) {
    w.set_u32("llama.attention.key_length", static_cast<uint32_t>(c.head_dim()));
    w.set_u32("llama.attention.value_length", static_cast<uint32_t>(c.head_dim()));
  }
  w.set_f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
  w.set_f32("llama.rope.freq_base", c.rope_base);
  w.set_u32("llama.vocab_size", static_cast<uint32_t>(c.vocab));
  if (c.rope_scaling.kind == RopeScaling::Kind::kLinear) {
    w.set_string("llama.rope.scaling.type", "linear");
    w.set_f32("llama.rope.scaling.factor", c.rope_scaling.factor);
  }
  // The vocabulary: pieces with U+2581 for spaces, scores and token types.
  std::vector<std::string> tokens(static_cast<size_t>(c.vocab));
  std::vector<float> scores(tokens.size());
  std::vector<int32_t> types(tokens.size());
  for (int32_t i = 0; i < c.vocab; ++i) {
    const std::string_view t = spm->token_text(i);
    std::string& s = tokens[static_cast<size_t>(i)];
    for (char ch : t) {
      if (ch == ' ') s += "\xe2\x96\x81";
      else s += ch;
    }
    scores[static_cast<size_t>(i)] = spm->score(i);
    types[static_cast<size_t>(i)] = i == Llama2cTokenizer::kUnk   ? GgufTokenType::kUnknown
                                    : i == Llama2cTokenizer::kBos || i == Llama2cTokenizer::kEos ? GgufTokenType::kControl
                                    : spm->is_byte(i)                                          ? GgufTokenType::kByte
                                                                                               : GgufTokenType::kNormal;
  }
  w.set_string("tokenizer.ggml.model", "llama");
  w.set_strings("tokenizer.ggml.tokens", tokens);
  w.set_f32s("tokenizer.ggml.scores", scores);
  w.set_i32s("tokenizer.ggml.token_type", types);
  w.set_u32("tokenizer.ggml.unknown_token_id", Llama2cTokenizer::kUnk);
  w.set_u32("tokenizer.ggml.bos_token_id", Llama2cTokenizer::kBos);
  w.set_u32("tokenizer.ggml.eos_token_id", Llama2cTokenizer::kEos);
  w.set_bool("tokenizer.ggml.add_bos_token", true);
  if (!m.chat_template.empty()) w.set_string("tokenizer.chat_template", m.chat_template);

  // Tensors: fp32, in place, except q and k of a rotate-half model, whose
  // rows are put back in adjacent-pair order (row 2j <- j, 2j+1 <- j + hd/2).
  std::vector<std::vector<float>> owned;
  auto f32 = [&](const Linear& l, const std::string& name) {
    const LinearF32* f = l.as_f32();
    if (!f) fail(AXE_ERR_UNSUPPORTED, m.path + ": " + name + " is not fp32");
    return f->data();
  };
  auto pairs = [&](const float* w, size_t rows, size_t cols) {
    const size_t hd = static_cast<size_t>(c.head_dim()), half = hd / 2;
    std::vector<float>& out = owned.emplace_back(rows * cols);
    for (size_t h = 0; h < rows / hd; ++h)
      for (size_t j = 0; j < half; ++j) {
        std::memcpy(&out[(h * hd + 2 * j) * cols], w + (h * hd + j) * cols, cols * 4);
        std::memcpy(&out[(h * hd + 2 * j + 1) * cols], w + (h * hd + half + j) * cols, cols * 4);
      }
    return static_cast<const float*>(out.data());
  };
  owned.reserve(2 * m.layers.size());
  const uint64_t V = c.vocab, D = c.dim;
  w.add_tensor(gguf_tensor_name(kTensorEmbedding), GgmlType::F32, {D, V}, m.embedding, 4 * V * D);
  w.add_tensor(gguf_tensor_name(kTensorFinalNorm), GgmlType::F32, {D}, m.rms_final, 4 * D);
  if (!c.shared_classifier)
    w.add_tensor(gguf_tensor_name(kTensorClassifier), GgmlType::F32, {D, V}, f32(*m.classifier, "the classifier"), 4 * V * D);
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LlamaLayer& ly = m.layers[l];
    w.add_tensor(gguf_tensor_name(l, kTensorAttentionNorm), GgmlType::F32, {D}, ly.rms_att, 4 * D);
    w.add_tensor(gguf_tensor_name(l, kTensorFfnNorm), GgmlType::F32, {D}, ly.rms_ffn, 4 * D);
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const std::string name = llama_tensor_name(l, llama_linears()[i].name);
      const auto [rows, cols] = llama_linear_shape(c, i);
      const float* data = f32(ly.linear(i), name);
      if (c.rope_halves && (i == 0 || i == 1)) data = pairs(data, rows, cols);
      w.add_tensor(gguf_tensor_name(l, llama_linears()[i].name), GgmlType::F32, {cols, rows}, data, 4 * rows * cols);
    }
  }
  w.write(path);
}

}  // namespace axe
