#include "models/llama/model.h"

#include <algorithm>
#include <cstdint>

#include "runtime/error.h"

namespace axe {

void LlamaModel::set_stop_ids(std::vector<int32_t> from_file) {
  if (tokenizer->eos() >= 0) from_file.push_back(tokenizer->eos());
  for (int32_t id : tokenizer->end_of_turn_ids()) from_file.push_back(id);
  std::sort(from_file.begin(), from_file.end());
  from_file.erase(std::unique(from_file.begin(), from_file.end()), from_file.end());
  stop_ids = std::move(from_file);
}

std::string LlamaModel::describe_weights() const {
  if (quant) return quant->describe_bits();
  if (!layers.empty())
    if (const LinearHalf* h = layers[0].wq->as_half()) return h->type() == LinearHalf::HalfType::kBF16 ? "BF16" : "F16";
  return "F32";
}

uint64_t LlamaModel::n_params() const {
  const auto& c = config;
  uint64_t n = uint64_t(c.vocab) * c.dim + uint64_t(c.dim);
  for (const auto& l : layers) {
    n += 2 * uint64_t(c.dim);
    for (size_t i = 0; i < kLlamaLinears; ++i) n += uint64_t{l.linear(i).rows()} * l.linear(i).cols();
  }
  if (!c.shared_classifier) n += uint64_t(c.vocab) * c.dim;
  return n;
}

uint64_t LlamaModel::weight_bytes() const {
  const auto& c = config;
  const uint64_t table = embedding_codes  ? uint64_t(c.vocab) * c.dim + 4 * uint64_t(c.vocab)
                         : embedding_half ? 2 * uint64_t(c.vocab) * c.dim
                                          : 4 * uint64_t(c.vocab) * c.dim;
  uint64_t b = table + 4 * (c.dim + 2 * uint64_t(c.dim) * layers.size());
  for (const auto& l : layers)
    for (size_t i = 0; i < kLlamaLinears; ++i) b += l.linear(i).weight_bytes();
  if (!c.shared_classifier || !(classifier->as_f32() || classifier->as_half())) b += classifier->weight_bytes();
  return b;
}

std::unique_ptr<LlamaModel> with_replaced_linears(const LlamaModel& m, const LinearFactory& make) {
  auto v = std::make_unique<LlamaModel>();
  v->config = m.config;
  v->path = m.path;
  v->format = m.format;
  v->quant = m.quant;
  v->rotation = m.rotation;
  v->embedding = m.embedding;
  v->embedding_codes = m.embedding_codes;
  v->embedding_scales = m.embedding_scales;
  v->embedding_half = m.embedding_half;
  v->chat_template = m.chat_template;
  v->stop_ids = m.stop_ids;
  v->rms_final = m.rms_final;
  v->layers.resize(m.layers.size());
  for (size_t l = 0; l < m.layers.size(); ++l) {
    v->layers[l].rms_att = m.layers[l].rms_att;
    v->layers[l].rms_ffn = m.layers[l].rms_ffn;
    for (const LlamaLinearInfo& ln : llama_linears())
      v->layers[l].*(ln.member) = make(l, llama_tensor_name(l, ln.name), *(m.layers[l].*(ln.member)));
  }
  if (m.classifier) {
    if (const LinearF32* cls = m.classifier->as_f32())
      v->classifier = std::make_unique<LinearF32>(cls->data(), cls->rows(), cls->cols());
    else if (const LinearHalf* h = m.classifier->as_half())
      v->classifier = std::make_unique<LinearHalf>(h->type(), h->data(), h->rows(), h->cols());
    else
      v->classifier = make(SIZE_MAX, kClassifierLinear, *m.classifier);
  }
  return v;
}

bool has_half_weights(const LlamaModel& m) {
  if (m.embedding_half || (m.classifier && m.classifier->as_half())) return true;
  for (const LlamaLayer& ly : m.layers)
    for (size_t i = 0; i < kLlamaLinears; ++i)
      if (ly.linear(i).as_half()) return true;
  return false;
}

std::unique_ptr<LlamaModel> with_f32_weights(const LlamaModel& m) {
  std::vector<std::shared_ptr<const void>> owned;
  auto widen = [&](const LinearHalf& h) {
    auto v = std::make_shared<std::vector<float>>(h.rows() * h.cols());
    for (size_t r = 0; r < h.rows(); ++r) h.widen_row(r, v->data() + r * h.cols());
    owned.push_back(v);
    return static_cast<const float*>(v->data());
  };
  auto widened = [&](const Linear& orig) -> std::unique_ptr<Linear> {
    if (const LinearHalf* h = orig.as_half()) return std::make_unique<LinearF32>(widen(*h), h->rows(), h->cols());
    if (const LinearF32* f = orig.as_f32()) return std::make_unique<LinearF32>(f->data(), f->rows(), f->cols());
    fail(AXE_ERR_INVALID_ARGUMENT, m.path + ": the model has integer layers; it is already quantized");
  };
  auto v = with_replaced_linears(m, [&](size_t, const std::string&, const Linear& orig) { return widened(orig); });
  if (m.embedding_half) {
    v->embedding = widen(*m.embedding_half);
    v->embedding_half.reset();
  }
  if (m.classifier->as_half())
    v->classifier = m.config.shared_classifier && v->embedding
                        ? std::make_unique<LinearF32>(v->embedding, m.classifier->rows(), m.classifier->cols())
                        : widened(*m.classifier);
  v->storage = m.storage;
  for (auto& o : owned) v->storage.push_back(std::move(o));
  v->tokenizer = make_tokenizer(m.tokenizer->kind(), m.tokenizer->file_bytes(), m.tokenizer->settings_bytes(), m.path,
                                m.config.vocab);
  return v;
}

}  // namespace axe
