// C API: models, tokenization.
#include <algorithm>
#include <cstring>
#include <optional>

#include "api/internal.h"
#include "models/formats/axe.h"
#include "models/formats/detect.h"
#include "models/formats/gguf_model.h"
#include "models/formats/hf_folder.h"
#include "models/formats/llama2c.h"
#include "runtime/chat_template.h"

namespace axe {
namespace {
thread_local std::string t_last_error;
}
void set_thread_error(const std::string& message) { t_last_error = message; }
}  // namespace axe

using axe::fail;

namespace {

// The weight bytes one decoded token reads (axe_model_info.decode_bytes),
// counted per tensor as LlamaModel::weight_bytes() counts them: each linear
// layer's own weight_bytes() (an integer layer's codes and scales), the norm
// gains (fp32), and the embedding lookup's one row, in the table's own
// format; or, when the classifier is a view of the embedding table (a shared
// fp32 or 16-bit classifier), the whole table once, as the classifier, the
// looked-up row being one of its rows. A shared classifier that is its own
// (integer) layer reads its bytes plus the row of the table. The KV cache is
// not counted: what it reads grows with the position.
uint64_t decode_bytes(const axe::LlamaModel& m) {
  const auto& c = m.config;
  const uint64_t D = static_cast<uint64_t>(c.dim);
  uint64_t b = 4 * (D + 2 * D * m.layers.size());  // rms_final, rms_att and rms_ffn
  for (const auto& l : m.layers)
    for (size_t i = 0; i < axe::kLlamaLinears; ++i) b += l.linear(i).weight_bytes();
  const axe::LinearF32* cls_f32 = m.classifier->as_f32();
  const axe::LinearHalf* cls_half = m.classifier->as_half();
  const bool classifier_is_table =
      (cls_f32 && m.embedding && cls_f32->data() == m.embedding) ||
      (cls_half && m.embedding_half && cls_half->data() == m.embedding_half->data());
  b += m.classifier->weight_bytes();
  if (!classifier_is_table) {
    b += m.embedding_codes ? D + 4  // 8-bit codes and the row's scale
         : m.embedding_half ? 2 * D
                            : 4 * D;
  }
  return b;
}

}  // namespace

extern "C" {

AXE_API const char* axe_last_error(void) { return axe::t_last_error.c_str(); }

AXE_API axe_model_params axe_model_default_params(void) {
  axe_model_params p{};
  p.struct_size = sizeof(p);
  return p;
}

AXE_API axe_status axe_model_load(const char* path, const axe_model_params* params, axe_model** out_model) {
  return axe::create_handle(out_model, "axe_model_load: out_model is NULL", [&] {
    if (!path) fail(AXE_ERR_INVALID_ARGUMENT, "axe_model_load: path is NULL");
    const axe_model_params p = axe::read_params(params, axe_model_default_params());
    if (p.progress && !p.progress(0.0f, p.progress_user_data)) fail(AXE_ERR_ABORTED, "loading aborted");
    auto m = std::make_unique<axe_model>();
    if (axe::is_model_folder(path)) {
      if (p.tokenizer_path) axe::log(AXE_LOG_WARN, std::string(path) + ": a model folder has its tokenizer; --tokenizer is ignored");
      m->model = axe::load_hf_folder(path, p.use_mmap != 0);
    } else if (axe::detect_model_file(path) == axe::ModelFileKind::kGguf) {
      if (p.tokenizer_path) axe::log(AXE_LOG_WARN, std::string(path) + ": a GGUF file carries its tokenizer; --tokenizer is ignored");
      m->model = axe::load_gguf(path, p.use_mmap != 0);
    } else if (axe::detect_model_file(path) == axe::ModelFileKind::kAxe) {
      if (p.tokenizer_path) axe::log(AXE_LOG_WARN, std::string(path) + ": a .axe file carries its tokenizer; --tokenizer is ignored");
      m->model = axe::load_axe(path, p.use_mmap != 0);
    } else {
      m->model = axe::load_llama2c(path, p.tokenizer_path ? p.tokenizer_path : "", p.use_mmap != 0);
    }
    if (p.progress && !p.progress(1.0f, p.progress_user_data)) fail(AXE_ERR_ABORTED, "loading aborted");
    const auto& c = m->model->config;
    axe::log(AXE_LOG_INFO, std::string(path) + ": " + m->model->format + ", dim " + std::to_string(c.dim) +
                               ", " + std::to_string(c.n_layers) + " layers, vocab " + std::to_string(c.vocab));
    return m.release();
  });
}

AXE_API void axe_model_free(axe_model* model) { delete model; }

AXE_API const char* axe_model_last_error(const axe_model* model) {
  return model ? model->error.c_str() : "model is NULL";
}

AXE_API axe_status axe_model_get_info(const axe_model* model, axe_model_info* info) {
  if (!model || !info) return AXE_ERR_INVALID_ARGUMENT;
  if (info->struct_size < sizeof(size_t)) {
    model->error = "axe_model_get_info: info.struct_size is not set";
    return AXE_ERR_INVALID_ARGUMENT;
  }
  axe_model_info r{};
  r.struct_size = sizeof(r);
  const auto& m = *model->model;
  const auto& c = m.config;
  r.dim = c.dim;
  r.hidden_dim = c.hidden_dim;
  r.n_layers = c.n_layers;
  r.n_heads = c.n_heads;
  r.n_kv_heads = c.n_kv_heads;
  r.n_vocab = c.vocab;
  r.n_ctx_train = c.seq_len;
  r.shared_classifier = c.shared_classifier ? 1 : 0;
  r.n_params = m.n_params();
  r.size_bytes = m.weight_bytes();
  r.decode_bytes = decode_bytes(m);
  const double n = static_cast<double>(r.n_params);
  char size[32];
  if (n >= 1e9) std::snprintf(size, sizeof size, "%.1fB", n / 1e9);
  else if (n >= 1e6) std::snprintf(size, sizeof size, "%.0fM", n / 1e6);
  else std::snprintf(size, sizeof size, "%.0fK", n / 1e3);
  std::snprintf(r.description, sizeof r.description, "llama %s %s", size,
                m.describe_weights().c_str());
  axe::write_versioned(info, r);
  return AXE_OK;
}

AXE_API axe_token axe_token_bos(const axe_model* model) { return model ? model->model->tokenizer->bos() : -1; }
AXE_API axe_token axe_token_eos(const axe_model* model) { return model ? model->model->tokenizer->eos() : -1; }

AXE_API int axe_model_adds_bos(const axe_model* model) { return model && model->model->tokenizer->adds_bos() ? 1 : 0; }

AXE_API int axe_token_is_stop(const axe_model* model, axe_token token) {
  if (!model) return 0;
  const auto& s = model->model->stop_ids;
  return std::binary_search(s.begin(), s.end(), token) ? 1 : 0;
}

AXE_API axe_status axe_model_stop_ids(const axe_model* model, axe_token* ids, size_t capacity, size_t* n_ids) {
  if (!model) return AXE_ERR_INVALID_ARGUMENT;
  if (!n_ids || (!ids && capacity)) {
    model->error = "axe_model_stop_ids: NULL buffer or n_ids";
    return AXE_ERR_INVALID_ARGUMENT;
  }
  const auto& s = model->model->stop_ids;
  *n_ids = s.size();
  if (s.size() > capacity) {
    model->error = "axe_model_stop_ids: " + std::to_string(s.size()) + " ids do not fit in " + std::to_string(capacity);
    return AXE_ERR_BUFFER_TOO_SMALL;
  }
  std::copy(s.begin(), s.end(), ids);
  return AXE_OK;
}

AXE_API const char* axe_model_chat_template(const axe_model* model) {
  return model ? model->model->chat_template.c_str() : "";
}

AXE_API const char* axe_chat_template_names(void) {
  static const std::string names = [] {
    std::string s;
    for (std::string_view n : axe::chat_family_names()) {
      if (!s.empty()) s += ',';
      s.append(n);
    }
    return s;
  }();
  return names.c_str();
}

AXE_API axe_status axe_chat_apply_template(const axe_model* model, const char* tmpl, const axe_chat_message* messages,
                                           size_t n_messages, int add_assistant, char* buf, size_t capacity,
                                           size_t* n_bytes) {
  if (!model) return AXE_ERR_INVALID_ARGUMENT;
  axe_status result = AXE_OK;
  const axe_status st = axe::guarded(&model->error, [&] {
    if (!n_bytes || (!buf && capacity) || (!messages && n_messages))
      fail(AXE_ERR_INVALID_ARGUMENT, "axe_chat_apply_template: NULL buffer, n_bytes or messages");
    const std::string source = tmpl ? tmpl : model->model->chat_template;
    if (source.empty())
      fail(AXE_ERR_UNSUPPORTED, model->model->path + ": the model has no chat template; name one (" +
                                    std::string(axe_chat_template_names()) + ")");
    std::optional<axe::ChatFamily> family = axe::chat_family_by_name(source);
    if (!family) family = axe::detect_chat_family(source);
    if (!family)
      fail(AXE_ERR_UNSUPPORTED, std::string(tmpl ? "the chat template given" : model->model->path + ": the chat template") +
                                    " is not one axe recognises (" + axe::excerpt(source, 48) + "); name one of " +
                                    axe_chat_template_names());
    std::vector<axe::ChatMessage> msgs(n_messages);
    for (size_t i = 0; i < n_messages; ++i) {
      if (!messages[i].role || !messages[i].content)
        fail(AXE_ERR_INVALID_ARGUMENT, "axe_chat_apply_template: message " + std::to_string(i) + " has a NULL role or content");
      msgs[i] = {messages[i].role, messages[i].content};
    }
    const auto& tok = *model->model->tokenizer;
    const std::string text = axe::apply_chat_template(*family, msgs, add_assistant != 0, tok.token_text(tok.bos()),
                                                      tok.token_text(tok.eos()));
    *n_bytes = text.size();
    if (text.size() > capacity) {
      model->error = "axe_chat_apply_template: " + std::to_string(text.size()) + " bytes do not fit in " +
                     std::to_string(capacity);
      result = AXE_ERR_BUFFER_TOO_SMALL;
      return;
    }
    if (!text.empty()) std::memcpy(buf, text.data(), text.size());
    if (text.size() < capacity) buf[text.size()] = '\0';
  });
  return st != AXE_OK ? st : result;
}

AXE_API axe_status axe_tokenize(const axe_model* model, const char* text, size_t text_len, int add_bos,
                                axe_token* tokens, size_t capacity, size_t* n_tokens) {
  return axe_tokenize_special(model, text, text_len, add_bos, 0, tokens, capacity, n_tokens);
}

AXE_API axe_status axe_tokenize_special(const axe_model* model, const char* text, size_t text_len, int add_bos,
                                        int parse_special, axe_token* tokens, size_t capacity, size_t* n_tokens) {
  if (!model) return AXE_ERR_INVALID_ARGUMENT;
  axe_status result = AXE_OK;
  const axe_status st = axe::guarded(&model->error, [&] {
    if (!n_tokens) fail(AXE_ERR_INVALID_ARGUMENT, "axe_tokenize: n_tokens is NULL");
    if (!text && text_len) fail(AXE_ERR_INVALID_ARGUMENT, "axe_tokenize: text is NULL");
    if (!tokens && capacity) fail(AXE_ERR_INVALID_ARGUMENT, "axe_tokenize: tokens is NULL");
    const auto ids =
        model->model->tokenizer->encode(std::string_view(text ? text : "", text_len), add_bos != 0, parse_special != 0);
    *n_tokens = ids.size();
    if (ids.size() > capacity) {
      model->error = "axe_tokenize: " + std::to_string(ids.size()) + " tokens do not fit in " +
                     std::to_string(capacity);
      result = AXE_ERR_BUFFER_TOO_SMALL;
      return;
    }
    std::copy(ids.begin(), ids.end(), tokens);
  });
  return st != AXE_OK ? st : result;
}

AXE_API axe_status axe_token_to_piece(const axe_model* model, axe_token prev, axe_token token, char* buf,
                                      size_t capacity, size_t* n_bytes) {
  if (!model) return AXE_ERR_INVALID_ARGUMENT;
  if (!n_bytes || (!buf && capacity)) {
    model->error = "axe_token_to_piece: NULL buffer or n_bytes";
    return AXE_ERR_INVALID_ARGUMENT;
  }
  if (token < 0 || token >= model->model->tokenizer->n_vocab()) {
    model->error = "axe_token_to_piece: token " + std::to_string(token) + " is outside the vocabulary";
    return AXE_ERR_INVALID_ARGUMENT;
  }
  char byte;
  const std::string_view p = model->model->tokenizer->piece(prev, token, &byte);
  *n_bytes = p.size();
  if (p.size() > capacity) {
    model->error = "axe_token_to_piece: buffer too small";
    return AXE_ERR_BUFFER_TOO_SMALL;
  }
  if (!p.empty()) std::memcpy(buf, p.data(), p.size());
  return AXE_OK;
}

AXE_API axe_status axe_token_get_text(const axe_model* model, axe_token token, char* buf, size_t capacity,
                                      size_t* n_bytes) {
  if (!model) return AXE_ERR_INVALID_ARGUMENT;
  if (!n_bytes || (!buf && capacity)) {
    model->error = "axe_token_get_text: NULL buffer or n_bytes";
    return AXE_ERR_INVALID_ARGUMENT;
  }
  if (token < 0 || token >= model->model->tokenizer->n_vocab()) {
    model->error = "axe_token_get_text: token " + std::to_string(token) + " is outside the vocabulary";
    return AXE_ERR_INVALID_ARGUMENT;
  }
  const std::string_view t = model->model->tokenizer->token_text(token);
  *n_bytes = t.size();
  if (t.size() > capacity) {
    model->error = "axe_token_get_text: buffer too small";
    return AXE_ERR_BUFFER_TOO_SMALL;
  }
  if (!t.empty()) std::memcpy(buf, t.data(), t.size());
  if (t.size() < capacity) buf[t.size()] = '\0';
  return AXE_OK;
}

AXE_API axe_status axe_detokenize(const axe_model* model, const axe_token* tokens, size_t n_tokens, char* buf,
                                  size_t capacity, size_t* n_bytes) {
  if (!model) return AXE_ERR_INVALID_ARGUMENT;
  if (!n_bytes || (!buf && capacity) || (!tokens && n_tokens)) {
    model->error = "axe_detokenize: NULL argument";
    return AXE_ERR_INVALID_ARGUMENT;
  }
  const auto& tok = *model->model->tokenizer;
  std::string out;
  for (size_t i = 0; i < n_tokens; ++i) {
    if (tokens[i] < 0 || tokens[i] >= tok.n_vocab()) {
      model->error = "axe_detokenize: token " + std::to_string(tokens[i]) + " at index " + std::to_string(i) +
                     " is outside the vocabulary";
      return AXE_ERR_INVALID_ARGUMENT;
    }
    char byte;
    out += tok.piece(i ? tokens[i - 1] : -1, tokens[i], &byte);
  }
  *n_bytes = out.size();
  if (out.size() > capacity) {
    model->error = "axe_detokenize: buffer too small";
    return AXE_ERR_BUFFER_TOO_SMALL;
  }
  if (!out.empty()) std::memcpy(buf, out.data(), out.size());
  if (out.size() < capacity) buf[out.size()] = '\0';
  return AXE_OK;
}

}  // extern "C"
