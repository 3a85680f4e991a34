// The C API's handles as the subcommands hold them: failures turned into
// messages and exit codes, owning pointers, and the calls every command makes
// (load a model from its flags, make a context, tokenize, print overflows).
#pragma once
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "axe/axe.h"
#include "model_flags.h"

namespace cli {

// A failed library call: message printed by main, exit status 1.
struct ApiError : std::runtime_error {
  using std::runtime_error::runtime_error;
};
// Throw ApiError with the handle's last error when st is not AXE_OK (the
// message is read after the call has run).
void check(axe_status st, const axe_context* ctx);
void check(axe_status st, const axe_model* model);
void check(axe_status st, const axe_sampler* sampler);

struct ModelDeleter {
  void operator()(axe_model* m) const { axe_model_free(m); }
};
struct ContextDeleter {
  void operator()(axe_context* c) const { axe_context_free(c); }
};
struct SamplerDeleter {
  void operator()(axe_sampler* s) const { axe_sampler_free(s); }
};
using ModelPtr = std::unique_ptr<axe_model, ModelDeleter>;
using ContextPtr = std::unique_ptr<axe_context, ContextDeleter>;
using SamplerPtr = std::unique_ptr<axe_sampler, SamplerDeleter>;

ModelPtr load_model(const ModelFlags& f);
// With --acc-sim, the context emulates the datapath it asks for.
ContextPtr make_context(axe_model* model, const ModelFlags& f, int32_t threads, uint32_t n_batch = 512);
std::vector<axe_token> tokenize(axe_model* model, const std::string& text, bool add_bos, bool parse_special = false);
std::string piece(axe_model* model, axe_token prev, axe_token tok);
// With --acc-sim: the per-layer overflow table (to `out`) and the totals.
void print_overflows(axe_context* ctx, std::FILE* out);

}  // namespace cli
