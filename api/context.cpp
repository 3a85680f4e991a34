// C API: contexts and decoding.
#include <algorithm>
#include <cstring>

#include "api/internal.h"
#include "runtime/linear_group.h"
#include "runtime/linear_int8.h"
#include "runtime/threads.h"

using axe::fail;

namespace {

// The model as an emulating context runs it: the same weights, each integer
// linear layer wrapped by a LinearEmulated with this context's widths.
std::unique_ptr<axe::LlamaModel> emulated_view(const axe::LlamaModel& m, const axe_context_params& p,
                                               const axe::Int8KernelPolicy& policy,
                                               std::vector<const axe::LinearEmulated*>& layers) {
  if (!m.quant)
    fail(AXE_ERR_INVALID_ARGUMENT, m.path + ": an emulated datapath (acc_sim) needs a quantized .axe model");
  axe::DatapathSpec spec{m.quant->plan, p.acc_sim_saturate != 0};
  spec.plan.inner_bits = static_cast<uint32_t>(p.acc_sim_inner_bits);
  spec.plan.outer_bits = static_cast<uint32_t>(p.acc_sim_outer_bits > 0 ? p.acc_sim_outer_bits : 32);
  const std::string bad = spec.plan.invalid_reason();
  if (!bad.empty()) fail(AXE_ERR_INVALID_ARGUMENT, "acc_sim: " + bad);
  return axe::with_replaced_linears(m, [&](size_t, const std::string& name, const axe::Linear& orig) {
    std::unique_ptr<axe::LinearEmulated> e;
    if (const axe::LinearInt8* q = orig.as_int8()) e = std::make_unique<axe::LinearEmulated>(*q, name, spec, policy);
    else if (const axe::LinearGroup* g = orig.as_group()) e = std::make_unique<axe::LinearEmulated>(*g, name, spec);
    else fail(AXE_ERR_INTERNAL, "acc_sim: " + name + " of a quantized model is not an integer layer");
    layers.push_back(e.get());
    return e;
  });
}

// A quantized model as a context runs it: the same integer weights, each
// layer's kernels chosen once for this context's target.
std::unique_ptr<axe::LlamaModel> kernel_view(const axe::LlamaModel& m, const axe::Int8KernelPolicy& policy) {
  return axe::with_replaced_linears(m, [&](size_t, const std::string& name, const axe::Linear& orig) {
    if (const axe::LinearGroup* g = orig.as_group())  // its kernels are chosen per call, by the ops' target
      return std::unique_ptr<axe::Linear>(std::make_unique<axe::LinearGroup>(*g));
    const axe::LinearInt8* q = orig.as_int8();
    if (!q) fail(AXE_ERR_INTERNAL, name + " of a quantized model is not an integer layer");
    return std::unique_ptr<axe::Linear>(std::make_unique<axe::LinearInt8>(*q, policy));
  });
}

}  // namespace

extern "C" {

AXE_API axe_context_params axe_context_default_params(void) {
  axe_context_params p{};
  p.struct_size = sizeof(p);
  p.n_ctx = 0;
  p.n_batch = 512;
  p.n_threads = 0;
  p.target = nullptr;
  return p;
}

AXE_API axe_status axe_context_create(axe_model* model, const axe_context_params* params, axe_context** out_ctx) {
  return axe::create_handle(out_ctx, "axe_context_create: out_ctx is NULL", [&] {
    if (!model) fail(AXE_ERR_INVALID_ARGUMENT, "axe_context_create: model is NULL");
    const axe_context_params p = axe::read_params(params, axe_context_default_params());
    const auto& c = model->model->config;
    const uint32_t n_ctx = p.n_ctx ? p.n_ctx : static_cast<uint32_t>(c.seq_len);
    // Where n_ctx came from, for the messages: the caller (-c) or the file.
    const std::string n_ctx_from = p.n_ctx ? "n_ctx (-c) " + std::to_string(n_ctx)
                                           : "n_ctx " + std::to_string(n_ctx) + " (the seq_len of " + model->model->path + ")";
    if (n_ctx > (1u << 20))
      fail(AXE_ERR_INVALID_ARGUMENT, "axe_context_create: " + n_ctx_from + " is more than the 1048576 positions a context may have");
    if (p.n_batch == 0 || p.n_batch > (1u << 16))
      fail(AXE_ERR_INVALID_ARGUMENT, "n_batch " + std::to_string(p.n_batch) + " is out of range [1, 65536]");
    if (p.n_threads > 1024) fail(AXE_ERR_INVALID_ARGUMENT, "n_threads " + std::to_string(p.n_threads) + " is too large");
    // Resource requests are checked against the machine before allocation.
    const uint64_t kv = axe::LlamaState::kv_bytes(c, n_ctx);
    const uint64_t scratch = axe::LlamaState::scratch_bytes(c, n_ctx, std::min(p.n_batch, n_ctx));
    const uint64_t limit = axe::physical_memory_bytes();
    if (kv + scratch > limit) {
      auto gib = [](uint64_t b) {
        char s[32];
        std::snprintf(s, sizeof s, "%.2f GiB", static_cast<double>(b) / (1u << 30));
        return std::string(s);
      };
      fail(AXE_ERR_OUT_OF_MEMORY, "axe_context_create: " + n_ctx_from + " needs a " + gib(kv) + " KV cache and " +
                                      gib(scratch) + " of scratch, more than this machine's " + gib(limit) +
                                      " of memory; ask for a smaller context (-c)");
    }
    auto ctx = std::make_unique<axe_context>();
    ctx->model = model;
    ctx->ops = &axe::ops_for(axe::choose_target(p.target ? p.target : "auto"));
    ctx->n_threads = p.n_threads > 0 ? p.n_threads : axe::physical_core_count();
    ctx->arena = std::make_unique<tbb::task_arena>(ctx->n_threads);
    // The environment is read here, once; the hot path only calls kernels.
    const auto policy = axe::Int8KernelPolicy::from_environment(ctx->ops->target);
    ctx->emulated = p.acc_sim_inner_bits != 0;
    if (ctx->emulated) ctx->view = emulated_view(*model->model, p, policy, ctx->sim_layers);
    else if (model->model->quantized()) ctx->view = kernel_view(*model->model, policy);
    ctx->state = std::make_unique<axe::LlamaState>(*model->model, n_ctx, std::min(p.n_batch, n_ctx));
    return ctx.release();
  });
}

AXE_API void axe_context_free(axe_context* ctx) { delete ctx; }
AXE_API const char* axe_context_last_error(const axe_context* ctx) {
  return ctx ? ctx->error.c_str() : "context is NULL";
}
AXE_API uint32_t axe_context_n_ctx(const axe_context* ctx) {
  return ctx ? static_cast<uint32_t>(ctx->state->n_ctx()) : 0;
}
AXE_API int32_t axe_context_n_threads(const axe_context* ctx) { return ctx ? ctx->n_threads : 0; }
AXE_API const char* axe_context_target(const axe_context* ctx) {
  return ctx ? axe::target_name(ctx->ops->target) : "";
}
AXE_API uint32_t axe_context_n_past(const axe_context* ctx) { return ctx ? static_cast<uint32_t>(ctx->n_past) : 0; }
AXE_API void axe_context_reset(axe_context* ctx) {
  if (ctx) {
    ctx->n_past = 0;
    ctx->logits_row.clear();
  }
}

AXE_API axe_status axe_decode(axe_context* ctx, const axe_token* tokens, const int32_t* pos, size_t n_tokens,
                              const int8_t* want_logits) {
  if (!ctx) return AXE_ERR_INVALID_ARGUMENT;
  return axe::guarded(&ctx->error, [&] {
    if (!tokens || !pos) fail(AXE_ERR_INVALID_ARGUMENT, "axe_decode: tokens or pos is NULL");
    if (n_tokens == 0) fail(AXE_ERR_INVALID_ARGUMENT, "axe_decode: no tokens");
    const auto& m = ctx->forward_model();
    const size_t n_ctx = ctx->state->n_ctx();
    if (pos[0] < 0 || static_cast<size_t>(pos[0]) > ctx->n_past)
      fail(AXE_ERR_INVALID_ARGUMENT, "axe_decode: position " + std::to_string(pos[0]) + " leaves a gap after the " +
                                         std::to_string(ctx->n_past) + " positions in the cache");
    for (size_t i = 0; i < n_tokens; ++i) {
      if (pos[i] != pos[0] + static_cast<int64_t>(i))
        fail(AXE_ERR_INVALID_ARGUMENT, "axe_decode: positions are not consecutive at batch index " + std::to_string(i));
      if (tokens[i] < 0 || tokens[i] >= m.config.vocab)
        fail(AXE_ERR_INVALID_ARGUMENT, "axe_decode: token " + std::to_string(tokens[i]) + " at batch index " +
                                           std::to_string(i) + " is outside the vocabulary");
    }
    if (static_cast<size_t>(pos[0]) + n_tokens > n_ctx)
      fail(AXE_ERR_CONTEXT_FULL, "axe_decode: positions up to " + std::to_string(pos[0] + n_tokens) +
                                     " exceed the context of " + std::to_string(n_ctx));
    ctx->n_past = static_cast<size_t>(pos[0]);  // forget anything from here on
    const size_t V = m.config.vocab;
    ctx->logits_row.assign(n_tokens, -1);
    size_t n_rows = 0;
    for (size_t i = 0; i < n_tokens; ++i)
      if (axe::llama_wants_logits(want_logits, i, n_tokens)) ctx->logits_row[i] = static_cast<int32_t>(n_rows++);
    ctx->logits.resize(n_rows * V);
    std::vector<int8_t> want(n_tokens);
    for (size_t i = 0; i < n_tokens; ++i) want[i] = ctx->logits_row[i] >= 0;
    size_t row = 0;
    const size_t B = ctx->state->n_batch();
    for (size_t b0 = 0; b0 < n_tokens; b0 += B) {
      const size_t nb = std::min(B, n_tokens - b0);
      ctx->arena->execute([&] {
        axe::llama_forward(m, *ctx->ops, *ctx->state, tokens + b0, nb, pos[b0], want.data() + b0, true);
      });
      size_t got = 0;
      for (size_t i = b0; i < b0 + nb; ++i) got += want[i];
      if (got) std::memcpy(ctx->logits.data() + row * V, ctx->state->logits_row(0), got * V * sizeof(float));
      row += got;
      ctx->n_past = pos[b0] + nb;
    }
  });
}

AXE_API axe_status axe_context_overflows(const axe_context* ctx, axe_overflow_report* reports, size_t capacity,
                                         size_t* n_layers) {
  if (!ctx || !n_layers || (!reports && capacity)) return AXE_ERR_INVALID_ARGUMENT;
  if (!ctx->emulated) return AXE_ERR_INVALID_ARGUMENT;
  *n_layers = ctx->sim_layers.size();
  if (capacity < ctx->sim_layers.size()) return AXE_ERR_BUFFER_TOO_SMALL;
  for (size_t i = 0; i < ctx->sim_layers.size(); ++i) {
    const axe::LinearEmulated& e = *ctx->sim_layers[i];
    axe_overflow_report r{};
    std::snprintf(r.layer, sizeof r.layer, "%s", e.name().c_str());
    r.inner_overflows = e.inner_overflows();
    r.outer_overflows = e.outer_overflows();
    r.dot_products = e.dot_products();
    reports[i] = r;
  }
  return AXE_OK;
}

AXE_API const float* axe_get_logits(axe_context* ctx, int32_t i) {
  if (!ctx) return nullptr;
  const int64_t n = static_cast<int64_t>(ctx->logits_row.size());
  const int64_t idx = i < 0 ? n + i : i;
  if (idx < 0 || idx >= n || ctx->logits_row[idx] < 0) {
    ctx->error = "axe_get_logits: no logits for batch index " + std::to_string(i) + " of the last decode";
    return nullptr;
  }
  return ctx->logits.data() + static_cast<size_t>(ctx->logits_row[idx]) * ctx->model->model->config.vocab;
}

}  // extern "C"
