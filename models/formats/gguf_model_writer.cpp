// write_gguf (models/formats/gguf_model.h): a model to a GGUF file llama.cpp loads.
#include "models/formats/gguf_model.h"

#include <cstring>
#include <deque>
#include <filesystem>
#include <optional>

#include "models/formats/gguf.h"
#include "models/formats/gguf_writer.h"
#include "runtime/error.h"
#include "runtime/half_float.h"
#include "runtime/linear_group.h"

namespace axe {
namespace {

bool is_group_type(GgmlType t) { return t == GgmlType::Q8_0 || t == GgmlType::Q4_0; }

// One tensor's data for the writer (pointing into the model or into `owned`).
struct TensorData {
  GgmlType type;
  const uint8_t* data;
  size_t row_bytes;  // bytes per row (ne[0] elements)
};

TensorData f32_data(const float* p, size_t row_elements) {
  return {GgmlType::F32, reinterpret_cast<const uint8_t*>(p), 4 * row_elements};
}

// The Q8_0 (8-bit) or Q4_0 (4-bit) blocks of a groupwise layer's first
// `cols` columns (a multiple of 32), row after row: the fp16 scale (checked
// to be an fp16 value), then the quants, copied from the packed layout of
// runtime/kernels/group_types.h: 4 bytes at a time, word j of row r in chunk
// j of its panel's block at byte 4r. 8-bit: byte 4j + i is q + 128 of
// column 4j + i, so xor 0x80 gives block_q8_0's int8; 4-bit: byte 4j + i
// holds q + 8 of columns 4j + i (low nibble) and 16 + 4j + i (high), which is
// block_q4_0's byte 4j + i as it is (the layout was chosen so).
std::vector<uint8_t> group_blocks(const GroupWeights& w, size_t cols) {
  const size_t nb = cols / kGroupSize, bb = w.bits == 8 ? 34 : 18, words = (bb - 2) / 4;
  std::vector<uint8_t> out(w.rows * nb * bb);
  for (size_t r = 0; r < w.rows; ++r)
    for (size_t g = 0; g < nb; ++g) {
      uint8_t* o = out.data() + (r * nb + g) * bb;
      const uint16_t d = fp32_to_fp16(w.scales[r * w.groups + g]);
      std::memcpy(o, &d, 2);
      const uint8_t* b = w.block(r / kGroupPanelRows, g) + 4 * (r % kGroupPanelRows);
      for (size_t j = 0; j < words; ++j) std::memcpy(o + 2 + 4 * j, b + 64 * j, 4);
      if (w.bits == 8)
        for (size_t k = 0; k < kGroupSize; ++k) o[2 + k] ^= 0x80;
    }
  return out;
}

}  // namespace

GgufWriteSummary write_gguf(const LlamaModel& m, const std::string& path,
                            const std::map<std::string, std::string>& extra) {
  const LlamaConfig& c = m.config;
  const auto* spm = dynamic_cast<const Llama2cTokenizer*>(m.tokenizer.get());
  if (!spm)
    fail(AXE_ERR_UNSUPPORTED, m.path + ": writing GGUF needs a SentencePiece (llama2.c) vocabulary; this model's tokenizer is " +
                                  (m.tokenizer ? std::string(m.tokenizer->kind()) : std::string("missing")));
  if (!m.embedding && !m.embedding_codes && !m.embedding_half)
    fail(AXE_ERR_UNSUPPORTED, m.path + ": the model has no embedding table to write");
  if (m.rotation)
    fail(AXE_ERR_UNSUPPORTED, m.path + ": the model's linear layers read Hadamard-rotated inputs (axe quantize "
                                       "--rotate), which llama.cpp does not compute; GGUF takes an unrotated model");
  if (c.rope_scaling.kind == RopeScaling::Kind::kLlama3)
    fail(AXE_ERR_UNSUPPORTED, m.path + ": llama3 rope scaling is not written to GGUF yet");
  for (const auto& [k, v] : extra)
    if (k.empty() || k.starts_with("general.") || k.starts_with("llama.") || k.starts_with("tokenizer."))
      fail(AXE_ERR_INVALID_ARGUMENT, "write_gguf: extra key '" + excerpt(k) +
                                         "' is empty or in a namespace the writer fills (general., llama., "
                                         "tokenizer.)");
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
  for (const auto& [k, v] : extra) w.set_string(k, v);

  // Tensors. Each is written as the model holds it; owned copies (blocks,
  // dequantized rows, permuted q and k) live in `owned` until w.write().
  GgufWriteSummary summary;
  std::deque<std::vector<uint8_t>> owned;
  auto add = [&](const std::string& name, const TensorData& t, uint64_t rows, uint64_t cols) {
    std::vector<uint64_t> ne{cols};
    if (rows != 1) ne.push_back(rows);
    w.add_tensor(name, t.type, std::move(ne), t.data, t.row_bytes * rows);
    ++summary.tensors[t.type];
  };
  auto f32_rows = [&](std::vector<float> v, size_t cols) {
    std::vector<uint8_t>& b = owned.emplace_back(v.size() * 4);
    std::memcpy(b.data(), v.data(), b.size());
    return TensorData{GgmlType::F32, b.data(), 4 * cols};
  };
  // A linear layer's tensor, rows x cols (cols = the layer's logical inputs).
  auto linear = [&](const Linear& lin, const std::string& name) -> TensorData {
    const size_t rows = lin.rows(), cols = lin.cols();
    if (const LinearF32* f = lin.as_f32()) return f32_data(f->data(), cols);
    if (const LinearHalf* h = lin.as_half())
      return {h->type() == LinearHalf::HalfType::kBF16 ? GgmlType::BF16 : GgmlType::F16,
              reinterpret_cast<const uint8_t*>(h->data()), 2 * cols};
    if (const LinearGroup* g = lin.as_group()) {
      const GroupWeights& gw = g->weights();
      // A 4-bit GroupWeights holds nibbles, codes in [-8, 7] (Q4_0's range),
      // an 8-bit one int8 codes (Q8_0's): only other widths cannot be stored.
      if (gw.bits != 4 && gw.bits != 8)
        fail(AXE_ERR_UNSUPPORTED, m.path + ": " + name + " has " + std::to_string(gw.bits) +
                                      "-bit groupwise codes; GGUF stores 4 (Q4_0) and 8 (Q8_0)");
      if (!gw.half_scales)
        fail(AXE_ERR_UNSUPPORTED, m.path + ": " + name + " has scales that are not fp16 values; GGUF's " +
                                      (gw.bits == 8 ? "Q8_0" : "Q4_0") + " blocks store fp16 scales");
      if (gw.rows != rows || cols > gw.cols)
        fail(AXE_ERR_INTERNAL, m.path + ": " + name + ": groupwise weights of " + std::to_string(gw.rows) + " x " +
                                   std::to_string(gw.cols) + " for a layer of " + std::to_string(rows) + " x " +
                                   std::to_string(cols));
      if (cols % kGroupSize == 0) {
        const std::vector<uint8_t>& b = owned.emplace_back(group_blocks(gw, cols));
        return {gw.bits == 8 ? GgmlType::Q8_0 : GgmlType::Q4_0, b.data(), cols / kGroupSize * (gw.bits == 8 ? 34 : 18)};
      }
      // K not a multiple of 32 (e.g. stories260K's w2, K = 172): GGUF has no
      // short blocks (llama.cpp's quantizer falls back to F16 for such
      // tensors). F32 holds code * scale exactly (an fp16 scale times an
      // integer of at most 8 bits needs 19 significant bits, fp16 has 11),
      // so these are the layer's exact weights.
      std::vector<float> v(rows * cols);
      for (size_t r = 0; r < rows; ++r)
        for (size_t k = 0; k < cols; ++k)
          v[r * cols + k] = static_cast<float>(gw.code(r, k)) * gw.scales[r * gw.groups + k / kGroupSize];
      return f32_rows(std::move(v), cols);
    }
    if (lin.as_int8())
      fail(AXE_ERR_UNSUPPORTED, m.path + ": " + name + " has per-row integer weights; GGUF's Q8_0/Q4_0 need groupwise "
                                                       "quantization (axe quantize --group 32)");
    fail(AXE_ERR_UNSUPPORTED, m.path + ": " + name + " is not a kind of layer GGUF stores (fp32, 16-bit or groupwise)");
  };
  // q and k of a rotate-half model: rows put back in adjacent-pair order
  // (row 2j <- j, 2j+1 <- j + hd/2 of each head), whole rows (a groupwise
  // row's codes and scales move together).
  auto pairs = [&](const TensorData& t, size_t rows) {
    const size_t hd = static_cast<size_t>(c.head_dim()), half = hd / 2, rb = t.row_bytes;
    std::vector<uint8_t>& out = owned.emplace_back(rows * rb);
    for (size_t h = 0; h < rows / hd; ++h)
      for (size_t j = 0; j < half; ++j) {
        std::memcpy(&out[(h * hd + 2 * j) * rb], t.data + (h * hd + j) * rb, rb);
        std::memcpy(&out[(h * hd + 2 * j + 1) * rb], t.data + (h * hd + half + j) * rb, rb);
      }
    return TensorData{t.type, out.data(), rb};
  };
  auto note = [&](const std::string& name, const TensorData& t) {
    if (!is_group_type(t.type)) summary.not_groupwise.push_back(name);
  };

  const uint64_t V = c.vocab, D = c.dim;
  // The classifier: its own tensor unless it is the embedding (a tied fp32
  // or 16-bit classifier). A quantized classifier is its own weights even
  // when tied (a .axe's "output" codes).
  const Linear& cls = *m.classifier;
  const bool cls_is_embedding = c.shared_classifier && (cls.as_f32() || cls.as_half());
  std::optional<TensorData> cls_t;
  if (!cls_is_embedding) cls_t = linear(cls, gguf_tensor_name(kTensorClassifier));
  // The embedding. fp32 rows that are exactly the dequantized blocks of a
  // Q8_0/Q4_0 classifier (a GGUF with a quantized token_embd, read back:
  // axe dequantizes its embedding at load) are written as those blocks, which
  // is what the file held; other fp32 rows as F32, 8-bit rows as F32 of their
  // exact values (scale * code, as llama_embed computes them), 16-bit as is.
  TensorData emb{};
  if (m.embedding) {
    emb = f32_data(m.embedding, D);
    if (cls_t && is_group_type(cls_t->type) && cls.rows() == V && cls.cols() == D) {
      // Compared with ggml_dequantize's values of those blocks, the
      // arithmetic the reader used to make the embedding.
      std::vector<float> row(D);
      bool same = true;
      for (size_t t = 0; t < V && same; ++t) {
        ggml_dequantize(cls_t->type, cls_t->data + t * cls_t->row_bytes, D, row.data());
        same = std::memcmp(row.data(), m.embedding + t * D, 4 * D) == 0;
      }
      if (same) {
        emb = *cls_t;
        if (c.shared_classifier) cls_t.reset();  // token_embd now holds the classifier's very blocks
      }
    }
  } else if (m.embedding_codes) {
    std::vector<float> v(V * D);
    for (size_t t = 0; t < V; ++t)
      for (size_t k = 0; k < D; ++k)
        v[t * D + k] = m.embedding_scales[t] * static_cast<float>(m.embedding_codes[t * D + k]);
    emb = f32_rows(std::move(v), D);
  } else {
    emb = {m.embedding_half->type() == LinearHalf::HalfType::kBF16 ? GgmlType::BF16 : GgmlType::F16,
           reinterpret_cast<const uint8_t*>(m.embedding_half->data()), 2 * D};
  }
  add(gguf_tensor_name(kTensorEmbedding), emb, V, D);
  add(gguf_tensor_name(kTensorFinalNorm), f32_data(m.rms_final, D), 1, D);
  if (cls_t) {
    add(gguf_tensor_name(kTensorClassifier), *cls_t, V, D);
    note(gguf_tensor_name(kTensorClassifier), *cls_t);
  }
  if (!c.rope_freq_factors.empty())
    add("rope_freqs.weight", f32_data(c.rope_freq_factors.data(), c.rope_freq_factors.size()), 1,
        c.rope_freq_factors.size());
  for (size_t l = 0; l < m.layers.size(); ++l) {
    const LlamaLayer& ly = m.layers[l];
    add(gguf_tensor_name(l, kTensorAttentionNorm), f32_data(ly.rms_att, D), 1, D);
    add(gguf_tensor_name(l, kTensorFfnNorm), f32_data(ly.rms_ffn, D), 1, D);
    for (size_t i = 0; i < kLlamaLinears; ++i) {
      const std::string name = gguf_tensor_name(l, llama_linears()[i].name);
      const auto [rows, cols] = llama_linear_shape(c, i);
      const Linear& lin = ly.linear(i);
      if (lin.rows() != rows || lin.cols() != cols)
        fail(AXE_ERR_INTERNAL, m.path + ": " + name + " is " + std::to_string(lin.rows()) + " x " +
                                   std::to_string(lin.cols()) + ", the configuration says " + std::to_string(rows) +
                                   " x " + std::to_string(cols));
      TensorData t = linear(lin, name);
      if (c.rope_halves && (i == 0 || i == 1)) t = pairs(t, rows);
      add(name, t, rows, cols);
      note(name, t);
    }
  }
  w.write(path);
  return summary;
}

}  // namespace axe
