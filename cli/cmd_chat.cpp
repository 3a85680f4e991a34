// axe chat: an interactive loop.
//
// With a chat template (the model's own, or --chat-template), every turn is
// formatted as the template would format the whole conversation so far; the
// KV cache keeps the tokens it already holds (the longest common prefix with
// the new formatting) and only the rest is decoded. Generation stops at every
// token that ends a turn. Without a template (base models, llama2.c files)
// each line continues the same text. /reset starts over, /quit or end of
// input leaves.
#include <filesystem>
#include <iostream>

#include "commands.h"
#include "api_handles.h"
#include "generation.h"
#include "sampling_flags.h"

namespace cli {
namespace {

// The conversation as the chat template formats it, or an error message.
struct Formatter {
  axe_model* model;
  const char* tmpl;  // null: the model's own

  // Formats the messages; false with the model's error when the template
  // is not one axe recognises.
  bool format(const std::vector<axe_chat_message>& msgs, std::string* text) const {
    size_t n = 0;
    std::string buf(4096, '\0');
    axe_status st = axe_chat_apply_template(model, tmpl, msgs.data(), msgs.size(), 1, buf.data(), buf.size(), &n);
    if (st == AXE_ERR_BUFFER_TOO_SMALL) {
      buf.resize(n + 1);
      st = axe_chat_apply_template(model, tmpl, msgs.data(), msgs.size(), 1, buf.data(), buf.size(), &n);
    }
    if (st == AXE_ERR_UNSUPPORTED) return false;
    check(st, model);
    *text = buf.substr(0, n);
    return true;
  }
};

std::string token_text(axe_model* model, axe_token t) {
  if (t < 0) return {};
  std::string buf(256, '\0');
  size_t n = 0;
  if (axe_token_get_text(model, t, buf.data(), buf.size(), &n) != AXE_OK) return {};
  return buf.substr(0, n);
}

}  // namespace

int cmd_chat(int argc, char** argv) {
  ModelFlags mf;
  SamplingFlags sf;
  sf.n_predict = 256;
  std::string system_prompt, template_arg;
  ArgParser p("chat", "-m MODEL [options]",
              "Interactive chat. With a chat template (the model's, or --chat-template) each line is a user\n"
              "turn and the model answers; without one, each line continues the same text. The KV cache is\n"
              "kept between turns. Commands: /reset (start over), /quit (or Ctrl-D).");
  mf.add_to(p);
  p.add({"-sys", "--system-prompt"}, "TEXT", "the system message that opens the conversation",
        [&](auto&, auto& v) { system_prompt = v; });
  p.add({"--chat-template"}, "NAME|FILE",
        std::string("the template: a name (") + axe_chat_template_names() + ") or a file with a Jinja template",
        [&](auto&, auto& v) { template_arg = v; });
  sf.add_to(p);
  if (!p.parse(argc, argv, 2)) return 0;
  mf.require_model(p);

  ModelPtr model = load_model(mf);
  ContextPtr ctx = make_context(model.get(), mf, mf.threads);
  SamplerPtr sampler = sf.make_sampler();

  std::string tmpl_source = template_arg;
  std::error_code ec;
  if (!template_arg.empty() && std::filesystem::is_regular_file(template_arg, ec))
    tmpl_source = read_file(template_arg, size_t{1} << 20);
  const Formatter fmt{model.get(), template_arg.empty() ? nullptr : tmpl_source.c_str()};
  const bool has_template = !template_arg.empty() || *axe_model_chat_template(model.get()) != '\0';
  std::string probe;
  const bool templated = has_template && fmt.format({{"user", "hi"}}, &probe);
  if (!template_arg.empty() && !templated)
    throw UsageError("--chat-template '" + template_arg + "' is not a template axe recognises (" +
                     axe_chat_template_names() + ")");
  if (has_template && !templated)
    std::fprintf(stderr, "axe chat: %s\naxe chat: continuing the text as typed instead (choose a template with "
                 "--chat-template)\n", axe_model_last_error(model.get()));
  if (!templated && !system_prompt.empty())
    throw UsageError("--system-prompt needs a chat template (the model has none; see --chat-template)");
  std::fprintf(stderr, "axe chat: %s, context %u tokens%s. /reset starts over, /quit or Ctrl-D leaves.\n",
               mf.model_path.c_str(), axe_context_n_ctx(ctx.get()), templated ? "" : ", no chat template: plain continuation");

  const std::string bos_text = token_text(model.get(), axe_token_bos(model.get()));
  const uint32_t n_ctx = axe_context_n_ctx(ctx.get());
  std::vector<std::string> roles, contents;  // the conversation (kept as strings)
  auto start = [&] {
    roles.clear(), contents.clear();
    if (!system_prompt.empty()) roles.push_back("system"), contents.push_back(system_prompt);
  };
  start();
  std::vector<axe_token> held;  // the tokens the KV cache holds
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
      held.clear();
      start();
      std::fputs("(context cleared)\n", stdout);
      continue;
    }
    Utf8Stream out(stdout);
    if (!templated) {
      // The first turn starts with BOS; later ones continue the same text.
      std::vector<axe_token> toks =
          tokenize(model.get(), line, axe_context_n_past(ctx.get()) == 0 && axe_model_adds_bos(model.get()));
      if (toks.empty()) continue;
      GenerationStats s = generate(model.get(), ctx.get(), sampler.get(), toks, -1, sf.n_predict, out);
      if (s.context_full) std::fputs("\n(context full: /reset starts over)", stdout);
      std::fputc('\n', stdout);
      continue;
    }
    roles.push_back("user"), contents.push_back(line);
    std::vector<axe_chat_message> msgs(roles.size());
    for (size_t i = 0; i < roles.size(); ++i) msgs[i] = {roles[i].c_str(), contents[i].c_str()};
    std::string text;
    fmt.format(msgs, &text);
    const bool add_bos = axe_model_adds_bos(model.get()) && !(bos_text.size() && text.starts_with(bos_text));
    const std::vector<axe_token> toks = tokenize(model.get(), text, add_bos, true);
    if (toks.size() + 1 >= n_ctx) {
      std::fprintf(stdout, "(context full: the conversation is %zu tokens of %u; /reset starts over)\n", toks.size(),
                   n_ctx);
      roles.pop_back(), contents.pop_back();
      continue;
    }
    // Keep what the cache already holds; decode the rest (at least one token).
    size_t keep = 0;
    while (keep < held.size() && keep < toks.size() && held[keep] == toks[keep]) ++keep;
    if (keep == toks.size()) --keep;
    const std::vector<axe_token> rest(toks.begin() + static_cast<std::ptrdiff_t>(keep), toks.end());
    const GenerationStats s = generate(model.get(), ctx.get(), sampler.get(), rest, keep ? toks[keep - 1] : -1,
                                       sf.n_predict, out, static_cast<int32_t>(keep));
    held = toks;
    held.insert(held.end(), s.tokens.begin(), s.tokens.end());
    roles.push_back("assistant"), contents.push_back(s.text);
    if (s.context_full) std::fputs("\n(context full: /reset starts over)", stdout);
    std::fputc('\n', stdout);
  }
  return 0;
}

}  // namespace cli
