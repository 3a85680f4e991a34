#include "models/llama/model.h"

#include <cstdint>

#include "runtime/error.h"

namespace axe {

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
  const uint64_t table = embedding_codes ? uint64_t(c.vocab) * c.dim + 4 * uint64_t(c.vocab) : 4 * uint64_t(c.vocab) * c.dim;
  uint64_t b = table + 4 * (c.dim + 2 * uint64_t(c.dim) * layers.size());
  for (const auto& l : layers)
    for (size_t i = 0; i < kLlamaLinears; ++i) b += l.linear(i).weight_bytes();
  if (!c.shared_classifier || !classifier->as_f32()) b += classifier->weight_bytes();
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
    else
      v->classifier = make(SIZE_MAX, kClassifierLinear, *m.classifier);
  }
  return v;
}

}  // namespace axe
