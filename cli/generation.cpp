#include "generation.h"

#include "clock.h"

namespace cli {

GenerationStats generate(axe_model* model, axe_context* ctx, axe_sampler* sampler, const std::vector<axe_token>& prompt,
                         axe_token last, int64_t n_predict, Utf8Stream& out, int32_t pos0) {
  GenerationStats s;
  const uint32_t n_ctx = axe_context_n_ctx(ctx);
  int32_t pos = pos0 >= 0 ? pos0 : static_cast<int32_t>(axe_context_n_past(ctx));
  if (pos + prompt.size() >= n_ctx) {
    s.context_full = true;
    return s;
  }
  std::vector<int32_t> positions(prompt.size());
  for (size_t i = 0; i < prompt.size(); ++i) positions[i] = pos + static_cast<int32_t>(i);
  double t0 = now_seconds();
  check(axe_decode(ctx, prompt.data(), positions.data(), prompt.size(), nullptr), ctx);
  s.prefill_s = now_seconds() - t0;
  s.n_prompt = prompt.size();
  pos += static_cast<int32_t>(prompt.size());
  last = prompt.empty() ? last : prompt.back();

  const axe_token bos = axe_token_bos(model);
  axe_model_info info{};
  info.struct_size = sizeof info;
  check(axe_model_get_info(model, &info), model);
  t0 = now_seconds();
  for (int64_t i = 0; n_predict < 0 || i < n_predict; ++i) {
    axe_token next = 0;
    check(axe_sampler_sample(sampler, axe_get_logits(ctx, -1), info.n_vocab, &next), sampler);
    if (next == bos || axe_token_is_stop(model, next)) break;
    const std::string p = piece(model, last, next);
    out.write(p);
    s.text += p;
    s.tokens.push_back(next);
    last = next;
    ++s.n_generated;
    if (static_cast<uint32_t>(pos) + 1 > n_ctx - 1) {
      s.context_full = true;
      break;
    }
    check(axe_decode(ctx, &next, &pos, 1, nullptr), ctx);
    ++pos;
  }
  out.flush();
  s.decode_s = now_seconds() - t0;
  return s;
}

void print_timings(const GenerationStats& s) {
  auto rate = [](size_t n, double t) { return t > 0 ? n / t : 0.0; };
  std::fprintf(stderr, "\nprefill: %zu tokens in %.1f ms (%.1f t/s) | decode: %zu tokens in %.1f ms (%.1f t/s)\n",
               s.n_prompt, s.prefill_s * 1e3, rate(s.n_prompt, s.prefill_s), s.n_generated, s.decode_s * 1e3,
               rate(s.n_generated, s.decode_s));
}

}  // namespace cli
