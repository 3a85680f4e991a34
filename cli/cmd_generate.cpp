// axe generate: text from a prompt, streamed as it is produced.
#include "commands.h"
#include "api_handles.h"
#include "generation.h"
#include "sampling_flags.h"

namespace cli {

int cmd_generate(int argc, char** argv) {
  ModelFlags mf;
  SamplingFlags sf;
  std::string prompt;
  bool special = false;
  ArgParser p("generate", "-m MODEL [-p PROMPT | -f FILE] [-n N] [options]",
              "Generates text from a prompt (an empty prompt starts from BOS). Tokens are streamed to stdout;\n"
              "timings go to stderr.");
  mf.add_to(p);
  p.add({"-p", "--prompt"}, "TEXT", "prompt (default: empty)", [&](auto&, auto& v) { prompt = v; });
  p.add({"-f", "--file"}, "FILE", "read the prompt from a file", [&](auto&, auto& v) { prompt = read_file(v); });
  p.add_switch({"--special"}, "special tokens written in the prompt (\"<|eot_id|>\") become their ids",
               [&] { special = true; });
  sf.add_to(p);
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);

  ModelPtr model = load_model(mf);
  ContextPtr ctx = make_context(model.get(), mf, mf.threads);
  SamplerPtr sampler = sf.make_sampler();
  const std::vector<axe_token> tokens = tokenize(model.get(), prompt, axe_model_adds_bos(model.get()), special);
  std::fwrite(prompt.data(), 1, prompt.size(), stdout);
  Utf8Stream out(stdout);
  const GenerationStats s = generate(model.get(), ctx.get(), sampler.get(), tokens, -1, sf.n_predict, out);
  std::fputc('\n', stdout);
  std::fflush(stdout);
  if (s.context_full && s.n_prompt == 0)
    throw UsageError("the prompt's " + std::to_string(tokens.size()) + " tokens do not fit in the context of " +
                     std::to_string(axe_context_n_ctx(ctx.get())) + " (at least one position must stay free; see -c)");
  std::fprintf(stderr, "[%s, %d threads]", axe_context_target(ctx.get()), axe_context_n_threads(ctx.get()));
  print_timings(s);
  print_overflows(ctx.get(), stderr);
  return 0;
}

}  // namespace cli
