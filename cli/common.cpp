#include "common.h"

#include <chrono>

namespace cli {

namespace {
[[noreturn]] void throw_api(axe_status st, const char* message) {
  throw ApiError(std::string(message) + " (" + axe_status_string(st) + ")");
}
}  // namespace

void check(axe_status st, const axe_context* ctx) {
  if (st != AXE_OK) throw_api(st, axe_context_last_error(ctx));
}
void check(axe_status st, const axe_model* model) {
  if (st != AXE_OK) throw_api(st, axe_model_last_error(model));
}
void check(axe_status st, const axe_sampler* sampler) {
  if (st != AXE_OK) throw_api(st, axe_sampler_last_error(sampler));
}

void ModelFlags::add_to(ArgParser& p, bool with_ctx) {
  p.add({"-m", "--model"}, "FILE", "model file (llama2.c .bin)", [this](auto&, auto& v) { model_path = v; });
  p.add({"--tokenizer"}, "FILE", "tokenizer.bin (default: tokenizer.bin or tok*.bin beside the model)",
        [this](auto&, auto& v) { tokenizer_path = v; });
  p.add({"-t", "--threads"}, "N", "threads (default: physical cores)",
        [this](auto& f, auto& v) { threads = static_cast<int32_t>(parse_int(f, v, 1, 1024)); });
  if (with_ctx)
    p.add({"-c", "--ctx-size"}, "N", "context size in tokens (default: the model's)",
          [this](auto& f, auto& v) { n_ctx = static_cast<uint32_t>(parse_int(f, v, 1, 1 << 20)); });
  p.add({"--target"}, "NAME", "SIMD target: auto, avx512-vnni, avx512, avx2, scalar (env AXE_TARGET)",
        [this](auto&, auto& v) { target = v; });
  p.add_switch({"--mmap"}, "use the model file's pages in place instead of reading it into huge pages",
               [this] { use_mmap = true; });
}

void ModelFlags::require_model(const ArgParser& p) const {
  if (model_path.empty()) throw UsageError("missing -m MODEL (see 'axe " + p.command() + " --help')");
}

ModelPtr load_model(const ModelFlags& f) {
  axe_model_params mp = axe_model_default_params();
  if (!f.tokenizer_path.empty()) mp.tokenizer_path = f.tokenizer_path.c_str();
  mp.use_mmap = f.use_mmap ? 1 : 0;
  axe_model* m = nullptr;
  const axe_status st = axe_model_load(f.model_path.c_str(), &mp, &m);
  if (st != AXE_OK) throw ApiError(axe_last_error());
  return ModelPtr(m);
}

ContextPtr make_context(axe_model* model, const ModelFlags& f, int32_t threads, uint32_t n_batch) {
  axe_context_params cp = axe_context_default_params();
  cp.n_ctx = f.n_ctx;
  cp.n_threads = threads;
  cp.n_batch = n_batch;
  if (!f.target.empty()) cp.target = f.target.c_str();
  axe_context* c = nullptr;
  const axe_status st = axe_context_create(model, &cp, &c);
  if (st != AXE_OK) throw ApiError(axe_last_error());
  return ContextPtr(c);
}

std::vector<axe_token> tokenize(axe_model* model, const std::string& text, bool add_bos) {
  std::vector<axe_token> toks(text.size() + 2);
  size_t n = 0;
  axe_status st = axe_tokenize(model, text.data(), text.size(), add_bos, toks.data(), toks.size(), &n);
  if (st == AXE_ERR_BUFFER_TOO_SMALL) {
    toks.resize(n);
    st = axe_tokenize(model, text.data(), text.size(), add_bos, toks.data(), toks.size(), &n);
  }
  if (st != AXE_OK) throw ApiError(axe_model_last_error(model));
  toks.resize(n);
  return toks;
}

std::string piece(axe_model* model, axe_token prev, axe_token tok) {
  char buf[256];
  size_t n = 0;
  if (axe_token_to_piece(model, prev, tok, buf, sizeof buf, &n) != AXE_OK) throw ApiError(axe_model_last_error(model));
  return std::string(buf, n);
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace cli
