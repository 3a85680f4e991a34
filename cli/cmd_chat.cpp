// axe chat: an interactive loop. Each line the user types continues the same
// sequence (the KV cache is kept between turns); for base models this is
// plain continuation. /reset starts over, /quit or end of input leaves.
#include <iostream>

#include "commands.h"
#include "api_handles.h"
#include "generation.h"
#include "sampling_flags.h"

namespace cli {

int cmd_chat(int argc, char** argv) {
  ModelFlags mf;
  SamplingFlags sf;
  sf.n_predict = 256;
  ArgParser p("chat", "-m MODEL [options]",
              "Interactive continuation. Type text and press Enter; the model continues it, keeping\n"
              "everything said so far in its context. Commands: /reset (start over), /quit (or Ctrl-D).");
  mf.add_to(p);
  sf.add_to(p);
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);

  ModelPtr model = load_model(mf);
  ContextPtr ctx = make_context(model.get(), mf, mf.threads);
  SamplerPtr sampler = sf.make_sampler();
  std::fprintf(stderr, "axe chat: %s, context %u tokens. /reset starts over, /quit or Ctrl-D leaves.\n",
               mf.model_path.c_str(), axe_context_n_ctx(ctx.get()));
  std::string line;
  while (true) {
    std::fputs("> ", stdout);
    std::fflush(stdout);
    if (!std::getline(std::cin, line)) {
      std::fputc('\n', stdout);
      break;
    }
    if (line == "/quit" || line == "/exit") break;
    if (line == "/reset") {
      axe_context_reset(ctx.get());
      std::fputs("(context cleared)\n", stdout);
      continue;
    }
    // The first turn starts with BOS; later ones continue the same text (the
    // tokenizer's dummy-prefix space separates them).
    std::vector<axe_token> toks = tokenize(model.get(), line, axe_context_n_past(ctx.get()) == 0);
    if (toks.empty()) continue;
    Utf8Stream out(stdout);
    GenerationStats s = generate(model.get(), ctx.get(), sampler.get(), toks, -1, sf.n_predict, out);
    if (s.context_full) {
      std::fputs("\n(context full: starting over)\n", stdout);
      axe_context_reset(ctx.get());
      toks = tokenize(model.get(), line, true);
      s = generate(model.get(), ctx.get(), sampler.get(), toks, -1, sf.n_predict, out);
    }
    std::fputc('\n', stdout);
  }
  return 0;
}

}  // namespace cli
