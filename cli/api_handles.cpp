#include "api_handles.h"

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
  cp.acc_sim_inner_bits = f.acc_sim_inner;
  cp.acc_sim_outer_bits = f.acc_sim_outer;
  cp.acc_sim_saturate = f.acc_sim_saturate ? 1 : 0;
  axe_context* c = nullptr;
  const axe_status st = axe_context_create(model, &cp, &c);
  if (st != AXE_OK) throw ApiError(axe_last_error());
  return ContextPtr(c);
}

std::vector<axe_token> tokenize(axe_model* model, const std::string& text, bool add_bos, bool parse_special) {
  std::vector<axe_token> toks(text.size() + 2);
  size_t n = 0;
  axe_status st =
      axe_tokenize_special(model, text.data(), text.size(), add_bos, parse_special, toks.data(), toks.size(), &n);
  if (st == AXE_ERR_BUFFER_TOO_SMALL) {
    toks.resize(n);
    st = axe_tokenize_special(model, text.data(), text.size(), add_bos, parse_special, toks.data(), toks.size(), &n);
  }
  if (st != AXE_OK) throw ApiError(axe_model_last_error(model));
  toks.resize(n);
  return toks;
}

std::string piece(axe_model* model, axe_token prev, axe_token tok) {
  std::string buf(64, '\0');
  size_t n = 0;
  axe_status st = axe_token_to_piece(model, prev, tok, buf.data(), buf.size(), &n);
  if (st == AXE_ERR_BUFFER_TOO_SMALL) {  // a long piece: the size it needs was stored
    buf.resize(n);
    st = axe_token_to_piece(model, prev, tok, buf.data(), buf.size(), &n);
  }
  if (st != AXE_OK) throw ApiError(axe_model_last_error(model));
  buf.resize(n);
  return buf;
}

void print_overflows(axe_context* ctx, std::FILE* out) {
  size_t n = 0;
  if (axe_context_overflows(ctx, nullptr, 0, &n) == AXE_ERR_INVALID_ARGUMENT) return;  // no emulation
  std::vector<axe_overflow_report> r(n);
  check(axe_context_overflows(ctx, r.data(), r.size(), &n), ctx);
  uint64_t inner = 0, outer = 0, dots = 0;
  std::fprintf(out, "\nemulated datapath overflows per layer (tile steps, row steps, dot products):\n");
  for (const auto& e : r) {
    std::fprintf(out, "  %-28s %12llu %12llu %14llu\n", e.layer, static_cast<unsigned long long>(e.inner_overflows),
                 static_cast<unsigned long long>(e.outer_overflows), static_cast<unsigned long long>(e.dot_products));
    inner += e.inner_overflows, outer += e.outer_overflows, dots += e.dot_products;
  }
  std::fprintf(out, "overflows: %llu tile steps, %llu row steps in %llu dot products\n",
               static_cast<unsigned long long>(inner), static_cast<unsigned long long>(outer),
               static_cast<unsigned long long>(dots));
}

}  // namespace cli
