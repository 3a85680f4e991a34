// What every subcommand shares: the model/context flags, loading through the
// C API, and turning failures into messages and exit codes.
#pragma once
#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "args.h"
#include "axe/axe.h"

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

struct ModelFlags {
  std::string model_path;
  std::string tokenizer_path;
  int32_t threads = 0;
  uint32_t n_ctx = 0;
  std::string target;
  bool use_mmap = false;
  int32_t acc_sim_inner = 0, acc_sim_outer = 0;  // --acc-sim
  bool acc_sim_saturate = false;
  // -m, --tokenizer, -t, -c (when with_ctx), --target, --mmap
  void add_to(ArgParser& p, bool with_ctx = true);
  void require_model(const ArgParser& p) const;
};

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
ContextPtr make_context(axe_model* model, const ModelFlags& f, int32_t threads, uint32_t n_batch = 512);
std::vector<axe_token> tokenize(axe_model* model, const std::string& text, bool add_bos);
std::string piece(axe_model* model, axe_token prev, axe_token tok);
double now_seconds();
// With --acc-sim: the per-layer overflow table (to `out`) and the totals.
void print_overflows(axe_context* ctx, std::FILE* out);

}  // namespace cli
